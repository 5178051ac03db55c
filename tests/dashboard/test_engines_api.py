"""Engine instances under the dashboard: listed from engines.json, added and edited with the kernel's
validation, started as real child processes with their instance and account in the environment,
adopted by a restarted dashboard, their logs tagged by instance, a corrupt file kept aside.

Real parts: uvicorn servers on 127.0.0.1, child scripts as real processes (what is tested is the
supervision, not an engine: the scanner itself runs as an instance in tests/bot)."""
from __future__ import annotations

import json

import pytest

from mraster.engines import EngineInstance, save_instances

from tests.dashboard.conftest import SLEEPER, wait_for

ENV_DUMP = """
    import json, os, signal, sys, time
    name = sys.argv[1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    keep = {k: v for k, v in os.environ.items() if k.startswith("MRASTER_")}
    with open(os.path.join("run", name + ".env.json"), "w") as fh:
        json.dump(keep, fh)
    print(f"{name} up", flush=True)
    while True:
        time.sleep(0.05)
"""


@pytest.fixture
def two_scanners(workspace):
    """Accounts main and B (paper), instances scanner (child bot) and scan2 on B; child scripts."""
    workspace.dotenv_file.write_text("ASTER_ACCOUNTS=B\n")
    workspace.dotenv_file.chmod(0o600)
    workspace.run_dir.mkdir(exist_ok=True)
    save_instances(workspace.root / "engines.json", [
        EngineInstance("scanner", "scanner"),
        EngineInstance("scan2", "scanner", (("account", "B"),), (("ASTER_LEVERAGE", 3),))])
    sleeper, dumper = workspace.script("sleeper", SLEEPER), workspace.script("dumper", ENV_DUMP)
    return {"bot": sleeper + ("bot",), "guard": sleeper + ("guard",), "paper": sleeper + ("paper",),
            "scan2": dumper + ("scan2",), "guard-B": sleeper + ("guard-B",)}


def by_name(listing):
    return {i["name"]: i for i in listing["instances"]}


def test_instances_are_listed_started_with_their_account_and_adopted(workspace, serve, client_for, two_scanners):
    server = serve(commands=two_scanners, stop_timeout=5)
    api = client_for(server)
    listing = api.get("/api/engines").json()
    rows = by_name(listing)
    assert set(rows) == {"scanner", "scan2"} and listing["accounts"] == ["main", "B"] and not listing["problem"]
    assert rows["scanner"]["child"] == "bot" and rows["scan2"]["child"] == "scan2"
    assert rows["scan2"]["account"] == "B" and rows["scan2"]["overrides"] == {"ASTER_LEVERAGE": 3}
    assert rows["scan2"]["process"]["state"] == "stopped" and rows["scan2"]["page"] == "#/engine/scan2"
    assert "scanner" in {k["name"] for k in listing["kinds"]}

    assert "guard-B" in api.get("/api/processes").json()["processes"], "account B gets its own guard"
    started = api.post("/api/engines/scan2/start")
    assert started.status_code == 200 and started.json()["status"]["state"] == "running"
    assert started.json()["also_started"] == ["guard-B"], "its positions are protected before it trades"
    env = wait_for(lambda: (workspace.run_dir / "scan2.env.json").exists()
                   and json.loads((workspace.run_dir / "scan2.env.json").read_text()), what="the child's env")
    assert env["MRASTER_INSTANCE"] == "scan2" and env["MRASTER_ACCOUNT"] == "B"
    assert env["MRASTER_ACCOUNTS"] == "account=B"
    assert api.get("/api/processes").json()["processes"]["scan2"]["state"] == "running"
    assert api.get("/api/bot/status").json()["state"] == "stopped", "one instance starting leaves the other"

    server.stop()                                   # the dashboard goes; the instance keeps running
    api2 = client_for(serve(commands=two_scanners, stop_timeout=5))
    again = by_name(api2.get("/api/engines").json())["scan2"]["process"]
    assert again["state"] == "running" and again["adopted"] is True
    assert api2.post("/api/engines/scan2/stop").json()["status"]["state"] == "stopped"
    assert api2.get("/api/guard-B/status").json()["state"] == "running", "stopping an engine leaves its guard"
    assert api2.post("/api/guard-B/stop").json()["status"]["state"] == "stopped"
    assert api2.post("/api/engines/scan2/jump").status_code == 404
    assert api2.post("/api/engines/nope/start").status_code == 404


