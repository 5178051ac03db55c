"""The engine's loop in process over a market cache stand-in (no venue): a bar is judged once and acted on
only while fresh, and the per-symbol parameter file is followed, a bad one rejected with the previous
parameters kept."""
from __future__ import annotations

import asyncio
import json

from mraster.engines import get_kind
from mraster.signals.momentum_params import MOMENTUM_KEYS

from momentum.config import config_from
from momentum.engine import Engine
from momentum.synthetic import MIN, SyntheticCache

T0 = 1_770_000_000_000 // MIN * MIN


def _engine(tmp_path, **values):
    cache = SyntheticCache(("ETHUSDT",), T0)
    v = {**get_kind("momentum").defaults(), "SYMBOLS": ("ETHUSDT",), "T": 5, "V": 5, "k": 0.0, "n": 0.0,
         "spread_max": 50.0, "PARAMS_FILE": str(tmp_path / "params.json"), **values}
    cfg = config_from(v, instance="mom1", status_path=tmp_path / "s.json", state_path=tmp_path / "st.json")
    return Engine(None, cache, cfg), cache  # type: ignore[arg-type]   # trading off: no client call


def test_a_bar_is_judged_once_and_acted_on_only_while_fresh(tmp_path):
    e, cache = _engine(tmp_path)

    async def run():
        out = []
        for i in range(8):
            cache.close_bar(T0 + i * MIN)                 # k = n = 0: every warm bar with a move signals
            out.append(len(await e.tick()))
        again = 0
        for _ in range(20):                               # the seconds after it: the same bar, not judged twice
            cache.now += 1000
            again += len(await e.tick())
        cache.close_bar(T0 + 8 * MIN)
        cache.now += 30_000                               # seen 30 s after its close: shown, not acted on
        stale = len(await e.tick())
        return out, again, stale
    out, again, stale = asyncio.run(run())
    assert out == [0] * 5 + [1] * 3                       # warm-up: T = V = 5 needs 6 closed bars (5 before the judged)
    assert again == 0 and stale == 0
    assert e.runs["ETHUSDT"].signal is not None and e.runs["ETHUSDT"].signal.open_time == T0 + 8 * MIN


def test_parameter_file_followed_and_a_bad_one_rejected(tmp_path):
    e, cache = _engine(tmp_path)
    e.reload_params()
    assert e.runs["ETHUSDT"].params.T == 5 and e.config_of("ETHUSDT")["source"] == "defaults"
    entry = {k: 1 for k in MOMENTUM_KEYS} | {"T": 7, "callback_bps": 20, "config_id": 42}
    (tmp_path / "params.json").write_text(json.dumps({"strategy": "momentum", "symbols": {"ETHUSDT": entry}}))
    e.reload_params()
    cfg = e.config_of("ETHUSDT")
    assert e.runs["ETHUSDT"].params.T == 7 and cfg["source"] == "file" and cfg["config_id"] == "42"
    (tmp_path / "params.json").write_text('{"symbols": {"ETHUSDT": {"k": [1, 2]}}}')
    e.reload_params()
    assert e.runs["ETHUSDT"].params.T == 7 and "kept aside" in e.params_problem     # previous parameters kept
    assert list(tmp_path.glob("params.json.corrupt-*"))
