"""What the bot tells the policy about one candidate signal (the contract between them).

The bot fills a `SignalContext` from its pure signal code; the policy turns it
into standardised features (ml_policy/features.py). Raw units are documented
here because both sides must mean the same thing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SignalContext:
    symbol: str
    side: int               # +1 long, -1 short
    time_ms: int            # venue time of the signal (close time of the signal candle)
    rsi: float              # RSI(14), Wilder, on ASTER_INTERVAL closes, 0..100
    htf_rsi: float          # RSI(14) on ASTER_HTF_INTERVAL closes, 0..100
    atr_frac: float         # ATR(14) / last close
    spread_frac: float      # (ask - bid) / mid at decision time
    funding_rate: float     # last funding rate per settlement, signed (0.0001 = 0.01 %)
    wickiness: float        # mean (range - |body|) / range over the recent candles, 0..1
    recent_vol: float       # standard deviation of 1-bar log returns over the last 20 closed bars
    liquidity_rank: float   # 0 = most liquid symbol of the universe by 24h quote volume, 1 = least
    reward_risk: float = 0.0  # take-profit distance / stop distance (ASTER_TP_ATR_MULT / ASTER_SL_ATR_MULT)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SignalContext":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
