"""One check: fetch the venue's view, resolve intended levels, plan, act, and verify.

The venue is the truth: every round starts from positions and open orders fetched over REST. A
round's actions are executed, then the symbols touched are fetched again and planned again, until
a plan is empty (verified) or the round limit is reached (reported, retried at the next check).

Request weight is kept low because the guard shares the account's budget with the bot: positions
(5) and, per symbol that matters, open orders (1); the all-symbol open-orders call (40) only at
start, after a stream resync and every `SWEEP_EVERY_S`, to find leftover exits on symbols nobody
mentioned. The account (5, margin figures for the kill-switch) is read on full checks.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from dataclasses import replace as dc_replace

from mraster.domain.ids import DEFAULT_INSTANCE, Role, instance_of_trade, trade_id_for_adopted
from mraster.engines.owners import AccountOwners, resolve_owners
from mraster.domain.rules import NoValidOrderError, SymbolRules
from mraster.domain.types import Order, Position, WorkingType
from mraster.exchange.errors import AuthError, BannedError, ExchangeError, RateLimitedError
from mraster.exchange.interface import Exchange
from mraster.logs import EventLogger, get_logger
from mraster.safety.killswitch import Latch, LatchReader, PositionMargin, fire, position_margin
from mraster.state import BotState, read_state_readonly

from guard.classify import PositionKey, exit_key, is_exit_order
from guard.bounded import LruDict, LruSet
from guard.executor import Executor
from guard.levels import atr_of, intent_from_trade, match_trade, needs_atr, with_computed_levels
from guard.planner import ActionKind, Flatten, Intent, Plan, PositionView, Snapshot, plan
from guard.scope import ScopeRule, okey, split

MAX_ROUNDS = 4
SWEEP_EVERY_S = 60.0
RULES_REFRESH_S = 30.0
ATR_MAX = 256              # ATRs measured (per symbol, side, entry price): far more than positions held
SAID_MAX = 2000            # "said once" keys; an old one dropped is at worst said once more
MANUAL_GRACE_S = 5.0       # a position nobody claims, on an account with `leave` instances, waits this long
MANY_SYMBOLS = 20          # from here on, one all-symbol open-orders call is cheaper than one per symbol


@dataclass
class CheckReport:
    scope: frozenset[str] | None                      # None: every symbol
    views: list[PositionView] = field(default_factory=list)
    actions: int = 0
    settled: bool = True
    problems: list[str] = field(default_factory=list)
    safety_multiple: Decimal | None = None
    killed: str = ""                                  # the kill-switch reason, when it fired (this check)
    margins: list[PositionMargin] = field(default_factory=list)   # isolated positions' own measures
    latch: Latch | None = None                        # the account's kill-switch latch, as read by this check


class StateReader:
    """The bot's state file, re-read only when it changes; a read that fails keeps the last good one."""

    def __init__(self, path: Path, log: EventLogger):
        self.path, self.log = path, log
        self._stamp: tuple[int, int] | None = None
        self.state: BotState | None = None
        self._warned = False

    def get(self) -> BotState | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self.state = None, None
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            fresh = read_state_readonly(self.path)
            if fresh is None:
                if not self._warned:
                    self.log.warning("guard.state_unreadable", f"{self.path} cannot be read (being written, or "
                                     "corrupt); using the last good read and computed levels", path=str(self.path))
                    self._warned = True
                return self.state
            self._stamp, self.state, self._warned = stamp, fresh, False
        return self.state


class StatesReader:
    """The state files of every scanner instance on the account, merged into one view of open trades
    (trade ids carry their instance, so they never collide). One path: exactly the StateReader."""

    def __init__(self, paths: list[Path], log: EventLogger):
        self.readers = [StateReader(p, log) for p in dict.fromkeys(paths)]

    def get(self) -> BotState | None:
        states = [s for s in (r.get() for r in self.readers) if s is not None]
        if len(self.readers) <= 1 or not states:
            return states[0] if states else None
        merged = BotState()
        for st in states:
            merged.open_trades.update(st.open_trades)
        return merged


