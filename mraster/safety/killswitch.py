"""The kill-switch latch: once the margin kill-switch fires, every engine on the account stops opening
positions until a person resets it (`mraster killswitch reset`, or the dashboard's button).

One small JSON file per account in the run directory, `<ASTER_RUN_DIR>/killswitch-<account>.json`,
written atomically (mraster/storage/atomic.py) with who fired it, when and why; a reset keeps the last
firing for the record. The account key names the venue and the API key without revealing either
(a short SHA-256 of both), so two accounts sharing a run directory never block each other.

Reading is cheap (a stat, and a parse only when the file changed) so every entry path can ask on
every decision. A latch file that exists but cannot be read counts as LATCHED (it is kept aside
and reported): when in doubt, no new exposure.

Also here, pure: the per-position margin measures of an ISOLATED position (its own margin against
its maintenance margin, and the distance to its liquidation price), which the account-wide
`totalMarginBalance / totalMaintMargin` cannot see.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mraster.domain.types import MarginType, Position
from mraster.storage.atomic import write_json_atomic

FILE_PREFIX = "killswitch-"
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- the account
def account_key(settings: Any) -> str:
    """`paper-<hash>` / `live-<hash>` of (venue, API key): stable across restarts, no secret in it.
    The paper venue is named "paper" whatever its port (its accounts live in its database)."""
    if settings.paper:
        from mraster.exchange.factory import paper_keys
        venue, key = "paper", paper_keys(settings)[0]
    else:
        venue, key = (urlparse(settings.exchange_base).hostname or settings.exchange_base), settings.api_key
    digest = hashlib.sha256(f"{venue}|{key}".encode()).hexdigest()[:12]
    return f"{'paper' if settings.paper else 'live'}-{digest}"


def latch_path(settings: Any, run_dir: Path | str | None = None) -> Path:
    """`<run dir>/killswitch-<account>.json`; `run_dir` for a process whose working directory is not
    the one the settings' relative paths mean (the dashboard resolves them against its config file)."""
    return Path(settings.run_dir if run_dir is None else run_dir) / f"{FILE_PREFIX}{account_key(settings)}.json"


# --------------------------------------------------------------------------- the latch
@dataclass
class Latch:
    account: str
    latched: bool = False
    fired_ms: int | None = None
    fired_by: str = ""
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    reset_ms: int | None = None
    reset_by: str = ""
    problem: str = ""                       # set when the file could not be read (then latched)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["schema_version"] = SCHEMA_VERSION
        return out


def _wall_ms() -> int:
    return int(time.time() * 1000)


def read_latch(path: Path | str, account: str = "") -> Latch:
    """The latch at `path`; not latched when there is no file. An unreadable file is moved aside and
    counts as latched (with `problem` saying so)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Latch(account)
    except OSError as exc:
        return Latch(account, latched=True, reason=f"kill-switch latch unreadable ({exc})", problem=str(exc))
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        fields = {k: data[k] for k in Latch.__dataclass_fields__ if k in data}
        latch = Latch(**{"account": account, **fields})
        if not isinstance(latch.latched, bool):
            raise ValueError("'latched' is not true/false")
        return latch
    except (ValueError, TypeError) as exc:
        aside = path.with_name(f"{path.name}.corrupt-{_wall_ms()}")
        try:
            os.replace(path, aside)
            kept = f"kept aside as {aside.name}"
        except OSError:
            kept = "could not be moved aside"
        why = f"kill-switch latch file {path.name} was unreadable ({exc}; {kept}); held latched until reset"
        latch = Latch(account, latched=True, fired_ms=_wall_ms(), fired_by="latch file check", reason=why,
                      problem=why)
        try:
            write_json_atomic(path, latch.to_json())
        except OSError:
            pass
        return latch


def fire(path: Path | str, account: str, who: str, reason: str, **details: Any) -> Latch:
    """Latch (atomically, before any flatten is sent). An existing latch keeps its first firing."""
    current = read_latch(path, account)
    if current.latched:
        return current
    latch = Latch(account, latched=True, fired_ms=_wall_ms(), fired_by=who, reason=reason,
                  details={k: _plain(v) for k, v in details.items()})
    write_json_atomic(path, latch.to_json())
    return latch


def reset(path: Path | str, account: str, who: str) -> Latch:
    """A person's reset: not latched any more; the last firing stays in the file for the record."""
    current = read_latch(path, account)
    latch = Latch(account, latched=False, fired_ms=current.fired_ms, fired_by=current.fired_by,
                  reason=current.reason, details=current.details, reset_ms=_wall_ms(), reset_by=who)
    write_json_atomic(path, latch.to_json())
    return latch


