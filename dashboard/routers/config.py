"""Settings: effective values with their source, the schema, validated changes, presets, audit."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from mraster.settings.docs import schema_json
from mraster.settings.fields import FIELDS_BY_ENV

from dashboard.deps import ApiAccess, ServicesDep, who
from dashboard.services.configstore import CONFIRM_KEY, ConfigValidationError, ConfirmationRequired
from dashboard.services.presets import UnknownPresetError

router = APIRouter(prefix="/api", dependencies=[ApiAccess], tags=["config"])


def _invalid(errors: dict[str, str]) -> JSONResponse:
    return JSONResponse(status_code=422, content={
        "detail": "invalid settings: nothing was saved", "errors": errors})


async def _json_body(request: Request) -> Any:
    if "application/json" not in request.headers.get("content-type", ""):
        raise HTTPException(415, "send the settings as JSON (Content-Type: application/json)")
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ConfigValidationError({"_": f"the body is not valid JSON ({exc})"}) from None


@router.get("/config")
async def get_config(services: ServicesDep) -> dict[str, Any]:
    return services.config.effective()


@router.get("/config/schema")
async def get_schema() -> dict[str, Any]:
    return schema_json()


async def _change(request: Request, services: Any, replace_all: bool) -> Any:
    warnings: list[str] = []
    try:
        body = await _json_body(request)
        if isinstance(body, dict):     # the guard-rails (dashboard/services/sizing.py): refuse with the reason
            wanted = services.config.check({k: v for k, v in body.items() if k != CONFIRM_KEY})
            after, now = services.config.candidate(wanted), services.settings
            changing = {k: v for k, v in wanted.items()      # a value sent again unchanged is not judged
                        if k in FIELDS_BY_ENV and after.value(k) != now.value(k)}
            errors, warnings = await services.sizing.judge(changing, after)
            if errors:
                return _invalid(errors)
        result = await services.config.apply(body, who=who(request, services), replace_all=replace_all,
                                             action="config.put" if replace_all else "config.patch")
    except ConfigValidationError as exc:
        return _invalid(exc.errors)
    except ConfirmationRequired as exc:
        return JSONResponse(status_code=409, content={
            "detail": f"{exc}; nothing was saved", "confirm_hosts": exc.hosts,
            "how": f'send the same change again with "{CONFIRM_KEY}": {json.dumps(sorted(set(exc.hosts.values())))}'})
    body = result.to_json()
    return {**body, "warnings": [*body["warnings"], *warnings], "running": [n for n in services.supervisor.names
                                                                  if services.supervisor.is_running(n)]}


@router.patch("/config")
async def patch_config(request: Request, services: ServicesDep) -> Any:
    """Change the given settings; null puts one back to its default."""
    return await _change(request, services, replace_all=False)


@router.put("/config")
async def put_config(request: Request, services: ServicesDep) -> Any:
    """Replace the saved settings: keys of the config file missing from the body go back to their
    defaults. Secrets change only when given (the mask "********" means unchanged)."""
    return await _change(request, services, replace_all=True)


@router.get("/config/audit")
async def audit(services: ServicesDep, limit: int = 50) -> dict[str, Any]:
    return {"entries": await asyncio.to_thread(services.config.audit.recent, max(1, min(limit, 500)))}


@router.get("/presets")
async def presets(services: ServicesDep) -> dict[str, Any]:
    return services.presets.listing()


@router.post("/presets/{name}/preview")
async def preview(name: str, services: ServicesDep) -> dict[str, Any]:
    try:
        return services.presets.preview(name)
    except UnknownPresetError as exc:
        raise HTTPException(404, str(exc.args[0])) from None


@router.post("/presets/{name}/apply")
async def apply(name: str, request: Request, services: ServicesDep) -> Any:
    try:
        result = await services.presets.apply(name, who(request, services))
    except UnknownPresetError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except ConfigValidationError as exc:
        return _invalid(exc.errors)
    return {**result.to_json(), "active": services.presets.active()}
