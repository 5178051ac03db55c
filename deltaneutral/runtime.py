"""The operator's runtime: reads the venue, asks `plan` what to do, sends, records.

One loop at LEG_CHECK_SEC: every tick reads both legs of every held pair and closes any pair that is
risky or has lost a leg (so a leg never stays alone for more than a tick plus the close); every
LOOP_INTERVAL_MIN (venue time), or when a rotation is due, it runs the seed's cycle: open a pair where
none is held, rotate where the hold time is reached, log stats. Positions on the venue are the truth:
a restarted operator adopts what it finds (its own orders only) and opens only where nothing is held.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Awaitable, Callable

from mraster.domain.ownership import OrderIds, owns
from mraster.engines.owners import write_status
from mraster.domain.rules import NoValidOrderError
from mraster.domain.types import MarginType, Order
from mraster.exchange.errors import ExchangeError
from mraster.logs import get_logger
from mraster.storage.atomic import CorruptFileError, read_json_checked, write_json_atomic
from mraster.tradedb import PositionRow, TradeDB, TradeRow, day_start_ms, utc_day

from deltaneutral import plan, rewards
from deltaneutral.plan import Config, Leg, PairView
from deltaneutral.venue import LegVenue

log = get_logger("deltaneutral")
ZERO = Decimal(0)
EVENTS_KEPT = 50


@dataclass
class Held:
    """What the operator remembers of a pair it holds (also in its state file)."""
    pair_id: str
    opened_ms: int
    rotate_at_ms: int
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    adopted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"pair_id": self.pair_id, "opened_ms": self.opened_ms, "rotate_at_ms": self.rotate_at_ms,
                "fees": str(self.fees), "funding": str(self.funding), "adopted": self.adopted}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Held":
        return cls(str(d["pair_id"]), int(d["opened_ms"]), int(d["rotate_at_ms"]), Decimal(str(d.get("fees", 0))),
                   Decimal(str(d.get("funding", 0))), bool(d.get("adopted", False)))


@dataclass
class Files:
    status: Path
    state: Path
    control: Path


@dataclass
class Operator:
    instance: str
    cfg: Config
    long: LegVenue
    short: LegVenue
    db: TradeDB
    files: Files
    entry_block: Callable[[], str] = lambda: ""          # the kill-switch latch(es) of the accounts
    gates: dict[str, Any] = field(default_factory=dict)  # account -> mraster.safety.gate.RiskGate
    warnings: list[str] = field(default_factory=list)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        self.db.on_write_error = self._db_failed
        self.ids = OrderIds(self.instance)
        self.rng = random.Random(self.cfg.seed)
        self.held: dict[str, Held] = {}
        self.blocked: dict[str, str] = {}                # symbol -> why no pair is opened there (until restart)
        self.size_blocked: dict[str, str] = {}           # symbol -> why the last open could not size a leg
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)
        self.views: dict[str, PairView] = {}
        self.funding_next: dict[str, dict[str, Any]] = {}  # symbol -> expected funding at the next settlement
        self.claims: set[tuple[str, str, str]] = set()      # (account, symbol, position side) held or entering
        self.rotations: dict[str, int] = {}              # UTC day -> rotations
        self.handled_close_ms = 0
        self.next_cycle_ms = 0
        self.last_cycle_ms = 0
        self.last_error = ""
        self.stopping = False
        self.mode = "hedge" if self.long.hedge else "two-account"

    # ------------------------------------------------------------------ time and reporting
    async def now_ms(self) -> int:
        """The venue's time (re-measured: the paper venue's clock may be advanced)."""
        try:
            await self.long.exchange.sync_time()
        except ExchangeError as exc:
            log.warning("time.sync_failed", f"venue time not re-measured: {exc}")
        return self.long.exchange.now_ms()

    def event(self, name: str, text: str, symbol: str = "", level: str = "info", **fields: Any) -> None:
        self.events.appendleft({"time_ms": int(time.time() * 1000), "event": name, "symbol": symbol, "text": text,
                                "level": level})
        getattr(log, level)(f"dn.{name}", text, symbol=symbol, instance=self.instance, activity=True, **fields)

    def _db_failed(self, exc: BaseException) -> None:
        """A trade-database write failed: reported, skipped; trading and closing go on (the venue keeps the fills)."""
        self.event("db.write_failed", f"trade database write failed ({type(exc).__name__}: {exc}); the row is "
                   "skipped, the venue's fills remain", level="error")

    # ------------------------------------------------------------------ setup and adoption
    async def setup(self) -> None:
        """Position mode, margin type and leverage on every account and symbol. Hedge mode that the venue
        refuses stops the start with a message (use SHORT_ACCOUNT), never a half-configured pair."""
        venues = [self.long] if self.long.exchange is self.short.exchange else [self.long, self.short]
        for v in venues:
            # exchangeInfo first (weight 1): the symbols' filters, and the request limits the venue announces,
            # which the client's budget holds to from then on
            listed = await v.exchange.symbol_rules()
            unknown = [s for s in self.cfg.pairs if s not in listed]
            if unknown:
                raise RuntimeError(f"TRADING_PAIRS: {', '.join(unknown)} not listed by the venue of account {v.account}")
            if v.hedge:
                await v.exchange.set_position_mode(True)
                if not await v.exchange.get_position_mode():
                    raise RuntimeError(f"account {v.account} is not in hedge mode and the venue did not switch it; "
                                       "close its positions or set SHORT_ACCOUNT to trade the legs on two accounts")
            elif await v.exchange.get_position_mode():
                await v.exchange.set_position_mode(False)
            for symbol in self.cfg.pairs:
                await v.exchange.set_margin_type(symbol, MarginType.ISOLATED)
                await v.exchange.set_leverage(symbol, self.cfg.leverage)

    def load_state(self) -> None:
        try:
            data = read_json_checked(self.files.state)
        except CorruptFileError as exc:
            self.event("state.corrupt", f"state file unreadable, kept aside ({exc}); the venue's positions and the "
                       "trade database decide", level="warning")
            return
        if not isinstance(data, dict):
            return
        self.held = {s: Held.from_json(h) for s, h in (data.get("held") or {}).items()}
        self.rotations = {str(k): int(v) for k, v in (data.get("rotations") or {}).items()}
        self.handled_close_ms = int(data.get("handled_close_ms") or 0)

    def save_state(self) -> None:
        write_json_atomic(self.files.state, {"held": {s: h.to_json() for s, h in self.held.items()},
                                             "rotations": self.rotations, "handled_close_ms": self.handled_close_ms})

    async def adopt(self, now: int) -> None:
        """After a (re)start: every pair on the venue is held again, with its hold time from the state file,
        the trade database or the venue's fills; a leg the operator did not open blocks that symbol."""
        self.load_state()
        open_rows = self.db.positions(self.instance, "open")
        for symbol in self.cfg.pairs:
            view = await self.read_pair(symbol)
            rows = [r for r in open_rows if r["symbol"] == symbol]
            if view.empty:
                if symbol in self.held or rows:
                    self.held.pop(symbol, None)
                    for r in rows:
                        self._close_row(r, now, None, ZERO, ZERO, ZERO, "gone while the operator was stopped")
                    self.event("adopt.gone", "the pair held before the restart is no longer on the venue", symbol)
                continue
            owners = await self._owned(symbol, view)
            if not owners:
                self.blocked[symbol] = "positions on this symbol were not opened by this instance; left alone"
                self.event("adopt.foreign", self.blocked[symbol], symbol, level="warning")
                continue
            held = self.held.get(symbol)
            if held is None and rows:
                opened = min(int(r["opened_ms"]) for r in rows)
                held = Held(str(rows[0]["pair_id"]), opened, plan.rotation_due(opened, self.cfg, 0.0, True))
            if held is None:
                opened = min(owners.values())
                held = Held(f"{symbol}.{opened}", opened, plan.rotation_due(opened, self.cfg, 0.0, True))
            held.adopted = True
            self.held[symbol] = held
            self.claims |= set(self._legs_of(symbol))
            self.event("adopt.pair", f"adopted the pair held since "
                       f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(held.opened_ms / 1000))} (hold "
                       f"{(now - held.opened_ms) / 60000:.1f} min)", symbol)
        self.save_state()

    async def _owned(self, symbol: str, view: PairView) -> dict[str, int]:
        """Leg -> time of its latest opening fill, for legs whose latest opening order this instance placed."""
        out: dict[str, int] = {}
        for venue, leg in ((self.long, view.long), (self.short, view.short)):
            if leg is None:
                continue
            trades = await venue.exchange.user_trades(symbol, limit=500)
            opening = [t for t in trades if t.side is venue.open_side
                       and (not venue.hedge or t.position_side is venue.position_side)]
            if not opening:
                continue
            last = max(opening, key=lambda t: t.time)
            order = await venue.exchange.get_order(symbol, order_id=last.order_id)
            if owns(self.instance, order.client_order_id):
                first = min((t.time for t in opening if t.order_id == last.order_id), default=last.time)
                out[leg.side] = first
        return out

    # ------------------------------------------------------------------ reading the venue
    async def read_pair(self, symbol: str) -> PairView:
        legs: dict[str, Leg | None] = {}
        for venue in (self.long, self.short):
            p = await venue.get_position_risk(symbol)
            legs[venue.leg] = None if p is None else Leg(venue.leg, p.qty, p.entry_price, p.mark_price,
                                                         p.liquidation_price, p.unrealized_pnl, venue.account)
        held = self.held.get(symbol)
        view = PairView(symbol, legs["LONG"], legs["SHORT"], held.fees if held else ZERO,
                        held.funding if held else ZERO)
        self.views[symbol] = view
        return view

    # ------------------------------------------------------------------ admission (the one entry point)
    def admit_open(self, symbol: str, control: dict[str, Any]) -> str:
        """"" when a new pair may be opened on `symbol`, else why not. Every open and rotation passes here
        (the kernel's risk gate belongs here too)."""
        if control.get("paused"):
            return "paused from the dashboard"
        if symbol in self.blocked:
            return self.blocked[symbol]
        return self.entry_block()

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        await self.setup()
        await self.adopt(await self.now_ms())
        while not self.stopping:
            try:
                await self.tick()
            except ExchangeError as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("dn.tick_failed", self.last_error, instance=self.instance)
            except Exception as exc:   # the loop is what watches the legs: it never stops on a surprise
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("dn.tick_error", self.last_error, instance=self.instance)
            self.write_status(self.long.exchange.now_ms())
            if not self.stopping:
                await self.sleep(self.cfg.leg_check_s)

    async def tick(self) -> None:
        now = await self.now_ms()
        control = self.read_control()
        manual = int(control.get("close_ms") or 0) > self.handled_close_ms
        for symbol in self.cfg.pairs:
            view = await self.read_pair(symbol)
            if symbol in self.blocked:          # legs this instance did not open: never touched
                continue
            reason = plan.risk_reason(view, self.cfg) or ("manual: closed from the dashboard" if manual else "")
            if reason and not view.empty:
                await self.close_pair(symbol, view, reason, now)
        if manual:
            self.handled_close_ms = int(control["close_ms"])
            self.save_state()
        due = any(now >= h.rotate_at_ms and not self.admit_open(s, control) for s, h in self.held.items())
        if now >= self.next_cycle_ms or due:
            await self.cycle(now, control)

    async def cycle(self, now: int, control: dict[str, Any]) -> None:
        """The seed's cycle: check positions, close what is risky, open, rotate, hold, log stats."""
        for symbol in self.cfg.pairs:
            view = await self.read_pair(symbol)
            if symbol in self.blocked:
                continue
            held = self.held.get(symbol)
            if held is not None and not view.empty:
                held.funding = await self._funding(symbol, held.opened_ms)
                view = await self.read_pair(symbol)
                await self._expect_funding(symbol, view)
            block = self.admit_open(symbol, control)
            decision = plan.decide(view, self.cfg, now, held.rotate_at_ms if held else None, block)
            if decision.action == "close":
                await self.close_pair(symbol, view, decision.reason, now)
            elif decision.action == "open":
                await self.open_pair(symbol, now)
            elif decision.action == "rotate":
                await self.close_pair(symbol, view, "rotation", now)
                if (await self.read_pair(symbol)).empty:
                    self.rotations[utc_day(now)] = self.rotations.get(utc_day(now), 0) + 1
                    await self.open_pair(symbol, now)
        self.refresh_daily(now)
        self.last_cycle_ms, self.next_cycle_ms = now, now + self.cfg.loop_ms
        vol = self.db.volume_on(now, self.instance)
        log.info("dn.stats", f"volume today {vol:.2f} of {self.cfg.daily_target} USDT; pairs held "
                 f"{len(self.held)}", instance=self.instance, volume_today=str(vol))
        self.save_state()

    # ------------------------------------------------------------------ claims and the risk gate
    def _legs_of(self, symbol: str) -> list[tuple[str, str, str]]:
        return [(v.account, symbol, v.position_side.value) for v in (self.long, self.short)]

    def claim(self, symbol: str, held: bool) -> None:
        """The status file names the legs this instance holds or is entering (mraster/engines/owners.py), on
        disk before an entry is sent: the guard leaves them alone (scope "leave") and the risk gate knows them."""
        legs = set(self._legs_of(symbol))
        self.claims = (self.claims | legs) if held else (self.claims - legs)
        self.write_status(self.long.exchange.now_ms())

    async def admit_gate(self, symbol: str, notional: Decimal) -> str:
        """The kernel's risk gate, per account, for the pair's notional there ("" when admitted)."""
        per_account: dict[str, tuple[Any, Decimal]] = {}
        for v in (self.long, self.short):
            gate = self.gates.get(v.account)
            if gate is not None:
                side_n = per_account.get(v.account, (gate, ZERO))[1]
                per_account[v.account] = (gate, side_n + notional)
        admitted: list[Any] = []
        for account, (gate, total) in per_account.items():
            decision = await gate.admit(self.instance, symbol, self.long.open_side, total)
            if not decision:
                for g in admitted:
                    g.release(self.instance, symbol)
                return f"risk gate ({account}): {decision.reason}"
            admitted.append(gate)
        return ""

    def release_gate(self, symbol: str) -> None:
        for gate in {id(g): g for g in self.gates.values()}.values():
            gate.release(self.instance, symbol)

    # ------------------------------------------------------------------ opening
    async def open_pair(self, symbol: str, now: int) -> None:
        try:
            rules = await self.long.rules(symbol)
            price = await self.long.get_mark_price(symbol)
            try:
                qty = plan.leg_quantity(self.cfg, rules, price, self.rng.random())
            except NoValidOrderError:              # the variation went below the minimum: the full size
                qty = plan.leg_quantity(self.cfg, rules, price, 0.0)
        except (NoValidOrderError, ValueError) as exc:
            reason = plan.size_problem(self.cfg, rules, price) if isinstance(exc, NoValidOrderError) else str(exc)
            if self.size_blocked.get(symbol) != reason:          # reported once per reason, tried every cycle
                self.event("open.size", f"no pair: {reason}", symbol, level="error")
            self.size_blocked[symbol] = reason
            return
        self.size_blocked.pop(symbol, None)
        refused = await self.admit_gate(symbol, qty * price)
        if refused:
            self.event("open.refused", f"no pair: {refused}", symbol, level="warning")
            return
        self.claim(symbol, True)
        pair_id = f"{symbol}.{self.ids.instance}.{now}"
        long_qty, long_fee = await self._open_leg(self.long, symbol, qty, pair_id, now)
        if long_qty <= 0:
            self.event("open.failed", "the first (LONG) leg did not open; no pair", symbol, level="warning")
            self.release_gate(symbol)
            self.claim(symbol, False)
            return
        short_qty, short_fee = await self._open_leg(self.short, symbol, qty, pair_id, now)
        if short_qty <= 0:
            view = await self.read_pair(symbol)
            self.event("leg.second_failed", "the SHORT leg failed to open: closing the LONG leg now", symbol,
                       level="error")
            await self.close_pair(symbol, view, "lone_leg: second leg failed to open", now, pair_id=pair_id)
            return
        trim_leg, trim_qty = plan.balance_legs(long_qty, short_qty, rules.lot(market=True)[0])
        if trim_qty > 0:
            venue = self.long if trim_leg == "LONG" else self.short
            p = await venue.get_position_risk(symbol)
            if p is not None:
                await venue.close_position(p, self._cids(symbol, "TR"), qty=trim_qty)
                self.event("leg.trimmed", f"{trim_leg} leg trimmed by {trim_qty} to match the other", symbol)
        behind = plan.pacing(self.db.volume_on(now, self.instance), self.cfg, qty * price, now).behind
        held = Held(pair_id, now, plan.rotation_due(now, self.cfg, self.rng.random(), behind),
                    fees=long_fee + short_fee)
        self.held[symbol] = held
        view = await self.read_pair(symbol)
        for leg in (view.long, view.short):
            if leg is not None:
                self.db.upsert_position(PositionRow(pair_id, leg.side, leg.account, self.instance, symbol, leg.qty,
                                                    leg.entry, now))
        await self._expect_funding(symbol, view)
        self.event("pair.opened", f"opened {min(long_qty, short_qty)} LONG + SHORT; rotation at "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(held.rotate_at_ms / 1000))}",
                   symbol, pair_id=pair_id)
        self.save_state()

    async def _open_leg(self, venue: LegVenue, symbol: str, qty: Decimal, pair_id: str,
                        now: int) -> tuple[Decimal, Decimal]:
        """Send one leg; (quantity now held, fee). The position is re-read, so an answer lost on the way
        still counts what the venue executed."""
        cid = self.ids(f"{symbol[:8]}.{venue.leg[0]}O")
        order: Order | None = None
        try:
            order = await venue.place_market_order(symbol, venue.open_side, qty, cid)
        except ExchangeError as exc:
            self.event("leg.open_error", f"{venue.leg} leg order {cid} failed: {exc}", symbol, level="warning")
        fee = await self._record(venue, symbol, order, "open", pair_id, now) if order is not None else ZERO
        p = await venue.get_position_risk(symbol)
        return (p.qty if p is not None else ZERO), fee

    # ------------------------------------------------------------------ closing
    def _cids(self, symbol: str, tag: str) -> Callable[[int], str]:
        def cid(n: int) -> str:
            return self.ids(f"{symbol[:8]}.{tag}{n}")
        return cid

    async def close_pair(self, symbol: str, view: PairView, reason: str, now: int, pair_id: str = "") -> bool:
        """Close both legs at once (concurrently, so the pair is one-legged for as short as possible).
        True when nothing is left; otherwise the next tick sees what remains and closes it."""
        held = self.held.get(symbol)
        pair_id = pair_id or (held.pair_id if held else f"{symbol}.adopted.{now}")
        funding = await self._funding(symbol, held.opened_ms) if held else ZERO
        jobs = []
        for venue, leg in ((self.long, view.long), (self.short, view.short)):
            if leg is not None:
                jobs.append(self._close_leg(venue, symbol, pair_id, reason, now,
                                            funding if venue is self.long or not self.long.hedge else ZERO))
        results = await asyncio.gather(*jobs)
        after = await self.read_pair(symbol)
        kind = reason.split(":")[0]
        if after.empty:
            self.held.pop(symbol, None)
            self.release_gate(symbol)
            self.claim(symbol, False)
            self.event(f"pair.closed.{kind}", f"pair closed ({reason})", symbol, level="info" if kind in (
                "rotation", "manual") else "warning", pair_id=pair_id)
        else:
            self.event("pair.close_incomplete", f"close ({reason}) left {after.long and after.long.qty} LONG / "
                       f"{after.short and after.short.qty} SHORT: {'; '.join(r for r in results if r)}", symbol,
                       level="error")
        self.refresh_daily(now)
        self.save_state()
        return after.empty

    async def _close_leg(self, venue: LegVenue, symbol: str, pair_id: str, reason: str, now: int,
                         funding: Decimal) -> str:
        p = await venue.get_position_risk(symbol)
        if p is None:
            return ""
        result = await venue.close_position(p, self._cids(symbol, f"{venue.leg[0]}X"))
        fees = pnl = ZERO
        for order in result.orders:
            fees += await self._record(venue, symbol, order, "close", pair_id, now)
        pnl = sum((Decimal(str(r["realized_pnl"])) for r in self.db.trades(self.instance, now - 1)
                   if r["pair_id"] == pair_id and r["position_side"] in (venue.leg, "BOTH")
                   and r["action"] == "close" and r["account"] == venue.account), ZERO)
        rows = [r for r in self.db.positions(self.instance, "open") if r["pair_id"] == pair_id and r["leg"] == venue.leg]
        row = rows[0] if rows else {"pair_id": pair_id, "leg": venue.leg, "account": venue.account,
                                    "symbol": symbol, "quantity": str(p.qty), "entry_price": str(p.entry_price),
                                    "opened_ms": now, "fees": "0"}
        if result.remaining <= 0:
            self._close_row(row, now, result.avg_price, pnl, Decimal(str(row.get("fees") or 0)) + fees, funding,
                            reason)
        return result.error

    def _close_row(self, r: dict[str, Any], now: int, price: Decimal | None, pnl: Decimal, fees: Decimal,
                   funding: Decimal, reason: str) -> None:
        self.db.upsert_position(PositionRow(
            str(r["pair_id"]), str(r["leg"]), str(r["account"]), self.instance, str(r["symbol"]),
            Decimal(str(r["quantity"])), Decimal(str(r["entry_price"])), int(r["opened_ms"]), "closed", now, price,
            pnl, fees, funding, reason))

    # ------------------------------------------------------------------ records
    async def _record(self, venue: LegVenue, symbol: str, order: Order, action: str, pair_id: str, now: int) -> Decimal:
        """One trade row per order (the venue's fills: price, fee, realised PnL); returns its fee."""
        if order.executed_qty <= 0:
            return ZERO
        try:
            fills = await venue.fills_of(symbol, order.order_id, order.time or now)
        except ExchangeError:
            fills = []
        qty = sum((f.qty for f in fills), ZERO) or order.executed_qty
        value = sum((f.qty * f.price for f in fills), ZERO)
        price = value / qty if fills and qty > 0 else order.avg_price
        fee = sum((f.commission for f in fills), ZERO)
        pnl = sum((f.realized_pnl for f in fills), ZERO)
        when = max((f.time for f in fills), default=order.update_time or now)
        self.db.record_trade(TradeRow(when, venue.account, self.instance, symbol, order.side.value,
                                      order.position_side.value, action, price, qty, fee, pnl,
                                      order.client_order_id, order.order_id, pair_id))
        if action == "open" and symbol in self.held:
            self.held[symbol].fees += fee
        return fee

    async def _expect_funding(self, symbol: str, view: PairView) -> None:
        """Funding each leg pays (-) or receives (+) at the next settlement at the current rate."""
        try:
            mp = await self.long.exchange.mark_price(symbol)
        except ExchangeError:
            return
        rate = Decimal(str(mp.funding_rate))
        long = -rate * view.long.notional if view.long else ZERO
        short = rate * view.short.notional if view.short else ZERO
        self.funding_next[symbol] = {"rate": float(rate), "next_time_ms": mp.next_funding_time,
                                     "long": float(long), "short": float(short), "net": float(long + short)}

    async def _funding(self, symbol: str, since_ms: int) -> Decimal:
        total = ZERO
        for venue in ([self.long] if self.long.hedge else [self.long, self.short]):
            try:
                total += await venue.funding_since(symbol, since_ms)
            except ExchangeError:
                pass
        return total

    def refresh_daily(self, now: int) -> None:
        day_ms = day_start_ms(now)
        trades = [t for t in self.db.trades(self.instance, day_ms) if t["time_ms"] < day_ms + rewards.DAY_MS]
        closed = [p for p in self.db.positions(self.instance, "closed") if (p["closed_ms"] or 0) >= day_ms]
        c = rewards.costs(trades, sum((Decimal(str(p["funding"])) for p in closed), ZERO))
        hold = sum((rewards.hold_equivalent(Decimal(str(p["quantity"])) * Decimal(str(p["entry_price"])),
                                            int(p["closed_ms"]) - int(p["opened_ms"])) for p in closed), ZERO)
        self.db.upsert_daily(utc_day(now), self.instance, self.long.account, {
            "volume": c.volume, "trades": len(trades), "fees": c.fees, "funding": -c.funding_paid,
            "realized_pnl": sum((Decimal(str(t["realized_pnl"])) for t in trades), ZERO), "hold_equiv": hold,
            "rotations": self.rotations.get(utc_day(now), 0)})

    # ------------------------------------------------------------------ control and status
    def read_control(self) -> dict[str, Any]:
        try:
            data = read_json_checked(self.files.control)
        except CorruptFileError as exc:
            self.event("control.corrupt", f"control file unreadable, kept aside ({exc}); pausing", level="warning")
            return {"paused": True}
        return data if isinstance(data, dict) else {}

    def write_status(self, now: int) -> None:
        from deltaneutral.status import build_status
        body = build_status(self, now)
        fixed = {k: body.pop(k) for k in ("instance", "kind", "pid") if k in body}
        try:
            write_status(self.files.status, instance=str(fixed.get("instance", self.instance)), kind="deltaneutral",
                         account=self.long.account, positions=sorted(self.claims), **body)
        except OSError as exc:
            log.warning("dn.status_unwritten", f"status file not written: {exc}")
