"""Honest sizing and the guard-rails of a settings save.

`preview` runs THE sizing function of the bot (`mraster.domain.sizing.size_position`, the one the bot's
`decide.choose_entries` calls) for each S/M/L bucket of the current settings and of each preset, at the
account's equity, on a reference symbol with its real filters, price and stop distance (ASTER_SL_ATR_MULT x
the ATR of the bot's last scan; an assumed 1 % of the price when no scan has run yet). It reports the real
risk per trade (quantity x stop distance) in money and in % of equity after every cap, and warns when a
cap makes the risk slider or the buckets do nothing.

`guardrails` judges a settings change before it is written: leverage above the venue's brackets for the
symbols of the universe, a stop beyond the liquidation price, a risk per trade above a sane bound.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from mraster.domain.rules import SymbolRules
from mraster.domain.sizing import BUCKETS, PLAIN, SizingParams, SizingRejected, size_position
from mraster.settings.fields import FIELDS_BY_ENV

from dashboard.services.presets import PRESETS

ASSUMED_STOP_FRACTION = 0.01
RISK_WARN = 0.02          # risk per trade above 2 % of equity: said before saving
RISK_REFUSE = 0.05        # above 5 %: refused (a few losses in a row would halve the account)
CAPS = ("cut to max notional", "raised to min notional", "cut to the equity-fraction margin cap")
MAINT_MARGIN_DEFAULT = 0.005


def bucket_row(settings: Any, bucket: str, equity: float, price: float, stop: float, rules: SymbolRules) -> dict[str, Any]:
    """The bot's sizing of one bucket, with the risk it really takes."""
    row: dict[str, Any] = {"bucket": bucket, "error": "", "caps": []}
    params = SizingParams.from_settings(settings)
    try:
        d = size_position(equity=Decimal(str(equity)), price=Decimal(str(price)), stop_distance=Decimal(str(stop)),
                          bucket=bucket, rules=rules, params=params, market=settings.entry_order == "MARKET")
    except SizingRejected as exc:
        row.update(error=f"{exc.reason}: {exc}", qty=0.0, notional=0.0, margin=0.0, risk=0.0, risk_pct=0.0,
                   mult=None, target_notional=None)
        return row
    risk = float(d.qty) * stop
    row.update(qty=float(d.qty), notional=round(float(d.notional), 4), margin=round(float(d.margin), 4),
               target_notional=round(float(d.target_notional), 4), mult=d.mult, method=d.method,
               risk=round(risk, 6), risk_pct=round(100 * risk / equity, 6) if equity > 0 else None,
               caps=[n for n in d.notes if n in CAPS], notes=list(d.notes))
    return row


def warnings_for(settings: Any, rows: list[dict[str, Any]], equity: float) -> list[str]:
    out: list[str] = []
    slider = 100 * float(settings.risk_per_trade)
    ok = [r for r in rows if not r["error"]]
    for r in rows:
        if r["error"]:
            out.append(f"bucket {r['bucket']}: no order at all ({r['error']})")
    if not ok:
        return out
    capped = [r for r in ok if "cut to max notional" in r["caps"]]
    if capped and len(capped) == len(ok):
        out.append(f"ASTER_MAX_NOTIONAL_USDT={settings.max_notional_usdt:g} caps every bucket near "
                   f"{settings.max_notional_usdt:g} USDT on {equity:,.0f} USDT equity: the risk slider and the "
                   "S/M/L buckets change nothing")
    elif len({r["notional"] for r in ok}) == 1 and len(ok) > 1:
        out.append("every bucket trades the same size: the S/M/L buckets change nothing")
    margin_capped = [r["bucket"] for r in ok if "cut to the equity-fraction margin cap" in r["caps"]]
    if margin_capped:
        out.append(f"ASTER_EQUITY_FRACTION={settings.equity_fraction:g} at {settings.leverage}x caps bucket(s) "
                   f"{', '.join(margin_capped)}")
    base = next((r for r in ok if r["bucket"] in ("M", PLAIN)), ok[0])
    real = base["risk_pct"] or 0.0
    if slider > 0 and real < 0.5 * slider:
        out.append(f"the risk slider says {slider:.2f} % of equity but a trade really risks {real:.3f} % "
                   f"({base['risk']:.2f} USDT) after the caps")
    elif slider > 0 and real > 1.5 * slider * max(1.0, base.get("mult") or 1.0):
        out.append(f"ASTER_MIN_NOTIONAL_USDT raises the size: a trade risks {real:.3f} % against the slider's "
                   f"{slider:.2f} %")
    return out


