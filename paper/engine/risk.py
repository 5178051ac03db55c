"""Watching positions for liquidation without recomputing accounts on every tick.

An exact check (margin.account_view, Decimal) gives each account its margin headrooms - cross margin
balance minus cross maintenance, and the same per isolated position - and the coefficient of each
symbol's mark in them: headroom(marks) = headroom_0 + sum_s k_s x move_s, k = amount - |amount| x mmr
(exact while no bracket changes). From these, each held symbol gets a safe band around its mark, sized
so that even if every symbol of the account moved to the edge of its band at once, no headroom would
reach zero:  band_s = headroom / (symbols x |k_s|), and never more than 1 % of the price (so a bracket
change is caught by a fresh exact check). A market keeps the intersection of its holders' bands: a tick
or a bar inside it costs two comparisons. Only a move out of the band re-examines the holders, and only
the exact Decimal check ever decides a liquidation. Any change to an account (fill, funding, balance,
leverage, margin type) drops its cached figures.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from paper.engine.margin import account_view, cross_breach, isolated_breach
from paper.engine.model import EAccount, MarginCallEvent

if TYPE_CHECKING:
    from paper.engine.engine import Engine
    from paper.engine.market import MarketState

RECHECK_SHARE = 0.25     # re-examine exactly when a headroom falls below this share of its maintenance margin
MARGIN_CALL_RATIO = 0.8  # maintenance margin / margin balance at which the venue sends a MARGIN_CALL
DRIFT = 0.01             # ... and whenever a mark has moved this far since the exact check


class AccountRisk:
    __slots__ = ("version", "cross", "cross_maint", "cross_k", "iso", "base_marks", "bands")

    def __init__(self, version: int):
        self.version = version
        self.cross = float("inf")           # cross margin balance - cross maintenance margin, at the check
        self.cross_maint = 0.0
        self.cross_k: dict[str, float] = {}
        self.iso: dict[str, list[tuple[float, float, float]]] = {}   # symbol -> (headroom, maint, k) per leg
        self.base_marks: dict[str, int] = {}
        self.bands: dict[str, tuple[float, float]] = {}              # symbol -> safe mark range (ticks)


class RiskWatchMixin:
    def _changed(self: "Engine", acct: EAccount) -> None:
        """Something about the account changed: persist it and drop its cached margin figures."""
        acct.version += 1
        self.dirty_accounts.add(acct.key)
        r = self.risk.pop(acct.key, None)
        for symbol in (r.base_marks if r is not None else ()):
            self.markets[symbol].safe = None

    def _liquidation_due(self: "Engine", m: "MarketState", lo: int, hi: int) -> bool:
        """Could a mark anywhere in [lo, hi] endanger a holder? (Conservative; O(1) when banded.)"""
        if m.safe is None:
            m.safe = self._safe_band(m)
            if m.safe is None:
                return True
        return lo < m.safe[0] or hi > m.safe[1]

    def _safe_band(self: "Engine", m: "MarketState") -> tuple[float, float] | None:
        symbol = m.spec.symbol
        lo, hi = float("-inf"), float("inf")
        for key in m.holders:
            r = self.risk.get(key)
            band = r.bands.get(symbol) if r is not None else None
            if band is None or r.version != self.accounts[key].version:
                return None
            lo, hi = max(lo, band[0]), min(hi, band[1])
        return lo, hi

    def _check_liquidation(self: "Engine", m: "MarketState", now: int) -> None:
        """The mark of a held symbol left its safe band: re-examine the holders."""
        for key in list(m.holders):
            acct = self.accounts.get(key)
            if acct is None:
                continue
            r = self.risk.get(key)
            if r is None or r.version != acct.version or not self._refresh(r):
                self._exact_check(acct, now)
        m.safe = self._safe_band(m)

    def _refresh(self: "Engine", r: AccountRisk) -> bool:
        """New bands from the cached figures at today's marks; False when an exact check is needed."""
        cross = r.cross
        moves = {}
        for symbol, base in r.base_marks.items():
            mark = self.markets[symbol].mark_t
            if abs(mark - base) > DRIFT * base:
                return False
            moves[symbol] = (mark - base) * self.markets[symbol].tick_f
            cross += r.cross_k.get(symbol, 0.0) * moves[symbol]
        cross_room = cross - RECHECK_SHARE * r.cross_maint
        if r.cross_k and cross_room <= 0:
            return False
        n = max(1, len(r.cross_k))
        for symbol, base in r.base_marks.items():
            m = self.markets[symbol]
            width = DRIFT * base - abs(m.mark_t - base)
            k = r.cross_k.get(symbol)
            if k:
                width = min(width, cross_room / (n * abs(k)) / m.tick_f)
            for headroom, maint, k_iso in r.iso.get(symbol, ()):
                room = headroom + k_iso * moves[symbol] - RECHECK_SHARE * maint
                if room <= 0:
                    return False
                if k_iso:
                    width = min(width, room / abs(k_iso) / m.tick_f)
            r.bands[symbol] = (m.mark_t - width, m.mark_t + width)
            m.safe = None
        return True

    def _exact_check(self: "Engine", acct: EAccount, now: int) -> None:
        """The Decimal margin check (liquidates on a breach) and fresh figures for the fast path."""
        view = account_view(acct, self.specs, self._judging_marks(acct), with_orders=False)
        doomed = [r.pos for r in view.positions if isolated_breach(r)]
        if cross_breach(view):
            doomed += [r.pos for r in view.positions if not r.isolated]
        if doomed:
            self._liquidate(acct, doomed, now)
            self.risk.pop(acct.key, None)
            self.margin_called.discard(acct.key)
            return
        self._margin_call(acct, view, now)
        risk = AccountRisk(acct.version)
        risk.cross = float(view.cross_wallet + view.cross_unrealized - view.cross_maint)
        risk.cross_maint = float(view.cross_maint)
        for r in view.positions:
            symbol = r.pos.symbol
            amount = float(r.pos.amount)
            k = amount - abs(amount) * float(self.specs[symbol].bracket(abs(r.notional)).mmr)
            risk.base_marks[symbol] = self.markets[symbol].mark_t
            if r.isolated:
                headroom = float(r.pos.isolated_wallet + r.unrealized - r.maint)
                risk.iso.setdefault(symbol, []).append((headroom, float(r.maint), k))
            else:
                risk.cross_k[symbol] = risk.cross_k.get(symbol, 0.0) + k
        self.risk[acct.key] = risk
        if not self._refresh(risk):           # right at the edge: no band, every move is re-examined
            for symbol in risk.base_marks:
                risk.bands[symbol] = (self.markets[symbol].mark_t, self.markets[symbol].mark_t)
                self.markets[symbol].safe = None

    def _judging_marks(self: "Engine", acct: EAccount) -> Callable[[str], Decimal]:
        """The marks an account is judged by. A held symbol with no price yet (its first quote after a
        restart with no saved mark has not come) counts at the position's entry price: a missing mark is not
        a mark of 0, and the account's priced positions are still judged. Its band stays empty, so its first
        quote brings a fresh exact check at the real price."""
        unpriced = {p.symbol: p.entry_price for p in acct.positions.values()
                    if p.amount != 0 and self.markets[p.symbol].mark_t <= 0}
        if not unpriced:
            return self._mark_of
        return lambda symbol: unpriced[symbol] if symbol in unpriced else self._mark_of(symbol)

    def _margin_call(self: "Engine", acct: EAccount, view, now: int) -> None:
        """MARGIN_CALL once when the margin ratio enters the warning zone (again after it left it)."""
        balance = view.margin_balance
        ratio = float(view.maint / balance) if balance > 0 else (1.0 if view.maint > 0 else 0.0)
        if ratio >= MARGIN_CALL_RATIO and acct.key not in self.margin_called:
            self.margin_called.add(acct.key)
            legs = tuple((self._position_snap(acct, r.pos), r.mark, r.maint) for r in view.positions)
            self.events.append(MarginCallEvent(acct.key, now, view.cross_wallet, legs))
        elif ratio < 0.9 * MARGIN_CALL_RATIO:
            self.margin_called.discard(acct.key)
