"""GET/PUT/PATCH /api/config: effective values with sources, masked secrets, per-field 422 with
nothing written, atomic writes (secrets to .env 0600), the audit log, presets."""
from __future__ import annotations

import json
import stat

import pytest

from mraster.settings import FIELDS, MASK

SECRET = "s3cr3t-api-secret-value"


@pytest.fixture
def api(workspace, serve, client_for):
    workspace.dotenv_file.write_text(f"ASTER_API_SECRET={SECRET}\n")
    workspace.dotenv_file.chmod(0o600)
    server = serve()
    return client_for(server)


def snapshot_files(ws):
    audit = ws.root / "dashboard_audit.jsonl"
    return (ws.config_file.read_bytes(), ws.dotenv_file.read_bytes() if ws.dotenv_file.exists() else b"",
            audit.read_bytes() if audit.exists() else b"")


def test_get_config_gives_values_sources_and_masks_secrets(api, workspace):
    resp = api.get("/api/config")
    assert resp.status_code == 200
    body = resp.json()
    values = body["values"]
    assert set(values) == {f.env for f in FIELDS}
    assert values["ASTER_PAPER"] == {"value": True, "source": "config file", "overridden": False}
    assert values["ASTER_LEVERAGE"]["source"] == "default" and values["ASTER_LEVERAGE"]["value"] == 3
    assert values["ASTER_API_SECRET"]["value"] == MASK and values["ASTER_API_SECRET"]["source"] == ".env"
    assert values["ASTER_API_KEY"]["value"] == ""
    assert SECRET not in resp.text


def test_schema_lists_every_field_with_its_rules(api):
    body = api.get("/api/config/schema").json()
    by_name = {f["name"]: f for f in body["fields"]}
    assert len(by_name) == len(FIELDS)
    lev = by_name["ASTER_LEVERAGE"]
    assert (lev["min"], lev["max"], lev["unit"], lev["live"]) == (1, 125, "x", True)
    assert by_name["ASTER_API_SECRET"]["secret"] is True


def test_patch_writes_good_values_atomically_and_audits(api, workspace):
    resp = api.patch("/api/config", json={"ASTER_LEVERAGE": 4, "ASTER_LOOP_SLEEP": "7.5",
                                          "ASTER_HTTP_TIMEOUT": 30})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert sorted(body["changed"]) == ["ASTER_HTTP_TIMEOUT", "ASTER_LEVERAGE", "ASTER_LOOP_SLEEP"]
    assert sorted(body["applies_live"]) == ["ASTER_LEVERAGE", "ASTER_LOOP_SLEEP"]
    assert body["needs_restart"] == {"bot": ["ASTER_HTTP_TIMEOUT"], "guard": ["ASTER_HTTP_TIMEOUT"]}
    saved = json.loads(workspace.config_file.read_text())
    assert saved["ASTER_LEVERAGE"] == 4 and saved["ASTER_LOOP_SLEEP"] == 7.5 and saved["ASTER_PAPER"] is True
    assert not list(workspace.root.glob(".dashboard_config.json.*")), "no temporary file left behind"
    assert api.get("/api/config").json()["values"]["ASTER_LEVERAGE"] == {
        "value": 4, "source": "config file", "overridden": False}
    entries = api.get("/api/config/audit").json()["entries"]
    assert entries[0]["action"] == "config.patch" and entries[0]["who"].startswith("local@127.0.0.1")
    assert {"name": "ASTER_LEVERAGE", "old": 3, "new": 4} in entries[0]["changes"]


