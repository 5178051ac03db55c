"""Cache snapshot of one venue second -> one CSV row per table (pure functions, no I/O).

Derived columns, as the seed names them:
  spread = ask - bid; mid = (bid + ask) / 2; imbalance = (bid_qty - ask_qty) / (bid_qty + ask_qty);
  weighted_mid = (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)   (the micro-price);
  mark_index_bps = (mark - index) / index * 1e4;
  obi5 = (sum of 5 bid qtys - sum of 5 ask qtys) / (their total);
  aggTrade 1 s aggregates: trades with trade time in [ts - 1000, ts); buy = taker bought (m == false);
  date/hour/minute/second and ts_dt_utc ("YYYY-MM-DD HH:MM:SS.mmm", UTC) from ts_unix_ms.
A value that cannot be computed (no trades -> no vwap, zero quantities -> no imbalance) is empty (NULL).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from mraster.exchange.market_cache import SymbolSnapshot, TradeSecond
from mraster.marketdata.schema import (
    AGG_TRADE_1S,
    BOOK_TICKER,
    DEPTH5,
    KLINE,
    MARK_PRICE,
)


def fmt(v: Any) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        return f"{v:.12g}" if v == v else ""      # 12 significant digits: no float noise in derived columns
    return str(v)


def time_columns(ts_ms: int) -> tuple[str, str, int, int, int]:
    """(ts_dt_utc, date, hour, minute, second) of a venue time in ms."""
    d = datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc)
    return (f"{d:%Y-%m-%d %H:%M:%S}.{ts_ms % 1000:03d}", f"{d:%Y-%m-%d}", d.hour, d.minute, d.second)


def day_of(ts_ms: int) -> str:
    """YYYYMMDD (UTC) of a venue time: the CSV file a row belongs to."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y%m%d")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def kline_values(snap: SymbolSnapshot) -> list | None:
    k = snap.latest_kline_1m
    if k is None:
        return None
    return [k.open_time, k.close_time, k.open, k.high, k.low, k.close, k.volume, k.quote_volume, k.trades,
            bool(k.closed)]


def book_values(snap: SymbolSnapshot) -> list | None:
    b = snap.latest_bbo
    if b is None:
        return None
    bid, ask, bq, aq = b.bid_price, b.ask_price, b.bid_qty, b.ask_qty
    total = bq + aq
    weighted = (bid * aq + ask * bq) / total if total > 0 else None
    return [bid, bq, ask, aq, ask - bid, (bid + ask) / 2.0, _ratio(bq - aq, total), weighted]


def mark_values(snap: SymbolSnapshot) -> list | None:
    m = snap.latest_funding
    if m is None:
        return None
    bps = (m.mark_price - m.index_price) / m.index_price * 1e4 if m.index_price > 0 else None
    return [m.mark_price, m.index_price, m.funding_rate, m.next_funding_time, bps]


def trade_values(t: TradeSecond) -> list:
    return [t.n, t.qty, t.vwap, t.buy_qty, t.sell_qty, t.buy_notional, t.sell_notional]


def depth_values(snap: SymbolSnapshot) -> list | None:
    d = snap.latest_l2
    if d is None:
        return None
    bids = list(d.bids[:5]) + [(None, None)] * (5 - min(5, len(d.bids)))
    asks = list(d.asks[:5]) + [(None, None)] * (5 - min(5, len(d.asks)))
    bq = sum(q for _, q in bids if q is not None)
    aq = sum(q for _, q in asks if q is not None)
    return ([p for p, _ in bids] + [q for _, q in bids] + [p for p, _ in asks] + [q for _, q in asks]
            + [_ratio(bq - aq, bq + aq)])


def snapshot_lines(ts_ms: int, snap: SymbolSnapshot, trades: TradeSecond) -> dict[str, str]:
    """table name -> CSV line (with newline) for one symbol at venue second `ts_ms`. A table whose stream
    has not delivered anything yet has no line (never a made-up row); agg_trade_1s always has one."""
    dt, date, hour, minute, second = time_columns(ts_ms)
    head = f"{ts_ms},{dt},{snap.symbol},"
    tail = f",{date},{hour},{minute},{second}\n"
    out: dict[str, str] = {}
    for table, values in ((KLINE, kline_values(snap)), (BOOK_TICKER, book_values(snap)),
                          (MARK_PRICE, mark_values(snap)), (AGG_TRADE_1S, trade_values(trades)),
                          (DEPTH5, depth_values(snap))):
        if values is not None:
            out[table.name] = head + ",".join(fmt(v) for v in values) + tail
    return out
