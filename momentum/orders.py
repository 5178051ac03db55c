"""Seed `core/order.py` as pure functions: the entry and exit orders of one trade, on the venue's grids.

Entry: taker-only IOC LIMIT at the touch (BUY at the ask, SELL at the bid), quantity from the order
notional in USD rounded up to the step so the notional is at least the target (and at least the
venue's MIN_NOTIONAL), within LOT_SIZE min/max.

Exits, armed after the fill, all reduceOnly, for the filled quantity:
- TAKE_PROFIT_MARKET, workingType CONTRACT_PRICE, at take_profit_bps from the entry;
- STOP_MARKET, workingType MARK_PRICE, at sl_bps from the entry;
- TRAILING_STOP_MARKET with activationPrice at activation_bps and callbackRate = callback_bps / 100 %
  (the venue's 0.1 % steps, 0.1-5 %), workingType CONTRACT_PRICE.
The levels use the seed's floors (`mraster.signals.momentum.exit_levels_bps`, shared with the backtester):
be = 2 * taker fee + opening loss + |funding| / 8; activation = max(activation, be + buffer);
take-profit = max(take-profit, activation + gap). Prices are snapped to the tick away from the entry for
the take-profit and the activation (never inside the floor) and toward the entry for the stop (never a
loss beyond sl_bps).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from mraster.domain.rules import SymbolRules, to_decimal
from mraster.domain.types import OrderRequest, OrderType, Side, TimeInForce, WorkingType
from mraster.signals.momentum import exit_levels_bps
from mraster.signals.momentum_params import SymbolParams

ROLES = ("SL", "TP", "TR")       # stop-loss first (the position is never without it longer), take-profit, trailing
CALLBACK_MIN, CALLBACK_MAX = Decimal("0.1"), Decimal("5")


def entry_request(symbol: str, side: int, rules: SymbolRules, bid: float, ask: float, notional: float,
                  client_id: str) -> OrderRequest:
    """The IOC LIMIT entry at the touch. NoValidOrderError when no quantity fits the filters."""
    price = rules.round_price(to_decimal(ask if side > 0 else bid))
    qty = rules.qty_for_notional(notional, price, market=False)
    return OrderRequest(symbol, Side.BUY if side > 0 else Side.SELL, OrderType.LIMIT, client_id, quantity=qty,
                        price=price, time_in_force=TimeInForce.IOC)


@dataclass(frozen=True, slots=True)
class ExitPlan:
    side: int                    # of the position: +1 long, -1 short
    entry_price: Decimal
    be_floor_bps: float
    activation_bps: float
    take_profit_bps: float
    sl_bps: float
    callback_bps: float
    take_profit_price: Decimal
    stop_price: Decimal
    activation_price: Decimal
    callback_rate: Decimal       # percent, as the venue takes it

    def to_json(self) -> dict[str, Any]:
        return {"side": self.side, "entry_price": str(self.entry_price), "be_floor_bps": self.be_floor_bps,
                "activation_bps": self.activation_bps, "take_profit_bps": self.take_profit_bps,
                "sl_bps": self.sl_bps, "callback_bps": self.callback_bps,
                "take_profit_price": str(self.take_profit_price), "stop_price": str(self.stop_price),
                "activation_price": str(self.activation_price), "callback_rate": str(self.callback_rate)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ExitPlan":
        return cls(int(d["side"]), Decimal(d["entry_price"]), float(d["be_floor_bps"]), float(d["activation_bps"]),
                   float(d["take_profit_bps"]), float(d["sl_bps"]), float(d["callback_bps"]),
                   Decimal(d["take_profit_price"]), Decimal(d["stop_price"]), Decimal(d["activation_price"]),
                   Decimal(d["callback_rate"]))


def callback_rate(callback_bps: float) -> Decimal:
    """callback_bps as the venue's callbackRate in percent, to its 0.1 % steps, within 0.1-5 %."""
    pct = (Decimal(str(callback_bps)) / 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return min(CALLBACK_MAX, max(CALLBACK_MIN, pct))


def _level(entry: Decimal, side: int, bps: float) -> Decimal:
    return entry * (1 + Decimal(side) * Decimal(str(bps)) / Decimal(10_000))


def exit_plan(side: int, entry_price: Decimal, rules: SymbolRules, p: SymbolParams, taker_fee_bps: float,
              opening_loss_bps: float, funding_bps: float) -> ExitPlan:
    be, act, tp = exit_levels_bps(taker_fee_bps, opening_loss_bps, funding_bps, p.activation_bps,
                                  p.activation_buffer_bps, p.tp_bps, p.min_tp_gap_bps)
    # long: take-profit and activation up (away from the entry), the stop below the entry up (toward it);
    # short: all three down
    mode = "up" if side > 0 else "down"
    return ExitPlan(side, entry_price, be, act, tp, p.sl_bps, p.callback_bps,
                    rules.round_price(_level(entry_price, side, tp), mode),
                    rules.round_price(_level(entry_price, -side, p.sl_bps), mode),
                    rules.round_price(_level(entry_price, side, act), mode),
                    callback_rate(p.callback_bps))


def exit_requests(symbol: str, plan: ExitPlan, qty: Decimal, client_id: Callable[[str], str],
                  roles: tuple[str, ...] = ROLES) -> list[OrderRequest]:
    """The exit orders of `roles` for a position of `qty`; `client_id(role)` names each."""
    close = Side.SELL if plan.side > 0 else Side.BUY
    out = []
    for role in roles:
        if role == "TP":
            out.append(OrderRequest(symbol, close, OrderType.TAKE_PROFIT_MARKET, client_id(role), quantity=qty,
                                    stop_price=plan.take_profit_price, reduce_only=True,
                                    working_type=WorkingType.CONTRACT_PRICE))
        elif role == "SL":
            out.append(OrderRequest(symbol, close, OrderType.STOP_MARKET, client_id(role), quantity=qty,
                                    stop_price=plan.stop_price, reduce_only=True,
                                    working_type=WorkingType.MARK_PRICE))
        elif role == "TR":
            out.append(OrderRequest(symbol, close, OrderType.TRAILING_STOP_MARKET, client_id(role), quantity=qty,
                                    activation_price=plan.activation_price, callback_rate=plan.callback_rate,
                                    reduce_only=True, working_type=WorkingType.CONTRACT_PRICE))
        else:
            raise ValueError(f"unknown exit role {role!r}")
    return out


def role_of_type(t: OrderType) -> str | None:
    return {OrderType.TAKE_PROFIT_MARKET: "TP", OrderType.STOP_MARKET: "SL",
            OrderType.TRAILING_STOP_MARKET: "TR"}.get(t)


# --------------------------------------------------------------------------- the daily schedule (UTC)
def minute_of_day(hhmm: str) -> int:
    """'23:50' -> 1430; ValueError for anything but HH:MM."""
    text = str(hhmm).strip()
    parts = text.split(":")
    if len(parts) != 2 or not all(x.isdigit() and len(x) == 2 for x in parts):
        raise ValueError(f"expected a UTC time HH:MM, got {hhmm!r}")
    h, m = int(parts[0]), int(parts[1])
    if h > 23 or m > 59:
        raise ValueError(f"expected a UTC time HH:MM, got {hhmm!r}")
    return h * 60 + m


def schedule_phase(venue_ms: int, halt_min: int, force_min: int) -> str:
    """'open', 'halted' (no new entries) or 'force_exit' (close what is open), by the venue's UTC time
    of day; both windows end at midnight UTC, as the backtester's schedule."""
    mod = (venue_ms // 60_000) % 1440
    if mod >= force_min:
        return "force_exit"
    if mod >= halt_min:
        return "halted"
    return "open"