BAD_REQUESTS = [
    ({"ASTER_LEVERAGE": 500}, "ASTER_LEVERAGE", "above the maximum"),
    ({"ASTER_LEVERAGE": 0}, "ASTER_LEVERAGE", "below the minimum"),
    ({"ASTER_RISK_PER_TRADE": "lots"}, "ASTER_RISK_PER_TRADE", "expected a number"),
    ({"ASTER_LEVERAGE": 2.5}, "ASTER_LEVERAGE", "expected an integer"),
    ({"ASTER_PAPER": "maybe"}, "ASTER_PAPER", "true or false"),
    ({"ASTER_INTERVAL": "7m"}, "ASTER_INTERVAL", "one of"),
    ({"ASTER_INCLUDE_SYMBOLS": "BTCUSDT,not a symbol"}, "ASTER_INCLUDE_SYMBOLS", "is not a symbol"),
    ({"ASTER_EXCHANGE_BASE": "ftp://x"}, "ASTER_EXCHANGE_BASE", "URL"),
    ({"ASTER_LEVRAGE": 4}, "ASTER_LEVRAGE", "did you mean ASTER_LEVERAGE"),
    ({"ASTER_CONFIG_FILE": "/tmp/x.json"}, "ASTER_CONFIG_FILE", "only be set in the environment"),
    ({"ASTER_LEVERAGE": {"value": 4}}, "ASTER_LEVERAGE", "single value"),
    ({"ASTER_RSI_SELL_MAX": 60}, "ASTER_RSI_SELL_MAX", "both long and short"),
    ({"ASTER_MIN_NOTIONAL_USDT": 500}, "ASTER_MIN_NOTIONAL_USDT", "above ASTER_MAX_NOTIONAL_USDT"),
    ({"ASTER_LEVERAGE": 4, "ASTER_LOOP_SLEEP": -1}, "ASTER_LOOP_SLEEP", "below the minimum"),
]


@pytest.mark.parametrize("body,field,message", BAD_REQUESTS)
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_each_bad_value_is_422_per_field_and_nothing_is_written(api, workspace, body, field, message, method):
    before = snapshot_files(workspace)
    resp = api.request(method, "/api/config", json=body)
    assert resp.status_code == 422, resp.text
    errors = resp.json()["errors"]
    assert field in errors and message in errors[field], errors
    assert resp.json()["detail"] == "invalid settings: nothing was saved"
    assert snapshot_files(workspace) == before


@pytest.mark.parametrize("raw,message", [("[1, 2]", "JSON object"), ("{bad json", "not valid JSON"),
                                         ('"text"', "JSON object")])
