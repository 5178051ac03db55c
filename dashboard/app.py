"""The dashboard web app: `create_app()` builds it; services live in the lifespan.

`uvicorn dashboard.app:app` works too: the module attribute `app` is built on
first access from the environment and the files (never at import time).
"""
from __future__ import annotations

import gc
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from mraster.accounts import DEFAULT_ACCOUNT
from mraster.domain.ownership import DEFAULT_SCANNER
from mraster.logs import STDOUT_LEVEL_ENV, settings_secrets
from mraster.settings import LoadedSettings, load_settings

from dashboard.actions import ensure_paper_exchange
from dashboard.deps import Services
from dashboard.middleware import SecurityMiddleware
from dashboard.paths import DashboardPaths
from dashboard.routers import (
    auth, backtest, config, controls, data, engines, equity, killswitch, logs, maker, market, momentum, operator, ops,
    pages, processes, state, trades,
)
from dashboard.security import SESSIONS_FILE, AccessControl
from dashboard.services.accounts import AccountsService
from dashboard.services.backtests import BacktestService
from dashboard.services.configstore import AuditLog, ConfigStore
from dashboard.services.controls import Controls
from dashboard.services.credgate import CredentialGate
from dashboard.services.engines import EngineService
from dashboard.services.equity import DB_FILE as EQUITY_FILE, SAMPLE_S, EquitySampler, EquityService, EquityStore
from dashboard.services.exits import ExitRecorder, scanner_exit_sources
from dashboard.services.flatten import FlattenService
from dashboard.services.loghub import SOURCES, LogHub
from dashboard.services.marketdata import DataService
from dashboard.services.ops import OpsScheduler, child_env as ops_child_env
from dashboard.services.presets import PresetService
from dashboard.services.sizing import SizingService
from dashboard.services.state import StateService
from dashboard.services.supervisor import Backoff, ChildSpec, Supervisor
from dashboard.services.trades import TradeHistory
from dashboard.services.venue import PaperInfo, VenueReader

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STORE_DIR = "data/store"           # `mraster data`'s default store, relative to the config file's directory


CLASSIC_CHILDREN = ("bot", "guard", "paper")   # other names in `commands` are engine instances (tests)


def default_commands(python: str = sys.executable) -> dict[str, tuple[str, ...]]:
    return {
        "bot": (python, "-m", "bot"),
        "guard": (python, "-m", "guard"),
        "paper": (python, "-m", "commands.main", "paper-exchange"),
    }


def child_specs(paths: DashboardPaths, commands: Mapping[str, Sequence[str]],
                extra_env: Mapping[str, str]) -> dict[str, ChildSpec]:
    """Children run where the config file is, with its absolute path, so they read what we write."""
    env = dict(os.environ)
    env.update(extra_env)
    env.update({"ASTER_CONFIG_FILE": str(paths.config_file), "ASTER_DOTENV_FILE": str(paths.dotenv_file),
                "PYTHONUNBUFFERED": "1", STDOUT_LEVEL_ENV: "WARNING"})
    return {name: ChildSpec(name=name, argv=tuple(argv), cwd=paths.base_dir, env=env,
                            out_file=paths.log_dir / f"{name}.out", pid_file=paths.run_dir / f"{name}.pid",
                            restartable=True)
            for name, argv in commands.items()}


