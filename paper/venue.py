"""The running venue: engine + feed + clock + store, and the market loop that moves them.

Every operation ends with `commit()`: what the engine did is persisted in one transaction and its
user-stream events are published, before the HTTP answer goes out.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from mraster.logs import get_logger
from mraster.aio import cancel_and_wait
from paper.auth import Authenticator
from paper.auth_v3 import Agent, V3Auth, parse_agents
from paper.clock import VenueClock
from paper.config import PaperConfig
from paper.engine import Engine
from paper.engine.algo import ALGO_ID_BASE
from paper.profiles import profile_of
from paper.engine.errors import VenueError, bad_symbol
from paper.faults import Faults
from paper.feeds.base import BarPath, Feed, Quote
from paper.feeds.klines import TickText
from paper.store import Store
from paper.wire import Formats

log = get_logger("paper.venue")
LOOP_S = 0.1                      # wall seconds between market steps
MAX_MISSED_SETTLEMENTS = 90       # funding catch-up after a long downtime


@dataclass(slots=True)
class AlgoMixing:
    """Binance does not keep the order of ALGO_UPDATE and ORDER_TRADE_UPDATE, and sometimes sends no TRIGGERED
    (binance-algo-orders.md 5.2): a test switch to check that a client reconciles by ids, not by order."""
    shuffle: bool
    drop_triggered: bool
    rng: Any


@dataclass(slots=True)
class Hold:
    """A price pinned by the admin API until released."""
    last_t: int
    mark_t: int
    bid_t: int
    ask_t: int


class Venue:
    def __init__(self, config: PaperConfig, feed: Feed, *, wall: Callable[[], float] = time.time):
        self.config = config
        self.feed = feed
        self.wall = wall
        self.store = Store(config.db_path, reset=config.reset, log=log)
        self.faults = Faults(config.seed, config.faults or None)
        known = dict(config.known_pairs())
        if not config.fixed_key:
            known.update(self.store.api_keys())
        self.auth = Authenticator(known, config.api_key or None, also=dict(config.account_pairs))
        self.v3 = self._v3_auth() if profile_of(config.profile).v3_auth else None
        self.algo_mixing: AlgoMixing | None = None      # admin switch (binance-usdm): shuffle / drop ALGO_UPDATEs
        self.specs = feed.specs
        self.formats = Formats(self.specs)
        self.tick_text = {s: TickText(sp.tick, self.formats.pp[s]) for s, sp in self.specs.items()}
        orders, trades, trans = self.store.max_ids()
        self.profile = profile_of(config.profile)
        self.engine = Engine(self.specs, maker_fee=config.maker_fee, taker_fee=config.taker_fee,
                             start_balance=config.balance, next_order_id=max(1_000_001, orders + 1),
                             next_trade_id=max(1, trades + 1), next_tran_id=max(1, trans + 1),
                             next_algo_id=max(ALGO_ID_BASE + 1, self.store.max_algo_id() + 1),
                             callback_max=self.profile.callback_max, algo_cap=self.profile.algo_cap)
        try:
            open_orders = self.store.load_open_orders()
            parents = self.store.algo_parents(o.parent_algo for o in open_orders if o.parent_algo)
            self.engine.restore(self.store.load_accounts(), open_orders, parents)
        except Exception:
            self.store.close()
            raise
        self.same_feed = self.store.get_meta("feed") == self.feed_identity()
        if self.same_feed:
            seeded = self.engine.seed_marks(self._saved_marks())
            if seeded:
                log.info("paper.marks_restored", f"last marks restored for {len(seeded)} held symbol(s) until the "
                         "first quotes", symbols=seeded)
        self.clock = self._make_clock()
        self.holds: dict[str, Hold] = {}
        self.seq: dict[str, int] = {}                    # book update ids, per symbol
        self.tape: dict[str, list[int]] = {}            # current base bar as the engine saw it
        self.tape_touched: set[str] = set()
        self.overlay: dict[str, dict[int, tuple[int, int, int, int]]] = {s: {} for s in self.specs}
        self._funding_saved = int(self.store.get_meta("funding_until") or 0) if self.same_feed else 0
        self.funding_done = self._funding_saved or self.clock.now_ms()
        self.subscribers: list[Callable[[Any], None]] = []   # stream hub hooks (events, liquidations)
        self.market_listeners: list[Callable[[int], None]] = []
        self.countdowns: dict[tuple[str, str], float] = {}   # (account, symbol) -> wall deadline (s)
        self.last_write: asyncio.Future | None = None         # done when the latest commit is on disk
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.started_wall_ms = int(wall() * 1000)
        self.history_warm = False       # set once recent klines of every symbol are synthesised (main.py)

    def _v3_auth(self) -> V3Auth:
        """API-wallet authentication: the configured agents (ASTER_PAPER_AGENTS, the account's own wallet, the
        development agent), registered at each start and not saved, so one taken out of the settings is gone
        after a restart; then those registered through the admin API (saved in the database; they win)."""
        auth = V3Auth(self.config.chain_id, int(self.config.nonce_window_s * 1000))
        for user, agent in parse_agents(self.config.agents):
            auth.register(Agent(user.lower(), agent.lower(), "config"))
        for d in self.store.agents():
            auth.register(Agent(d["user"], d["agent"], d.get("name", ""), int(d.get("expired", 0)),
                                bool(d.get("canPerpTrade", True)), tuple(d.get("ipWhitelist", ()))))
        try:
            auth.restore_nonces(json.loads(self.store.get_meta("v3_nonces") or "{}"))
        except (ValueError, TypeError, AttributeError) as exc:   # a damaged entry: the time window still holds
            log.warning("paper.nonces_unreadable", f"saved V3 nonces unreadable, ignored: {exc}")
        return auth

    # ------------------------------------------------------------------ clock
    def _make_clock(self) -> VenueClock:
        wall_ms = int(self.wall() * 1000)
        speed = self.config.speed
        advanced = int(self.store.get_meta("clock_advanced_ms") or 0) if self.same_feed else 0
        if self.feed.follows_wall_clock and speed == 1.0:
            return VenueClock(wall_ms, 1.0, wall=self.wall, advanced_ms=advanced)
        start = self.feed.start_time(wall_ms)
        saved = int(self.store.get_meta("clock_venue_ms") or 0) if self.same_feed else 0
        return VenueClock(max(start, saved), speed, wall=self.wall)

    def feed_identity(self) -> str:
        """Which market the saved clock belongs to (a restart on another dataset starts its own clock)."""
        d = self.feed.describe()
        return f"{d.get('name')}:{d.get('path') or d.get('source') or d.get('seed')}"

    def now(self) -> int:
        return self.clock.now_ms()

    def api_now(self) -> int:
        """The clock clients see (`/fapi/v1/time`, timestamp checks): venue time plus any injected skew."""
        return self.clock.now_ms() + self.faults.clock_skew_ms

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bring the market to now and start the loop (the feed must be open: `await feed.open()`)."""
        now = self.now()
        self._apply_quotes(self.feed.advance(now))
        for symbol, m in self.engine.markets.items():
            bp = self.feed.book_params(symbol, m.last_t)
            m.gap_t, m.level_qty, m.growth = bp.gap_t, bp.level_qty, bp.growth
        if self._funding_saved and now > self._funding_saved:     # settlements missed while we were down
            missed = self.feed.settlements(self._funding_saved, now)
            self._settle(missed[-MAX_MISSED_SETTLEMENTS * len(self.specs):])
        self.funding_done = now
        self.store.set_meta({"feed": self.feed_identity(), "funding_until": now})
        self.commit()
        self._task = asyncio.create_task(self._run(), name="paper-market")

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait(self._task)
        self.commit()
        self.store.set_meta(self._clock_meta())
        await self.feed.close()
        self.store.close()

    def _clock_meta(self) -> dict[str, Any]:
        """What must survive a restart (saved every few seconds, so even a SIGKILL loses little): the clock,
        funding progress, and the last marks, which value held positions until the first quotes arrive."""
        meta = {"clock_venue_ms": self.now(), "clock_advanced_ms": self.clock.advanced_ms,
                "funding_until": self.funding_done, "marks": json.dumps(self.engine.priced_marks())}
        if self.v3 is not None:
            meta["v3_nonces"] = json.dumps(self.v3.nonces_state(self.api_now()))
        return meta

    def _saved_marks(self) -> dict[str, int]:
        try:
            data = json.loads(self.store.get_meta("marks") or "{}")
            return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (ValueError, TypeError) as exc:   # a damaged entry only costs the head start it gives
            log.warning("paper.marks_unreadable", f"saved marks unreadable, ignored: {exc}")
            return {}

    async def _run(self) -> None:
        saved = time.monotonic()
        while not self._stopping:
            try:
                self.step()
                if time.monotonic() - saved > 5.0:        # the clock survives even a SIGKILL, within seconds
                    self.store.set_meta(self._clock_meta())
                    saved = time.monotonic()
            except Exception:          # the market must keep moving; say what broke
                log.exception("paper.step_failed", "market step failed")
            await asyncio.sleep(LOOP_S)

    # ------------------------------------------------------------------ market
    def step(self) -> int:
        """Move the market to the current venue time: quotes, triggers, fills, funding, streams."""
        now = self.now()
        quotes = self.feed.advance(now)
        settlements = self.feed.settlements(self.funding_done, now) if now > self.funding_done else []
        if settlements and quotes:
            quotes.sort(key=lambda q: q.time)
            for symbol, t, rate in settlements:
                self._apply_quotes([q for q in quotes if q.time <= t])
                quotes = [q for q in quotes if q.time > t]
                self._settle([(symbol, t, rate)])
        elif settlements:
            self._settle(settlements)
        self._apply_quotes(quotes)
        self.funding_done = max(self.funding_done, now)
        if self.countdowns:
            self._run_countdowns(now)
        self.commit()
        for listener in self.market_listeners:
            listener(now)
        return now

    def _settle(self, settlements: list[tuple[str, int, float]]) -> None:
        for symbol, t, rate in settlements:
            if symbol in self.engine.markets:
                self.engine.settle_funding(symbol, Decimal(repr(rate)), t)

    def _apply_quotes(self, quotes: list[Quote | BarPath]) -> None:
        engine, base = self.engine, self.feed.base_ms
        for q in quotes:
            symbol = q.symbol
            hold = self.holds.get(symbol)
            if hold is not None:
                engine.update_prices(symbol, q.time, hold.last_t, hold.mark_t, hold.bid_t, hold.ask_t)
                self._tape(symbol, q.time // base * base, hold.last_t, True)
            elif isinstance(q, BarPath):
                engine.update_path(symbol, q.time, q.points, q.spread_t)
                open_t = q.time // base * base
                for p in q.points:
                    self._tape(symbol, open_t, p, False)
            else:
                step = self.specs[symbol].rules.step_size
                bid_qty = _qty(q.bid_qty, step) if q.bid_qty else None
                ask_qty = _qty(q.ask_qty, step) if q.ask_qty else None
                engine.update_prices(symbol, q.time, q.last_t, q.mark_t, q.bid_t, q.ask_t, bid_qty, ask_qty)
                self._tape(symbol, q.time // base * base, q.last_t, False)
            self.seq[symbol] = self.seq.get(symbol, 0) + 1

    def _tape(self, symbol: str, open_t: int, price_t: int, held: bool) -> None:
        bar = self.tape.get(symbol)
        if bar is None or bar[0] != open_t:
            if bar is not None and symbol in self.tape_touched:
                self.overlay[symbol][bar[0]] = (bar[1], bar[2], bar[3], bar[4])
                self.tape_touched.discard(symbol)
            self.tape[symbol] = [open_t, price_t, price_t, price_t, price_t]
            if held:
                self.tape_touched.add(symbol)
            return
        if held:
            self.tape_touched.add(symbol)
        if price_t > bar[2]:
            bar[2] = price_t
        if price_t < bar[3]:
            bar[3] = price_t
        bar[4] = price_t

    def set_countdown(self, account: str, symbol: str, ms: int) -> None:
        """countdownCancelAll: cancel the symbol's open orders unless called again within `ms` (0 stops it)."""
        if ms == 0:
            self.countdowns.pop((account, symbol), None)
        else:
            self.countdowns[(account, symbol)] = self.wall() + ms / 1000.0

    def _run_countdowns(self, now: int) -> None:
        wall = self.wall()
        for (account, symbol), deadline in list(self.countdowns.items()):
            if wall >= deadline:
                del self.countdowns[(account, symbol)]
                self.engine.cancel_all(account, symbol, now)

    # ------------------------------------------------------------------ holds (admin)
    def hold(self, symbol: str, last_t: int, mark_t: int, bid_t: int | None = None, ask_t: int | None = None,
             keep: bool = True) -> Hold:
        """Set the price now (and keep it there when `keep`), running triggers as the venue would."""
        m = self.engine.markets.get(symbol)
        if m is None:
            raise bad_symbol()
        if last_t <= 0 or mark_t <= 0:
            raise VenueError(-1130, "Data sent for parameter 'price' is not valid.")
        spread = max(1, m.ask_t - m.bid_t)
        bid = bid_t if bid_t is not None else last_t - spread // 2
        ask = ask_t if ask_t is not None else bid + spread
        if bid <= 0 or ask <= bid:
            raise VenueError(-1130, "Data sent for parameter 'bid'/'ask' is not valid (need 0 < bid < ask).")
        hold = Hold(last_t, mark_t, bid, ask)
        now = self.now()
        self.engine.update_prices(symbol, now, last_t, mark_t, bid, ask)
        self.seq[symbol] = self.seq.get(symbol, 0) + 1
        self._tape(symbol, now // self.feed.base_ms * self.feed.base_ms, last_t, True)
        if keep:
            self.holds[symbol] = hold
        self.commit()
        return hold

    def release(self, symbol: str) -> bool:
        if symbol not in self.specs:
            raise bad_symbol()
        return self.holds.pop(symbol, None) is not None

    def advance(self, ms: int) -> int:
        """Admin: jump the venue clock forward; the market (and funding) catch up at once."""
        self.clock.advance(ms)
        now = self.step()
        self.store.set_meta(self._clock_meta())
        return now

    # ------------------------------------------------------------------ commit
    def commit(self) -> None:
        """Persist what the engine did (queued to the group-commit writer) and publish its events."""
        out = self.engine.drain()
        if not out:
            return
        fut = self.store.write(out.orders, out.accounts, out.fills, out.incomes)
        if fut is not None:
            self.last_write = fut
        for subscriber in self.subscribers:
            subscriber(out)

    async def durable(self, since: "asyncio.Future | None") -> None:
        """Wait until the commits made since `since` (the value of `last_write` before an operation) are
        on disk: a request answers only after this."""
        fut = self.last_write
        if fut is not None and fut is not since:
            await fut

    # ------------------------------------------------------------------ helpers
    def spec(self, symbol: str | None):
        spec = self.specs.get(symbol or "")
        if spec is None:
            raise bad_symbol()
        return spec

    def market(self, symbol: str):
        self.spec(symbol)
        return self.engine.markets[symbol]

    def info(self) -> dict[str, Any]:
        now_s = self.wall()
        return {
            "feed": self.feed.describe(), "symbols": list(self.specs), "venue_time": self.now(),
            "server_time": self.api_now(), "wall_time": int(now_s * 1000), "speed": self.clock.speed,
            "admin": self.config.admin, "faults": self.faults.active(now_s),
            "held": sorted(self.holds), "accounts": len(self.engine.accounts),
            "open_orders": len(self.engine.open_by_id), "fixed_key": self.config.fixed_key,
            "maker_fee": str(self.config.maker_fee), "taker_fee": str(self.config.taker_fee),
            "funding_interval_hours": self.feed.funding_interval_ms // 3_600_000,
            "started": self.started_wall_ms, "history_warm": self.history_warm, "profile": self.profile.name,
            **({"v3": {"chain_id": self.v3.chain_id, "nonce_window_s": self.v3.window_us / 1e6,
                       "agents": len(self.v3.agents)}} if self.v3 is not None else {}),
        }


_QTY_CACHE: dict[tuple[float, Decimal], Decimal] = {}


def _qty(x: float, step: Decimal) -> Decimal:
    """A feed's float size on the symbol's step grid (at least one step)."""
    d = _QTY_CACHE.get((x, step))
    if d is None:
        d = (Decimal(repr(x)) / step).to_integral_value() * step if step > 0 else Decimal(repr(x))
        d = max(d, step)
        if len(_QTY_CACHE) < 100_000:
            _QTY_CACHE[(x, step)] = d
    return d
