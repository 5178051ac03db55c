"""The end of a trial: freeze the market, stop bot and guard, then read the venue, the state file
and the journal and check that they agree; finally look for secrets in every file the run wrote.

The market is frozen first (every price held where it is) so that nothing triggers between the
bot's last reconciliation and the reads: the three sources are then compared at one moment.
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping

from mraster.domain.types import IncomeRecord, UserTrade
from mraster.exchange.factory import make_exchange
from mraster.state.model import BotState, Trade
from mraster.state.store import read_state_readonly
from trial.clients import DashboardClient, VenueAdmin
from trial.monitor import Monitor

PAGE = 1000
SCANNED_FILES = ("aster_state.json", "dashboard_config.json", "dashboard_audit.jsonl", "dashboard.out")


@dataclass
class VenueFacts:
    fills: list[UserTrade]
    income: list[IncomeRecord]
    positions: int
    open_orders: int
    entry_ids: dict[str, int]


@dataclass
class FileScan:
    files: int = 0
    bytes: int = 0
    hits: list[tuple[str, str]] = field(default_factory=list)


async def freeze_market(venue: VenueAdmin) -> int:
    """Hold every symbol's prices where they are; returns how many symbols were frozen."""
    snap = await venue.state()
    for symbol, m in snap["markets"].items():
        await venue.hold_price(symbol, m["last"], m["mark"], m["bid"], m["ask"])
    return len(snap["markets"])


async def wait_bot_cycles(state_file: Path, cycles: int, timeout: float) -> bool:
    """Wait until the bot has finished `cycles` more scan cycles (it reconciles in each)."""
    first = read_state_readonly(state_file)
    start = first.cycle if first else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state_readonly(state_file)
        if state is not None and state.cycle >= start + cycles:
            return True
        await asyncio.sleep(0.2)
    return False


async def stop_trading(dashboard: DashboardClient) -> dict[str, Any]:
    """Stop the bot, then the guard, as the page's buttons do; their exit codes are reported."""
    out = {}
    for name in ("bot", "guard"):
        answer = await dashboard.act(name, "stop")
        out[name] = answer.get("status", {}).get("last_exit_code")
    return out


async def read_venue(settings: Any, symbols: Iterable[str], since_ms: int, trades: Iterable[Trade]) -> VenueFacts:
    """Every fill and funding payment of the account, read through the project's own client, and
    the venue's order id of each trade's entry the trade itself does not record."""
    ex = make_exchange(settings)
    try:
        entry_ids = {}
        for t in trades:
            cid = t.client_ids.get("EN")
            if cid and "EN" not in t.order_ids and t.entry_qty:
                entry_ids[t.trade_id] = (await ex.get_order(t.symbol, client_order_id=cid)).order_id
        fills: list[UserTrade] = []
        for symbol in symbols:
            from_id = 0
            while True:
                page = await ex.user_trades(symbol, from_id=from_id, limit=PAGE)
                fills += page
                if len(page) < PAGE:
                    break
                from_id = max(f.id for f in page) + 1
        income = await ex.income(income_type="FUNDING_FEE", start_time=since_ms, limit=PAGE)
        positions = [p for p in await ex.positions() if not p.is_flat]
        orders = await ex.open_orders()
        return VenueFacts(fills, income, len(positions), len(orders), entry_ids)
    finally:
        await ex.close()


def read_journal(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Decimal]]]:
    """Trade rows and per-trade fill totals of the bot's journal, read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    try:
        cur = conn.execute("SELECT * FROM trades")
        cols = [c[0] for c in cur.description]
        rows = {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}
        totals: dict[str, dict[str, Decimal]] = {}
        for trade_id, commission, pnl in conn.execute("SELECT trade_id, commission, realized_pnl FROM fills"):
            t = totals.setdefault(trade_id, {"fees": Decimal(0), "realized_pnl": Decimal(0)})
            t["fees"] += Decimal(commission)
            t["realized_pnl"] += Decimal(pnl)
        return rows, totals
    finally:
        conn.close()


def read_state(path: Path) -> BotState:
    state = read_state_readonly(path)
    if state is None:
        raise RuntimeError(f"{path} is missing or unreadable at the end of the run")
    return state


def scan_files(root: Path, secrets: Mapping[str, str]) -> FileScan:
    """Look for every secret value in every file under logs/ and run/, and in the files the
    dashboard and the bot write beside the config (never in .env, where they belong)."""
    scan = FileScan()
    paths = [p for d in ("logs", "run") for p in sorted((root / d).rglob("*")) if p.is_file()]
    paths += [root / name for name in SCANNED_FILES if (root / name).is_file()]
    for path in paths:
        data = path.read_bytes()
        scan.files += 1
        scan.bytes += len(data)
        for name, value in secrets.items():
            if value and value.encode() in data:
                scan.hits.append((str(path.relative_to(root)), name))
    return scan


async def stop_monitor(monitor: Monitor, task: asyncio.Task) -> None:
    monitor.stop()
    await task
    monitor.stop_gaps.finish()
    monitor.duplicates.finish()
