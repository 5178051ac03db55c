"""Named accounts: declared by their credentials in .env or the environment, each with its own venue
settings; in paper mode each gets its own paper account. Secrets never show through repr or public()."""
from __future__ import annotations

import pytest

from mraster.accounts import (
    DEFAULT_ACCOUNT, AccountError, account_env, declared_names, load_accounts, settings_for_account,
)
from mraster.settings.loader import default_settings


def test_seed_003_names_declare_accounts_a_b_c():
    env = {"ASTER_A_KEY": "ka", "ASTER_A_SECRET": "sa", "ASTER_B_KEY": "kb", "ASTER_B_SECRET": "sb",
           "ASTER_C_V3_SIGNER_KEY": "0x" + "11" * 32, "ASTER_C_V3_USER": "0xabc", "ASTER_API_KEY": "main"}
    assert declared_names(env) == [DEFAULT_ACCOUNT, "A", "B", "C"]
    accounts = load_accounts(env)
    assert accounts["A"].api_key == "ka" and accounts["B"].api_secret == "sb"
    assert accounts["C"].v3_signer_key and dict(accounts["C"].overrides)["v3_user"] == "0xabc"


def test_reserved_words_are_not_accounts_and_bad_names_are_refused():
    assert declared_names({"ASTER_API_KEY": "k", "ASTER_V3_SIGNER_KEY": "x"}) == [DEFAULT_ACCOUNT]
    with pytest.raises(AccountError, match="upper-case word"):
        declared_names({"ASTER_ACCOUNTS": "A,toolongname1"})


def test_key_without_secret_and_unknown_profile_are_named():
    with pytest.raises(AccountError, match="ASTER_B_KEY and ASTER_B_SECRET"):
        load_accounts({"ASTER_B_KEY": "k"})
    with pytest.raises(AccountError, match="ASTER_B_VENUE_PROFILE"):
        load_accounts({"ASTER_ACCOUNTS": "B", "ASTER_B_VENUE_PROFILE": "ftx"})


def test_secrets_never_show_in_repr_or_public():
    account = load_accounts({"ASTER_A_KEY": "key-visible?", "ASTER_A_SECRET": "very-secret-1"})["A"]
    assert "very-secret-1" not in repr(account) and "key-visible?" not in repr(account)
    assert "very-secret-1" not in str(account.public()) and account.public()["has_key"] is True


def test_paper_accounts_get_their_own_paper_key_and_live_ones_their_venue(tmp_path):
    base = default_settings().with_values(paper=True)
    accounts = load_accounts({"ASTER_ACCOUNTS": "A,B", "ASTER_B_EXCHANGE_BASE": "http://127.0.0.1:9"})
    a, b = settings_for_account(base, accounts["A"]), settings_for_account(base, accounts["B"])
    assert a.api_key == "paper-a" and b.api_key == "paper-b" and a.paper_api_key == ""
    assert b.exchange_base == "http://127.0.0.1:9" and a.exchange_base == base.exchange_base
    assert settings_for_account(base, accounts[DEFAULT_ACCOUNT]) is base


def test_env_file_values_sit_under_the_process_environment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("ASTER_A_KEY=from-file\nASTER_A_SECRET=s\n")
    merged = account_env(dotenv, {"ASTER_A_KEY": "from-env"})
    assert merged["ASTER_A_KEY"] == "from-env" and merged["ASTER_A_SECRET"] == "s"


def test_account_variables_are_not_typos_and_never_come_from_the_config_file(tmp_path):
    from mraster.accounts import is_account_variable
    from mraster.settings.loader import SettingsError, load_settings
    assert is_account_variable("ASTER_B_KEY") and is_account_variable("ASTER_ACCOUNTS")
    assert not is_account_variable("ASTER_API_KEY") and not is_account_variable("ASTER_MAX_NOTIONAL_USDT")
    loaded = load_settings(env={"ASTER_B_KEY": "k", "ASTER_B_SECRET": "s", "ASTER_LEVERAGE_TYPO": "1"}, cwd=tmp_path)
    text = " ".join(loaded.warnings)
    assert "ASTER_LEVERAGE_TYPO" in text and "ASTER_B_KEY" not in text
    (tmp_path / "dashboard_config.json").write_text('{"ASTER_B_SECRET": "s"}')
    with pytest.raises(SettingsError, match="named accounts are declared only in .env"):
        load_settings(env={}, cwd=tmp_path)
