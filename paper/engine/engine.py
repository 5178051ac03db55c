"""The matching engine: accounts, orders, positions and the market they trade against. Pure.

No I/O and no clock reads: every call gets the venue time `now`. What happened is left in
`events` (user-stream events), `fills`, `incomes`, `dirty_orders` and `dirty_accounts`, which the
caller drains (`drain()`) to publish and persist. The backtester can drive it directly:

    eng = Engine(specs, maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0004"))
    eng.update_prices("BTCUSDT", t, last_t, mark_t, bid_t, ask_t)
    eng.place("acct", NewOrder("BTCUSDT", Side.BUY, OrderType.MARKET, quantity=Decimal("0.01")), t)
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from paper.engine.accounts import AccountOpsMixin
from paper.engine.algo import ALGO_ID_BASE, AlgoFlowMixin
from paper.engine.ledger import LedgerMixin
from paper.engine.market import MarketFlowMixin, MarketState
from paper.engine.errors import PaperStateError
from paper.engine.model import EAccount, EOrder, Event, Fill, Income
from paper.engine.orders import OrderFlowMixin
from paper.engine.risk import AccountRisk, RiskWatchMixin
from paper.engine.specs import SymbolSpec
from paper.engine.validate import CALLBACK_MAX

DEFAULT_LEVERAGE = 20


@dataclass
class Outbox:
    events: list[Event] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    incomes: list[Income] = field(default_factory=list)
    orders: list[EOrder] = field(default_factory=list)
    accounts: list[EAccount] = field(default_factory=list)
    liquidations: list[EOrder] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.fills or self.incomes or self.orders or self.accounts or self.liquidations)


class Engine(OrderFlowMixin, MarketFlowMixin, RiskWatchMixin, LedgerMixin, AccountOpsMixin, AlgoFlowMixin):
    def __init__(self, specs: dict[str, SymbolSpec], *, maker_fee: Decimal = Decimal("0.0002"),
                 taker_fee: Decimal = Decimal("0.0004"), start_balance: Decimal = Decimal("10000"),
                 default_leverage: int = DEFAULT_LEVERAGE, next_order_id: int = 1_000_001,
                 next_trade_id: int = 1, next_tran_id: int = 1, recent_closed_max: int = 20_000,
                 next_algo_id: int = ALGO_ID_BASE + 1, callback_max: Decimal = CALLBACK_MAX,
                 algo_cap: int | None = None):
        self.specs = specs
        self.markets: dict[str, MarketState] = {s: MarketState(spec) for s, spec in specs.items()}
        self.accounts: dict[str, EAccount] = {}
        self.maker_fee, self.taker_fee = maker_fee, taker_fee
        self.account_fees: dict[str, tuple[Decimal, Decimal]] = {}   # key -> (maker, taker) for that account
        self.start_balance = start_balance
        self.default_leverage = default_leverage
        self.open_by_id: dict[int, EOrder] = {}
        self.recent_closed: OrderedDict[int, EOrder] = OrderedDict()
        self.recent_closed_max = recent_closed_max
        self._order_id, self._trade_id, self._tran_id = next_order_id, next_trade_id, next_tran_id
        self._algo_id = next_algo_id
        self.callback_max = callback_max        # trailing callbackRate maximum (%): Aster 5, Binance's algo API 20
        self.algo_cap = algo_cap                # open Algo Service orders per account (Binance 200); None = Aster's
        self.algo_parents: dict[int, EOrder] = {}   # triggered algo orders whose child order is still open
        self.events: list[Event] = []
        self.fills: list[Fill] = []
        self.incomes: list[Income] = []
        self.liquidations: list[EOrder] = []
        self.dirty_orders: dict[int, EOrder] = {}
        self.dirty_accounts: set[str] = set()
        self.risk: dict[str, AccountRisk] = {}
        self.margin_called: set[str] = set()

    def fee_rates(self, key: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates of one account: its own if set, else the venue's."""
        return self.account_fees.get(key, (self.maker_fee, self.taker_fee))

    # ------------------------------------------------------------------ ids

    def _next_order_id(self) -> int:
        self._order_id += 1
        return self._order_id - 1

    def _next_trade_id(self) -> int:
        self._trade_id += 1
        return self._trade_id - 1

    def _next_tran_id(self) -> int:
        self._tran_id += 1
        return self._tran_id - 1

    # ------------------------------------------------------------------ state in / out
    def _mark_of(self, symbol: str) -> Decimal:
        return self.markets[symbol].mark()

    def restore(self, accounts: list[EAccount], open_orders: list[EOrder],
                algo_parents: list[EOrder] = ()) -> None:
        """Load persisted accounts and open orders (after a restart) and re-arm the orders. Positions or
        orders on symbols this market does not list are refused (never dropped): they could be neither
        priced, protected nor closed. (Accounts are named by their API key, so the message names no account.)"""
        unlisted = sorted({f"a position in {p.symbol}" for a in accounts for p in a.positions.values()
                           if p.amount != 0 and p.symbol not in self.markets}
                          | {f"order {o.order_id} ({o.client_order_id}) on {o.symbol}" for o in open_orders
                             if o.symbol not in self.markets})
        if unlisted:
            raise PaperStateError("the saved paper accounts hold symbols this feed does not list: "
                                  + "; ".join(unlisted[:10]) + ("; ..." if len(unlisted) > 10 else "")
                                  + ". Add the symbols back (ASTER_PAPER_SYMBOLS or the replay files), "
                                    "or start over with --reset.")
        for acct in accounts:
            acct.open_orders = {}
            acct.client_ids = {}
            self.accounts[acct.key] = acct
        for order in open_orders:
            acct = self.accounts.get(order.account)
            if acct is None:
                continue
            acct.open_orders[order.order_id] = order
            acct.client_ids[(order.symbol, order.client_order_id)] = order.order_id
            self.open_by_id[order.order_id] = order
            m = self.markets[order.symbol]
            if order.orig_type.is_conditional and not order.triggered:
                self._watch_order(order)
            else:
                (m.watch.buy_limits if order.side.value == "BUY" else m.watch.sell_limits).add(order.price_t,
                                                                                           order.order_id)
        for algo in algo_parents:            # triggered algo orders waiting for their child to end
            self.algo_parents[algo.order_id] = algo
        for acct in self.accounts.values():
            for pos in acct.positions.values():
                if pos.amount != 0 and pos.symbol in self.markets:
                    self.markets[pos.symbol].holders.add(acct.key)
        self.dirty_orders.clear()
        self.dirty_accounts.clear()

    def seed_marks(self, marks: dict[str, int]) -> list[str]:
        """Before the first quote after a restart: give each held symbol the mark (ticks) it had when the
        exchange stopped, so no margin figure values a position at price 0. Returns the symbols seeded."""
        seeded = []
        for symbol, mark_t in marks.items():
            m = self.markets.get(symbol)
            if m is not None and m.mark_t <= 0 < mark_t and m.holders:
                m.mark_t = mark_t
                seeded.append(symbol)
        return seeded

    def priced_marks(self) -> dict[str, int]:
        """The mark (ticks) of every symbol that has one, to persist."""
        return {s: m.mark_t for s, m in self.markets.items() if m.mark_t > 0}

    def drain(self) -> Outbox:
        """Everything that happened since the last drain, for publishing and persisting."""
        out = Outbox(self.events, self.fills, self.incomes, list(self.dirty_orders.values()),
                     [self.accounts[k] for k in self.dirty_accounts if k in self.accounts], self.liquidations)
        self.events, self.fills, self.incomes, self.liquidations = [], [], [], []
        self.dirty_orders = {}
        self.dirty_accounts = set()
        return out
