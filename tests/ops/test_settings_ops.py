"""The ops settings group: typed, validated, shown by `config show`, exported in the schema; the SMTP
password and webhook URL only from .env or the environment, never shown."""
from __future__ import annotations

import json

import pytest

from mraster.settings import FIELDS_BY_ENV, SettingsError, load_settings
from mraster.settings.docs import schema_json

SEED = ("ASTER_ENTRY_HALT_UTC", "ASTER_FORCE_EXIT_UTC", "ASTER_BQ_ENABLE_DAILY_BATCH", "ASTER_BQ_PROJECT",
        "ASTER_BQ_DATASET", "ASTER_LOG_RETENTION_DAYS", "ASTER_POLL_TIME", "ASTER_BACKTEST_START_DATE",
        "ASTER_BACKTEST_END_DATE", "ASTER_EMAIL_SMTP_HOST", "ASTER_EMAIL_SMTP_PORT", "ASTER_EMAIL_SMTP_USER",
        "ASTER_EMAIL_SMTP_PASS", "ASTER_EMAIL_FROM", "ASTER_EMAIL_TO_PROD", "ASTER_EMAIL_TO_BACKTEST",
        "ASTER_EMAIL_PROD_ENABLE", "ASTER_EMAIL_BACKTEST_ENABLE", "ASTER_EMAIL_BACKTEST_ON_COMPLETION")


def test_every_seed_variable_is_a_typed_setting_in_the_schema():
    schema = schema_json()
    assert "ops" in schema["groups"]
    by_name = {f["name"]: f for f in schema["fields"]}
    for name in SEED:
        assert by_name[name]["group"] == "ops", name
    assert by_name["ASTER_EMAIL_SMTP_PASS"]["secret"] and by_name["ASTER_NOTIFY_WEBHOOK_URL"]["secret"]
    assert by_name["ASTER_SECRETS_COMMAND"]["env_only"]
    s = load_settings(env={"ASTER_LOG_RETENTION_DAYS": "14", "ASTER_EMAIL_SMTP_PORT": "2525",
                           "ASTER_NOTIFY_EVENTS": "exit, kill_switch"}, use_files=False).settings
    assert (s.log_retention_days, s.email_smtp_port, s.notify_events) == (14, 2525, "exit,kill_switch")
    assert load_settings(env={}, use_files=False).settings.notify_events == "none"     # opt-in


@pytest.mark.parametrize("env,message", [
    ({"ASTER_ENTRY_HALT_UTC": "24:00"}, "ASTER_ENTRY_HALT_UTC='24:00' from environment: expected a UTC time HH:MM"),
    ({"ASTER_BACKTEST_END_DATE": "2026-02-30"}, "ASTER_BACKTEST_END_DATE='2026-02-30'"),
    ({"ASTER_BACKTEST_START_DATE": "2026-03-01", "ASTER_BACKTEST_END_DATE": "2026-02-01"}, "is after"),
    ({"ASTER_LOG_RETENTION_DAYS": "0"}, "ASTER_LOG_RETENTION_DAYS='0' from environment: expected an integer from 1"),
    ({"ASTER_NOTIFY_EVENTS": "entry,fills"}, "unknown: fills"),
    ({"ASTER_OPS_BACKTEST_SOURCE": "bigquery"}, "expected store, csv or klines:NAME"),
])
def test_bad_values_are_refused_with_a_clear_message(env, message):
    with pytest.raises(SettingsError) as exc:
        load_settings(env=env, use_files=False)
    assert message in str(exc.value)


def test_config_show_masks_the_password_and_the_file_cannot_hold_it(work):
    dotenv = work.root / ".env"
    dotenv.write_text("ASTER_EMAIL_SMTP_PASS=hunter2-smtp\nASTER_NOTIFY_WEBHOOK_URL=https://hooks.slack.com/x/TOKEN9\n")
    dotenv.chmod(0o600)
    res = work.mraster("config", "show", "--group", "ops", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)["settings"]}
    assert rows["ASTER_EMAIL_SMTP_PASS"]["value"] == "********" and rows["ASTER_EMAIL_SMTP_PASS"]["source"] == ".env"
    assert "hunter2-smtp" not in res.stdout and "TOKEN9" not in res.stdout
    assert {r["group"] for r in rows.values()} == {"ops"} and "ASTER_BQ_DATASET" in rows
    work.config({"ASTER_PAPER": True, "ASTER_EMAIL_SMTP_PASS": "in-the-file"})
    res = work.mraster("config", "check", "--offline")
    assert res.returncode == 2 and "secrets are never read from this file" in res.stderr
    assert "in-the-file" not in res.stderr


def test_the_secret_fields_are_in_the_redaction_list():
    from mraster.logs import settings_secrets
    s = load_settings(env={"ASTER_EMAIL_SMTP_PASS": "pw-123456", "ASTER_NOTIFY_WEBHOOK_URL": "https://x.test/tok"},
                      use_files=False).settings
    assert {"pw-123456", "https://x.test/tok"} <= set(settings_secrets(s))
    assert FIELDS_BY_ENV["ASTER_EMAIL_SMTP_PASS"].secret
