"""The engine's mutable records (orders, positions, accounts) and what it emits (fills, income, events).

Mutable on purpose: the engine updates an order in place as it fills. Events carry a copy of the
order as it was at that moment, so a stream never shows a later state under an earlier event.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from mraster.domain.types import (
    ExecutionType, MarginType, OrderStatus, OrderType, PositionSide, Side, TimeInForce, WorkingType,
)

D0 = Decimal(0)


@dataclass(slots=True)
class NewOrder:
    """A validated-syntax order request (raw strings already parsed; rules not yet checked)."""
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    position_side: PositionSide | None = None       # None = not sent
    reduce_only: bool | None = None                 # None = not sent
    close_position: bool = False
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    price_protect: bool = False
    activation_price: Decimal | None = None
    callback_rate: Decimal | None = None
    client_order_id: str | None = None
    response_type: str = "ACK"


@dataclass(slots=True)
class EOrder:
    order_id: int
    account: str
    symbol: str
    client_order_id: str
    side: Side
    type: OrderType               # current type (MARKET/LIMIT once a conditional fired)
    orig_type: OrderType
    position_side: PositionSide
    time_in_force: TimeInForce
    orig_qty: Decimal
    price: Decimal = D0
    stop_price: Decimal = D0
    reduce_only: bool = False
    close_position: bool = False
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    price_protect: bool = False
    activate_price: Decimal | None = None
    price_rate: Decimal | None = None
    status: OrderStatus = OrderStatus.NEW
    executed_qty: Decimal = D0
    cum_quote: Decimal = D0
    time: int = 0
    update_time: int = 0
    # engine-internal
    price_t: int = 0              # limit price in ticks
    stop_t: int = 0               # trigger level in ticks
    triggered: bool = False
    activated: bool = False       # trailing stop: activation reached
    extreme_t: int = 0            # trailing stop: running max (SELL) / min (BUY) since activation
    # Binance Algo Service (binance-usdm profile; see engine/algo.py)
    algo_status: str = ""         # "" = a regular order; NEW/TRIGGERING/TRIGGERED/FINISHED/CANCELED/REJECTED/EXPIRED
    parent_algo: int = 0          # a triggered algo order's child: the algo id it came from
    actual_order_id: int = 0      # an algo order once triggered: its child's order id
    trigger_time: int = 0
    reject_reason: str = ""
    nonce: int = 0                # aster-v3: the nonce of the request that placed it (guarded cancels)

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else D0

    @property
    def is_open(self) -> bool:
        return self.status is OrderStatus.NEW or self.status is OrderStatus.PARTIALLY_FILLED

    @property
    def is_algo(self) -> bool:
        """Counts against MAX_NUM_ALGO_ORDERS while it waits for its trigger."""
        return self.orig_type.is_conditional and not self.triggered

    @property
    def algo_service(self) -> bool:
        """An order of Binance's Algo Service (its id is an algoId, it never shows on the order endpoints)."""
        return bool(self.algo_status)

    def snapshot(self) -> "EOrder":
        """A copy as of now (cheaper than copy.copy, which goes through __reduce_ex__)."""
        return EOrder(*[getattr(self, name) for name in _EORDER_FIELDS])


_EORDER_FIELDS = tuple(f for f in EOrder.__slots__)


@dataclass(slots=True)
class EPosition:
    symbol: str
    position_side: PositionSide
    amount: Decimal = D0          # signed; SHORT rows in hedge mode are negative
    entry_price: Decimal = D0
    isolated_wallet: Decimal = D0
    realized: Decimal = D0        # accumulated realized PnL (pre-fee), the stream's `cr`
    update_time: int = 0


@dataclass(slots=True)
class EAccount:
    key: str
    wallet: Decimal               # total wallet balance (isolated margins included)
    dual_side: bool = False
    multi_assets: bool = False
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, MarginType] = field(default_factory=dict)
    positions: dict[tuple[str, PositionSide], EPosition] = field(default_factory=dict)
    open_orders: dict[int, EOrder] = field(default_factory=dict)
    client_ids: dict[tuple[str, str], int] = field(default_factory=dict)   # (symbol, client id) of open orders
    update_time: int = 0
    version: int = 0              # bumped on every change (invalidates cached margin buffers)

    def position(self, symbol: str, side: PositionSide) -> EPosition:
        pos = self.positions.get((symbol, side))
        if pos is None:
            pos = self.positions[(symbol, side)] = EPosition(symbol, side)
        return pos

    def isolated_total(self) -> Decimal:
        return sum((p.isolated_wallet for p in self.positions.values()), D0)

    @property
    def cross_wallet(self) -> Decimal:
        return self.wallet - self.isolated_total()


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: int
    order_id: int
    account: str
    symbol: str
    side: Side
    position_side: PositionSide
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    maker: bool
    time: int


@dataclass(frozen=True, slots=True)
class Income:
    tran_id: int
    account: str
    symbol: str
    income_type: str
    income: Decimal
    asset: str
    time: int
    info: str = ""
    trade_id: str = ""


# ------------------------------------------------------------------ events
@dataclass(frozen=True, slots=True)
class OrderEvent:
    account: str
    time: int
    order: EOrder                 # snapshot
    execution_type: ExecutionType
    status_override: OrderStatus | None = None   # NEW_INSURANCE for liquidation fills (stream only)
    last_qty: Decimal = D0
    last_price: Decimal = D0
    commission: Decimal = D0
    trade_id: int = 0
    realized_pnl: Decimal = D0
    maker: bool = False


@dataclass(frozen=True, slots=True)
class AlgoEvent:
    """An Algo Service order changed status (the stream's ALGO_UPDATE)."""
    account: str
    time: int
    order: EOrder                 # snapshot


@dataclass(frozen=True, slots=True)
class PositionSnap:
    symbol: str
    position_side: PositionSide
    amount: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    realized: Decimal
    margin_type: MarginType
    isolated_wallet: Decimal


@dataclass(frozen=True, slots=True)
class AccountEvent:
    account: str
    time: int
    reason: str                   # ORDER, FUNDING_FEE, DEPOSIT, ADMIN_DEPOSIT, MARGIN_TYPE_CHANGE, ...
    wallet: Decimal
    cross_wallet: Decimal
    balance_change: Decimal
    positions: tuple[PositionSnap, ...] = ()


@dataclass(frozen=True, slots=True)
class ConfigEvent:
    account: str
    time: int
    symbol: str = ""
    leverage: int | None = None
    dual_side: bool | None = None
    multi_assets: bool | None = None


@dataclass(frozen=True, slots=True)
class MarginCallEvent:
    account: str
    time: int
    cross_wallet: Decimal
    positions: tuple[tuple[PositionSnap, Decimal, Decimal], ...]   # (position, mark, maint margin)


Event = OrderEvent | AccountEvent | ConfigEvent | MarginCallEvent | AlgoEvent
