"""The risk gate: the one check every engine instance's entry passes, per account.

    gate = RiskGate(account_settings, venue,                       # once per process
                    owner_of=AccountOwners(run_dir, account, instances).owner_of_position)
    decision = await gate.admit("scan2", "ETHUSDT", Side.BUY, Decimal("120"))
    if not decision:                # decision.code "kill_switch" | "account_notional" | ...; decision.reason says why
        skip(decision.reason)
    ...  send the entry ...
    gate.release("scan2", "ETHUSDT")   # only when the entry did NOT fill (refused, expired, not taken)

Refused, in this order:
- `kill_switch`: the account's kill-switch latch is set (mraster/safety/killswitch.py);
- `venue_unavailable`: the account's positions cannot be read (no entry on a blind account);
- `symbol_held`: the account holds a position on the symbol that another instance (or a person) opened:
  in one-way mode the two would net into one position, which neither could manage;
- `account_positions`: open positions on the account (every instance's, manual ones, and entries other
  instances were admitted for but that have not shown as positions yet) would exceed
  ASTER_ACCOUNT_MAX_POSITIONS (0 = no cap);
- `account_notional`: their notional at the mark plus this entry would exceed ASTER_ACCOUNT_MAX_NOTIONAL_USDT
  (0 = no cap).

Admissions are reservations in `<ASTER_RUN_DIR>/gate-<account key>.json` (under a file lock), so two
instances admitted at the same moment cannot both take the account's last slot: a reservation counts
until its symbol shows as a position, until `release`, or for RESERVE_TTL_S at most.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from mraster.domain.types import Position, Side
from mraster.exchange.errors import ExchangeError
from mraster.exchange.interface import Exchange
from mraster.safety.killswitch import account_key, entries_blocked
from mraster.storage.atomic import write_json_atomic

RESERVE_TTL_S = 60.0
OwnerOf = Callable[[Position], "str | None"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = ""          # "" when allowed
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ADMIT = Decision(True)


def _owner_nobody(p: Position) -> str | None:
    return None


class RiskGate:
    def __init__(self, settings: Any, venue: Exchange, *, owner_of: OwnerOf | None = None,
                 clock: Callable[[], float] = time.time):
        self.settings = settings
        self.venue = venue
        self.owner_of = owner_of or _owner_nobody
        self.clock = clock
        key = account_key(settings)
        self.path = Path(settings.run_dir) / f"gate-{key}.json"
        self.lock_path = Path(settings.run_dir) / f"gate-{key}.lock"

    async def admit(self, instance: str, symbol: str, side: Side, notional: Decimal) -> Decision:
        """May `instance` open (or add to) a position of `notional` USDT on `symbol`? Reserved when yes."""
        blocked = entries_blocked(self.settings)
        if blocked:
            return Decision(False, "kill_switch", blocked)
        try:
            positions = [p for p in await self.venue.positions() if not p.is_flat]
        except ExchangeError as exc:
            return Decision(False, "venue_unavailable", f"the account's positions cannot be read ({exc})")
        for p in positions:
            if p.symbol == symbol:
                owner = self.owner_of(p)
                if owner != instance:
                    who = f"instance {owner}" if owner else "a position opened by hand (no engine's)"
                    return Decision(False, "symbol_held", f"{symbol} is held by {who} on this account; one-way "
                                    "mode would net the two positions")
        with self._locked() as reservations:
            held = {p.symbol for p in positions}
            now = self.clock()
            live = [r for r in reservations if r["until"] > now and r["symbol"] not in held
                    and not (r["instance"] == instance and r["symbol"] == symbol)]
            decision = self._caps(positions, live, symbol, notional)
            if decision:
                live.append({"instance": instance, "symbol": symbol, "notional": str(notional),
                             "until": now + RESERVE_TTL_S})
            reservations[:] = live
        return decision

    def release(self, instance: str, symbol: str) -> None:
        """The admitted entry did not open a position: its reservation goes."""
        with self._locked() as reservations:
            reservations[:] = [r for r in reservations if not (r["instance"] == instance and r["symbol"] == symbol)]

    def _caps(self, positions: list[Position], reserved: list[dict[str, Any]], symbol: str,
              notional: Decimal) -> Decision:
        max_pos = int(getattr(self.settings, "account_max_positions", 0) or 0)
        max_notional = Decimal(str(getattr(self.settings, "account_max_notional_usdt", 0) or 0))
        symbols = {p.symbol for p in positions} | {r["symbol"] for r in reserved}
        if max_pos > 0 and symbol not in symbols and len(symbols) + 1 > max_pos:
            return Decision(False, "account_positions",
                            f"the account holds or is entering {len(symbols)} position(s) "
                            f"({', '.join(sorted(symbols))}); ASTER_ACCOUNT_MAX_POSITIONS is {max_pos}")
        if max_notional > 0:
            total = sum((abs(p.amount) * (p.mark_price if p.mark_price > 0 else p.entry_price) for p in positions),
                        Decimal(0)) + sum((Decimal(r["notional"]) for r in reserved), Decimal(0))
            if total + notional > max_notional:
                return Decision(False, "account_notional",
                                f"account notional {total:.2f} + this entry {notional:.2f} USDT would exceed "
                                f"ASTER_ACCOUNT_MAX_NOTIONAL_USDT {max_notional}")
        return ADMIT

    @contextmanager
    def _locked(self) -> Iterator[list[dict[str, Any]]]:
        """The account's reservations under an exclusive lock (every process of the account)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                loaded = json.loads(self.path.read_text()).get("reservations", [])
                reservations: list[dict[str, Any]] = [r for r in loaded if isinstance(r, dict)
                                                      and {"instance", "symbol", "notional", "until"} <= r.keys()]
            except (OSError, ValueError, AttributeError):
                reservations = []
            before = list(reservations)
            yield reservations
            if reservations != before:
                write_json_atomic(self.path, {"reservations": reservations})
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


__all__ = ["ADMIT", "Decision", "RESERVE_TTL_S", "RiskGate"]