def test_add_edit_remove_with_clear_reasons(workspace, serve, client_for, two_scanners):
    api = client_for(serve(commands=two_scanners, stop_timeout=5))
    bad_name = api.post("/api/engines", json={"name": "Scan 3", "kind": "scanner"})
    assert bad_name.status_code == 422 and "lower-case letter" in bad_name.json()["detail"]
    undeclared = api.post("/api/engines", json={"name": "scan3", "kind": "scanner", "accounts": {"account": "C"}})
    assert undeclared.status_code == 422 and "C not declared" in undeclared.json()["detail"]
    taken = api.post("/api/engines", json={"name": "guard", "kind": "scanner"})
    assert taken.status_code == 422 and "taken by a process" in taken.json()["detail"]
    bad_value = api.post("/api/engines", json={"name": "scan3", "kind": "scanner", "settings": {"ASTER_LEVERAGE": 0}})
    assert bad_value.status_code == 422 and "ASTER_LEVERAGE" in bad_value.json()["detail"]
    before = (workspace.root / "engines.json").read_text()
    assert json.loads(before)["instances"][-1]["name"] == "scan2", "refused edits change nothing on disk"

    made = api.post("/api/engines", json={"name": "scan3", "kind": "scanner", "accounts": {"account": "B"},
                                          "settings": {"ASTER_INCLUDE_SYMBOLS": "ETHUSDT"}})
    assert made.status_code == 200, made.text
    lev = {f["name"]: f for f in made.json()["settings"]}["ASTER_LEVERAGE"]
    assert lev["source"] == "flat settings" and lev["env"] == "MRASTER_SCAN3__ASTER_LEVERAGE"
    assert [i["name"] for i in json.loads((workspace.root / "engines.json").read_text())["instances"]] == \
        ["scanner", "scan2", "scan3"]
    assert "scan3" in api.get("/api/processes").json()["processes"]

    assert api.post("/api/engines/scan2/start").status_code == 200
    edited = api.patch("/api/engines/scan2", json={"settings": {"ASTER_LEVERAGE": 5}})
    assert edited.status_code == 200 and edited.json()["restart_needed"] is True
    assert {f["name"]: f for f in edited.json()["settings"]}["ASTER_LEVERAGE"]["value"] == 5
    assert api.patch("/api/engines/scan2", json={"name": "other"}).status_code == 422
    busy = api.delete("/api/engines/scan2")
    assert busy.status_code == 409 and "stop it" in busy.json()["detail"]
    api.post("/api/engines/scan2/stop")
    assert api.delete("/api/engines/scan2").status_code == 200
    assert api.delete("/api/engines/scanner").status_code == 422
    assert set(by_name(api.get("/api/engines").json())) == {"scanner", "scan3"}


def test_instance_logs_are_tagged_by_instance(workspace, serve, client_for, two_scanners):
    api = client_for(serve(commands=two_scanners))
    workspace.log_dir.mkdir(exist_ok=True)
    line = {"ts": "2026-12-05T08:00:00.000Z", "level": "WARNING", "src": "scan2", "event": "entry.skipped",
            "msg": "scan2 skipped ETHUSDT"}
    (workspace.log_dir / "scan2.jsonl").write_text(json.dumps(line) + "\n")
    got = api.get("/api/logs", params={"sources": "scan2"}).json()["lines"]
    assert [g["msg"] for g in got] == ["scan2 skipped ETHUSDT"] and got[0]["src"] == "scan2"
    assert "scan2" in api.get("/api/logs/stats").json()["sources"]
    assert api.get("/api/logs", params={"sources": "scan9"}).status_code == 422


def test_a_corrupt_instances_file_is_kept_aside_and_the_default_scanner_runs(workspace, serve, client_for):
    (workspace.root / "engines.json").write_text('{"instances": [')
    api = client_for(serve(commands={}))
    listing = api.get("/api/engines").json()
    assert [i["name"] for i in listing["instances"]] == ["scanner"]
    assert "kept aside as engines.json.corrupt-" in listing["problem"]
    kept = list(workspace.root.glob("engines.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == '{"instances": ['
    assert api.post("/api/engines", json={"name": "scan2", "kind": "scanner"}).status_code == 200
    listing = api.get("/api/engines").json()
    assert [i["name"] for i in listing["instances"]] == ["scanner", "scan2"] and listing["problem"] == ""
    assert kept[0].read_text() == '{"instances": [', "the kept file is never touched"


def test_accounts_show_each_paper_account_apart_with_the_owner_of_each_order(workspace, serve, client_for,
                                                                             tmp_path_factory):
    """Two named accounts on one real paper exchange: an order placed on B shows on B only, with the
    instance that owns it; both have their own balance."""
    import asyncio
    from decimal import Decimal

    from mraster.accounts import load_accounts, settings_for_account
    from mraster.domain.types import OrderRequest, OrderType, Side, TimeInForce
    from mraster.exchange.factory import make_exchange
    from paper.testing import PaperExchange

    with PaperExchange(tmp_path_factory.mktemp("px2"), symbols=("BTCUSDT",), seed=3) as px:
        workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_URL": px.url})
        workspace.dotenv_file.write_text("ASTER_ACCOUNTS=B\n")
        workspace.dotenv_file.chmod(0o600)
        settings = workspace.loader()().settings
        b = settings_for_account(settings, load_accounts({"ASTER_ACCOUNTS": "B"})["B"])

        async def place_on_b() -> None:
            ex = make_exchange(b)
            try:
                await ex.sync_time()
                price = Decimal(str((await ex.book_ticker("BTCUSDT")).bid_price)) * Decimal("0.8")
                rules = (await ex.symbol_rules())["BTCUSDT"]
                await ex.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, "scan2:BTC.EN.1",
                                                  quantity=rules.round_qty(Decimal("0.01")),
                                                  price=rules.round_price(price), time_in_force=TimeInForce.GTC))
            finally:
                await ex.close()
        asyncio.run(place_on_b())

        api = client_for(serve(commands={}, exchange_factory=None))
        accounts = wait_for(lambda: (lambda rows: rows if all(r["open_orders"]["data"] is not None
                                                             and r["balances"]["data"] is not None
                                                             for r in rows) else None)(
            api.get("/api/accounts").json()["accounts"]), timeout=20, what="both accounts read from the venue")
        rows = {r["name"]: r for r in accounts}
        assert set(rows) == {"main", "B"} and rows["B"]["mode"] == "paper" and rows["B"]["venue"] == px.url
        assert [o["owner"] for o in rows["B"]["open_orders"]["data"]] == ["scan2"]
        assert rows["main"]["open_orders"]["data"] == []
        for row in rows.values():
            assert [b["wallet_balance"] for b in row["balances"]["data"] if b["asset"] == "USDT"] == [10000.0]
        assert "secret" not in json.dumps(accounts).lower().replace("has_", "")