class LatchReader:
    """Re-reads the latch only when its file changed (mtime, size): cheap enough for every decision."""

    def __init__(self, path: Path | str, account: str = ""):
        self.path, self.account = Path(path), account
        self._stamp: tuple[int, int] | None = None
        self._latch = Latch(account)

    @classmethod
    def for_settings(cls, settings: Any) -> "LatchReader":
        return cls(latch_path(settings), account_key(settings))

    def get(self) -> Latch:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._latch = None, Latch(self.account)
            return self._latch
        except OSError as exc:
            return Latch(self.account, latched=True, reason=f"kill-switch latch unreadable ({exc})", problem=str(exc))
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp or self._latch.problem:
            self._latch = read_latch(self.path, self.account)
            self._stamp = None if self._latch.problem else stamp
        return self._latch

    def blocking_reason(self) -> str:
        """Empty when entries may go on; otherwise why not (for logs and skip reasons)."""
        latch = self.get()
        if not latch.latched:
            return ""
        return f"kill-switch latched ({latch.reason or 'no reason recorded'}); reset it with " \
               f"'mraster killswitch reset' or the dashboard"


_readers: dict[Path, LatchReader] = {}


def entries_blocked(settings: Any) -> str:
    """THE check of every entry path: "" when new positions may be opened, else the reason."""
    path = latch_path(settings)
    reader = _readers.get(path)
    if reader is None:
        reader = _readers[path] = LatchReader(path, account_key(settings))
    return reader.blocking_reason()


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


# --------------------------------------------------------------------------- per position (pure)
@dataclass(frozen=True, slots=True)
class PositionMargin:
    symbol: str
    position_side: str
    side: str                       # LONG / SHORT
    margin: Decimal                 # isolated wallet + unrealised PnL
    maint: Decimal                  # maintenance margin at today's mark (derived, see position_margin)
    liquidation_price: Decimal
    mark_price: Decimal

    @property
    def safety_multiple(self) -> Decimal:
        """margin / maintenance margin; 0 at or past the liquidation price."""
        if self.liq_distance <= 0 or self.maint <= 0:
            return Decimal(0)
        return self.margin / self.maint

    @property
    def liq_distance(self) -> Decimal:
        """How far the mark may still move toward the liquidation price, as a fraction of the mark
        (0 or less: at or past it)."""
        gap = self.mark_price - self.liquidation_price
        return (gap if self.side == "LONG" else -gap) / self.mark_price

    def to_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "position_side": self.position_side, "side": self.side,
                "margin": str(self.margin), "maint_margin": str(self.maint.quantize(Decimal("1e-8"))),
                "liquidation_price": str(self.liquidation_price), "mark_price": str(self.mark_price),
                "safety_multiple": round(float(self.safety_multiple), 6),
                "liq_distance_pct": round(float(self.liq_distance) * 100, 4)}


def position_margin(p: Position) -> PositionMargin | None:
    """The margin measures of an ISOLATED position; None for cross positions (the account-wide multiple
    covers those) or when the venue gives no liquidation or mark price.

    Venues report the isolated margin (wallet + unrealised PnL) and the liquidation price per position
    but, on Binance-compatible positionRisk, not the maintenance margin. It follows from the
    liquidation price: there the margin equals the maintenance margin, and maintenance margin scales
    with the notional, so  maint(mark) = margin(liq) x mark / liq  with
    margin(liq) = margin(mark) - |amount| x |mark - liq|  (exact in a bracket without a maintenance
    amount; within a few percent otherwise)."""
    if p.margin_type is not MarginType.ISOLATED or p.is_flat:
        return None
    liq, mark = p.liquidation_price, p.mark_price
    if liq <= 0 or mark <= 0:
        return None
    side = "LONG" if p.is_long else "SHORT"
    beyond = mark <= liq if p.is_long else mark >= liq
    margin_at_liq = p.isolated_margin - p.qty * abs(mark - liq)
    if margin_at_liq <= 0 and not beyond:
        return None                 # figures that do not fit together: judged by the account multiple only
    maint = margin_at_liq * mark / liq if margin_at_liq > 0 else Decimal(0)
    return PositionMargin(p.symbol, p.position_side.value, side, p.isolated_margin, maint, liq, mark)
