"""The operator's status file (`<ASTER_RUN_DIR>/<instance>.status.json`), what the dashboard's Operator page
shows: the pair with both legs, liquidation distances and net delta, hold time and next rotation, today's
volume against target with the pacing, the weekly holding-time equivalent, fees and funding, recent events."""
from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mraster.engines.kinds.deltaneutral import warnings as seed_warnings
from mraster.tradedb import day_start_ms

from deltaneutral import plan, rewards

if TYPE_CHECKING:
    from deltaneutral.runtime import Operator

SCHEMA_VERSION = 1


def _leg(leg: plan.Leg | None) -> dict[str, Any] | None:
    if leg is None:
        return None
    dist = leg.liq_distance_pct
    return {"side": leg.side, "account": leg.account, "qty": str(leg.qty), "entry": str(leg.entry),
            "mark": str(leg.mark), "liquidation": str(leg.liquidation), "unrealized": str(leg.unrealized),
            "notional": float(leg.notional), "liq_distance_pct": None if dist is None else round(float(dist), 4)}


def build_status(op: "Operator", now: int) -> dict[str, Any]:
    cfg = op.cfg
    pairs = []
    leg_notional = cfg.max_leg_notional
    for symbol in cfg.pairs:
        view = op.views.get(symbol) or plan.PairView(symbol, None, None)
        held = op.held.get(symbol)
        m = plan.pair_metrics(view)
        if view.ref_notional > 0:
            leg_notional = view.ref_notional
        pairs.append({
            "symbol": symbol, "pair_id": held.pair_id if held else "", "long": _leg(view.long),
            "short": _leg(view.short), "metrics": m.to_json(), "opened_ms": held.opened_ms if held else None,
            "rotate_at_ms": held.rotate_at_ms if held else None,
            "next_rotation_min": round((held.rotate_at_ms - now) / 60000, 2) if held else None,
            "hold": rewards.hold_progress(held.opened_ms if held else None, now, cfg.hold_ms),
            "fees": str(held.fees) if held else "0", "funding": str(held.funding) if held else "0",
            "funding_expected": op.funding_next.get(symbol) if held else None,
            "adopted": bool(held and held.adopted), "blocked": op.blocked.get(symbol, "") or op.size_blocked.get(symbol, ""),
            "risk": plan.risk_reason(view, cfg)})
    day = day_start_ms(now)
    trades_today = op.db.trades(op.instance, day)
    volume = sum((Decimal(str(t["notional"])) for t in trades_today), Decimal(0))
    positions = op.db.positions(op.instance)
    closed_today = [p for p in positions if p["status"] == "closed" and (p["closed_ms"] or 0) >= day]
    funding_today = sum((Decimal(str(p["funding"])) for p in closed_today), Decimal(0))
    control = op.read_control()
    return {
        "schema_version": SCHEMA_VERSION, "pid": os.getpid(), "instance": op.instance, "kind": "deltaneutral",
        "mode": op.mode,
        "updated_ms": now, "written_ms": int(time.time() * 1000), "last_cycle_ms": op.last_cycle_ms, "next_cycle_ms": op.next_cycle_ms,
        "paused": bool(control.get("paused")), "accounts": {"LONG": op.long.account, "SHORT": op.short.account},
        "settings": {"CAPITAL_USDT": float(cfg.capital), "LEVERAGE": cfg.leverage, "TRADING_PAIRS": list(cfg.pairs),
                     "POSITION_HOLD_TIME_MIN": cfg.hold_min, "MAX_POSITION_SIZE_PCT": float(cfg.size_pct),
                     "DAILY_VOLUME_TARGET": float(cfg.daily_target), "STOP_LOSS_PCT": float(cfg.stop_loss_pct),
                     "MAX_PNL_DRIFT_PCT": float(cfg.drift_pct), "WALLET_ADDRESS": cfg.wallet,
                     "max_leg_notional": float(cfg.max_leg_notional)},
        "warnings": op.warnings or seed_warnings({"LEVERAGE": cfg.leverage, "POSITION_HOLD_TIME_MIN": cfg.hold_min}),
        "pairs": pairs,
        "volume": {"today": float(volume), "target": float(cfg.daily_target),
                   "pacing": plan.pacing(volume, cfg, leg_notional, now).to_json()},
        "hold": {"weekly_equivalent": float(rewards.weekly_hold_equivalent(positions, now)),
                 "weekly_target": float(cfg.weekly_target)},
        "costs_today": rewards.costs(trades_today, funding_today).to_json(),
        "rotations_today": op.rotations.get(rewards_day(now), 0),
        "events": list(op.events), "last_error": op.last_error,
    }


def rewards_day(now: int) -> str:
    from mraster.tradedb import utc_day
    return utc_day(now)
