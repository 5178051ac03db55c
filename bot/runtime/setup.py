"""Per-symbol setup before the first entry: margin type, then leverage (ASTER_MARGIN_TYPE, ASTER_LEVERAGE).

A setup is recorded as done (state `symbol_setup`) only when the venue accepted both. A refused change
(e.g. a leverage above the symbol's bracket maximum, a margin type that cannot change while orders are
open) blocks entries on that symbol with the reason `setup_failed`; it is tried again every cycle in
which the symbol has a candidate, and said once in the activity feed (again when the reason changes),
and once more when it finally succeeds. Exits and protection are never blocked by it.
"""
from __future__ import annotations

from mraster.domain.types import MarginType
from mraster.exchange.errors import ExchangeError
from mraster.logs import get_logger
from bot.runtime.context import Runtime

log = get_logger("bot.setup")


def wanted(rt: Runtime) -> dict[str, object]:
    return {"leverage": int(rt.settings.leverage), "margin_type": rt.settings.margin_type}


async def ensure_symbol_setup(rt: Runtime, symbol: str) -> str | None:
    """Margin type and leverage of `symbol` as the settings want them. Returns None when done, else the
    problem text (entries on the symbol must wait)."""
    s = rt.settings
    want = wanted(rt)
    if rt.state.symbol_setup.get(symbol) == want:
        return None
    problems: list[str] = []
    try:
        await rt.exchange.set_margin_type(symbol, MarginType(s.margin_type))
    except ExchangeError as exc:
        problems.append(f"margin type {s.margin_type} not set: {exc}")
    leverage = None
    try:
        info = await rt.exchange.set_leverage(symbol, int(s.leverage))
        leverage = int(info.leverage)
        if leverage != int(s.leverage):
            problems.append(f"leverage {s.leverage}x not set: the venue answered {leverage}x")
    except ExchangeError as exc:
        problems.append(f"leverage {s.leverage}x not set: {exc}")
    if problems:
        text = "; ".join(problems)
        rt.state.symbol_setup.pop(symbol, None)
        if rt.setup_problems.get(symbol) != text:
            rt.setup_problems[symbol] = text
            msg = f"{symbol}: no entries until the symbol's setup succeeds ({text}); retried every cycle"
            log.warning("symbol.setup_failed", msg, symbol=symbol, reason=text, activity=True)
            rt.notice("warning", msg)
        else:
            log.debug("symbol.setup_failed", f"{symbol}: setup still refused ({text})", symbol=symbol)
        return text
    rt.state.symbol_setup[symbol] = want
    if rt.setup_problems.pop(symbol, None) is not None:
        log.info("symbol.setup_recovered", f"{symbol}: setup done (leverage {leverage}x, margin {s.margin_type}); "
                 "entries allowed again", symbol=symbol, activity=True)
    else:
        log.info("symbol.setup", f"{symbol}: leverage {leverage}x, margin {s.margin_type}", symbol=symbol)
    return None
