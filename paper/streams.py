"""WebSocket streams as the venue serves them (reference sections 9-10).

Connections: `/ws/<stream>` (raw), `/stream?streams=a/b` (combined: `{"stream", "data"}`), and bare
`/ws` or `/stream` followed by SUBSCRIBE messages. A listenKey is a stream name too: it carries that
account's ORDER_TRADE_UPDATE / ACCOUNT_UPDATE / ACCOUNT_CONFIG_UPDATE events. Each connection has
its own send queue, so a slow client never holds up the others (it is dropped when it falls far
behind, as the venue does).
"""
from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from mraster.logs import get_logger
from mraster.aio import cancel_and_wait
from paper.engine.errors import VenueError
from paper.engine.model import AccountEvent, AlgoEvent, ConfigEvent, MarginCallEvent, OrderEvent
from paper.feeds.klines import INTERVAL_MS, bar_open
from paper.wire import (
    account_update_json, algo_update_json, config_update_json, force_order_json, margin_call_json, order_update_json,
)

if TYPE_CHECKING:
    from paper.market_data import MarketData
    from paper.venue import Venue

log = get_logger("paper.streams")
LISTEN_KEY_TTL_S = 3600
QUEUE_MAX = 2000
MAX_STREAMS = 200
_PERIOD_S = {"kline": 0.25, "depth": 0.25, "markPrice": 3.0, "markPrice1s": 1.0, "ticker": 1.0, "miniTicker": 1.0,
             "bookTicker": 0.0, "aggTrade": 0.1}


class ListenKeys:
    """One active listenKey per account, valid 60 minutes (wall clock) after creation or keepalive."""

    def __init__(self) -> None:
        self.by_key: dict[str, tuple[str, float]] = {}
        self.by_account: dict[str, str] = {}

    def create(self, account: str, now_s: float) -> str:
        key = self.by_account.get(account)
        if key is None or key not in self.by_key:
            key = secrets.token_hex(32)
            self.by_account[account] = key
        self.by_key[key] = (account, now_s + LISTEN_KEY_TTL_S)
        return key

    def keepalive(self, account: str, key: str | None, now_s: float) -> None:
        key = key or self.by_account.get(account)
        entry = self.by_key.get(key or "")
        if entry is None or entry[0] != account:
            raise VenueError(-1125, "This listenKey does not exist.")
        self.by_key[key] = (account, now_s + LISTEN_KEY_TTL_S)

    def delete(self, account: str, key: str | None) -> None:
        key = key or self.by_account.get(account)
        entry = self.by_key.get(key or "")
        if entry is None or entry[0] != account:
            raise VenueError(-1125, "This listenKey does not exist.")
        del self.by_key[key]
        self.by_account.pop(account, None)

    def account_of(self, key: str) -> str | None:
        entry = self.by_key.get(key)
        return entry[0] if entry else None

    def expire(self, now_s: float) -> list[str]:
        gone = [k for k, (_, until) in self.by_key.items() if until <= now_s]
        for k in gone:
            account = self.by_key.pop(k)[0]
            if self.by_account.get(account) == k:
                del self.by_account[account]
        return gone


@dataclass(eq=False)
class Conn:
    ws: WebSocket
    combined: bool
    streams: set[str] = field(default_factory=set)
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    closed: bool = False

    def push(self, text: str) -> bool:
        if self.closed:
            return False
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            self.closed = True          # far behind: drop it, as the venue does with slow consumers
            return False


