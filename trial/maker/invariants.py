"""The maker trial's invariants (issue 19), measured from the venue's side only (pure: snapshots in).

A snapshot is what the paper exchange's admin state says about accounts B and C at one venue time:
positions and open orders. The rules are re-stated here, not imported from the maker package (the
trial judges the engine; it does not share its code):

- exposure: |B + C| above the cap (max(ratio x (|B| + |C|), one maker step)) never lasts longer than
  one decision interval plus the taker's round trip;
- expiry: no maker order (client id `<instance>:<B|C>.mk.*`) rests beyond its expiry plus one second;
- silence: while the coordinator cannot reach an executor (killed, or the network between them cut),
  from the executor's timeout (+1 s) on, that executor has no open order and places none;
- limits: no fill that grows a position leaves it above its maximum (notional at the fill price, 1 %
  tolerance for a taker's slippage against the mark the executor judged by);
- emergency stop: both accounts flat with no open order within `stop_limit_s`;
- statistics: the maker's own statistics equal a recomputation from the venue's trades.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

ZERO = Decimal(0)


@dataclass(frozen=True)
class Snapshot:
    venue_ms: int
    positions: dict[str, Decimal]                      # server -> signed amount
    orders: dict[str, list[dict[str, Any]]]            # server -> open orders (venue JSON)


@dataclass
class Episode:
    start_ms: int
    end_ms: int | None = None
    detail: str = ""

    def length_s(self, now_ms: int) -> float:
        return ((self.end_ms if self.end_ms is not None else now_ms) - self.start_ms) / 1000.0


def cap(positions: dict[str, Decimal], ratio: Decimal, step: Decimal) -> Decimal:
    gross = sum((abs(p) for p in positions.values()), ZERO)
    return max(ratio * gross, step)


class ExposureTracker:
    def __init__(self, ratio: Decimal, step: Decimal, limit_s: float):
        self.ratio, self.step, self.limit_s = ratio, step, limit_s
        self.episodes: list[Episode] = []
        self._open: Episode | None = None
        self.last_ms = 0

    def observe(self, snap: Snapshot) -> None:
        self.last_ms = snap.venue_ms
        net = sum(snap.positions.values(), ZERO)
        over = abs(net) > cap(snap.positions, self.ratio, self.step)
        if over and self._open is None:
            self._open = Episode(snap.venue_ms, detail=f"net {net} with B {snap.positions.get('B')} "
                                                       f"C {snap.positions.get('C')}")
            self.episodes.append(self._open)
        elif not over and self._open is not None:
            self._open.end_ms = snap.venue_ms
            self._open = None

    def charged_s(self, ep: Episode, paused: Iterable[tuple[int, int]]) -> float:
        """The episode's length minus its time inside the `paused` windows."""
        end = ep.end_ms if ep.end_ms is not None else self.last_ms
        off = sum(max(0, min(end, b) - max(ep.start_ms, a)) for a, b in paused)
        return max(0, end - ep.start_ms - off) / 1000.0

    def violations(self, blind: Iterable[tuple[int, int]] = ()) -> list[str]:
        """Episodes whose charged length (time outside `blind` windows, when the coordinator is down, an
        executor is down, or the network to one is cut: no one can see or trade that leg) exceeds the limit.
        A window ends when the leg is visible again, so the limit applies from then on."""
        windows = list(blind)
        out = []
        for ep in self.episodes:
            length = self.charged_s(ep, windows)
            if length > self.limit_s:
                out.append(f"{ep.detail} from venue ms {ep.start_ms}: over the cap for {length:.2f} s "
                           f"(limit {self.limit_s:.2f} s)")
        return out

    def blind_episodes(self, blind: Iterable[tuple[int, int]]) -> list[str]:
        """Episodes that overlap a blind window, with their whole length (reported, not judged)."""
        windows = list(blind)
        out = []
        for ep in self.episodes:
            end = ep.end_ms if ep.end_ms is not None else self.last_ms
            if any(a <= end and ep.start_ms <= b for a, b in windows):
                out.append(f"{ep.detail}: {ep.length_s(self.last_ms):.2f} s in all, "
                           f"{self.charged_s(ep, windows):.2f} s outside the window")
        return out

    def longest_s(self) -> float:
        return max((ep.length_s(self.last_ms) for ep in self.episodes), default=0.0)


def is_maker_id(instance: str, cid: str) -> bool:
    body = cid.split(":", 1)[1] if cid.startswith(f"{instance}:") else ""
    return body[:5] in ("B.mk.", "C.mk.")