def preview(settings: Any, *, equity: float, price: float, stop: float, rules: SymbolRules) -> dict[str, Any]:
    """Real sizing of the current settings and of every preset (pure)."""
    buckets = BUCKETS if settings.bandit_enabled else (PLAIN,)

    def one(s: Any) -> dict[str, Any]:
        rows = [bucket_row(s, b, equity, price, stop, rules) for b in buckets]
        return {"slider_risk_pct": round(100 * float(s.risk_per_trade), 4), "leverage": int(s.leverage),
                "max_notional": float(s.max_notional_usdt), "min_notional": float(s.min_notional_usdt),
                "equity_fraction": float(s.equity_fraction), "buckets": rows, "warnings": warnings_for(s, rows, equity)}
    current = one(settings)
    presets = []
    for name, values in PRESETS.items():
        attrs = {FIELDS_BY_ENV[k].attr: v for k, v in values.items() if k in FIELDS_BY_ENV}
        presets.append({"name": name, **one(settings.with_values(**attrs))})
    return {**current, "presets": presets}


# --------------------------------------------------------------------------- guard-rails
def liquidation_fraction(leverage: int, maint: float = MAINT_MARGIN_DEFAULT) -> float:
    """How far the price may move against an isolated position at `leverage` before it is liquidated,
    as a fraction of the entry (initial margin 1/leverage less the maintenance margin)."""
    return max(0.0, 1.0 / max(1, leverage) - maint)


def guardrails(wanted: Mapping[str, Any], after: Any, *, max_leverage: Mapping[str, int] | None,
               universe: list[str], atr_fractions: Mapping[str, float]) -> tuple[dict[str, str], list[str]]:
    """(errors by setting name, warnings) for a change whose settings would be `after`. Only what the
    change touches is judged, so an unrelated save is never blocked by an older value."""
    errors: dict[str, str] = {}
    warnings: list[str] = []
    lev = int(after.leverage)
    if "ASTER_LEVERAGE" in wanted:
        if max_leverage is None:
            warnings.append("the venue's leverage brackets could not be read: ASTER_LEVERAGE not checked")
        else:
            over = {s: m for s, m in max_leverage.items() if s in universe and lev > m}
            if over:
                worst = ", ".join(f"{s} {m}x" for s, m in sorted(over.items(), key=lambda kv: kv[1])[:6])
                errors["ASTER_LEVERAGE"] = (f"ASTER_LEVERAGE: {lev}x is above the venue's maximum for {len(over)} "
                                            f"symbol(s) of the universe ({worst}); the bot would skip them all with "
                                            f"setup_failed. Use at most {min(over.values())}x")
    if "ASTER_LEVERAGE" in wanted or "ASTER_SL_ATR_MULT" in wanted:
        liq = liquidation_fraction(lev)
        beyond = {s: float(after.sl_atr_mult) * a for s, a in atr_fractions.items()
                  if s in universe and float(after.sl_atr_mult) * a >= liq}
        if beyond:
            sym, frac = max(beyond.items(), key=lambda kv: kv[1])
            name = "ASTER_LEVERAGE" if "ASTER_LEVERAGE" in wanted else "ASTER_SL_ATR_MULT"
            errors.setdefault(name, f"{name}: the stop ({after.sl_atr_mult:g} x ATR = {100 * frac:.2f} % on {sym}) "
                                    f"lies beyond the liquidation price at {lev}x (about {100 * liq:.2f} % away): "
                                    "the position would be liquidated before its stop triggers")
    if "ASTER_RISK_PER_TRADE" in wanted:
        risk = float(after.risk_per_trade)
        if risk > RISK_REFUSE:
            errors["ASTER_RISK_PER_TRADE"] = (f"ASTER_RISK_PER_TRADE: {100 * risk:.2f} % of equity per trade is "
                                              f"above the sane bound of {100 * RISK_REFUSE:.0f} % (ten losses in a row "
                                              "would take most of the account)")
        elif risk > RISK_WARN:
            warnings.append(f"ASTER_RISK_PER_TRADE {100 * risk:.2f} % of equity per trade is high (above "
                            f"{100 * RISK_WARN:.0f} %)")
    return errors, warnings


