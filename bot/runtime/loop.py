"""The bot process: start-up, the cycle loop, settings reload and signal handling.

SIGTERM / SIGINT: the current cycle finishes (no new entries once the signal arrived), state is
written, exit 0. A second signal cancels the cycle at once; order sequences already under way
(an entry and its brackets, a FastTP replace, a reconciliation step) are shielded and finish
first, so the state written on the way out matches the venue.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

import httpx

from mraster.exchange.errors import AuthError, BannedError, ExchangeError
from mraster.exchange.factory import apply_live_settings
from mraster.exchange.interface import Exchange
from mraster.journal import Journal
from mraster.logs import get_logger, set_level
from mraster.settings import SettingsError, load_settings
from mraster.settings.fields import FIELDS
from mraster.state.store import StateStore
from mraster.accounts import DEFAULT_ACCOUNT, AccountError
from mraster.domain.ownership import DEFAULT_SCANNER
from mraster.engines import InstanceError, get_kind, instances_file, load_instances, resolve_instance
from mraster.engines.owners import AccountOwners
from mraster.safety.gate import RiskGate
from mraster.storage.atomic import CorruptFileError
from bot.runtime.context import Runtime
from bot.runtime.cycle import FeeBook, run_cycle
from bot.runtime.market import MarketData
from bot.runtime.orders import OrderExecutor
from bot.runtime.policy_gate import PolicyGate

log = get_logger("bot")
CRITICAL_GRACE_S = 20.0
ERROR_PAUSE_S = 5.0
PAPER_INFO_EVERY_S = 60.0
UNRESOLVED_PAUSE_S = 2.0     # next cycle this soon while an entry is unresolved or a failed close waits
CLIENT_LIVE = {"http_retries", "http_backoff", "kline_cache_sec"}  # read by the exchange client itself


def default_exchange_factory(settings: Any) -> Exchange:
    from mraster.exchange.factory import make_exchange
    return make_exchange(settings)


class Bot:
    def __init__(self, loaded: Any, cli: Mapping[str, str] | None = None,
                 exchange_factory: Callable[[Any], Exchange] = default_exchange_factory,
                 env: Mapping[str, str] | None = None, instance: str = DEFAULT_SCANNER,
                 account: str = DEFAULT_ACCOUNT):
        self.loaded = loaded
        self.cli = dict(cli or {})
        self.env = env
        self.instance, self.account = instance, account
        self.settings = self._resolve(loaded)
        self.exchange_factory = exchange_factory
        self.stop_requested = False
        self.hard_stop = False
        self._wake = asyncio.Event()
        self._critical: set[asyncio.Task] = set()
        self._main: asyncio.Task | None = None
        self._reload_errors: set[str] = set()
        self.rt: Runtime | None = None
        self.fees = FeeBook()
        self.cycles_done = 0
        self._http: httpx.AsyncClient | None = None
        self._paper_info_at = -PAPER_INFO_EVERY_S

    def _resolve(self, loaded: Any) -> Any:
        """The instance's Settings: its account's credentials, its overrides, its own state file
        (the default scanner on the main account: the flat settings as they are)."""
        if self.instance == DEFAULT_SCANNER and self.account == DEFAULT_ACCOUNT and not self._has_instances(loaded):
            return loaded.settings
        return resolve_instance(self.instance, loaded=loaded, environ=self.env).settings

    @staticmethod
    def _has_instances(loaded: Any) -> bool:
        config = loaded.config_file or Path.cwd() / "dashboard_config.json"
        return instances_file(config).exists()

    # ---------------------------------------------------------------- signals
    def request_stop(self, signum: int | None = None) -> None:
        name = signal.Signals(signum).name if signum else "stop"
        if not self.stop_requested:
            self.stop_requested = True
            log.info("bot.stopping", f"{name}: finishing the current cycle, then exiting", activity=True)
            self._wake.set()
            return
        self.hard_stop = True
        log.warning("bot.stopping_now", f"second {name}: stopping at once", activity=True)
        if self._main is not None:
            self._main.cancel()

    async def critical(self, aw: Awaitable[Any]) -> Any:
        """Run an order sequence that must not be cut in half by a second signal."""
        task = asyncio.ensure_future(aw)
        self._critical.add(task)
        task.add_done_callback(self._critical.discard)
        return await asyncio.shield(task)

    # ---------------------------------------------------------------- settings
    def reload_settings(self) -> None:
        """Apply `live` settings at once; list the others as needing a restart."""
        assert self.rt is not None
        try:
            fresh = self._resolve(load_settings(cli=self.cli, env=self.env))
        except (SettingsError, InstanceError, AccountError, CorruptFileError) as exc:
            text = str(exc)
            if text not in self._reload_errors:
                self._reload_errors.add(text)
                log.error("settings.invalid", f"settings not reloaded, keeping the running values: {text}")
            return
        current = self.rt.settings
        live: dict[str, Any] = {}
        restart: list[str] = []
        for spec in FIELDS:
            new, old = getattr(fresh, spec.attr), getattr(current, spec.attr)
            if new == old:
                continue
            if spec.live:
                live[spec.attr] = new
            elif getattr(self.settings, spec.attr) != new:
                restart.append(spec.env)
        if live:
            self.rt.settings = current.with_values(**live)
            log.info("settings.applied", "live settings applied: " + ", ".join(sorted(live)), changed=sorted(live))
            if "loglevel" in live:
                set_level(live["loglevel"])
            self.rt.policy.reconfigure(self.rt.settings)
            if self.rt.gate is not None:
                self.rt.gate.settings = self.rt.settings       # the account caps are live
            if live.keys() & CLIENT_LIVE and hasattr(self.rt.exchange, "reconfigure"):
                apply_live_settings(self.rt.exchange, self.rt.settings)   # retries, backoff, kline cache
        fresh_restart = sorted(set(restart) - set(self.rt.state.pending_restart))
        self.rt.state.pending_restart = sorted(set(restart))
        if fresh_restart:
            text = "changed settings need a restart of the bot: " + ", ".join(fresh_restart)
            log.warning("notice", text, settings=fresh_restart, activity=True)
            self.rt.notice("warning", text)

    # ---------------------------------------------------------------- start
    def _build(self) -> Runtime:
        s = self.settings
        exchange = self.exchange_factory(s)
        journal = Journal(s.journal_file, on_write_error=self._disk_failed, on_write_ok=self._disk_ok,
                          account=self.account, instance=self.instance)
        policy = PolicyGate(s, s.state_file)
        policy.ensure_schema(journal.conn)
        store = StateStore(s.state_file)
        state, corrupt = store.load_or_new()
        if corrupt is not None:
            log.error("state.corrupt", f"{corrupt}; rebuilding the state from the venue", activity=True,
                      quarantined=str(corrupt.quarantined))
        orders = OrderExecutor(exchange, journal, lambda: self.rt.settings.working_type if self.rt else s.working_type,
                               on_disk_error=self._disk_failed)
        rt = Runtime(exchange, journal, orders, policy, store, state, s, MarketData(exchange),
                     instance=self.instance, account=self.account, status_path=self._status_path(s),
                     owners=self._owners)
        rt.gate = RiskGate(s, exchange, owner_of=rt.owner_of)
        if corrupt is not None:
            rt.notice("error", f"state file was unreadable and was moved to {corrupt.quarantined}")
        state.pid = os.getpid()
        state.mode = "paper" if s.paper else "live"
        return rt

    def _status_path(self, s: Any) -> Path:
        return Path(s.run_dir) / get_kind("scanner").status_file.format(instance=self.instance)

    def _owners(self) -> AccountOwners | None:
        """The account's instances and their claims (None when engines.json cannot be read: then only
        this instance's own trades and orders count as its own)."""
        try:
            config = self.loaded.config_file or Path.cwd() / "dashboard_config.json"
            instances = load_instances(instances_file(config))
            return AccountOwners(Path(self.settings.run_dir), self.account, instances).refresh()
        except (InstanceError, CorruptFileError, KeyError, ValueError, OSError) as exc:
            log.warning("owners.unavailable", f"engines.json not read ({exc}); only this instance's own trades "
                        "and orders are treated as its own")
            return None

    def _disk_failed(self, what: str, exc: BaseException) -> None:
        if self.rt is not None:
            self.rt.disk_failed(what, exc)
        else:
            log.error("disk.unwritable", f"the {what} cannot be written: {exc}", activity=True)

    def _disk_ok(self, what: str) -> None:
        if self.rt is not None:
            self.rt.disk_ok(what)

    async def _paper_info(self) -> None:
        """The paper exchange's feed and clock, for the state file (at most once a minute)."""
        assert self.rt is not None
        if not self.settings.paper:
            self.rt.state.feed = "venue"
            return
        now = time.monotonic()
        if now - self._paper_info_at < PAPER_INFO_EVERY_S:
            return
        self._paper_info_at = now
        try:
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=2.0, verify=False)
            r = await self._http.get(self.settings.paper_url.rstrip("/") + "/paper/info")
            if r.status_code == 200:
                info = r.json()
                self.rt.state.paper = info if isinstance(info, dict) else {}
                feed = self.rt.state.paper.get("feed", "")
                self.rt.state.feed = feed if isinstance(feed, str) else str(feed.get("name", feed))
        except (httpx.HTTPError, ValueError):
            pass

    async def _one_way_mode(self) -> None:
        """The bot trades in one-way mode (position side BOTH); switch a hedge-mode account if it can be."""
        assert self.rt is not None
        try:
            if not await self.rt.exchange.get_position_mode():
                return
            await self.rt.exchange.set_position_mode(False)
            log.warning("account.one_way", "the account was in hedge mode; switched to one-way mode", activity=True)
        except ExchangeError as exc:
            text = f"the account is in hedge mode and could not be switched to one-way mode ({exc}); entries will fail"
            log.error("account.hedge_mode", text, activity=True)
            self.rt.notice("error", text)

    def _credit_closed_trades(self) -> None:
        """Trades the state already closed but the policy still waits for (e.g. the policy file was not
        saved before a crash): credit them now. Trades closed on the venue while the bot was down are
        credited by the first reconciliation."""
        assert self.rt is not None
        waiting = self.rt.policy.pending_ids()
        for t in self.rt.state.closed_trades:
            if t.trade_id in waiting and t.r_multiple is not None:
                self.rt.policy.note_exit(t.trade_id, t.r_multiple, t.context, t.bucket)

    def _heartbeat(self) -> None:
        assert self.rt is not None
        self.rt.state.heartbeat_ms = self.rt.now_ms()
        self.rt.state.heartbeat_wall_ms = Runtime.wall_ms()

    # ---------------------------------------------------------------- loop
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.request_stop, sig)
            except (NotImplementedError, RuntimeError):
                pass
        self._main = asyncio.current_task()
        try:
            return await self._run()
        except asyncio.CancelledError:
            return 0
        finally:
            await self._shutdown()
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError):
                    pass

    async def _run(self) -> int:
        self.rt = rt = self._build()
        try:
            await rt.exchange.sync_time()
        except ExchangeError as exc:
            log.warning("time.sync_failed", f"venue time not measured ({exc}); using the local clock")
        rt.state.started_ms = rt.now_ms()
        await self._one_way_mode()
        self._credit_closed_trades()
        await self._paper_info()
        log.info("bot.started", f"mraster bot started ({rt.state.mode}, feed {rt.state.feed or '?'}, "
                 f"{len(rt.state.open_trades)} open trades in state)", mode=rt.state.mode, activity=True)
        while True:
            failed = False
            self.reload_settings()
            try:
                result = await run_cycle(rt, self.fees, self.critical, lambda: self.stop_requested)
                self.cycles_done += 1
                self._heartbeat()
                await self._paper_info()
                rt.save()
                rt.policy.save()
                skips = ", ".join(f"{k} {v}" for k, v in sorted(result.skips.items(), key=lambda kv: -kv[1]))
                log.info("cycle.summary", f"cycle {result.cycle}: {result.scanned} scanned, {result.candidates} "
                         f"candidates, {result.entries} entries; skips: {skips or 'none'}; {result.duration_ms} ms, "
                         f"weight {result.weight_used}/{result.weight_limit}", **result.to_json())
            except (AuthError, BannedError) as exc:
                log.error("cycle.failed", f"cycle stopped by the venue: {exc}", activity=True)
                self._heartbeat()
                rt.save()
            except ExchangeError as exc:
                failed = True
                log.warning("cycle.failed", f"cycle not completed: {exc}; retrying after the pause")
                self._heartbeat()
                rt.save()
            except Exception as exc:  # noqa: BLE001 - a bug in one cycle must not leave positions unmanaged
                failed = True
                log.exception("cycle.crashed", f"cycle failed unexpectedly: {type(exc).__name__}: {exc}",
                              activity=True)
                self._heartbeat()
                rt.save()
            if self.stop_requested or rt.settings.run_once:
                log.info("bot.stopped", "state written; bye", cycles=self.cycles_done, activity=True)
                return 1 if failed and rt.settings.run_once else 0
            pause = float(rt.settings.loop_sleep) if not failed else max(float(rt.settings.loop_sleep), ERROR_PAUSE_S)
            if any(t.status == "pending" or t.close_requested for t in rt.state.open_trades.values()):
                pause = min(pause, UNRESOLVED_PAUSE_S)     # an entry to resolve or a close to retry: look soon
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            except asyncio.TimeoutError:
                pass
            if self.stop_requested:
                log.info("bot.stopped", "state written; bye", cycles=self.cycles_done, activity=True)
                return 0

    async def _shutdown(self) -> None:
        pending = [t for t in self._critical if not t.done()]
        if pending:
            log.info("bot.finishing", f"waiting for {len(pending)} order sequence(s) to finish")
            await asyncio.wait(pending, timeout=CRITICAL_GRACE_S)
        rt = self.rt
        if rt is None:
            return
        try:
            self._heartbeat()
            rt.save()
            rt.policy.save()
        finally:
            rt.journal.close()
            if self._http is not None:
                await self._http.aclose()
            try:
                await rt.exchange.close()
            except Exception:  # noqa: BLE001 - closing must not hide the exit
                pass