class Reconciler:
    def __init__(self, exchange: Exchange, settings: Any, *, state_path: Path, executor: Executor,
                 log: EventLogger | None = None, monotonic: Callable[[], float] = time.monotonic,
                 latch: LatchReader | None = None, state_paths: list[Path] | None = None,
                 owners: Callable[[], AccountOwners | None] | None = None,
                 rule: Callable[[], ScopeRule] | None = None):
        self.exchange = exchange
        self.latch = latch or LatchReader.for_settings(settings)
        self.settings = settings
        self.executor = executor
        self.log = log or get_logger("guard")
        self.state = StatesReader([state_path] if state_paths is None else state_paths, self.log)
        self.owners = owners                  # the account's instances and their claims (None: everything is ours)
        self.rule = rule or (lambda: ScopeRule())
        self.unowned_since: LruDict[tuple[str, str], float] = LruDict(ATR_MAX)
        self.left: list[tuple[Position, str | None]] = []     # positions left alone at the last check
        self.manual_grace_s = MANUAL_GRACE_S      # 0 for `--once`: one check judges what it sees
        self.monotonic = monotonic
        self.rules: dict[str, SymbolRules] = {}
        self._rules_at: float | None = None
        self._atr: LruDict[tuple[str, str, Decimal], float] = LruDict(ATR_MAX)
        self._said: LruSet[str] = LruSet(SAID_MAX)
        self.watched: set[str] = set()       # symbols where exit orders were last seen
        self._last_sweep: float | None = None

    # ------------------------------------------------------------------ entry point
    async def check(self, scope: frozenset[str] | None = None, *, sweep: bool = False,
                    flatten: Flatten | None = None) -> CheckReport:
        """`scope` None is a full check (every position, the kill-switch, watched symbols)."""
        report = CheckReport(scope=scope)
        state = self.state.get()
        full = scope is None
        kill_threshold = Decimal(str(self.settings.kill_safety_multiple))
        latch = report.latch = self.latch.get()
        if flatten is None and latch.latched:          # the switch holds: nothing stays open, nothing rests
            flatten = Flatten(Role.KILL, f"kill-switch latched since {latch.fired_ms} ({latch.reason})",
                              "kill_switch", every_order=True)
        need_account = full and flatten is None and kill_threshold > 0
        positions = await self.exchange.positions()
        if full:
            orders_task = self._all_orders(positions, state, sweep or self._sweep_due())
        else:
            orders_task = self._scoped_orders(scope or frozenset())
        account_task = self.exchange.account() if need_account and positions else _none()
        (symbols, orders), account = await asyncio.gather(orders_task, account_task)
        report.margins = [m for m in map(position_margin, positions) if m is not None]
        if account is not None:
            report.safety_multiple = account.safety_multiple
        if flatten is None and kill_threshold > 0:
            report.killed = _kill_reason(report, kill_threshold)
            if report.killed:
                flatten = await self._fire(report)
        await self._ensure_rules({p.symbol for p in positions})
        snap_scope = None if symbols is None else frozenset(symbols)
        self._update_watched(orders, snap_scope)
        for round_no in range(MAX_ROUNDS):
            current = await self._plan(positions, orders, state, snap_scope, flatten)
            if round_no == 0:
                report.views = list(current.views)
            else:
                report.views = [v for v in report.views if v.position.symbol not in snap_scope] + list(current.views)
            for text in current.blocked:
                self._once(text, lambda t: self.log.error("guard.blocked", t, activity=True))
            if current.done:
                report.settled = not current.blocked
                break
            if flatten is None and _orphan_cancels(current, positions):
                # An exit on a symbol that looked flat may be a stop the bot placed between our two reads
                # (positions, then orders): its entry filled after we read positions. Read positions again
                # (after the orders) before cancelling anything as a leftover.
                fresh = await self.exchange.positions()
                if _keys(fresh) != _keys(positions):
                    positions = fresh
                    current = await self._plan(positions, orders, state, snap_scope, flatten)
                    report.views = list(current.views) if round_no == 0 else [
                        v for v in report.views if v.position.symbol not in snap_scope] + list(current.views)
                    if current.done:
                        report.settled = not current.blocked
                        break
            outcomes = await self.executor.run(current.actions)
            report.actions += sum(o.ok for o in outcomes)
            if not any(o.ok for o in outcomes):
                report.settled = False
                report.problems.append("no action succeeded: " + "; ".join(o.detail for o in outcomes))
                break
            flatten = None                         # once: later rounds verify and clean up
            touched = frozenset(a.symbol for a in current.actions)
            snap_scope = touched
            traded = any(o.traded for o in outcomes) or any(a.kind is ActionKind.CANCEL_ALL
                                                            for a in current.actions)
            positions, orders = await self._refetch(touched, positions if not traded else None)
            self._update_watched(orders, touched)
        else:
            report.settled = False
            report.problems.append(f"not settled after {MAX_ROUNDS} rounds")
        return report

    async def _fire(self, report: CheckReport) -> Flatten:
        """Latch first (every engine stops opening positions), then flatten everything."""
        worst = min(report.margins, key=lambda m: m.safety_multiple, default=None)
        self.log.error("kill_switch", f"KILL-SWITCH: {report.killed}; latching (no new positions until a person "
                       f"resets it), cancelling every order and closing every position at market", activity=True,
                       reason=report.killed, safety_multiple=report.safety_multiple,
                       threshold=self.settings.kill_safety_multiple,
                       position=worst.to_json() if worst is not None else None)
        try:
            report.latch = await asyncio.to_thread(         # fsync off the event loop
                fire, self.latch.path, self.latch.account, "guard", report.killed,
                account_safety_multiple=report.safety_multiple, positions=[m.to_json() for m in report.margins])
        except OSError as exc:       # the flatten goes on; the latch is retried at the next check
            self.log.error("kill_switch.latch_unwritable", f"cannot write the kill-switch latch {self.latch.path} "
                           f"({exc}): flattening anyway; the bot is NOT blocked until it can be written",
                           activity=True, error=str(exc))
        return Flatten(Role.KILL, report.killed, "kill_switch", every_order=True)

    # -------------------------------------------------------------------- fetching
    async def _all_orders(self, positions: list[Position], state: BotState | None,
                          sweep: bool) -> tuple[set[str] | None, list[Order]]:
        """Open orders of every symbol that matters: those with a position, with exits last seen,
        or in the bot's open trades; or of every symbol (scope None) on a sweep."""
        if sweep:
            self._last_sweep = self.monotonic()
            return None, await self.exchange.open_orders()
        wanted = {p.symbol for p in positions} | set(self.watched)
        if state is not None:
            wanted |= {t.symbol for t in state.open_trades.values()}
        if len(wanted) >= MANY_SYMBOLS:
            self._last_sweep = self.monotonic()
            return None, await self.exchange.open_orders()
        return wanted, await self._orders_of(wanted)

    async def _scoped_orders(self, symbols: frozenset[str]) -> tuple[set[str], list[Order]]:
        return set(symbols), await self._orders_of(symbols)

    async def _orders_of(self, symbols: set[str] | frozenset[str]) -> list[Order]:
        chunks = await asyncio.gather(*(self.exchange.open_orders(s) for s in sorted(symbols)))
        return [o for chunk in chunks for o in chunk]

    async def _refetch(self, symbols: frozenset[str],
                       positions: list[Position] | None) -> tuple[list[Position], list[Order]]:
        """The venue's view after a round: open orders of the symbols touched, and positions too when
        the round traded (otherwise they are unchanged by us; any other change comes as an event)."""
        if positions is not None:
            return positions, await self._orders_of(symbols)
        fresh, orders = await asyncio.gather(self.exchange.positions(), self._orders_of(symbols))
        return fresh, orders

    def _sweep_due(self) -> bool:
        return self._last_sweep is None or self.monotonic() - self._last_sweep >= SWEEP_EVERY_S

    def _update_watched(self, orders: list[Order], scope: frozenset[str] | None) -> None:
        with_exits = {o.symbol for o in orders if is_exit_order(o)}
        if scope is None:
            self.watched = with_exits
        else:
            self.watched = (self.watched - set(scope)) | with_exits

    async def _ensure_rules(self, symbols: set[str]) -> None:
        """Symbol rules (tick, lot) for rounding and market-lot chunks; fetched once, refreshed when a
        position's symbol is unknown (at most every 30 s). Protection does not wait for them: without
        rules the bot's levels are placed as written and only computed levels are impossible."""
        missing = symbols - self.rules.keys()
        if self.rules and not missing:
            return
        now = self.monotonic()
        if self.rules and self._rules_at is not None and now - self._rules_at < RULES_REFRESH_S:
            return
        self._rules_at = now
        try:
            self.rules = dict(await self.exchange.symbol_rules(refresh=bool(self.rules)))
        except (RateLimitedError, BannedError, AuthError):
            raise
        except ExchangeError as exc:
            self._once(f"rules-failed:{type(exc).__name__}", lambda t, e=exc: self.log.warning(
                "guard.rules_unavailable", f"symbol rules unavailable ({e}); guarding with what is known",
                error=str(e)))

    # -------------------------------------------------------------------- planning
    def _scoped(self, positions: list[Position], orders: list[Order],
                state: BotState | None) -> tuple[list[Position], list[Order], dict[tuple[str, str], str | None]]:
        """The positions this guard protects and the orders it may touch (guard/scope.py)."""
        rule = dc_replace(self.rule(), manual=getattr(self.settings, "guard_manual", "protect"))   # live setting
        owners = self.owners() if self.owners is not None else None
        if owners is None and rule.everything:
            return positions, orders, {}
        keys = [okey(p) for p in positions if not p.is_flat]
        claims = dict(owners.claims) if owners is not None else {}
        if state is not None:          # the scanners' state files claim their trades' positions too
            for t in state.open_trades.values():
                if t.status != "closed":
                    name = instance_of_trade(t.trade_id)
                    claims[name] = claims.get(name, frozenset()) | {(t.symbol, t.position_side)}
        owned = resolve_owners(keys, claims, orders)
        waiting = []
        now = self.monotonic()
        for key in keys:
            if owned.get(key) is None and rule.manual == "protect" and owners is not None and owners.has_leave:
                if key not in self.unowned_since:        # a `leave` instance may be about to claim it
                    self.unowned_since[key] = now
                first = self.unowned_since[key]
                if now - first < self.manual_grace_s:
                    waiting.append(key)
            else:
                self.unowned_since.pop(key, None)
        kept, seen, left = split(rule, positions, orders, owned, waiting)
        for p, owner in left:
            self._once(f"left:{p.symbol}:{p.position_side.value}:{owner}", lambda t, p=p, owner=owner: self.log.info(
                "guard.left_alone", f"{p.symbol} {p.position_side.value}: position of "
                f"{owner or 'nobody (opened by hand)'} is outside this guard's scope; no stop or take-profit, "
                "none of its orders touched", symbol=p.symbol, owner=owner or ""))
        self.left = left
        return kept, seen, owned

    async def _plan(self, positions: list[Position], orders: list[Order], state: BotState | None,
                    scope: frozenset[str] | None, flatten: Flatten | None) -> Plan:
        owned: dict[tuple[str, str], str | None] = {}
        if flatten is None:
            positions, orders, owned = self._scoped(positions, orders, state)
        intents = self._intents(positions, state, owned)
        snap = Snapshot(tuple(positions), tuple(orders), intents, self.rules, self._working_type(), scope,
                        flatten=flatten)
        result = plan(snap)
        if result.needs_levels:
            for key in result.needs_levels:
                p = next(p for p in positions if (p.symbol, p.position_side) == key)
                intents[key] = await self._computed(p, intents[key], state)
            result = plan(Snapshot(tuple(positions), tuple(orders), intents, self.rules, self._working_type(), scope,
                                   flatten=flatten))
        return result

    def _intents(self, positions: list[Position], state: BotState | None,
                 owned: dict[tuple[str, str], str | None] | None = None) -> dict[PositionKey, Intent]:
        out: dict[PositionKey, Intent] = {}
        for p in positions:
            trade = match_trade(state, p)
            intent, notes = intent_from_trade(trade, p)
            owner = (owned or {}).get(okey(p))
            if trade is None and owner is not None and owner != DEFAULT_INSTANCE:
                # the instance's position without a trade in a state file: brackets under its name
                intent = dc_replace(intent, trade_id=trade_id_for_adopted(p.symbol, p.position_side.value,
                                                                          instance=owner))
            for note in notes:
                self._once(f"{intent.trade_id}:{note}", lambda t, n=note: self.log.warning(
                    "guard.state_levels_ignored", f"{p.symbol}: the bot's {n}; using computed levels instead",
                    symbol=p.symbol, trade_id=intent.trade_id))
            out[(p.symbol, p.position_side)] = intent
        return out

    async def _computed(self, p: Position, intent: Intent, state: BotState | None) -> Intent:
        if not needs_atr(intent):
            return intent
        rules = self.rules.get(p.symbol)
        if rules is None:
            self._once(f"rules:{p.symbol}", lambda t: self.log.error(
                "guard.no_rules", f"{p.symbol}: no symbol rules from the venue; cannot compute levels",
                symbol=p.symbol))
            return intent
        trade = match_trade(state, p)
        value = trade.atr if trade is not None and trade.atr and trade.atr > 0 else await self._atr_for(p)
        if value is None:
            self.log.error("guard.no_atr", f"{p.symbol}: no candles to measure ATR; cannot compute levels for "
                           f"an unprotected position, trying again", symbol=p.symbol, activity=True)
            return intent
        try:
            out = with_computed_levels(intent, p, value, self.settings.sl_atr_mult, self.settings.tp_atr_mult, rules)
        except NoValidOrderError as exc:
            self.log.error("guard.no_levels", f"{p.symbol}: {exc}", symbol=p.symbol, activity=True)
            return intent
        self._once(f"computed:{intent.trade_id}:{p.entry_price}", lambda t: self.log.info(
            "guard.levels_computed", f"{p.symbol}: levels computed from entry {p.entry_price} and ATR {value:.6g} "
            f"(stop {out.stop}, take-profit {out.take_profit})", symbol=p.symbol, trade_id=intent.trade_id,
            atr=value, stop=out.stop, take_profit=out.take_profit))
        return out

    async def _atr_for(self, p: Position) -> float | None:
        key = (p.symbol, p.position_side.value, p.entry_price)
        if key not in self._atr:
            klines = await self.exchange.klines(p.symbol, self.settings.interval, limit=self.settings.klines)
            value = atr_of(klines, self.exchange.now_ms())
            if value is None:
                return None
            self._atr[key] = value
        return self._atr[key]

    def _working_type(self) -> WorkingType:
        return WorkingType(self.settings.working_type)

    def _once(self, key: str, say: Callable[[str], None]) -> None:
        if key not in self._said:
            self._said.add(key)
            say(key)


