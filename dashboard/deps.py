"""The services of one dashboard instance and the dependencies routers reach them through."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, WebSocket

from dashboard.paths import DashboardPaths
from dashboard.security import COOKIE, AccessControl, cross_site_problem
from dashboard.services.accounts import AccountsService
from dashboard.services.backtests import BacktestService
from dashboard.services.configstore import ConfigStore
from dashboard.services.controls import Controls
from dashboard.services.exits import ExitRecorder
from dashboard.services.credgate import CredentialGate
from dashboard.services.engines import EngineService
from dashboard.services.equity import EquityService
from dashboard.services.flatten import FlattenService
from dashboard.services.loghub import LogHub
from dashboard.services.marketdata import DataService
from dashboard.services.presets import PresetService
from dashboard.services.state import StateService
from dashboard.services.sizing import SizingService
from dashboard.services.supervisor import Supervisor
from dashboard.services.trades import TradeHistory


@dataclass
class Services:
    paths: DashboardPaths
    access: AccessControl
    config: ConfigStore
    presets: PresetService
    supervisor: Supervisor
    logs: LogHub
    state: StateService
    flatten: FlattenService
    start_paper_exchange: bool
    credentials: CredentialGate
    engines: EngineService
    accounts: AccountsService
    data: DataService
    backtests: BacktestService
    exits: ExitRecorder
    trades: TradeHistory
    sizing: SizingService
    controls: Controls
    ops: Any = None      # dashboard.services.ops.OpsScheduler (the schedule without systemd)
    equity: EquityService | None = None   # equity per account and engine, with drawdown

    @property
    def settings(self) -> Any:
        return self.config.settings


def services_of(conn: Request | WebSocket) -> Services:
    services = getattr(conn.app.state, "services", None)
    if services is None:
        raise HTTPException(503, "the dashboard is starting")
    return services


async def _services(request: Request) -> Services:
    # async on purpose: FastAPI runs sync dependencies in a thread pool, a costly hop per request
    return services_of(request)


ServicesDep = Annotated[Services, Depends(_services)]


def who(request: Request | WebSocket, services: Services) -> str:
    """For the audit log: how the caller authenticated, and from where."""
    kind = "token" if services.access.enabled else "local"
    host = request.client.host if request.client else "?"
    return f"{kind}@{host}"


async def require_api_access(request: Request) -> None:
    """Per API router: authenticated (when a token is set) and, for changes, same-origin."""
    services = services_of(request)
    if not services.access.authenticated(request.headers.get("authorization", ""),
                                         request.cookies.get(COOKIE, "")):
        raise HTTPException(401, "authentication required: log in, or send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    problem = cross_site_problem(request.method, dict(request.headers), services.access)
    if problem:
        raise HTTPException(403, problem)


ApiAccess = Depends(require_api_access)


async def websocket_admitted(ws: WebSocket) -> bool:
    """Close a WebSocket that may not open (code 1008, with the reason) and say whether it may."""
    problem = websocket_problem(ws)
    if problem:
        await ws.close(code=1008, reason=problem)
    return not problem


def websocket_problem(ws: WebSocket) -> str:
    """Why a WebSocket may not open (empty when it may): auth, and an Origin from the page's host."""
    from dashboard.security import same_origin
    services = services_of(ws)
    origin = ws.headers.get("origin")
    if origin is not None and not same_origin(origin, ws.headers.get("host", "")):
        return f"WebSocket from another origin refused ({origin})"
    if not services.access.authenticated(ws.headers.get("authorization", ""), ws.cookies.get(COOKIE, "")):
        return "authentication required"
    return ""