def test_malformed_bodies_are_422(api, workspace, raw, message):
    before = snapshot_files(workspace)
    resp = api.patch("/api/config", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 422 and message in resp.json()["errors"]["_"]
    assert snapshot_files(workspace) == before


def test_non_json_content_type_is_refused(api, workspace):
    before = snapshot_files(workspace)
    resp = api.patch("/api/config", content="ASTER_LEVERAGE=4", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415
    assert snapshot_files(workspace) == before


def test_secrets_go_to_dotenv_with_mode_0600_never_to_json(api, workspace):
    resp = api.patch("/api/config", json={"ASTER_API_KEY": "key-abcdef-123456"})
    assert resp.status_code == 200 and resp.json()["changed"] == ["ASTER_API_KEY"]
    assert "key-abcdef-123456" not in resp.text
    assert "ASTER_API_KEY" not in json.loads(workspace.config_file.read_text())
    dotenv = workspace.dotenv_file.read_text()
    assert "ASTER_API_KEY=key-abcdef-123456" in dotenv and f"ASTER_API_SECRET={SECRET}" in dotenv
    assert stat.S_IMODE(workspace.dotenv_file.stat().st_mode) == 0o600
    assert api.get("/api/config").json()["values"]["ASTER_API_KEY"]["value"] == MASK
    audit = (workspace.root / "dashboard_audit.jsonl").read_text()
    assert "key-abcdef-123456" not in audit and json.loads(audit.splitlines()[-1])["changes"] == [
        {"name": "ASTER_API_KEY", "old": "", "new": MASK}]


def test_masked_secret_means_unchanged_and_empty_removes_it(api, workspace):
    assert api.patch("/api/config", json={"ASTER_API_SECRET": MASK}).json()["changed"] == []
    assert f"ASTER_API_SECRET={SECRET}" in workspace.dotenv_file.read_text()
    assert api.patch("/api/config", json={"ASTER_API_SECRET": ""}).json()["changed"] == ["ASTER_API_SECRET"]
    assert "ASTER_API_SECRET" not in workspace.dotenv_file.read_text()


def test_null_resets_to_default_and_put_replaces_the_saved_set(api, workspace):
    api.patch("/api/config", json={"ASTER_LEVERAGE": 4, "ASTER_UNIVERSE_MAX": 10})
    resp = api.patch("/api/config", json={"ASTER_LEVERAGE": None})
    assert resp.json()["changed"] == ["ASTER_LEVERAGE"]
    assert "ASTER_LEVERAGE" not in json.loads(workspace.config_file.read_text())
    resp = api.put("/api/config", json={"ASTER_PAPER": True, "ASTER_KLINES": 500})
    assert resp.status_code == 200
    saved = json.loads(workspace.config_file.read_text())
    assert saved == {"ASTER_KLINES": 500, "ASTER_PAPER": True}, "PUT drops what the body does not name"
    assert f"ASTER_API_SECRET={SECRET}" in workspace.dotenv_file.read_text(), "PUT keeps secrets"


def test_value_overridden_by_environment_is_saved_with_a_warning(workspace, serve, client_for):
    workspace.env["ASTER_LOOP_SLEEP"] = "3"
    api = client_for(serve())
    resp = api.patch("/api/config", json={"ASTER_LOOP_SLEEP": 9})
    assert resp.status_code == 200
    assert resp.json()["changed"] == [] and "wins over the saved value" in resp.json()["warnings"][0]
    assert json.loads(workspace.config_file.read_text())["ASTER_LOOP_SLEEP"] == 9
    assert api.get("/api/config").json()["values"]["ASTER_LOOP_SLEEP"] == {
        "value": 3.0, "source": "environment", "overridden": True}


# ------------------------------------------------------------------------ presets
def test_presets_listing_preview_and_apply(api, workspace):
    listing = api.get("/api/presets").json()
    assert [p["name"] for p in listing["presets"]] == ["low", "mid", "high"]
    assert listing["active"] == "mid", "the defaults are the Mid preset"
    assert listing["sliders"]["leverage"]["max"] == 5
    assert listing["sliders"]["risk_per_trade"]["min"] == 0.0025 and listing["sliders"]["risk_per_trade"]["max"] == 0.05
    before = snapshot_files(workspace)
    diff = api.post("/api/presets/high/preview").json()
    assert snapshot_files(workspace) == before, "a preview writes nothing"
    changes = {c["name"]: c for c in diff["changes"]}
    assert changes["ASTER_LEVERAGE"]["current"] == 3 and changes["ASTER_LEVERAGE"]["new"] == 5
    assert "ASTER_SIZE_MULT_S" not in changes and diff["unchanged"] >= 1
    applied = api.post("/api/presets/high/apply").json()
    assert applied["active"] == "high" and sorted(applied["changed"]) == sorted(changes)
    saved = json.loads(workspace.config_file.read_text())
    assert saved["ASTER_LEVERAGE"] == 5 and saved["ASTER_MAX_OPEN_GLOBAL"] == 4
    assert api.get("/api/config/audit").json()["entries"][0]["action"] == "preset.high"
    assert api.post("/api/presets/high/preview").json()["changes"] == []
    assert api.post("/api/presets/extreme/preview").status_code == 404
    assert api.post("/api/presets/extreme/apply").status_code == 404


def test_preset_table_is_valid_and_capped():
    from dashboard.services.presets import PRESETS, check_presets
    assert check_presets() == []
    assert check_presets({"bad": {"ASTER_LEVERAGE": 10, "ASTER_NOPE": 1}}) == [
        "bad: unknown setting ASTER_NOPE", "bad: leverage above 5x"]
    from mraster.settings import default_settings
    defaults = default_settings()
    assert all(defaults.value(k) == v for k, v in PRESETS["mid"].items())
    assert set(PRESETS["low"]) == set(PRESETS["mid"]) == set(PRESETS["high"])
