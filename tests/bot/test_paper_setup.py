"""Issue 12, item 7 against the real paper exchange and the real client: a leverage the venue refuses
(125x: BTCUSDT's bracket allows it, ETHUSDT's and SOLUSDT's do not) blocks entries on those symbols with
`setup_failed`, visibly, and is not recorded as done; with an accepted leverage the same bot enters."""
from __future__ import annotations

from mraster.state import StateStore

from tests.bot.test_paper_e2e import px, run_bot, trading_env, venue_view  # noqa: F401 - px is the shared paper venue


async def test_refused_leverage_on_the_paper_exchange_blocks_entries_and_says_why(px, tmp_path):  # noqa: F811
    env = trading_env(px, tmp_path, ASTER_LEVERAGE="125", ASTER_MAX_OPEN_GLOBAL="3")
    await run_bot(env)
    positions, _ = await venue_view(env)
    st = StateStore(tmp_path / "aster_state.json").load()
    records = st.last_scan["symbols"]
    blocked = sorted(sym for sym, rec in records.items() if rec["reason"] == "setup_failed")
    assert blocked == ["ETHUSDT", "SOLUSDT"], {s: r["reason"] for s, r in records.items()}
    assert all("125x" in records[s]["detail"] and "-4028" in records[s]["detail"] for s in blocked)
    assert not {p.symbol for p in positions} & set(blocked)
    assert set(st.symbol_setup) == {p.symbol for p in positions} <= {"BTCUSDT"}
    assert {n["msg"].split(":")[0] for n in st.notices if n["level"] == "warning" and "setup" in n["msg"]} \
        == set(blocked)
    env["ASTER_LEVERAGE"] = "5"                   # accepted everywhere: the blocked symbols trade again
    await run_bot(env)
    st = StateStore(tmp_path / "aster_state.json").load()
    positions, _ = await venue_view(env)
    assert set(blocked) <= {p.symbol for p in positions}
    assert all(st.symbol_setup[s]["leverage"] == 5 for s in blocked)
