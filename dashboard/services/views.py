"""Pure functions that turn the files' and the venue's data into what the page shows.

No I/O here: the state service reads, these shape. Every input may be missing
or stale, and the output says so instead of failing.
"""
from __future__ import annotations

from typing import Any

from mraster.state.model import BotState, Trade

TRADES_SHOWN = 50    # in /api/state; the whole history is /api/trades (paged)


def _num(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def trade_row(trade: Trade) -> dict[str, Any]:
    return {
        "trade_id": trade.trade_id, "symbol": trade.symbol, "side": trade.side, "status": trade.status,
        "qty": _num(trade.entry_qty if trade.status == "closed" and trade.entry_qty else trade.qty),
        "entry_qty": _num(trade.entry_qty), "entry_price": _num(trade.entry_price), "entry_time_ms": trade.entry_time_ms,
        "stop_price": _num(trade.stop_price), "take_profit_price": _num(trade.take_profit_price),
        "bucket": trade.bucket, "leverage": trade.leverage, "notional": _num(trade.notional),
        "adopted": trade.adopted, "exit_price": _num(trade.exit_price), "exit_time_ms": trade.exit_time_ms,
        "exit_reason": trade.exit_reason, "realized_pnl": _num(trade.realized_pnl), "fees": _num(trade.fees),
        "funding": _num(trade.funding), "r_multiple": trade.r_multiple,
        "net_pnl": _net(trade), "exit_detail": trade.exit_detail, "risk_per_unit": _num(trade.risk_per_unit),
        "duration_s": round((trade.exit_time_ms - trade.entry_time_ms) / 1000, 1)
        if trade.exit_time_ms and trade.entry_time_ms else None,
    }


def _net(trade: Trade) -> float | None:
    gross = _num(trade.realized_pnl)
    if gross is None:
        return None
    return gross - (_num(trade.fees) or 0.0) + (_num(trade.funding) or 0.0)


def _guard_side(side: Any) -> str:
    text = str(side or "").upper()
    return {"BUY": "LONG", "SELL": "SHORT"}.get(text, text)


def positions_view(state: BotState | None, guard: dict[str, Any] | None, guard_fresh: bool,
                   venue_positions: list[dict[str, Any]] | None, now_ms: int | None = None,
                   costs: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One row per position THE VENUE HOLDS (the venue is the truth): the bot's intended levels, the
    guard's confirmation of the orders really resting on the venue, and the venue's own figures.

    A trade of the bot or a position in the guard's status that the venue does not hold is never shown
    as open. Only when the venue could not be asked at all (`venue_positions` None) are the bot's open
    trades shown, marked `venue: "unknown"`, so an outage does not hide what may still be open."""
    bot_rows: dict[tuple[str, str], dict[str, Any]] = {}
    if state is not None:
        for trade in state.open_trades.values():
            if trade.status == "closed":
                continue
            row = trade_row(trade)
            row.update(source="bot", guard="unknown", stop_ok=None, take_profit_ok=None, mark_price=None,
                       unrealized_pnl=None)
            bot_rows[(trade.symbol, trade.side)] = row
    if venue_positions is None:
        rows = bot_rows
        for row in rows.values():
            row["venue"] = "unknown"
    else:
        rows = {}
        for vp in venue_positions:
            key = (vp.get("symbol", ""), vp.get("side", ""))
            row = bot_rows.get(key) or {
                "trade_id": "", "symbol": key[0], "side": key[1], "status": "open", "entry_price": vp.get("entry_price"),
                "stop_price": None, "take_profit_price": None, "source": "venue", "guard": "unknown", "adopted": True,
                "entry_time_ms": vp.get("update_time_ms") or None}
            row["venue"] = "held"
            _venue_figures(row, vp)
            rows[key] = row
    guard_positions = (guard or {}).get("positions") or []
    for gp in guard_positions if isinstance(guard_positions, list) else []:
        if not isinstance(gp, dict):
            continue
        row = rows.get((str(gp.get("symbol", "")), _guard_side(gp.get("side"))))
        if row is None:   # the guard's status may lag the venue: what the venue does not hold is not shown
            continue
        stop, tp = gp.get("stop") or {}, gp.get("take_profit") or {}
        row["stop_ok"] = bool(stop.get("ok")) if isinstance(stop, dict) else None
        row["take_profit_ok"] = bool(tp.get("ok")) if isinstance(tp, dict) else None
        row["guard_stop_price"] = _num(stop.get("price")) if isinstance(stop, dict) else None
        row["guard_take_profit_price"] = _num(tp.get("price")) if isinstance(tp, dict) else None
        protected = bool(gp.get("protected"))
        row["guard"] = ("protected" if protected else "UNPROTECTED") if guard_fresh else "stale"
    if guard is not None and guard_fresh:
        for row in rows.values():
            if row.get("guard") == "unknown":
                row["guard"] = "not seen by guard"
    for key, row in rows.items():
        _derived(row, now_ms, (costs or {}).get(key))
    return sorted(rows.values(), key=lambda r: (r["symbol"], r["side"]))


def _venue_figures(row: dict[str, Any], vp: dict[str, Any]) -> None:
    row["qty"] = vp.get("qty")
    row["venue_entry_price"] = vp.get("entry_price")
    if row.get("entry_price") is None:
        row["entry_price"] = vp.get("entry_price")
    row["mark_price"] = vp.get("mark_price")
    row["unrealized_pnl"] = vp.get("unrealized_pnl")
    row["leverage"] = vp.get("leverage") or row.get("leverage")
    row["liquidation_price"] = vp.get("liquidation_price") or None
    row["margin_type"] = vp.get("margin_type")
    mark, qty = _num(vp.get("mark_price")), _num(vp.get("qty"))
    row["notional"] = (mark * qty) if mark and qty else (_num(vp.get("notional")) or row.get("notional"))
    iso = _num(vp.get("isolated_margin"))
    lev = _num(row.get("leverage"))
    row["margin"] = iso if iso else ((row["notional"] / lev) if row.get("notional") and lev else None)


def _derived(row: dict[str, Any], now_ms: int | None, cost: dict[str, Any] | None) -> None:
    """PnL %, liquidation distance (in % of the mark, and against the stop), age, fees and funding."""
    mark, liq = _num(row.get("mark_price")), _num(row.get("liquidation_price"))
    stop = _num(row.get("stop_price")) or _num(row.get("guard_stop_price"))
    upnl, margin = _num(row.get("unrealized_pnl")), _num(row.get("margin"))
    row["pnl_pct"] = round(100 * upnl / margin, 4) if upnl is not None and margin else None
    long = row.get("side") == "LONG"
    row["liq_distance_pct"] = round(100 * abs(mark - liq) / mark, 4) if mark and liq else None
    if liq and stop:
        # a long is liquidated below its entry: its stop must sit above the liquidation price (a short: below)
        row["stop_before_liquidation"] = stop > liq if long else stop < liq
        row["stop_to_liq_pct"] = round(100 * abs(stop - liq) / stop, 4)
    else:
        row["stop_before_liquidation"] = None
        row["stop_to_liq_pct"] = None
    opened = row.get("entry_time_ms")
    row["open_time_ms"] = opened or None
    row["duration_s"] = round((now_ms - opened) / 1000, 1) if now_ms and opened else None
    row["fees"] = (cost or {}).get("fees", row.get("fees"))
    row["funding"] = (cost or {}).get("funding", row.get("funding"))


def trades_view(state: BotState | None, limit: int = TRADES_SHOWN) -> dict[str, Any]:
    if state is None:
        return {"trades": [], "count": 0, "net_pnl": 0.0, "wins": 0, "losses": 0}
    closed = state.closed_trades[-limit:]
    rows = [trade_row(t) for t in reversed(closed)]
    nets = [r["net_pnl"] for r in rows if r["net_pnl"] is not None]
    return {"trades": rows, "count": len(state.closed_trades), "net_pnl": round(sum(nets), 8),
            "wins": sum(1 for n in nets if n > 0), "losses": sum(1 for n in nets if n < 0)}


def markers_for(state: BotState | None, symbol: str) -> list[dict[str, Any]]:
    """Entries and exits of one symbol for the price chart, oldest first."""
    if state is None:
        return []
    out = []
    trades = [t for t in [*state.closed_trades, *state.open_trades.values()] if t.symbol == symbol]
    for t in trades:
        if t.entry_time_ms and t.entry_price is not None:
            out.append({"kind": "entry", "time_ms": t.entry_time_ms, "price": float(t.entry_price), "side": t.side,
                        "trade_id": t.trade_id})
        if t.exit_time_ms and t.exit_price is not None:
            out.append({"kind": "exit", "time_ms": t.exit_time_ms, "price": float(t.exit_price), "side": t.side,
                        "reason": t.exit_reason, "trade_id": t.trade_id, "net_pnl": _net(t)})
    return sorted(out, key=lambda m: m["time_ms"])


def guard_view(guard: dict[str, Any] | None, problem: str, age_s: float | None, stale_after_s: float) \
        -> dict[str, Any]:
    if guard is None:
        return {"available": False, "problem": problem or "the guard has not written its status yet"}
    fresh = age_s is not None and age_s <= stale_after_s
    return {
        "available": True, "fresh": fresh, "age_s": None if age_s is None else round(age_s, 1),
        "problem": "" if fresh else f"the guard's status is {age_s:.0f} s old: it may be stopped or stuck",
        "mode": guard.get("mode"), "pid": guard.get("pid"), "stream": guard.get("stream") or {},
        "repairs_total": guard.get("repairs_total", 0), "recent_actions": (guard.get("recent_actions") or [])[-20:],
        "last_error": guard.get("last_error") or "", "kill_switch": guard.get("kill_switch") or {},
        "positions": len(guard.get("positions") or []),
    }


def state_summary(state: BotState | None, problem: str, age_s: float | None) -> dict[str, Any]:
    if state is None:
        return {"available": False, "problem": problem or "the bot has not written its state yet"}
    return {
        "available": True, "age_s": None if age_s is None else round(age_s, 1),
        "problem": problem or (f"the bot cannot write to disk, no new entries: {state.disk_problem}"
                               if state.disk_problem else ""),
        "disk_problem": state.disk_problem, "mode": state.mode, "feed": state.feed, "cycle": state.cycle, "pid": state.pid,
        "updated_ms": state.updated_ms, "heartbeat_ms": state.heartbeat_ms, "equity": state.equity,
        "pending_restart": state.pending_restart, "notices": state.notices[-20:], "client": state.client,
        "policy": state.policy, "ai_hints": state.ai_hints, "last_scan": state.last_scan,
        "open_count": sum(1 for t in state.open_trades.values() if t.status != "closed"),
    }