# --------------------------------------------------------------------------- I/O around the pure parts
def atr_fraction(candles: list[list[float]], period: int = 14) -> float | None:
    """ATR(period) over the last close, from [open_time, open, high, low, close, volume] rows."""
    if len(candles) < period + 1:
        return None
    import numpy as np
    from mraster.signals.indicators import atr
    arr = np.asarray(candles, dtype=float)
    value = float(atr(arr[:, 2], arr[:, 3], arr[:, 4], period)[-1])
    close = float(arr[-1, 4])
    return value / close if close > 0 and value == value and value > 0 else None


class SizingService:
    def __init__(self, settings_getter: Any, venue: Any, read_state: Any):
        self._settings = settings_getter
        self._venue = venue
        self._read_state = read_state

    def universe(self) -> list[str]:
        state = self._read_state()
        if state is not None and state.universe:
            return list(state.universe)
        return list(self._settings().include_symbols or ())

    def scan_atr_fractions(self) -> dict[str, float]:
        state = self._read_state()
        out: dict[str, float] = {}
        for sym, rec in ((state.last_scan or {}).get("symbols") or {}).items() if state is not None else []:
            atr_v, close = (rec or {}).get("atr"), (rec or {}).get("close")
            if isinstance(atr_v, (int, float)) and isinstance(close, (int, float)) and close > 0 and atr_v > 0:
                out[sym] = atr_v / close
        return out

    async def equity(self) -> tuple[float | None, str]:
        s = self._settings()
        if self._venue is not None:
            acct = await self._venue.account()
            if acct["data"]:
                return float(acct["data"]["margin_balance"]), "venue"
        state = self._read_state()
        if state is not None and state.equity.get("margin_balance"):
            return float(state.equity["margin_balance"]), "state"
        if s.paper:
            return float(s.paper_balance), "paper_balance"
        return None, ""

    async def report(self, symbol: str | None = None) -> dict[str, Any]:
        s = self._settings()
        universe = self.universe()
        symbol = (symbol or (universe[0] if universe else "BTCUSDT")).upper()
        equity, source = await self.equity()
        problems: list[str] = []
        rules_answer = await self._venue.rules() if self._venue is not None else {"data": None, "error": "no venue"}
        rules = (rules_answer["data"] or {}).get(symbol)
        if equity is None or rules is None:
            problems.append("equity unknown" if equity is None else
                            f"no symbol rules for {symbol} ({rules_answer['error'] or 'not listed by the venue'})")
            return {"available": False, "problem": "; ".join(problems), "symbol": symbol}
        candles = await self._venue.klines(symbol, s.interval, 100)
        rows = candles["data"] or []
        frac = atr_fraction(rows) or self.scan_atr_fractions().get(symbol)
        price = float(rows[-1][4]) if rows else None
        if price is None:
            return {"available": False, "problem": f"no price for {symbol} ({candles['error']})", "symbol": symbol}
        stop_source = "atr" if frac else "assumed"
        stop = float(s.sl_atr_mult) * frac * price if frac else ASSUMED_STOP_FRACTION * price
        out = preview(s, equity=equity, price=price, stop=stop, rules=rules)
        return {"available": True, "problem": "", "symbol": symbol, "equity": round(equity, 4),
                "equity_source": source, "price": price, "stop_distance": round(stop, 8),
                "stop_pct": round(100 * stop / price, 4), "stop_source": stop_source,
                "bandit": bool(s.bandit_enabled), **out}

    async def judge(self, wanted: Mapping[str, Any], after: Any) -> tuple[dict[str, str], list[str]]:
        max_lev = None
        if "ASTER_LEVERAGE" in wanted and self._venue is not None:
            answer = await self._venue.max_leverage()
            max_lev = answer["data"]
        return guardrails(wanted, after, max_leverage=max_lev, universe=self.universe(),
                          atr_fractions=self.scan_atr_fractions())