class StreamHub:
    def __init__(self, venue: "Venue", data: "MarketData"):
        self.v, self.data = venue, data
        self.keys = ListenKeys()
        self.conns: set[Conn] = set()
        self.by_stream: dict[str, set[Conn]] = {}
        self._last_sent: dict[str, float] = {}
        self._kline_open: dict[str, int] = {}
        self._agg_until: dict[str, int] = {}
        self._depth_u: dict[str, int] = {}
        self._depth_book: dict[str, tuple[dict, dict]] = {}     # last levels sent on each diff-depth stream
        self._book_u: dict[str, int] = {}
        self._mark_second: dict[str, int] = {}              # markPrice@1s: last venue second sent
        self._ws_epoch = venue.faults.ws_disconnect_epoch
        venue.subscribers.append(self.on_outbox)
        venue.market_listeners.append(self.on_market)

    # ------------------------------------------------------------------ connections
    async def serve(self, ws: WebSocket) -> None:
        path = ws.scope["path"].rstrip("/")
        if path.startswith("/ws/"):
            names, combined = [n for n in path[4:].split("/") if n], False
        elif path == "/ws":
            names, combined = [], False
        elif path == "/stream":
            raw = ws.query_params.get("streams", "")
            names, combined = [n for n in raw.split("/") if n], True
        else:
            await ws.close(code=1008)
            return
        await ws.accept()
        conn = Conn(ws, combined)
        self.conns.add(conn)
        for name in names[:MAX_STREAMS]:
            self._subscribe(conn, name)
        writer = asyncio.create_task(self._writer(conn))
        try:
            while not conn.closed:
                try:
                    text = await ws.receive_text()
                except WebSocketDisconnect:
                    break
                except KeyError:            # a binary frame
                    continue
                self._control(conn, text)
        except Exception:                   # connection dropped mid-read
            pass
        finally:
            conn.closed = True
            self._forget(conn)
            await cancel_and_wait(writer)

    async def _writer(self, conn: Conn) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if text is None:
                    break
                await conn.ws.send_text(text)
        except asyncio.CancelledError:
            raise
        except Exception:
            pass
        finally:
            conn.closed = True
            try:
                await conn.ws.close(code=1001, reason="going away")
            except Exception:
                pass

    def _forget(self, conn: Conn) -> None:
        self.conns.discard(conn)
        for name in list(conn.streams):
            subs = self.by_stream.get(name)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self.by_stream[name]

    def _subscribe(self, conn: Conn, name: str) -> None:
        if len(conn.streams) >= MAX_STREAMS:
            return
        conn.streams.add(name)
        self.by_stream.setdefault(name, set()).add(conn)

    def _unsubscribe(self, conn: Conn, name: str) -> None:
        conn.streams.discard(name)
        subs = self.by_stream.get(name)
        if subs:
            subs.discard(conn)
            if not subs:
                del self.by_stream[name]

    def _control(self, conn: Conn, text: str) -> None:
        """SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY."""
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.push('{"code":3,"msg":"Invalid JSON"}')
            return
        if not isinstance(msg, dict):
            conn.push('{"code":2,"msg":"Invalid request"}')
            return
        mid, method, params = msg.get("id"), msg.get("method"), msg.get("params", [])
        if not isinstance(mid, int) or isinstance(mid, bool) or mid < 0 or not isinstance(params, list):
            conn.push(orjson.dumps({"code": 2, "msg": "Invalid request: 'id' must be an unsigned integer",
                                    "id": mid}).decode())
            return
        if method == "SUBSCRIBE":
            for name in params:
                if isinstance(name, str):
                    self._subscribe(conn, name)
            conn.push(orjson.dumps({"result": None, "id": mid}).decode())
        elif method == "UNSUBSCRIBE":
            for name in params:
                if isinstance(name, str):
                    self._unsubscribe(conn, name)
            conn.push(orjson.dumps({"result": None, "id": mid}).decode())
        elif method == "LIST_SUBSCRIPTIONS":
            conn.push(orjson.dumps({"result": sorted(conn.streams), "id": mid}).decode())
        elif method == "SET_PROPERTY":
            if len(params) != 2 or params[0] != "combined":
                conn.push(orjson.dumps({"code": 0, "msg": "Unknown property", "id": mid}).decode())
            elif not isinstance(params[1], bool):
                conn.push(orjson.dumps({"code": 1, "msg": "Invalid value type: expected Boolean", "id": mid}).decode())
            else:
                conn.combined = params[1]
                conn.push(orjson.dumps({"result": None, "id": mid}).decode())
        elif method == "GET_PROPERTY":
            if params != ["combined"]:
                conn.push(orjson.dumps({"code": 0, "msg": "Unknown property", "id": mid}).decode())
            else:
                conn.push(orjson.dumps({"result": conn.combined, "id": mid}).decode())
        else:
            conn.push(orjson.dumps({"code": 2, "msg": "Invalid request: unknown method", "id": mid}).decode())

    def drop_all(self) -> int:
        """Fault injection: drop every WebSocket now."""
        conns = list(self.conns)
        for conn in conns:
            self._drop(conn)
        return len(conns)

    @staticmethod
    def _drop(conn: Conn) -> None:
        """Close a connection: what is queued is discarded and the writer closes the socket."""
        conn.closed = True
        while not conn.queue.empty():
            conn.queue.get_nowait()
        conn.queue.put_nowait(None)

    # ------------------------------------------------------------------ publishing
    def _send(self, name: str, payload: Any) -> None:
        subs = self.by_stream.get(name)
        if not subs:
            return
        raw = wrapped = None
        for conn in list(subs):
            if conn.combined:
                if wrapped is None:
                    wrapped = orjson.dumps({"stream": name, "data": payload}).decode()
                ok = conn.push(wrapped)
            else:
                if raw is None:
                    raw = orjson.dumps(payload).decode()
                ok = conn.push(raw)
            if not ok:
                self._drop(conn)

    def on_outbox(self, out: Any) -> None:
        """User-data events of one commit, to the listenKeys of their accounts."""
        f = self.v.formats
        mixing = self.v.algo_mixing          # binance-usdm test switch: Binance's unreliable event order
        held: list[tuple[str, Any]] = []
        for event in out.events:
            key = self.keys.by_account.get(event.account)
            if key is None or key not in self.by_stream:
                continue
            if isinstance(event, OrderEvent):
                payload = order_update_json(event, f)
            elif isinstance(event, AccountEvent):
                payload = account_update_json(event, f)
            elif isinstance(event, ConfigEvent):
                payload = config_update_json(event)
            elif isinstance(event, MarginCallEvent):
                payload = margin_call_json(event, f)
            elif isinstance(event, AlgoEvent):
                if mixing is not None and mixing.drop_triggered and event.order.algo_status == "TRIGGERED":
                    continue
                payload = algo_update_json(event.order, event.time, f)
            else:
                continue
            if mixing is not None and mixing.shuffle:
                held.append((key, payload))
            else:
                self._send(key, payload)
        if held:
            mixing.rng.shuffle(held)
            for key, payload in held:
                self._send(key, payload)
        for order in out.liquidations:
            payload = force_order_json(order, f)
            wanted = f"{order.symbol.lower()}@forceorder"
            for name in [n for n in self.by_stream if n.lower() == wanted or n == "!forceOrder@arr"]:
                self._send(name, payload)

    def on_market(self, now: int) -> None:
        """Called after every market step: faults, listenKey expiry, then the subscribed market streams."""
        if self.v.faults.ws_disconnect_epoch != self._ws_epoch:
            self._ws_epoch = self.v.faults.ws_disconnect_epoch
            self.drop_all()
        wall = time.time()
        for key in self.keys.expire(wall):
            self._send(key, {"e": "listenKeyExpired", "E": now, "listenKey": key})
        if not self.by_stream:
            return
        for name in list(self.by_stream):
            try:
                self._market_stream(name, now, wall)
            except VenueError:
                continue
            except Exception:
                log.exception("paper.stream_failed", f"stream {name} failed", stream=name)

    def _due(self, name: str, kind: str, wall: float) -> bool:
        period = _PERIOD_S.get(kind, 1.0)
        last = self._last_sent.get(name, 0.0)
        if wall - last >= period:
            self._last_sent[name] = wall
            return True
        return False

    def _mark_due(self, name: str, every_second: bool, now: int, wall: float) -> bool:
        """markPrice@1s: once per venue second, on the second (as the venue); plain markPrice: every 3 s."""
        if not every_second:
            return self._due(name, "markPrice", wall)
        second = now // 1000
        if self._mark_second.get(name) == second:
            return False
        self._mark_second[name] = second
        return True

    def _market_stream(self, name: str, now: int, wall: float) -> None:
        if self.keys.account_of(name) is not None:
            return
        d, v = self.data, self.v
        if name.startswith("!"):
            base = name[1:].split("@")
            kind = base[0]
            symbols = list(v.specs)
            if kind == "markPrice":
                speed1 = name.endswith("@1s")
                if self._mark_due(name, speed1, now, wall):
                    self._send(name, [self._mark_event(s, now) for s in symbols])
            elif kind == "bookTicker":
                for s in symbols:
                    self._book_ticker(s, name, now)
            elif kind in ("miniTicker", "ticker"):
                if self._due(name, kind, wall):
                    fn = d.mini_ticker if kind == "miniTicker" else d.ticker_event
                    self._send(name, [fn(s) for s in symbols])
            return
        symbol_l, _, rest_raw = name.partition("@")
        symbol = symbol_l.upper()
        if symbol not in v.specs:
            return
        rest = rest_raw.lower()
        if rest.startswith("kline_"):
            interval = rest_raw[6:]
            if interval not in INTERVAL_MS:
                return
            open_t = bar_open(now, interval)
            prev = self._kline_open.get(name)
            if prev is not None and prev != open_t:
                closed = d.kline_payload(symbol, interval, prev, closed=True)
                if closed is not None:
                    self._send(name, closed)
                self._last_sent[name] = 0.0
            self._kline_open[name] = open_t
            if self._due(name, "kline", wall):
                payload = d.kline_payload(symbol, interval, open_t, closed=False)
                if payload is not None:
                    self._send(name, payload)
        elif rest == "bookticker":
            self._book_ticker(symbol, name, now)
        elif rest.startswith("markprice"):
            if self._mark_due(name, rest.endswith("@1s"), now, wall):
                self._send(name, self._mark_event(symbol, now))
        elif rest == "aggtrade":
            self._agg_trades(symbol, name, now)
        elif rest.startswith("depth"):
            self._depth(symbol, name, rest, now, wall)
        elif rest == "miniticker" and self._due(name, "miniTicker", wall):
            self._send(name, d.mini_ticker(symbol))
        elif rest == "ticker" and self._due(name, "ticker", wall):
            self._send(name, d.ticker_event(symbol))

    def _mark_event(self, symbol: str, now: int) -> dict[str, Any]:
        p = self.data.premium_index(symbol)
        return {"e": "markPriceUpdate", "E": now, "s": symbol, "p": p["markPrice"], "i": p["indexPrice"],
                "P": p["estimatedSettlePrice"], "r": p["lastFundingRate"], "T": p["nextFundingTime"]}

    def _book_ticker(self, symbol: str, name: str, now: int) -> None:
        u = self.v.seq.get(symbol, 0)
        key = f"{name}|{symbol}"
        if self._book_u.get(key) == u:
            return
        self._book_u[key] = u
        b = self.data.book_ticker(symbol)
        self._send(name, {"e": "bookTicker", "u": u, "E": now, "T": b["time"], "s": symbol, "b": b["bidPrice"],
                          "B": b["bidQty"], "a": b["askPrice"], "A": b["askQty"]})

    def _agg_trades(self, symbol: str, name: str, now: int) -> None:
        since = self._agg_until.get(name)
        self._agg_until[name] = now + 1
        if since is None or now + 1 <= since:
            return
        start = max(since, now - 60_000)
        tt, qp = self.v.tick_text[symbol], self.v.formats.qp[symbol]
        for t in self.v.feed.agg_trades(symbol, start, now + 1)[-100:]:
            self._send(name, {"e": "aggTrade", "E": now, "s": symbol, "a": t.agg_id, "p": tt(t.price_t),
                              "q": f"{t.qty:.{qp}f}", "f": t.first_id, "l": t.last_id, "T": t.time,
                              "m": t.buyer_is_maker})

    def _depth(self, symbol: str, name: str, rest: str, now: int, wall: float) -> None:
        parts = rest.split("@")
        head = parts[0][5:]                 # "" (diff stream) or "5" / "10" / "20"
        period = 0.1 if "100ms" in parts else 0.5 if "500ms" in parts else 0.25
        last = self._last_sent.get(name, 0.0)
        if wall - last < period:
            return
        self._last_sent[name] = wall
        levels = int(head) if head in ("5", "10", "20") else 20
        snap = self.data.depth(symbol, levels if levels in (5, 10, 20) else 20)
        u = self.v.seq.get(symbol, 0)
        pu = self._depth_u.get(name, u)
        if pu == u and name in self._depth_u and not head:
            return                          # diff streams skip quiet periods; partial books are pushed each period
        self._depth_u[name] = u
        bids, asks = snap["bids"], snap["asks"]
        if not head:                        # diff stream: changed levels, and 0 for the levels that left
            prev = self._depth_book.get(name, ({}, {}))
            now_b, now_a = dict(map(tuple, bids)), dict(map(tuple, asks))
            bids = [[p, q] for p, q in now_b.items() if prev[0].get(p) != q] + \
                   [[p, "0"] for p in prev[0] if p not in now_b]
            asks = [[p, q] for p, q in now_a.items() if prev[1].get(p) != q] + \
                   [[p, "0"] for p in prev[1] if p not in now_a]
            self._depth_book[name] = (now_b, now_a)
        self._send(name, {"e": "depthUpdate", "E": now, "T": snap["T"], "s": symbol, "U": pu + 1 if pu < u else u,
                          "u": u, "pu": pu, "b": bids, "a": asks})