class ExpiryTracker:
    """Oldest age of every maker order seen open; a violation when one rests beyond expiry + 1 s. An order
    whose executor was killed while it rested cannot be cancelled by it: the venue's dead-man switch
    (`countdown_s` after the executor's last refresh) or the restarted executor must; its limit is then
    the kill time + countdown + 1 s, if that is later."""

    def __init__(self, instance: str, expire_s: float, countdown_s: float = 0.0):
        self.instance, self.limit_s, self.countdown_s = instance, expire_s + 1.0, countdown_s
        self.ages: dict[str, float] = {}
        self.placed: dict[str, tuple[str, int]] = {}      # cid -> (server, venue time placed)
        self.kills: list[tuple[str, int]] = []

    def killed(self, server: str, at_ms: int) -> None:
        self.kills.append((server, at_ms))

    def observe(self, snap: Snapshot) -> None:
        for server, orders in snap.orders.items():
            for o in orders:
                cid = str(o.get("clientOrderId", ""))
                if is_maker_id(self.instance, cid):
                    age = (snap.venue_ms - int(o["time"])) / 1000.0
                    self.ages[cid] = max(age, self.ages.get(cid, 0.0))
                    self.placed[cid] = (server, int(o["time"]))

    def limit_of(self, cid: str) -> float:
        server, placed = self.placed[cid]
        end = placed + int(self.ages[cid] * 1000)
        limit = self.limit_s
        for s, at in self.kills:
            if s == server and placed <= at <= end:
                limit = max(limit, (at - placed) / 1000.0 + self.countdown_s + 1.0)
        return limit

    def violations(self) -> list[str]:
        return [f"{cid} rested {age:.2f} s (limit {self.limit_of(cid):.2f} s)"
                for cid, age in sorted(self.ages.items()) if age > self.limit_of(cid)]

    def oldest_s(self) -> float:
        return max(self.ages.values(), default=0.0)


@dataclass
class SilenceWindow:
    server: str
    start_ms: int            # the coordinator stopped reaching this executor
    end_ms: int | None = None
    why: str = ""


class SilenceTracker:
    """While a window is open, after start + timeout + 1 s: no open order, no order created."""

    def __init__(self, timeout_s: float):
        self.grace_ms = int((timeout_s + 1.0) * 1000)
        self.windows: list[SilenceWindow] = []
        self.problems: list[str] = []
        self.checked = 0

    def open(self, server: str, at_ms: int, why: str) -> None:
        self.windows.append(SilenceWindow(server, at_ms, None, why))

    def close(self, server: str, at_ms: int) -> None:
        for w in self.windows:
            if w.server == server and w.end_ms is None:
                w.end_ms = at_ms

    def observe(self, snap: Snapshot) -> None:
        for w in self.windows:
            quiet_from = w.start_ms + self.grace_ms
            if snap.venue_ms < quiet_from or (w.end_ms is not None and snap.venue_ms > w.end_ms):
                continue
            self.checked += 1
            for o in snap.orders.get(w.server, []):
                created = int(o["time"])
                what = "placed" if created >= quiet_from else "still open"
                self.problems.append(f"{w.server} ({w.why}): order {o.get('clientOrderId')} {what} "
                                     f"{(snap.venue_ms - w.start_ms) / 1000:.1f} s into the silence")

    def violations(self) -> list[str]:
        return sorted(set(self.problems))


def limit_violations(server: str, trades: Iterable[Any], max_usd: Decimal, tolerance: Decimal = Decimal("0.01")
                     ) -> list[str]:
    """Replay the account's fills in order: every fill that grows |position| must leave it within the max."""
    pos, out = ZERO, []
    for t in sorted(trades, key=lambda t: (t.time, t.id)):
        before = pos
        pos += t.qty if t.side.value == "BUY" else -t.qty
        if abs(pos) > abs(before) and abs(pos) * t.price > max_usd * (1 + tolerance):
            out.append(f"{server}: fill {t.id} took the position to {pos} (${abs(pos) * t.price:.2f}) over "
                       f"${max_usd}")
    return out


@dataclass
class Recount:
    volume: Decimal = ZERO
    maker_volume: Decimal = ZERO
    fees: Decimal = ZERO
    pnl: Decimal = ZERO
    fills: int = 0
    placed_makers: set[str] = field(default_factory=set)


def recount(trades: Iterable[Any], funding: Decimal, journal: Iterable[dict[str, Any]], since_ms: int) -> Recount:
    """The trial's own sums from the venue's trades (and the placed maker ids of the journal)."""
    r = Recount()
    for t in trades:
        if t.time < since_ms:
            continue
        r.fills += 1
        r.volume += t.price * t.qty
        if t.maker:
            r.maker_volume += t.price * t.qty
        r.fees += t.commission
        r.pnl += t.realized_pnl - t.commission
    r.pnl += funding
    r.placed_makers = {str(x["cid"]) for x in journal if x.get("ev") == "placed" and x.get("kind") == "maker"
                       and int(x.get("t", 0)) >= since_ms}
    return r


def stats_differences(server: str, stats: dict[str, Any], r: Recount) -> list[str]:
    out = []
    pairs = [("volume", Decimal(str(stats["volume"])), r.volume), ("maker_volume", Decimal(str(stats["maker_volume"])),
             r.maker_volume), ("fees", Decimal(str(stats["fees"])), r.fees), ("pnl", Decimal(str(stats["pnl"])), r.pnl),
             ("fills", Decimal(stats["fills"]), Decimal(r.fills)),
             ("maker_orders", Decimal(stats["maker_orders"]), Decimal(len(r.placed_makers)))]
    for name, got, want in pairs:
        if got != want:
            out.append(f"{server}: statistics {name} {got} != recomputed {want}")
    return out
