"""Intended levels per position: the bot's, from its state file, or computed as the bot would.

Pure: the service reads the state file and the klines and passes them in.
The bot's levels are trusted only when they fit the venue's position (same side and position side,
a take-profit on the profit side of the entry, the stop short of the take-profit); otherwise the
guard computes them from the entry price and ATR multiples, exactly as `mraster.domain.brackets` does.
"""
from __future__ import annotations

from dataclasses import replace
import math
from decimal import Decimal
from typing import Sequence

from mraster.domain.brackets import bracket_prices
from mraster.domain.ids import Role, client_order_id, trade_id_for_adopted
from mraster.domain.rules import NoValidOrderError, SymbolRules, fmt
from mraster.domain.types import Kline, Position
from mraster.safety.closeout import match_trade as shared_match_trade
from mraster.state.model import BotState, Trade

from guard.classify import ExitKind
from guard.planner import Intent

ATR_PERIOD = 14


def match_trade(state: BotState | None, p: Position) -> Trade | None:
    """The bot's open trade for this position (newest if several): same symbol, position side and side
    (the one matching rule, mraster/safety/closeout.py)."""
    if state is None:
        return None
    return shared_match_trade(state.open_trades.values(), p)  # type: ignore[return-value]


def intent_from_trade(trade: Trade | None, p: Position) -> tuple[Intent, list[str]]:
    """The intent for `p` from the bot's trade (levels that do not fit are dropped, with a reason).
    Without a usable trade: the adopted trade id and no levels."""
    adopted = trade_id_for_adopted(p.symbol, p.position_side.value)
    if trade is None:
        return Intent(adopted, source="computed"), []
    try:
        client_order_id(trade.trade_id, Role.STOP_ALT)
        trade_id = trade.trade_id
    except ValueError:
        return Intent(adopted, source="computed"), [f"trade id {trade.trade_id!r} cannot make client ids"]
    notes: list[str] = []
    stop, take = _positive(trade.stop_price), _positive(trade.take_profit_price)
    sign = 1 if p.is_long else -1
    if take is not None and (take - p.entry_price) * sign <= 0:
        notes.append(f"take-profit {fmt(take)} is not on the profit side of entry {fmt(p.entry_price)}")
        take = None
    if stop is not None and take is not None and (take - stop) * sign <= 0:
        notes.append(f"stop {fmt(stop)} is beyond the take-profit {fmt(take)}")
        stop = None
    callback = _positive(trade.trailing_callback)
    kind = ExitKind.TRAILING if callback is not None else ExitKind.TAKE_PROFIT if take is not None else None
    return Intent(trade_id, stop=stop, take_profit=take, trailing_callback=callback,
                  trailing_activation=_positive(trade.trailing_activation), profit_kind=kind, source="state"), notes


def with_computed_levels(intent: Intent, p: Position, atr_value: float, sl_mult: float, tp_mult: float,
                         rules: SymbolRules) -> Intent:
    """Fill the levels the intent lacks from the entry price and ATR (the bot's own formula).
    Raises NoValidOrderError when no valid level exists (ATR not positive, levels not positive)."""
    if intent.stop is not None and intent.take_profit is not None:
        return intent
    levels = bracket_prices(p.entry_price, p.side, atr_value, sl_mult, tp_mult, rules)
    return replace(intent, stop=intent.stop if intent.stop is not None else levels.stop,
                   take_profit=intent.take_profit if intent.take_profit is not None else levels.take_profit)


def atr_of(klines: Sequence[Kline], now_ms: int, period: int = ATR_PERIOD) -> float | None:
    """ATR(period) of the closed candles (a bar whose close time is not yet past in venue time is
    dropped, as the bot does). With fewer bars than a warm-up, the mean true range of what there
    is (two bars at least); None when there is nothing to measure."""
    closed = [k for k in klines if k.close_time < now_ms]
    value = wilder_atr([k.high for k in closed], [k.low for k in closed], [k.close for k in closed], period)
    return value if value is not None and value > 0 and math.isfinite(value) else None


def wilder_atr(high: Sequence[float], low: Sequence[float], close: Sequence[float],
               period: int = ATR_PERIOD) -> float | None:
    """Last value of ATR(period) with Wilder's smoothing: the same number as
    `mraster.signals.indicators.atr(...)[-1]` (a test holds them together), in plain Python, because importing
    the vectorised indicator code (numpy + scipy) takes seconds and a restarted guard must protect
    a position well within two. Fewer than period + 1 bars: the mean true range, or None."""
    trs = [max(h, pc) - min(lo, pc) for h, lo, pc in zip(high[1:], low[1:], close[:-1])]
    if not trs:
        return None
    if len(trs) < period:
        return sum(trs) / len(trs)
    value = sum(trs[:period]) / period
    for tr in trs[period:]:
        value = (value * (period - 1) + tr) / period
    return value


def needs_atr(intent: Intent) -> bool:
    return intent.stop is None or intent.take_profit is None


def _positive(value: Decimal | None) -> Decimal | None:
    return value if value is not None and value > 0 else None


__all__ = ["ATR_PERIOD", "NoValidOrderError", "atr_of", "intent_from_trade", "match_trade", "needs_atr",
           "with_computed_levels"]
