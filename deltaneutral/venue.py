"""The operator's thin adapter over the kernel's exchange client, with the seed's method names.

Seed 004's customization guide says another DEX is supported by implementing `place_market_order`,
`get_position_risk`, `get_mark_price` and `close_position`; `LegVenue` is that interface over any
`mraster.exchange.interface.Exchange` (paper, Aster V1/V3, Binance USD-M). Each leg has its venue: in
hedge mode both legs share one account (positionSide LONG/SHORT); in two-account mode the long leg is a
one-way long on the first account and the short leg a one-way short on the second.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mraster.domain.rules import SymbolRules
from mraster.domain.types import Order, OrderRequest, OrderType, Position, PositionSide, Side, UserTrade
from mraster.exchange.interface import Exchange
from mraster.safety.closeout import ClientIds, CloseResult, close_position as kernel_close

ZERO = Decimal(0)


@dataclass
class LegVenue:
    """Where one leg (LONG or SHORT) lives: an account's client and whether it trades in hedge mode."""
    leg: str                       # LONG | SHORT
    account: str
    exchange: Exchange
    hedge: bool

    @property
    def position_side(self) -> PositionSide:
        return PositionSide(self.leg) if self.hedge else PositionSide.BOTH

    @property
    def open_side(self) -> Side:
        return Side.BUY if self.leg == "LONG" else Side.SELL

    # ------------------------------------------------------------ the seed's interface
    async def place_market_order(self, symbol: str, side: Side, quantity: Decimal, client_order_id: str,
                                 *, reduce: bool = False) -> Order:
        """A market order on this leg; the kernel client never doubles it on a retry."""
        req = OrderRequest(symbol=symbol, side=side, type=OrderType.MARKET, client_order_id=client_order_id,
                           quantity=quantity, position_side=self.position_side,
                           reduce_only=reduce and not self.hedge)
        return await self.exchange.place_order(req)

    async def get_position_risk(self, symbol: str) -> Position | None:
        """This leg's position on `symbol` (None when flat), with mark, liquidation price and PnL."""
        for p in await self.exchange.positions(symbol):
            if p.is_flat or p.position_side is not self.position_side:
                continue
            if p.is_long == (self.leg == "LONG"):
                return p
        return None

    async def get_mark_price(self, symbol: str) -> Decimal:
        return Decimal(str((await self.exchange.mark_price(symbol)).mark_price))

    async def close_position(self, position: Position, client_ids: ClientIds,
                             qty: Decimal | None = None) -> CloseResult:
        """Close all (or `qty`) of the leg through the kernel's one close routine (chunked, never doubled)."""
        return await kernel_close(self.exchange, position, client_ids, qty=qty)

    # ------------------------------------------------------------ what the accounting needs
    async def rules(self, symbol: str) -> SymbolRules:
        rules = (await self.exchange.symbol_rules()).get(symbol)
        if rules is None:
            raise ValueError(f"{symbol} is not listed on the venue of account {self.account}")
        return rules

    async def fills_of(self, symbol: str, order_id: int, since_ms: int) -> list[UserTrade]:
        trades = await self.exchange.user_trades(symbol, start_time=max(0, since_ms - 60_000), limit=500)
        return [t for t in trades if t.order_id == order_id]

    async def funding_since(self, symbol: str, since_ms: int) -> Decimal:
        records = await self.exchange.income(symbol, "FUNDING_FEE", start_time=since_ms)
        return sum((r.income for r in records if r.symbol == symbol), ZERO)
