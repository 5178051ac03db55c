"""Login and logout: the form posts the token; the cookie holds a session derived from it."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from mraster.logs import get_logger

from dashboard.deps import ServicesDep
from dashboard.security import COOKIE, SESSION_DAYS, cross_site_problem

router = APIRouter()
log = get_logger("dashboard.auth")


@router.post("/login", include_in_schema=False)
async def login(request: Request, services: ServicesDep, token: str = Form("")) -> RedirectResponse:
    access = services.access
    problem = cross_site_problem("POST", dict(request.headers), access)
    if problem:
        raise HTTPException(403, problem)
    if not access.enabled:
        return RedirectResponse("/", status_code=303)
    client = request.client.host if request.client else "?"
    if not access.login_allowed(client):
        return RedirectResponse("/login?error=" + quote("too many attempts; wait a minute"), status_code=303)
    if not access.check_token(token):
        access.login_failed(client)
        log.warning("auth.failed", f"failed dashboard login from {client}", client=client, activity=True)
        return RedirectResponse("/login?error=" + quote("wrong token"), status_code=303)
    session = access.make_session()
    await access.save_sessions()
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, session, max_age=SESSION_DAYS * 86400, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    log.info("auth.login", f"dashboard login from {client}", client=client)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, services: ServicesDep) -> RedirectResponse:
    problem = cross_site_problem("POST", dict(request.headers), services.access)
    if problem:
        raise HTTPException(403, problem)
    if services.access.revoke_session(request.cookies.get(COOKIE, "")):
        await services.access.save_sessions()
        client = request.client.host if request.client else "?"
        log.info("auth.logout", f"dashboard logout from {client}: session ended", client=client)
    response = RedirectResponse("/login" if services.access.enabled else "/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
