"""One ASGI middleware for what applies to every request, page, API and WebSocket alike.

- Without a token: only loopback connections with a loopback Host header are
  served (also when started as `uvicorn dashboard.app:app --host 0.0.0.0`, which
  bypasses the check in `mraster dashboard`), so neither the network nor a
  DNS-rebinding web page reaches an unprotected dashboard.
- With a token, a plain-HTTP connection to a non-loopback address is refused
  unless ASTER_DASHBOARD_ALLOW_PLAIN_HTTP is set: the token must not travel in
  clear text (HTTPS, or a TLS proxy on loopback, is the way).
- Security headers on every HTTP response: no framing (clickjacking could press
  Start), a strict Content-Security-Policy (no inline script), no sniffing.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from dashboard.security import PLAIN_HTTP_MESSAGE, is_loopback_host, split_host

SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
     b"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
]

NO_TOKEN_MESSAGE = ("this dashboard has no ASTER_DASHBOARD_TOKEN, so it answers only on loopback "
                    "(open it as http://127.0.0.1:<port>/); set a token to reach it from elsewhere")


class SecurityMiddleware:
    def __init__(self, app: Any, token_getter: Callable[[], str],
                 plain_http_allowed: Callable[[], bool] = lambda: False):
        self.app = app
        self.token_getter = token_getter
        self.plain_http_allowed = plain_http_allowed

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self.token_getter():
            if not _loopback_only_ok(scope):
                await _refuse(scope, receive, send, NO_TOKEN_MESSAGE)
                return
        elif _plain_on_network(scope) and not self.plain_http_allowed():
            await _refuse(scope, receive, send, PLAIN_HTTP_MESSAGE)
            return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _plain_on_network(scope: dict) -> bool:
    """Reached without TLS on an address other than loopback (a TLS proxy on loopback is fine)."""
    if scope.get("scheme") in ("https", "wss"):
        return False
    server = scope.get("server")
    return bool(server and server[0]) and not is_loopback_host(str(server[0]))


def _loopback_only_ok(scope: dict) -> bool:
    server = scope.get("server")
    if server and server[0] and not is_loopback_host(str(server[0])):
        return False
    client = scope.get("client")
    if client and client[0] and not is_loopback_host(str(client[0])):
        return False
    host = ""
    for key, value in scope.get("headers", []):
        if key == b"host":
            host = value.decode("latin-1")
            break
    return bool(host) and is_loopback_host(split_host(host)[0])


async def _refuse(scope: dict, receive: Callable, send: Callable, message: str) -> None:
    if scope["type"] == "websocket":
        reason = "loopback only without a token" if message == NO_TOKEN_MESSAGE else "plain HTTP refused"
        await send({"type": "websocket.close", "code": 1008, "reason": reason})
        return
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
