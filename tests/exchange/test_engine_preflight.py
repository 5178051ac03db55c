"""`python -m bot` and `python -m guard` in live mode let the venue judge the credentials first.

Real child processes against a real paper exchange on 127.0.0.1 playing the live venue (aster-v1
profile; its default key pair is verified strictly, so a wrong secret is refused with -1022)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mraster.childproc import clean_environ
from paper.testing import PaperExchange

ROOT = Path(__file__).resolve().parents[2]
BAD_SECRET = "not-the-paper-secret-4711"


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("preflight"), symbols=("BTCUSDT",), seed=11) as exchange:
        yield exchange


def live_env(tmp_path: Path, url: str, secret: str, **extra: str) -> dict[str, str]:
    return clean_environ({
        "PYTHONPATH": str(ROOT), "ASTER_CONFIG_FILE": str(tmp_path / "dashboard_config.json"),
        "ASTER_DOTENV_FILE": str(tmp_path / ".env"), "ASTER_RUN_DIR": str(tmp_path / "run"),
        "ASTER_LOG_DIR": str(tmp_path / "logs"), "ASTER_STATE_FILE": str(tmp_path / "aster_state.json"),
        "ASTER_JOURNAL_FILE": str(tmp_path / "journal.sqlite"),
        "ASTER_PAPER": "false", "ASTER_EXCHANGE_BASE": url, "ASTER_WS_BASE": url.replace("http://", "ws://"),
        "ASTER_API_KEY": "paper-key", "ASTER_API_SECRET": secret, "ASTER_HTTP_BACKOFF": "0", **extra})


def run(tmp_path: Path, module: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=90)


def events(tmp_path: Path, source: str) -> list[dict]:
    path = tmp_path / "logs" / f"{source}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("module", ["bot", "guard"])
def test_a_wrong_secret_exits_2_with_the_diagnosis(px, tmp_path, module):
    result = run(tmp_path, module, live_env(tmp_path, px.url, BAD_SECRET))
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "ASTER_API_SECRET does not belong to ASTER_API_KEY" in out and "-1022" in out
    refused = [e for e in events(tmp_path, module) if e["event"] == "credentials.refused"]
    assert refused and refused[0]["activity"] is True and refused[0]["level"] == "ERROR"
    assert BAD_SECRET not in out and BAD_SECRET not in (tmp_path / "logs" / f"{module}.jsonl").read_text()
    assert not (tmp_path / "aster_state.json").exists(), "nothing ran"


def test_the_right_secret_passes_and_the_guard_runs(px, tmp_path):
    result = run(tmp_path, "guard", live_env(tmp_path, px.url, px.api_secret), "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    ok = [e for e in events(tmp_path, "guard") if e["event"] == "credentials.ok"]
    assert ok and "signed read OK (aster-v1)" in ok[0]["msg"] and "venue profile aster-v1" in ok[0]["msg"]


def test_bot_without_credentials_exits_2(tmp_path):
    env = live_env(tmp_path, "http://127.0.0.1:9", "")
    env.pop("ASTER_API_KEY")
    result = run(tmp_path, "bot", env)
    assert result.returncode == 2 and "live trading needs ASTER_API_KEY and ASTER_API_SECRET" in result.stdout


def test_an_unreachable_venue_stops_the_bot_but_not_the_guard(tmp_path):
    """Nothing listens on port 9: the bot exits 1 (the dashboard may restart it later); the guard
    logs the failed check loudly and keeps running, to protect positions once the venue answers."""
    env = live_env(tmp_path / "bot", "http://127.0.0.1:9", BAD_SECRET)
    (tmp_path / "bot").mkdir()
    bot = run(tmp_path / "bot", "bot", env)
    assert bot.returncode == 1 and "cannot read the venue clock" in bot.stdout
    workdir = tmp_path / "guard"
    workdir.mkdir()
    guard = subprocess.Popen([sys.executable, "-m", "guard", "--no-stream"], cwd=workdir,
                             env=live_env(workdir, "http://127.0.0.1:9", BAD_SECRET, ASTER_GUARD_INTERVAL="1"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not any(e["event"] == "credentials.unchecked" for e in events(workdir, "guard")):
            assert guard.poll() is None, f"the guard exited with {guard.returncode}"
            assert time.monotonic() < deadline, "no credentials.unchecked line"
            time.sleep(0.05)      # polling a child's log file, not synchronising test logic
        line = next(e for e in events(workdir, "guard") if e["event"] == "credentials.unchecked")
        assert line["level"] == "ERROR" and "keeps retrying" in line["msg"]
        assert guard.poll() is None, "the guard keeps running"
    finally:
        guard.terminate()
        guard.wait(20)


def test_paper_mode_runs_no_check(px, tmp_path):
    env = live_env(tmp_path, "http://127.0.0.1:9", BAD_SECRET, ASTER_PAPER="true", ASTER_PAPER_URL=px.url,
                   ASTER_PAPER_API_KEY="paper-key", ASTER_PAPER_API_SECRET=px.api_secret)
    result = run(tmp_path, "guard", env, "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [e for e in events(tmp_path, "guard") if e["event"].startswith("credentials.")]


@pytest.mark.parametrize("status,code,kind", [
    (400, -1022, "refused"), (401, -2015, "refused"), (400, -1002, "refused"), (400, -1021, "refused"),
    (400, -4225, "refused"), (404, None, "refused"),
    (503, None, "unreachable"), (429, -1003, "unreachable"), (418, -1003, "unreachable"), (403, None, "unreachable"),
])
def test_which_answers_refuse_and_which_only_delay(status, code, kind):
    """The venue's answers as the client maps them: a refusal keeps both engines from starting, a venue
    that does not answer usably keeps only the bot from starting."""
    from mraster.exchange.credcheck import CredentialCheck, _kind, may_start
    from mraster.exchange.errors import error_from_response
    exc = error_from_response(status, code, "msg", "GET /fapi/v2/balance", {}, 1_700_000_000_000)
    assert _kind(exc) == kind
    check = CredentialCheck(ok=False, kind=kind, problem="x")
    assert not may_start(check, "bot")
    assert may_start(check, "guard") is (kind == "unreachable")
    assert may_start(CredentialCheck(ok=True, kind="ok"), "bot") and may_start(CredentialCheck(ok=True, kind="ok"), "guard")
