"""The HTML pages: the control center and the login form (templates hold no logic)."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from dashboard.deps import ServicesDep
from dashboard.security import COOKIE

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request, services: ServicesDep) -> Response:
    access = services.access
    if not access.authenticated(request.headers.get("authorization", ""), request.cookies.get(COOKIE, "")):
        return RedirectResponse("/login", status_code=303)
    return TEMPLATES.TemplateResponse(request, "index.html", {
        "csrf_token": access.csrf_token(), "auth_enabled": access.enabled})


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, services: ServicesDep, error: str = "") -> Response:
    if not services.access.enabled:
        return RedirectResponse("/", status_code=303)
    return TEMPLATES.TemplateResponse(request, "login.html", {"error": error[:200]})
