"""After the run: the venue's own fills against the journal and the state file (pure).

The venue's user trades of each symbol are cut into position lifecycles (flat -> open -> flat).
Every closed trade of the state file is matched to its lifecycle by the entry order's id (an
adopted trade, which has none, by symbol and time). Agreement means exact Decimal equality of
realised PnL and of fees between: the state file's trade, the journal's trade row, the sum of the
journal's fills for that trade, and the sum of the venue's fills of the lifecycle. They all sum
the same venue fills, so no tolerance is needed and none is allowed.

The lifecycles also give exact position limits (how many were open when each one opened) and
the notional at entry (the opening order's fills), whatever the price did afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from mraster.domain.types import IncomeRecord, Side, UserTrade
from mraster.state.model import Trade

ZERO = Decimal(0)
NOT_FILLED = ("entry_not_filled", "entry_unknown", "entry_rejected")   # dropped entries (never filled)


@dataclass
class Lifecycle:
    symbol: str
    position_side: str
    open_time: int
    fills: list[UserTrade] = field(default_factory=list)
    close_time: int | None = None
    side: str = ""                                   # LONG / SHORT
    opening_orders: list[int] = field(default_factory=list)
    first_order_qty: Decimal = ZERO
    first_order_notional: Decimal = ZERO
    flipped: bool = False
    funding: Decimal = ZERO

    @property
    def closed(self) -> bool:
        return self.close_time is not None

    @property
    def realized_pnl(self) -> Decimal:
        return sum((f.realized_pnl for f in self.fills), ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((f.commission for f in self.fills), ZERO)

    def covers(self, t: int) -> bool:
        return self.open_time <= t and (self.close_time is None or t <= self.close_time)


def _signed(f: UserTrade) -> Decimal:
    return f.qty if f.side is Side.BUY else -f.qty


def lifecycles(fills: Iterable[UserTrade]) -> list[Lifecycle]:
    """Cut fills into lifecycles per (symbol, position side), oldest first. A fill that flips the
    position closes one lifecycle and opens the next (flagged: the bot never flips on purpose)."""
    out: list[Lifecycle] = []
    current: dict[tuple[str, str], tuple[Lifecycle, Decimal]] = {}
    for f in sorted(fills, key=lambda x: (x.time, x.id)):
        key = (f.symbol, f.position_side.value)
        lc, pos = current.get(key, (None, ZERO))
        delta = _signed(f)
        if lc is None:
            lc = Lifecycle(f.symbol, key[1], f.time, side="LONG" if delta > 0 else "SHORT")
            out.append(lc)
        opening = pos == 0 or (pos > 0) == (delta > 0)
        if opening:
            if f.order_id not in lc.opening_orders:
                lc.opening_orders.append(f.order_id)
            if f.order_id == lc.opening_orders[0]:
                lc.first_order_qty += f.qty
                lc.first_order_notional += f.qty * f.price
        lc.fills.append(f)
        new_pos = pos + delta
        if new_pos == 0 or (pos != 0 and (new_pos > 0) != (pos > 0)):
            lc.close_time = f.time
            lc.flipped = new_pos != 0
            current.pop(key, None)
            if new_pos != 0:               # the remainder opens the next lifecycle
                nxt = Lifecycle(f.symbol, key[1], f.time, side="LONG" if new_pos > 0 else "SHORT",
                                opening_orders=[f.order_id])
                out.append(nxt)
                current[key] = (nxt, new_pos)
        else:
            current[key] = (lc, new_pos)
    return out


def attach_funding(cycles: list[Lifecycle], income: Iterable[IncomeRecord]) -> None:
    """FUNDING_FEE income of a symbol while its position was open (informational)."""
    for rec in income:
        if rec.income_type != "FUNDING_FEE":
            continue
        for lc in cycles:
            if lc.symbol == rec.symbol and lc.covers(rec.time):
                lc.funding += rec.income
                break


def match(trade: Trade, cycles: list[Lifecycle], entry_ids: Mapping[str, int] | None = None) -> Lifecycle | None:
    """The venue position a trade opened: by its entry order's id (from the trade, else as the venue
    answered for its entry client id); a trade with no entry order (adopted) by symbol and time."""
    entry_id = trade.order_ids.get("EN") or (entry_ids or {}).get(trade.trade_id)
    if entry_id is not None:
        for lc in cycles:
            if lc.symbol == trade.symbol and entry_id in lc.opening_orders:
                return lc
        return None
    for lc in cycles:
        if lc.symbol == trade.symbol and lc.covers(trade.entry_time_ms):
            return lc
    return None


@dataclass
class TradeCheck:
    trade_id: str
    symbol: str
    side: str
    exit_reason: str
    values: dict[str, dict[str, str | None]]         # quantity -> source -> value
    problems: list[str]
    entry_time_ms: int = 0
    exit_time_ms: int = 0
    entry_price: str | None = None
    exit_price: str | None = None
    qty: str | None = None
    funding: str | None = None
    adopted: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _d(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def check_trade(trade: Trade, journal_row: Mapping[str, Any] | None, journal_fills: Mapping[str, Decimal] | None,
                lc: Lifecycle | None) -> TradeCheck:
    """Compare one closed trade across state, journal trade row, journal fills and venue fills."""
    values: dict[str, dict[str, Decimal | None]] = {
        "realized_pnl": {"state": trade.realized_pnl, "journal": _d((journal_row or {}).get("realized_pnl")),
                         "journal fills": (journal_fills or {}).get("realized_pnl"),
                         "venue": lc.realized_pnl if lc else None},
        "fees": {"state": trade.fees, "journal": _d((journal_row or {}).get("fees")),
                 "journal fills": (journal_fills or {}).get("fees"), "venue": lc.fees if lc else None},
    }
    problems = []
    if journal_row is None:
        problems.append("no journal row")
    elif journal_row.get("status") != "closed":
        problems.append(f"journal says {journal_row.get('status')}")
    if lc is None:
        problems.append("no matching position on the venue")
    elif not lc.closed:
        problems.append("the venue's position is still open")
    for quantity, by_source in values.items():
        present = {src: v for src, v in by_source.items() if v is not None}
        missing = [src for src, v in by_source.items() if v is None]
        if missing and lc is not None:
            problems.append(f"{quantity} missing in {', '.join(missing)}")
        if len(set(present.values())) > 1:
            problems.append(f"{quantity} disagree: " + ", ".join(f"{s} {v}" for s, v in present.items()))
    return TradeCheck(trade.trade_id, trade.symbol, trade.side, trade.exit_reason,
                      {q: {s: (None if v is None else str(v)) for s, v in by.items()} for q, by in values.items()},
                      problems, trade.entry_time_ms, trade.exit_time_ms,
                      None if trade.entry_price is None else str(trade.entry_price),
                      None if trade.exit_price is None else str(trade.exit_price),
                      None if trade.entry_qty is None else str(trade.entry_qty),
                      None if trade.funding is None else str(trade.funding), trade.adopted)


@dataclass
class LedgerResult:
    checks: list[TradeCheck]
    problems: list[str]                                # venue facts no trade accounts for, and the like
    cycles: list[Lifecycle]

    @property
    def violations(self) -> int:
        return sum(1 for c in self.checks if not c.ok) + len(self.problems)


def reconcile_ledger(closed: Iterable[Trade], open_trades: Iterable[Trade],
                     journal_rows: Mapping[str, Mapping[str, Any]],
                     journal_fills: Mapping[str, Mapping[str, Decimal]],
                     cycles: list[Lifecycle], entry_ids: Mapping[str, int] | None = None) -> LedgerResult:
    """Every closed trade agrees everywhere; every venue lifecycle belongs to exactly one trade."""
    checks, problems, claimed = [], [], {}
    for trade in closed:
        lc = match(trade, cycles, entry_ids)
        if trade.exit_reason in NOT_FILLED and not trade.entry_qty:
            if lc is not None:
                problems.append(f"{trade.trade_id} was dropped as not filled, but the venue filled it")
            continue
        checks.append(check_trade(trade, journal_rows.get(trade.trade_id), journal_fills.get(trade.trade_id), lc))
        if lc is not None:
            if id(lc) in claimed:
                problems.append(f"{trade.trade_id} and {claimed[id(lc)]} claim the same venue position")
            claimed[id(lc)] = trade.trade_id
    known = {t.trade_id for t in closed}
    for trade in open_trades:
        known.add(trade.trade_id)
        lc = match(trade, cycles, entry_ids)
        if lc is not None:
            claimed[id(lc)] = trade.trade_id
            if lc.closed:
                problems.append(f"{trade.trade_id} is open in the state, but its position is closed on the venue")
        elif trade.entry_qty:
            problems.append(f"{trade.trade_id} is open in the state with a filled entry, but the venue never had "
                            "its position")
    # a row still 'pending' is an entry the bot meant to send when it was killed (journal first, then state):
    # an intent, not a trade; a real position behind it would show up below as a venue position of no trade
    # likewise an entry the bot dropped because it never filled (closed, `entry_not_filled`/`entry_unknown`,
    # no entry quantity: the bot journals it and takes it out of the state)
    problems += [f"{tid} is in the journal ({journal_rows[tid].get('status')}) but in neither the open nor the "
                 "closed trades of the state file" for tid in sorted(set(journal_rows) - known)
                 if journal_rows[tid].get("status") != "pending" and not _dropped_entry(journal_rows[tid])]
    for lc in cycles:
        if lc.flipped:
            problems.append(f"{lc.symbol} position flipped by one fill at {lc.open_time}")
        if id(lc) not in claimed:
            state = "closed" if lc.closed else "open"
            problems.append(f"{lc.symbol} {lc.side} position opened at {lc.open_time} ({state} on the venue) "
                            "belongs to no trade of the state file")
    return LedgerResult(checks, problems, cycles)


def over_limit(cycles: list[Lifecycle], max_global: int, max_per_symbol: int) -> list[str]:
    """Positions that opened while the global or per-symbol limit was already reached."""
    out = []
    for lc in cycles:
        others = [o for o in cycles if o is not lc and o.open_time <= lc.open_time
                  and (o.close_time is None or o.close_time > lc.open_time)]
        if len(others) + 1 > max_global:
            out.append(f"{lc.symbol} opened at {lc.open_time} as position {len(others) + 1} "
                       f"(ASTER_MAX_OPEN_GLOBAL={max_global})")
        same = sum(1 for o in others if o.symbol == lc.symbol)
        if same + 1 > max_per_symbol:
            out.append(f"{lc.symbol} opened at {lc.open_time} as position {same + 1} on the symbol "
                       f"(ASTER_MAX_OPEN_PER_SYMBOL={max_per_symbol})")
    return out


def over_notional(cycles: list[Lifecycle], cap: Decimal, tolerance: Decimal) -> list[str]:
    """Entries whose filled notional is above the cap (plus the allowed fill slippage)."""
    limit = cap * (1 + tolerance)
    return [f"{lc.symbol} entry at {lc.open_time}: {lc.first_order_notional:.4f} USDT > {limit:.4f}"
            for lc in cycles if lc.first_order_notional > limit]


def largest_entry(cycles: list[Lifecycle]) -> Decimal:
    """The largest notional any entry filled at (for the report: how close to the cap it came)."""
    return max((lc.first_order_notional for lc in cycles), default=ZERO)


def duplicate_entries(cycles: list[Lifecycle]) -> list[str]:
    """A position added to by more than one order: an entry sent twice."""
    return [f"{lc.symbol} position opened at {lc.open_time} was added to by {len(lc.opening_orders)} orders "
            f"({', '.join(map(str, lc.opening_orders))})" for lc in cycles if len(lc.opening_orders) > 1]


def _dropped_entry(row: Mapping[str, Any]) -> bool:
    return (row.get("status") == "closed" and row.get("exit_reason") in ("entry_not_filled", "entry_unknown")
            and not row.get("entry_qty"))
