"""Entry point of `mraster guard` (and `python -m guard`).

    mraster guard                 guard until SIGTERM / Ctrl+C
    mraster guard --once          one full check and repair, then exit (0: every position protected)
    mraster guard --flatten       cancel every order and close every position at market, then exit
    mraster guard --no-stream     timer only (no user-data stream): the fallback path, for tests

Live (ASTER_PAPER=false), the venue first judges the credentials with one harmless signed read:
exit 2 with the diagnosis when it refuses them; when it does not answer, the failure is logged
loudly and the guard starts anyway (it keeps retrying and protects positions once the venue answers).

Live settings (working type, ATR multiples, kill-switch, interval, log level) are picked up when
dashboard_config.json or .env change; anything else needs a restart.
"""
from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any, Callable

from mraster.exchange.errors import ExchangeError
from mraster.logs import get_logger, set_level, settings_secrets, setup_logging

STATUS_FILE = "guard_status.json"
EXIT_OK, EXIT_UNSETTLED, EXIT_CONFIG = 0, 1, 2


class SettingsReloader:
    """New settings when the config file or .env changed since the last load (None otherwise)."""

    def __init__(self, loaded: Any, cli: dict[str, str], for_account: Callable[[Any], Any] | None = None):
        self.cli = cli
        self.for_account = for_account or (lambda s: s)     # the guarded account's credentials and venue
        self.paths = [p for p in (loaded.config_file, loaded.dotenv_file) if p is not None]
        self.current = loaded.settings
        self.stamps = self._stamps()
        self.log = get_logger("guard")

    def _stamps(self) -> list[tuple[int, int] | None]:
        out = []
        for path in self.paths:
            try:
                st = Path(path).stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return out

    def __call__(self) -> Any | None:
        stamps = self._stamps()
        if stamps == self.stamps:
            return None
        self.stamps = stamps
        from mraster.settings import SettingsError, load_settings
        try:
            fresh = self.for_account(load_settings(cli=self.cli).settings)
        except SettingsError as exc:
            self.log.error("settings.invalid", f"edited settings are invalid, keeping the running ones: {exc}")
            return None
        changed = [spec.env for spec in _specs() if getattr(fresh, spec.attr) != getattr(self.current, spec.attr)]
        live = [env for env in changed if _spec(env).live]
        later = [env for env in changed if not _spec(env).live]
        if later:
            self.log.warning("settings.restart_needed", f"changed settings that apply after a restart: "
                             f"{', '.join(later)}", settings=later)
        if not live:
            return None
        self.log.info("settings.reloaded", f"settings changed: {', '.join(live)}", settings=live)
        set_level(fresh.loglevel)
        merged = self.current.with_values(**{_spec(env).attr: getattr(fresh, _spec(env).attr) for env in live})
        self.current = merged
        return merged


def _specs():
    from mraster.settings import FIELDS
    return FIELDS


def _spec(env: str):
    from mraster.settings import FIELDS_BY_ENV
    return FIELDS_BY_ENV[env]


HTTP_BACKOFF_CAP_S = 0.1
GUARD_RATE_SHARE = 1.0      # the bot yields at ASTER_RATE_LIMIT_SHARE; the guard may use the rest


def guard_backoff(settings: Any) -> float:
    """The client's retry delay for the guard: ASTER_HTTP_BACKOFF, at most 0.1 s. A stop must be
    back within two seconds, and two retries at 0.6 s and 1.2 s would spend most of that; the
    guard backs off by itself between checks, and the venue's 429 / 418 answers are obeyed as given."""
    return min(float(settings.http_backoff), HTTP_BACKOFF_CAP_S)


def run(loaded: Any, args: Any) -> int:
    from mraster.settings.overrides import cli_overrides
    from mraster.exchange.factory import make_exchange

    from guard.service import GuardService

    from guard.accounts import GuardSetup, SetupError
    try:
        setup = GuardSetup.build(loaded, getattr(args, "account", None), getattr(args, "instances", None))
    except SetupError as exc:
        print(f"mraster guard: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = setup.settings
    setup_logging(setup.log_source, settings.loglevel, settings.log_dir, secrets=settings_secrets(settings))
    if not settings.paper and not live_preflight(settings):
        return EXIT_CONFIG
    exchange = make_exchange(settings, backoff_s=guard_backoff(settings), rate_limit_share=GUARD_RATE_SHARE)
    venue = settings.paper_url if settings.paper else settings.exchange_base
    service = GuardService(
        exchange, settings, mode="paper" if settings.paper else "live", state_path=settings.state_file,
        status_path=setup.status_path, use_stream=not getattr(args, "no_stream", False),
        reload_settings=SettingsReloader(loaded, cli_overrides(args), setup.for_account), venue_label=f" at {venue}",
        on_settings=lambda fresh: exchange.reconfigure(retries=fresh.http_retries, backoff_s=guard_backoff(fresh)),
        state_paths=setup.state_paths, owners=setup.owners, rule=setup.rule)
    if getattr(args, "once", False):
        service.reconciler.manual_grace_s = 0.0
    return asyncio.run(_main(service, exchange, args))


def live_preflight(settings: Any) -> bool:
    """Live: let the venue judge the credentials once before guarding. False (exit 2) only when it
    refused them (or the settings are wrong): a guard that cannot sign protects nothing. A venue that
    does not answer is logged loudly and the guard starts anyway: its loop keeps asking, and it
    protects positions as soon as the venue answers."""
    from mraster.exchange.credcheck import may_start, preflight, profile_summary
    log = get_logger("guard")
    check = asyncio.run(preflight(settings))
    if check.ok:
        log.info("credentials.ok", f"{profile_summary(settings)}; {'; '.join(check.lines)}", activity=True)
        return True
    if not may_start(check, "guard"):
        log.error("credentials.refused", f"the guard does not start: {check.problem}", activity=True,
                  kind=check.kind)
        return False
    log.error("credentials.unchecked", f"credentials not confirmed, the guard starts anyway and keeps retrying "
              f"the venue: {check.problem}", activity=True, kind=check.kind)
    return True


async def _main(service: Any, exchange: Any, args: Any) -> int:
    try:
        return await _mode(service, exchange, args)
    except (RuntimeError, ExchangeError) as exc:      # --once / --flatten could not finish with the venue
        service.log.error("guard.gave_up", f"{type(exc).__name__}: {exc}", activity=True)
        return EXIT_UNSETTLED
    finally:
        await exchange.close()


async def _mode(service: Any, exchange: Any, args: Any) -> int:
    if getattr(args, "flatten", False):
        await service.flatten()
        remaining = await exchange.positions()
        service.log.warning("flatten.done", f"flatten finished: {len(remaining)} position(s) left",
                            activity=True, remaining=[p.symbol for p in remaining])
        return EXIT_OK if not remaining else EXIT_UNSETTLED
    if getattr(args, "once", False):
        report = await service.run_once()
        protected = all(v.protected for v in report.views)
        return EXIT_OK if report.settled and protected else EXIT_UNSETTLED
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.run(stop)
    return EXIT_OK
