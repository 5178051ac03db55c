"""Domain types exchanged through the exchange interface. No I/O, no clock reads.

Prices, quantities and money in trading types are `Decimal` (exact, as the
venue sends them). Market-data series (klines, tickers, depth) are floats:
they feed numpy indicator code and never go back to the venue unrounded.
All times are integer milliseconds since the epoch, in venue time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import NamedTuple

ZERO = Decimal(0)


class Side(str, Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class PositionSide(str, Enum):
    BOTH = "BOTH"
    LONG = "LONG"
    SHORT = "SHORT"


class OrderType(str, Enum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP = "STOP"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"
    LIQUIDATION = "LIQUIDATION"

    @property
    def is_conditional(self) -> bool:
        return self in (OrderType.STOP, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT,
                        OrderType.TAKE_PROFIT_MARKET, OrderType.TRAILING_STOP_MARKET)

    @property
    def is_stop(self) -> bool:
        return self in (OrderType.STOP, OrderType.STOP_MARKET, OrderType.TRAILING_STOP_MARKET)

    @property
    def is_take_profit(self) -> bool:
        return self in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET)


class TimeInForce(str, Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"
    HIDDEN = "HIDDEN"


class WorkingType(str, Enum):
    MARK_PRICE = "MARK_PRICE"
    CONTRACT_PRICE = "CONTRACT_PRICE"


class OrderStatus(str, Enum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    NEW_INSURANCE = "NEW_INSURANCE"
    NEW_ADL = "NEW_ADL"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ExecutionType(str, Enum):
    NEW = "NEW"
    CANCELED = "CANCELED"
    CALCULATED = "CALCULATED"
    EXPIRED = "EXPIRED"
    TRADE = "TRADE"
    AMENDMENT = "AMENDMENT"


class MarginType(str, Enum):
    ISOLATED = "ISOLATED"
    CROSSED = "CROSSED"


# ----------------------------------------------------------------- market data
@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """Static facts about a contract; the trading rules live in `mraster.domain.rules.SymbolRules`."""
    symbol: str
    status: str
    contract_type: str
    base_asset: str
    quote_asset: str
    margin_asset: str


class Kline(NamedTuple):
    """One candle. A NamedTuple rather than a frozen dataclass: a scan builds tens of thousands of
    them (40 symbols x 2 intervals x 361) and a tuple is ten times cheaper to construct, while being
    just as immutable. Change a field with `k._replace(closed=True)`."""
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    close_time: int
    quote_volume: float = 0.0
    trades: int = 0
    taker_buy_volume: float = 0.0
    taker_buy_quote_volume: float = 0.0
    closed: bool = True


@dataclass(frozen=True, slots=True)
class BookTicker:
    symbol: str
    bid_price: float
    bid_qty: float
    ask_price: float
    ask_qty: float
    time: int = 0
    update_id: int = 0

    @property
    def mid(self) -> float:
        return (self.bid_price + self.ask_price) / 2.0

    @property
    def spread_fraction(self) -> float:
        """(ask - bid) / mid; the unit of ASTER_SPREAD_BPS_MAX."""
        mid = self.mid
        return (self.ask_price - self.bid_price) / mid if mid > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class MarkPrice:
    symbol: str
    mark_price: float
    index_price: float
    funding_rate: float
    next_funding_time: int
    time: int
    estimated_settle_price: float = 0.0
    interest_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Ticker24h:
    symbol: str
    last_price: float
    open_price: float
    high_price: float
    low_price: float
    volume: float
    quote_volume: float
    price_change_percent: float
    open_time: int
    close_time: int
    count: int = 0


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    symbol: str
    last_update_id: int
    bids: tuple[tuple[float, float], ...]   # best first
    asks: tuple[tuple[float, float], ...]   # best first
    time: int = 0


@dataclass(frozen=True, slots=True)
class AggTrade:
    symbol: str
    agg_id: int
    price: float
    qty: float
    first_trade_id: int
    last_trade_id: int
    time: int
    buyer_is_maker: bool


# -------------------------------------------------------------- account / orders
@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    cross_unrealized_pnl: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal = ZERO
    update_time: int = 0


@dataclass(frozen=True, slots=True)
class AccountInfo:
    total_wallet_balance: Decimal
    total_unrealized_profit: Decimal
    total_margin_balance: Decimal
    total_maint_margin: Decimal
    total_initial_margin: Decimal
    available_balance: Decimal
    can_trade: bool = True
    update_time: int = 0

    @property
    def safety_multiple(self) -> Decimal | None:
        """totalMarginBalance / totalMaintMargin; None when no maintenance margin is required."""
        if self.total_maint_margin <= 0:
            return None
        return self.total_margin_balance / self.total_maint_margin


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    position_side: PositionSide
    amount: Decimal             # signed: > 0 long, < 0 short (hedge SHORT rows are negative)
    entry_price: Decimal
    mark_price: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    liquidation_price: Decimal = ZERO
    leverage: int = 1
    margin_type: MarginType = MarginType.CROSSED
    isolated_margin: Decimal = ZERO
    notional: Decimal = ZERO
    update_time: int = 0

    @property
    def is_flat(self) -> bool:
        return self.amount == 0

    @property
    def is_long(self) -> bool:
        return self.amount > 0

    @property
    def side(self) -> Side:
        """Side of the entry that opened this position."""
        return Side.BUY if self.amount > 0 else Side.SELL

    @property
    def exit_side(self) -> Side:
        return self.side.opposite

    @property
    def qty(self) -> Decimal:
        return abs(self.amount)


@dataclass(frozen=True, slots=True)
class Order:
    symbol: str
    order_id: int
    client_order_id: str
    side: Side
    type: OrderType
    status: OrderStatus
    orig_qty: Decimal
    executed_qty: Decimal = ZERO
    price: Decimal = ZERO
    avg_price: Decimal = ZERO
    stop_price: Decimal = ZERO
    cum_quote: Decimal = ZERO
    orig_type: OrderType | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    position_side: PositionSide = PositionSide.BOTH
    reduce_only: bool = False
    close_position: bool = False
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    price_protect: bool = False
    activate_price: Decimal | None = None
    price_rate: Decimal | None = None
    time: int = 0
    update_time: int = 0

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def placed_type(self) -> OrderType:
        return self.orig_type or self.type

    @property
    def remaining_qty(self) -> Decimal:
        return self.orig_qty - self.executed_qty


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """Everything needed to place one order. `client_order_id` is mandatory: it makes retries safe."""
    symbol: str
    side: Side
    type: OrderType
    client_order_id: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    close_position: bool = False
    position_side: PositionSide = PositionSide.BOTH
    working_type: WorkingType | None = None
    price_protect: bool = False
    activation_price: Decimal | None = None
    callback_rate: Decimal | None = None
    response_type: str = "RESULT"


@dataclass(frozen=True, slots=True)
class UserTrade:
    symbol: str
    id: int
    order_id: int
    side: Side
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    maker: bool
    time: int
    position_side: PositionSide = PositionSide.BOTH
    buyer: bool = False


@dataclass(frozen=True, slots=True)
class IncomeRecord:
    symbol: str
    income_type: str            # REALIZED_PNL, FUNDING_FEE, COMMISSION, TRANSFER, ...
    income: Decimal
    asset: str
    time: int
    tran_id: str = ""
    trade_id: str = ""
    info: str = ""


@dataclass(frozen=True, slots=True)
class LeverageInfo:
    symbol: str
    leverage: int
    max_notional: Decimal


# ---------------------------------------------------------------- stream events
@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """ORDER_TRADE_UPDATE: an order was created, changed or (partly) filled."""
    event_time: int
    transaction_time: int
    order: Order
    execution_type: ExecutionType
    last_filled_qty: Decimal = ZERO
    last_filled_price: Decimal = ZERO
    commission: Decimal = ZERO
    commission_asset: str = ""
    trade_id: int = 0
    realized_pnl: Decimal = ZERO
    maker: bool = False


@dataclass(frozen=True, slots=True)
class BalanceChange:
    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    balance_change: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class PositionChange:
    symbol: str
    position_side: PositionSide
    amount: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal = ZERO
    accumulated_realized: Decimal = ZERO
    margin_type: str = "cross"
    isolated_wallet: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """ACCOUNT_UPDATE: balances or positions changed (reason: ORDER, FUNDING_FEE, ...)."""
    event_time: int
    transaction_time: int
    reason: str
    balances: tuple[BalanceChange, ...] = ()
    positions: tuple[PositionChange, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountConfigUpdate:
    event_time: int
    transaction_time: int
    symbol: str = ""
    leverage: int | None = None
    dual_side_position: bool | None = None


@dataclass(frozen=True, slots=True)
class MarginCall:
    event_time: int
    cross_wallet_balance: Decimal
    positions: tuple[PositionChange, ...] = ()


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    event_time: int


@dataclass(frozen=True, slots=True)
class StreamResynced:
    """The stream (re)connected; events may have been missed before `time`.

    Carries a REST snapshot taken after the connection was up, so a consumer
    can rebuild its view from it instead of trusting the gap.
    """
    time: int
    positions: tuple[Position, ...] = ()
    open_orders: tuple[Order, ...] = ()
    reason: str = "connected"


UserEvent = OrderUpdate | AccountUpdate | AccountConfigUpdate | MarginCall | ListenKeyExpired | StreamResynced


@dataclass(frozen=True, slots=True)
class KlineEvent:
    symbol: str
    interval: str
    kline: Kline
    event_time: int


@dataclass(frozen=True, slots=True)
class BookTickerEvent:
    ticker: BookTicker
    event_time: int


@dataclass(frozen=True, slots=True)
class MarkPriceEvent:
    mark: MarkPrice
    event_time: int


@dataclass(frozen=True, slots=True)
class AggTradeEvent:
    trade: AggTrade
    event_time: int


@dataclass(frozen=True, slots=True)
class DepthEvent:
    symbol: str
    first_update_id: int
    final_update_id: int
    prev_final_update_id: int
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    event_time: int
    transaction_time: int = 0


MarketEvent = KlineEvent | BookTickerEvent | MarkPriceEvent | AggTradeEvent | DepthEvent


@dataclass(frozen=True, slots=True)
class KlinesStatus:
    """How fresh the klines last served for (symbol, interval) were: `stale` means the venue was
    unreachable and a cached copy `age_s` seconds old was served instead."""
    symbol: str
    interval: str
    stale: bool
    age_s: float
    fetched_at_ms: int


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """Health figures of an exchange client, shown by the dashboard."""
    used_weight_1m: int = 0
    weight_limit_1m: int = 2400
    order_count_1m: int = 0
    banned_until_ms: int | None = None
    time_offset_ms: int = 0
    last_error: str = ""
    stale_streams: dict[str, float] = field(default_factory=dict)   # stream -> age in seconds
    stale_klines: dict[str, float] = field(default_factory=dict)    # "SYMBOL interval" -> age of stale data served
