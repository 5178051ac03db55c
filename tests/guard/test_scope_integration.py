"""The guard per named account, with a scope (real paper exchange, real `python -m guard --once` child).

On paper account GA: `keep` (a scanner, guard scope protect) holds BTCUSDT, claimed in its status file;
`hold` (guard scope leave, as a maker or a delta-neutral pair would be) holds ETHUSDT and rests its own
stop there, with the wrong working type; a person holds SOLUSDT. The guard brackets only keep's position,
under keep's name; hold's position gets nothing and its order is neither replaced nor cancelled; the hand
position follows ASTER_GUARD_MANUAL.
"""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from mraster.domain.ownership import owner_of
from mraster.domain.types import OrderRequest, OrderType, Side, WorkingType
from mraster.engines.owners import write_status
from mraster.exchange.factory import make_exchange
from mraster.settings import load_settings
from paper.testing import PaperExchange
from guard.testing import GuardProcess

pytestmark = pytest.mark.timeout(180)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("scope"), symbols=SYMBOLS, seed=5) as ex:
        yield ex


def client_env(px: PaperExchange, key: str) -> dict[str, str]:
    return {**px.env(), "ASTER_API_KEY": key, "ASTER_API_SECRET": "paper-secret",
            "ASTER_CONFIG_FILE": "/nonexistent/dashboard_config.json", "ASTER_DOTENV_FILE": "/nonexistent/.env"}


async def test_guard_protects_its_instances_and_leaves_the_others(px, tmp_path):
    work = tmp_path / "g"
    (work / "run").mkdir(parents=True)
    (work / "dashboard_config.json").write_text("{}")
    (work / "engines.json").write_text(json.dumps({"instances": [
        {"name": "keep", "kind": "scanner", "accounts": {"account": "GA"}},
        {"name": "hold", "kind": "scanner", "accounts": {"account": "GA"}, "guard": "leave"}]}))
    ex = make_exchange(load_settings(env=client_env(px, "paper-ga")).settings)
    try:
        for sym, cid, qty in (("BTCUSDT", "keep:BTCUSDT.k1-EN", "0.002"), ("ETHUSDT", "hold:ETHUSDT.k2-EN", "0.05"),
                              ("SOLUSDT", "byhand1", "1")):
            await ex.place_order(OrderRequest(symbol=sym, side=Side.BUY, type=OrderType.MARKET, client_order_id=cid,
                                              quantity=Decimal(qty)))
        eth = next(p for p in await ex.positions() if p.symbol == "ETHUSDT")
        hold_stop = await ex.place_order(OrderRequest(
            symbol="ETHUSDT", side=Side.SELL, type=OrderType.STOP_MARKET, client_order_id="hold:ETHUSDT.k2-SL",
            stop_price=(eth.entry_price * Decimal("0.5")).quantize(Decimal("0.01")), close_position=True,
            working_type=WorkingType.CONTRACT_PRICE))
        write_status(work / "run" / "keep.status.json", instance="keep", kind="scanner", account="GA",
                     positions=[("GA", "BTCUSDT", "BOTH")])

        guard = GuardProcess(work, px, env={"ASTER_ACCOUNTS": "GA", "ASTER_GUARD_MANUAL": "leave"},
                             args=["--account", "GA"])
        assert guard.run("--once") == 0, guard.tail()
        orders = await ex.open_orders()
        btc = [o for o in orders if o.symbol == "BTCUSDT"]
        assert {o.placed_type for o in btc} == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}
        assert all(owner_of(o.client_order_id) == "keep" for o in btc)
        assert [(o.order_id, o.working_type) for o in orders if o.symbol == "ETHUSDT"] == [
            (hold_stop.order_id, WorkingType.CONTRACT_PRICE)]              # left exactly as it was
        assert not [o for o in orders if o.symbol == "SOLUSDT"]            # hand position left alone
        assert (work / "run" / "guard_status.GA.json").exists() and (work / "logs" / "guard-GA.jsonl").exists()
        left = [e for e in _events(work) if e.get("event") == "guard.left_alone"]
        assert {e.get("symbol") for e in left} == {"ETHUSDT", "SOLUSDT"}

        guard = GuardProcess(work, px, env={"ASTER_ACCOUNTS": "GA", "ASTER_GUARD_MANUAL": "protect"},
                             args=["--account", "GA"])
        assert guard.run("--once") == 0, guard.tail()
        orders = await ex.open_orders()
        sol = [o for o in orders if o.symbol == "SOLUSDT"]
        assert {o.placed_type for o in sol} == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}
        assert [o.order_id for o in orders if o.symbol == "ETHUSDT"] == [hold_stop.order_id]
        assert not [o for o in orders if o.symbol == "ETHUSDT" and o.placed_type is OrderType.TAKE_PROFIT_MARKET]
    finally:
        await ex.close()


def _events(work):
    out = []
    for line in (work / "logs" / "guard-GA.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out
