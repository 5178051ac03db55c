"""The momentum engine's page data: an instance's status file, as the engine wrote it (docs/momentum.md).

Thin: the file is the engine's (momentum/status.py); the router finds it by the kind's file-name template
under the run directory, says how old it is, and never imports the engine."""
from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, HTTPException

from dashboard.deps import ApiAccess, ServicesDep
from mraster.domain.ownership import check_instance_name
from mraster.engines import get_kind

router = APIRouter(prefix="/api/momentum", dependencies=[ApiAccess], tags=["momentum"])
STALE_S = 5.0                         # the engine writes every second; older means it is not running


@router.get("/{instance}/status")
async def status(instance: str, services: ServicesDep) -> dict[str, Any]:
    try:
        check_instance_name(instance)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    path = services.paths.run_dir / get_kind("momentum").status_file.format(instance=instance)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HTTPException(404, f"no status of momentum instance {instance} yet (is it running?)") from None
    except (OSError, ValueError) as exc:
        raise HTTPException(503, f"status file of {instance} unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != "momentum":
        raise HTTPException(404, f"{instance} is not a momentum instance")
    age = time.time() - float(data.get("updated_wall_ms", 0)) / 1000
    data["age_s"] = round(age, 1)
    data["stale"] = age > STALE_S and data.get("state") != "stopped"
    return data
