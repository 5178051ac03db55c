"""What every part of a running bot shares: the venue, the journal, the state and its store."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mraster.accounts import DEFAULT_ACCOUNT
from mraster.domain.ownership import DEFAULT_SCANNER
from mraster.domain.types import Order, Position
from mraster.engines.owners import AccountOwners, resolve_owners, write_status
from mraster.safety.gate import RiskGate

from mraster.logs import get_logger

from mraster.exchange.interface import Exchange
from mraster.journal import Journal
from mraster.state.model import BotState, Trade
from mraster.state.store import StateStore
from bot.runtime.market import MarketData
from bot.runtime.orders import OrderExecutor
from bot.runtime.policy_gate import PolicyGate

EQUITY_CURVE_MAX = 2000
NOTICES_MAX = 50
log = get_logger("bot")


@dataclass
class Runtime:
    exchange: Exchange
    journal: Journal
    orders: OrderExecutor
    policy: PolicyGate
    store: StateStore
    state: BotState
    settings: Any
    market: MarketData
    setup_problems: dict[str, str] = field(default_factory=dict)   # symbol -> why its setup was refused
    stale_symbols: dict[str, str] = field(default_factory=dict)    # symbol -> why its candles are too old
    counters: dict[str, int] = field(default_factory=dict)
    disk_errors: dict[str, str] = field(default_factory=dict)     # "state file" / "journal" -> last write error
    journal_outage_ms: int | None = None     # venue ms the journal first failed (None: it works)
    journal_resync_from: int | None = None   # after an outage: rewrite trades changed since then
    instance: str = DEFAULT_SCANNER          # the engine instance this bot is (its ids, journal rows, claims)
    account: str = DEFAULT_ACCOUNT
    status_path: Path | None = None          # <run_dir>/<instance>.status.json: claims + heartbeat
    owners: Callable[[], AccountOwners | None] | None = None   # the account's instances and their claims
    gate: RiskGate | None = None             # the account's risk gate (mraster/safety/gate.py)
    _owner_map: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _status_error: str = ""

    def now_ms(self) -> int:
        return self.exchange.now_ms()

    @property
    def disk_problem(self) -> str:
        """Why the state file or the journal cannot be written now ("" when both can). While set, no new
        entry is sent; protection of what is held goes on."""
        return "; ".join(f"{k}: {v}" for k, v in sorted(self.disk_errors.items()))

    def disk_failed(self, what: str, exc: BaseException) -> None:
        """A write of the state file or the journal failed (disk full, read-only, file too large)."""
        text = f"{type(exc).__name__}: {exc}"
        first = what not in self.disk_errors
        if what == "journal" and self.journal_outage_ms is None:
            self.journal_outage_ms = self.now_ms()
        self.disk_errors[what] = text
        self.state.disk_problem = self.disk_problem
        if first:
            msg = (f"the {what} cannot be written ({text}); open positions stay protected, no new entries "
                   "until it can be written again")
            log.error("disk.unwritable", msg, what=what, error=text, activity=True)
            self.notice("error", msg)

    def disk_ok(self, what: str) -> None:
        if what == "journal" and self.journal_outage_ms is not None:
            self.journal_resync_from = min(self.journal_outage_ms, self.journal_resync_from or self.journal_outage_ms)
            self.journal_outage_ms = None
        if self.disk_errors.pop(what, None) is not None:
            self.state.disk_problem = self.disk_problem
            msg = f"the {what} can be written again" + ("" if self.disk_errors else "; entries resume")
            log.warning("disk.recovered", msg, what=what, activity=True)
            self.notice("warning", msg)

    @property
    def is_default(self) -> bool:
        return self.instance == DEFAULT_SCANNER

    def owner_of(self, p: Position) -> str | None:
        """The owner of a venue position as last resolved (its own trades first)."""
        key = (p.symbol, p.position_side.value)
        if any((t.symbol, t.position_side) == key for t in self.state.open_trades.values() if t.status != "closed"):
            return self.instance
        return self._owner_map.get(key)

    def resolve_owners(self, positions: list[Position], orders: list[Order]) -> dict[tuple[str, str], str | None]:
        """Owners of the account's positions from the instances' claims and resting orders (kept for
        `owner_of`)."""
        keys = [(p.symbol, p.position_side.value) for p in positions if not p.is_flat]
        owners = self.owners() if self.owners is not None else None
        if owners is None:
            claims: dict[str, frozenset[tuple[str, str]]] = {}
            self._owner_map = resolve_owners(keys, claims, orders)
        else:
            self._owner_map = owners.owners(keys, orders)
        return self._owner_map

    def claims(self) -> list[tuple[str, str, str]]:
        return [(self.account, t.symbol, t.position_side) for t in self.state.open_trades.values()
                if t.status != "closed"]

    def write_status(self) -> None:
        """The instance's status file: what it holds or is entering (read by the guard and by other
        instances on the account), and its heartbeat. A failure is said once; the state file stays the
        authority for this instance's own trades."""
        if self.status_path is None:
            return
        try:
            write_status(self.status_path, instance=self.instance, kind="scanner", account=self.account,
                         positions=self.claims(), mode=self.state.mode, heartbeat_ms=self.state.heartbeat_ms,
                         state_file=str(self.settings.state_file), disk_problem=self.disk_problem)
            self._status_error = ""
        except OSError as exc:
            if not self._status_error:
                log.error("status.unwritable", f"{self.status_path} cannot be written ({exc}); the guard reads "
                          "this instance's state file instead", activity=True)
            self._status_error = str(exc)

    def save(self) -> bool:
        """Atomic write of the whole state (after any journal rows it references). A failed write (disk
        full, permissions) is reported, never raised: the caller goes on protecting positions."""
        self.state.updated_ms = self.now_ms()
        self.write_status()
        try:
            self.store.save(self.state)
        except OSError as exc:
            self.disk_failed("state file", exc)
            return False
        if "state file" in self.disk_errors:
            self.disk_ok("state file")
            try:                              # the recovery notice itself goes to disk
                self.store.save(self.state)
            except OSError as exc:
                self.disk_failed("state file", exc)
                return False
        return True

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def notice(self, level: str, text: str) -> None:
        self.state.notices.append({"time_ms": self.now_ms(), "level": level, "msg": text})
        del self.state.notices[:-NOTICES_MAX]

    def open_symbols(self) -> list[str]:
        return [t.symbol for t in self.state.open_trades.values() if t.status != "closed"]

    def move_to_closed(self, trade: Trade) -> None:
        trade.status = "closed"
        self.state.open_trades.pop(trade.trade_id, None)
        self.state.closed_trades.append(trade)
        del self.state.closed_trades[:-max(1, int(self.settings.history_max))]

    def add_equity_point(self, equity: float) -> None:
        self.state.equity_curve.append([self.now_ms(), round(equity, 6)])
        del self.state.equity_curve[:-EQUITY_CURVE_MAX]

    @staticmethod
    def wall_ms() -> int:
        return int(time.time() * 1000)