def create_app(loaded: LoadedSettings | None = None, *,
               loader: Callable[[], LoadedSettings] | None = None,
               commands: Mapping[str, Sequence[str]] | None = None,
               child_env: Mapping[str, str] | None = None,
               start_paper_exchange: bool = False,
               stop_timeout: float = 20.0,
               backoff: Backoff = Backoff(),
               exchange_factory: Callable[[Any], Any] | None = None,
               venue_ttl: float = 5.0,
               log_poll_interval: float = 0.05,
               ops_clock: Callable[[], Any] | None = None,
               equity_interval: float = SAMPLE_S) -> FastAPI:
    """Build the app. Tests inject the settings loader, the child commands and the exchange."""
    loader = loader or (lambda: load_settings())
    first = loaded or loader()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services = build_services(first, loader, default_commands() if commands is None else commands,
                                  child_env or {},
                                  start_paper_exchange, stop_timeout, backoff, exchange_factory, venue_ttl,
                                  log_poll_interval, ops_clock, equity_interval)
        await services.supervisor.open()
        await services.logs.open()
        await services.data.open()
        services.exits.open()
        services.exits.start()
        services.equity.start()
        await services.ops.open()
        app.state.services = services
        gc.freeze()   # what start-up built lives as long as the process: full collections skip it (latency)
        if start_paper_exchange:
            await ensure_paper_exchange(services)
        await services.ops.autostart(services)      # ASTER_OPS_AUTOSTART: the server's 00:00 restart trades
        try:
            yield
        finally:
            await services.ops.close()
            await services.supervisor.close()
            await services.logs.close()
            await services.accounts.close()
            await services.data.close()
            await services.exits.close()
            await services.equity.close()
            if services.state.venue is not None:
                await services.state.venue.close()
            app.state.services = None

    app = FastAPI(title="mraster dashboard", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.services = None
    current = lambda: app.state.services.settings if app.state.services else first.settings  # noqa: E731
    app.state.token_getter = lambda: current().dashboard_token
    app.add_middleware(SecurityMiddleware, token_getter=lambda: app.state.token_getter(),
                       plain_http_allowed=lambda: current().dashboard_allow_plain_http)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (pages, auth, killswitch, engines, market, data, backtest, controls, trades, equity, momentum, maker,
                   operator, ops, processes, config, logs, state):   # before /api/{name}/{action}
        app.include_router(module.router)
    return app


def build_services(loaded: LoadedSettings, loader: Callable[[], LoadedSettings],
                   commands: Mapping[str, Sequence[str]], child_env: Mapping[str, str],
                   start_paper_exchange: bool, stop_timeout: float, backoff: Backoff,
                   exchange_factory: Callable[[Any], Any] | None, venue_ttl: float,
                   log_poll_interval: float, ops_clock: Callable[[], Any] | None = None,
                   equity_interval: float = SAMPLE_S) -> Services:
    paths = DashboardPaths.from_loaded(loaded)
    store = ConfigStore(loader, loaded, AuditLog(paths.audit_file))
    settings = lambda: store.settings  # noqa: E731 - always the latest saved values
    classic = {name: argv for name, argv in commands.items() if name in CLASSIC_CHILDREN}
    specs = child_specs(paths, classic, child_env)
    supervisor = Supervisor(specs, stop_timeout=stop_timeout, backoff=backoff,
                            auto_restart=lambda: store.settings.auto_restart)
    # the children's environment (config file, .env, unbuffered output), also when no classic child is configured
    base_env = next(iter(specs.values())).env if specs else child_specs(paths, {"x": ("x",)}, child_env)["x"].env
    environ = lambda: {**os.environ, **child_env}  # noqa: E731 - named accounts: .env under these
    engine_service = EngineService(paths, supervisor, base_env, commands, environ=environ)
    s = loaded.settings
    hub = LogHub(paths.log_dir, sources=(*SOURCES, *[n for n in engine_service.log_sources() if n not in SOURCES]),
                 poll_interval=log_poll_interval, secrets=settings_secrets(s))
    venue = VenueReader(settings, ttl=venue_ttl, factory=exchange_factory)
    state_service = StateService(paths.state_file, paths.run_dir, settings, venue=venue, paper=PaperInfo())

    def make_exchange() -> Any:
        if exchange_factory is not None:
            return exchange_factory(store.settings)
        from mraster.exchange.factory import make_exchange as factory
        return factory(store.settings)

    read_state = lambda: state_service.read_state()[0]  # noqa: E731
    flatten = FlattenService(supervisor, make_exchange, read_state)
    accounts = AccountsService(settings, paths.dotenv_file, environ, venue, factory=exchange_factory, ttl=venue_ttl)
    exits = ExitRecorder(paths.exits_journal, read_state, venue,
                         more_sources=scanner_exit_sources(engine_service, accounts, settings, paths.state_file))
    history = TradeHistory(paths.journal_file, read_state, exits.owned)
    state_service.history = history
    equity_store = EquityStore(paths.run_dir / EQUITY_FILE)
    equity = EquityService(equity_store, EquitySampler(equity_store, accounts.equities, equity_interval), history.rows,
                           lambda: list(accounts.declared()[0]),
                           lambda: [{"name": i.name, "kind": i.kind, "account": i.account}
                                    for i in engine_service.instances], lambda: bot_equity(engine_service, read_state))
    # the recorder and backtest jobs run as children with the bot's environment, where the config file is
    env = child_specs(paths, {"x": ("x",)}, child_env)["x"].env
    store_dir = paths.base_dir / STORE_DIR
    data = DataService(paths.log_dir, paths.run_dir, store_dir,
                       lambda argv: child_specs(paths, {"recorder": argv}, child_env)["recorder"],
                       paper=lambda: store.settings.paper, auto_restart=lambda: store.settings.auto_restart,
                       stop_timeout=stop_timeout, cwd=paths.base_dir, env=dict(env))
    data.engines = engine_service             # recorder instances are engine instances (kind `recorder`)
    backtests = BacktestService(paths.run_dir, store_dir, cwd=paths.base_dir, env=env, coverage=data.coverage)
    ops_kw: dict[str, Any] = {"clock": ops_clock} if ops_clock is not None else {}
    ops_env = ops_child_env(paths.config_file, paths.dotenv_file) | dict(child_env)
    notifier = Supervisor({"notify": ChildSpec(
        name="notify", argv=(sys.executable, "-m", "ops", "notify"), cwd=paths.base_dir,
        env=ops_env | {STDOUT_LEVEL_ENV: "WARNING"}, out_file=paths.log_dir / "notify.out",
        pid_file=paths.run_dir / "notify.pid")}, stop_timeout=stop_timeout, backoff=backoff)
    scheduler = OpsScheduler(paths.run_dir, paths.base_dir, ops_env, settings, supervisor, notifier=notifier, **ops_kw)
    return Services(paths=paths, access=AccessControl(lambda: store.settings.dashboard_token,
                                                       session_file=paths.run_dir / SESSIONS_FILE), config=store,
                    presets=PresetService(store), supervisor=supervisor, logs=hub, state=state_service,
                    flatten=flatten, start_paper_exchange=start_paper_exchange,
                    credentials=CredentialGate(settings, make=exchange_factory), engines=engine_service,
                    accounts=accounts, data=data, backtests=backtests, exits=exits,
                    trades=history, sizing=SizingService(settings, venue, read_state),
                    controls=Controls(settings, paths.run_dir), ops=scheduler, equity=equity)


def bot_equity(engines: EngineService, read_state: Callable[[], Any]) -> tuple[str, list[Any]]:
    """The default scanner's account and its state file's equity curve (earlier history of that account)."""
    account = next((i.account for i in engines.instances if i.name == DEFAULT_SCANNER), DEFAULT_ACCOUNT)
    state = read_state()
    return account, list(state.equity_curve) if state is not None else []


def __getattr__(name: str) -> Any:
    """`uvicorn dashboard.app:app`: build the app from the environment on first access."""
    if name == "app":
        from dashboard.main import start_logging
        loaded = load_settings()
        start_logging(loaded, "loaded by uvicorn (dashboard.app:app)")
        built = create_app(loaded, start_paper_exchange=True)
        globals()["app"] = built
        return built
    raise AttributeError(name)