async def _none() -> None:
    return None


def _keys(positions: list[Position]) -> set[tuple[str, object]]:
    return {(p.symbol, p.position_side) for p in positions if not p.is_flat}


def _orphan_cancels(current: Plan, positions: list[Position]) -> bool:
    """Does the plan cancel an exit order of a position that does not exist (a leftover)?"""
    held = _keys(positions)
    return any(a.kind is ActionKind.CANCEL and a.order is not None and is_exit_order(a.order)
               and exit_key(a.order) not in held for a in current.actions)


def _kill_reason(report: CheckReport, threshold: Decimal) -> str:
    """Why the kill-switch fires now ("" if it does not): an ISOLATED position's own margin at or below
    `threshold` x its maintenance margin (the account-wide figure cannot see it coming), or the account's
    totalMarginBalance / totalMaintMargin at or below it."""
    worst = min(report.margins, key=lambda m: m.safety_multiple, default=None)
    if worst is not None and worst.safety_multiple <= threshold:
        return (f"{worst.symbol} {worst.side} (ISOLATED): margin {worst.margin:.4f} is "
                f"{worst.safety_multiple:.4f} x its maintenance margin {worst.maint:.4f}, liquidation at "
                f"{worst.liquidation_price} ({worst.liq_distance * 100:.3f} % from the mark {worst.mark_price}); "
                f"ASTER_KILL_SAFETY_MULTIPLE is {threshold}")
    sm = report.safety_multiple
    if sm is not None and sm <= threshold:
        return (f"margin safety multiple {sm:.4f} (totalMarginBalance / totalMaintMargin) fell to "
                f"ASTER_KILL_SAFETY_MULTIPLE {threshold}")
    return ""
