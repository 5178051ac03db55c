"""Secrets at start (issue 21 item 5): a command the operator names prints NAME=value lines; the
values reach the settings and never a log line, an output or an error message."""
from __future__ import annotations

import os
import sys

import pytest

from mraster.logs import redact
from ops.secrets import SecretsError, apply_secrets, parse_lines

KEY, SECRET = "live-key-AAAA1111", "live-secret-BBBB2222"


def fetch_script(tmp_path, body: str) -> str:
    path = tmp_path / "fetch_secrets.py"
    path.write_text(body)
    return f"{sys.executable} {path}"


GOOD = f"""print("# from the secret manager")
print("ASTER_API_KEY={KEY}")
print("export ASTER_API_SECRET='{SECRET}'")
print("")
"""


def test_parse_and_apply(tmp_path):
    env = {"ASTER_SECRETS_COMMAND": fetch_script(tmp_path, GOOD), "ASTER_API_SECRET": "operator-set"}
    names = apply_secrets(env, None)
    assert names == ["ASTER_API_KEY"]                           # what the operator set explicitly wins
    assert env["ASTER_API_KEY"] == KEY and env["ASTER_API_SECRET"] == "operator-set"
    assert redact(f"signed with {KEY}") == "signed with ***"
    assert apply_secrets(env, None) == []                       # once per process tree
    assert parse_lines("A=1\n\n# c\nexport B=\"two words\"\n") == {"A": "1", "B": "two words"}


@pytest.mark.parametrize("body,message", [
    ('print("ASTER_API_KEY=ok")\nprint("this-is-the-secret-itself")\n', "line 2 of the secrets command's output"),
    ('import sys\nprint("denied", file=sys.stderr)\nsys.exit(3)\n', "exited 3: denied"),
])
def test_bad_output_or_failure_is_clear_and_shows_no_value(tmp_path, body, message):
    with pytest.raises(SecretsError) as exc:
        apply_secrets({"ASTER_SECRETS_COMMAND": fetch_script(tmp_path, body)}, None)
    assert message in str(exc.value) and "this-is-the-secret-itself" not in str(exc.value)


def test_command_from_dotenv_through_mraster(work, tmp_path):
    """`mraster config show` sees the fetched key (masked) from the environment; `ops secrets` names only."""
    dotenv = work.root / ".env"
    dotenv.write_text(f"ASTER_SECRETS_COMMAND={fetch_script(tmp_path, GOOD)}\n")
    dotenv.chmod(0o600)
    res = work.mraster("config", "show", "--group", "exchange")
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if "ASTER_API_KEY" in x)
    assert "********" in line and "(environment)" in line
    res = work.mraster("ops", "secrets")
    assert res.returncode == 0 and "ASTER_API_KEY, ASTER_API_SECRET (values never shown)" in res.stdout
    out = res.stdout + res.stderr
    assert KEY not in out and SECRET not in out
    logs = work.root / "logs"
    assert not any(KEY in p.read_text() or SECRET in p.read_text() for p in logs.glob("*")) if logs.exists() else True


def test_a_failing_command_stops_the_start_with_a_message(work, tmp_path):
    res = work.mraster("config", "show", extra_env={"ASTER_SECRETS_COMMAND": str(tmp_path / "missing-tool")})
    assert res.returncode == 2 and "ASTER_SECRETS_COMMAND" in res.stderr and "not found" in res.stderr


def test_the_command_cannot_come_from_the_config_file(work, tmp_path):
    work.config({"ASTER_SECRETS_COMMAND": "touch /tmp/pwned"})
    res = work.mraster("config", "check", "--offline")
    assert res.returncode == 2 and "ASTER_SECRETS_COMMAND found in" in res.stderr
    assert os.environ.get("MRASTER_SECRETS_APPLIED") is None
