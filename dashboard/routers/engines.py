"""Engine instances and named accounts: list, add, edit, remove, start, stop, restart.

    GET    /api/engines                      instances with process state, status file and kinds
    POST   /api/engines                      add an instance   {"name", "kind", "accounts", "settings", "guard"}
    GET    /api/engines/{name}               one instance with every setting, its value and source
    GET    /api/engines/{name}/state         a scanner instance's own state (scan, bandit, equity)
    PATCH  /api/engines/{name}               change accounts, settings, guard or enabled
    DELETE /api/engines/{name}               remove a stopped instance
    POST   /api/engines/{name}/{action}      start | stop | restart
    GET    /api/accounts                     every named account: balances, positions, open orders
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException

from mraster.accounts import AccountError

from dashboard.deps import ApiAccess, ServicesDep
from dashboard.services.credgate import CredentialsRefused
from dashboard.services.state import StateService
from dashboard.services.engines import DEFAULT_CHILD, InstanceError, SupervisorError, child_name, guard_child

router = APIRouter(prefix="/api", dependencies=[ApiAccess], tags=["engines"])
ACTIONS = ("start", "stop", "restart")


def _instance(services: Any, name: str) -> Any:
    try:
        return services.engines.get(name)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None


@router.get("/engines")
async def list_engines(services: ServicesDep) -> dict[str, Any]:
    return services.engines.listing()


@router.post("/engines")
async def add_engine(services: ServicesDep, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    try:
        view = services.engines.create(payload)
    except InstanceError as exc:
        raise HTTPException(422, str(exc)) from None
    for source in services.engines.log_sources():       # the instance, and its account's guard if new
        services.logs.add_source(source)
    return view


@router.get("/engines/{name}")
async def get_engine(name: str, services: ServicesDep) -> dict[str, Any]:
    view: dict[str, Any] = services.engines.view(_instance(services, name), with_settings=True)
    return view


@router.get("/engines/{name}/state")
async def engine_state(name: str, services: ServicesDep) -> dict[str, Any]:
    """A scanner instance's own state file (scan, bandit, equity): the page of a second scanner shows its
    own decisions, not the default scanner's."""
    inst = _instance(services, name)
    path = services.engines.state_file_of(inst, services.settings)
    if path is None:
        raise HTTPException(404, f"{name} is a {inst.kind} instance: it has no scanner state file")
    readers = services.engines.state_readers          # one per state file: re-parsed only when it changes
    reader = readers.get(str(path))
    if reader is None:
        reader = readers[str(path)] = StateService(path, services.paths.run_dir, lambda: services.settings)
    snap = await reader.snapshot(with_venue=False)
    return {"instance": name, "state_file": path.name, "state": snap["state"], "equity_curve": snap["equity_curve"]}


@router.patch("/engines/{name}")
async def edit_engine(name: str, services: ServicesDep, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    _instance(services, name)
    try:
        out: dict[str, Any] = services.engines.update(name, payload)
    except InstanceError as exc:
        raise HTTPException(422, str(exc)) from None
    return out


@router.delete("/engines/{name}")
async def remove_engine(name: str, services: ServicesDep) -> dict[str, Any]:
    _instance(services, name)
    try:
        await services.engines.delete(name)
    except InstanceError as exc:
        raise HTTPException(422, str(exc)) from None
    except SupervisorError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"removed": name}


@router.post("/engines/{name}/{action}")
async def engine_action(name: str, action: str, services: ServicesDep) -> dict[str, Any]:
    inst = _instance(services, name)
    if action not in ACTIONS:
        raise HTTPException(404, f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    try:
        if action != "stop" and inst.accounts:   # live: the venue judges each account's keys first (a kind
            # with no account, the recorder, reads public market streams only and needs none)
            gate = services.credentials if inst.account == "main" else services.accounts.gate(inst.account)
            await gate.require(DEFAULT_CHILD if inst.account == "main" else name)
        result = await services.engines.act(name, action)
    except (CredentialsRefused, AccountError) as exc:
        raise HTTPException(409, str(exc)) from None
    except InstanceError as exc:
        raise HTTPException(409, str(exc)) from None
    except SupervisorError as exc:
        raise HTTPException(500, str(exc)) from None
    also = result.pop("also_started", [])
    return {"instance": name, "child": child_name(name), "status": result, "also_started": also}


@router.get("/accounts")
async def accounts(services: ServicesDep) -> dict[str, Any]:
    out: dict[str, Any] = await services.accounts.overview()
    for row in out["accounts"]:                         # who protects the account's positions
        guard = guard_child(row["name"])
        row["guard"] = services.supervisor.status(guard) if services.supervisor.has(guard) else None
    return out
