"""Every named account as the venue shows it: balances, positions and open orders (with the instance
that owns each order). One cached venue reader per account, so many tabs cost the venue nothing more;
the main account shares the reader of the state view. Credentials never leave this module."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable, Mapping

from mraster.accounts import DEFAULT_ACCOUNT, Account, AccountError, account_env, load_accounts, settings_for_account

from dashboard.services.credgate import CredentialGate
from dashboard.services.venue import VenueReader


class AccountsService:
    def __init__(self, settings_getter: Callable[[], Any], dotenv_file: Path,
                 environ: Callable[[], Mapping[str, str]], main_reader: VenueReader | None = None, *,
                 factory: Callable[[Any], Any] | None = None, ttl: float = 5.0):
        self._settings = settings_getter
        self._dotenv = dotenv_file
        self._environ = environ
        self._factory = factory
        self._ttl = ttl
        self._readers: dict[str, VenueReader] = {}
        if main_reader is not None:
            self._readers[DEFAULT_ACCOUNT] = main_reader
        self._own: list[VenueReader] = []
        self._gates: dict[str, CredentialGate] = {}

    def gate(self, name: str) -> CredentialGate:
        """The credentials check of one named account (live mode; paper: nothing to check)."""
        if name not in self._gates:
            def settings() -> Any:
                accounts = self.declared()[0]
                if name not in accounts:
                    raise AccountError(f"account {name} is not declared")
                return settings_for_account(self._settings(), accounts[name])
            self._gates[name] = CredentialGate(settings, make=self._factory)
        return self._gates[name]

    def declared(self) -> tuple[dict[str, Account], str]:
        try:
            return load_accounts(account_env(self._dotenv, self._environ())), ""
        except AccountError as exc:
            return {DEFAULT_ACCOUNT: Account(DEFAULT_ACCOUNT)}, str(exc)

    def _reader(self, account: Account) -> VenueReader:
        reader = self._readers.get(account.name)
        if reader is None:
            def settings(acc: Account = account) -> Any:
                current = self.declared()[0].get(acc.name, acc)
                return settings_for_account(self._settings(), current)
            reader = self._readers[account.name] = VenueReader(settings, ttl=self._ttl, factory=self._factory)
            self._own.append(reader)
        return reader

    def reader(self, name: str) -> VenueReader | None:
        """The venue reader of the declared account `name` (None for an account not declared)."""
        account = self.declared()[0].get(name)
        return None if account is None else self._reader(account)

    async def overview(self) -> dict[str, Any]:
        accounts, problem = self.declared()
        base = self._settings()

        async def one(account: Account) -> dict[str, Any]:
            reader = self._reader(account)
            balances, positions, orders = await asyncio.gather(reader.balances(), reader.positions(),
                                                               reader.open_orders())
            s = settings_for_account(base, account)
            return {**account.public(), "mode": "paper" if s.paper else "live",
                    "venue_profile": getattr(s, "venue_profile", "aster-v1"),
                    "venue": s.paper_url if s.paper else s.exchange_base,
                    "balances": balances, "positions": positions, "open_orders": orders}
        rows = await asyncio.gather(*(one(a) for a in accounts.values()))
        return {"accounts": list(rows), "problem": problem}

    async def equities(self) -> dict[str, dict[str, Any]]:
        """Each declared account's venue totals (wallet, unrealized PnL), asked afresh rather than from the
        cache: the equity sampler stores them with the time the venue answered."""
        accounts = list(self.declared()[0].values())
        readers = [self._reader(a) for a in accounts]
        for reader in readers:
            reader.invalidate("account")
        answers = await asyncio.gather(*(r.account() for r in readers))
        return {a.name: answer for a, answer in zip(accounts, answers)}

    async def close(self) -> None:
        for reader in self._own:
            await reader.close()
