"""Builders for pure engine tests: a BTCUSDT-like contract (real recorded filters) at round prices."""
from __future__ import annotations

from decimal import Decimal

from mraster.domain.types import OrderType, PositionSide, Side, TimeInForce, WorkingType
from paper.engine import Engine, NewOrder
from paper.feeds.symbols import spec_for

D = Decimal
T0 = 1_700_000_000_000


def make_engine(symbols=("BTCUSDT",), balance="10000", level_qty="0.5", gap_t=100, growth="0") -> Engine:
    specs = {s: spec_for(s, 50000.0 if s == "BTCUSDT" else 2000.0)[0] for s in symbols}
    eng = Engine(specs, maker_fee=D("0.0002"), taker_fee=D("0.0004"), start_balance=D(balance))
    for s in symbols:
        m = eng.markets[s]
        m.gap_t, m.level_qty, m.growth = gap_t, D(level_qty), D(growth)
    return eng


def ticks(eng: Engine, symbol: str, price: str) -> int:
    return eng.specs[symbol].ticks(D(price))


def set_price(eng: Engine, last: str, mark: str | None = None, bid: str | None = None, ask: str | None = None,
              symbol: str = "BTCUSDT", now: int = T0, top_qty: str = "0.5") -> None:
    """Last/mark at `last` (mark may differ); the touch one tick around the last price unless given."""
    lt = ticks(eng, symbol, last)
    mt = ticks(eng, symbol, mark) if mark else lt
    bt = ticks(eng, symbol, bid) if bid else lt - 1
    at = ticks(eng, symbol, ask) if ask else lt + 1
    eng.update_prices(symbol, now, lt, mt, bt, at, D(top_qty), D(top_qty))


_ENUMS = {"time_in_force": TimeInForce, "working_type": WorkingType, "position_side": PositionSide}


def order(symbol="BTCUSDT", side="BUY", type="MARKET", **kw) -> NewOrder:
    """A NewOrder from plain strings (decimals and enums converted)."""
    conv = {}
    for k, v in kw.items():
        if k in ("quantity", "price", "stop_price", "activation_price", "callback_rate") and v is not None:
            v = D(v)
        elif k in _ENUMS and isinstance(v, str):
            v = _ENUMS[k](v)
        conv[k] = v
    return NewOrder(symbol=symbol, side=Side(side), type=OrderType(type), **conv)


def position(eng: Engine, key: str, symbol: str = "BTCUSDT", side: str = "BOTH") -> Decimal:
    pos = eng.accounts[key].positions.get((symbol, PositionSide(side)))
    return pos.amount if pos else D(0)


def events(eng: Engine, kind: str | None = None) -> list:
    """Drain and return the engine's events (optionally only OrderEvents with execution type `kind`)."""
    out = eng.drain().events
    if kind is None:
        return out
    return [e for e in out if getattr(e, "execution_type", None) is not None and e.execution_type.value == kind]
