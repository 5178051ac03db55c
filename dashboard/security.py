"""Security by default: token, sessions, same-origin checks, loopback-only without a token.

- Without ASTER_DASHBOARD_TOKEN the dashboard serves loopback only, and only to
  requests whose Host is a loopback name (a DNS-rebinding page cannot reach it).
- With a token every page, API and WebSocket needs it: `Authorization: Bearer`
  for programs, or the login form, which sets an HttpOnly SameSite=Strict cookie
  holding a signed, expiring session derived from the token, never the token.
- State-changing requests must come from the page's own origin (Origin, else
  Referer) or carry the CSRF header; WebSockets must come from the page's origin.
"""
from __future__ import annotations

import hashlib
import hmac
import functools
import ipaddress
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

COOKIE = "mraster_session"
CSRF_HEADER = "x-csrf-token"
SESSION_DAYS = 7
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@functools.lru_cache(maxsize=1024)
def is_loopback_host(host: str) -> bool:
    """Cached: it is asked for every request (client, server and Host header) and parsing an address
    was a tenth of the dashboard's time per API call."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=1024)
def split_host(host_header: str) -> tuple[str, str]:
    """'127.0.0.1:8000' -> ('127.0.0.1', '8000'); '[::1]:80' -> ('::1', '80')."""
    parts = urlsplit("//" + host_header)
    try:
        port = str(parts.port or "")
    except ValueError:
        port = ""
    return (parts.hostname or ""), port


def refuse_reason(host: str, token: str, *, tls: bool = False, allow_plain_http: bool = False) -> str:
    """Why the dashboard must not start on `host` (empty when it may).

    Off loopback a token is needed, and the token must not cross the network in clear text: that
    needs HTTPS (ASTER_DASHBOARD_TLS_CERT / _KEY) unless the operator opts in to plain HTTP."""
    if is_loopback_host(host):
        return ""
    if not token:
        return (f"refusing to serve on {host}: the dashboard can start and stop trading and change settings, so "
                "anything but loopback (127.0.0.1) needs a token. Set ASTER_DASHBOARD_TOKEN in .env (mode 0600) "
                "or the environment, e.g. ASTER_DASHBOARD_TOKEN=$(python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(24))'), or bind to 127.0.0.1.")
    if not tls and not allow_plain_http:
        return (f"refusing to serve on {host} over plain HTTP: the token and the session cookie would cross the "
                "network in clear text. Give a certificate and key (ASTER_DASHBOARD_TLS_CERT, "
                "ASTER_DASHBOARD_TLS_KEY), or put a TLS proxy in front and bind to 127.0.0.1, or, on a network "
                "you trust, set ASTER_DASHBOARD_ALLOW_PLAIN_HTTP=true in .env or the environment.")
    return ""


PLAIN_HTTP_MESSAGE = ("this dashboard is reached over plain HTTP on a network address, where the token would travel "
                      "in clear text: use https:// (ASTER_DASHBOARD_TLS_CERT / _KEY), a TLS proxy on 127.0.0.1, or "
                      "set ASTER_DASHBOARD_ALLOW_PLAIN_HTTP=true in .env or the environment")


@dataclass
class AccessControl:
    """Everything the routers need to decide who may do what. `token_getter` reads the current token."""
    token_getter: Callable[[], str]
    clock: Callable[[], float] = time.time
    _failures: dict[str, list[float]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.token_getter())

    # ------------------------------------------------------------------ tokens
    def check_token(self, candidate: str) -> bool:
        token = self.token_getter()
        return bool(token) and hmac.compare_digest(candidate.encode(), token.encode())

    def _sign(self, message: str) -> str:
        key = hashlib.sha256(b"mraster-dashboard-session|" + self.token_getter().encode()).digest()
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()

    def make_session(self) -> str:
        expires = int(self.clock()) + SESSION_DAYS * 86400
        return f"{expires}.{self._sign(f'session|{expires}')}"

    def check_session(self, value: str) -> bool:
        if not self.enabled or not value or "." not in value:
            return False
        expires_text, sig = value.split(".", 1)
        if not expires_text.isdigit() or int(expires_text) < self.clock():
            return False
        return hmac.compare_digest(sig, self._sign(f"session|{expires_text}"))

    def csrf_token(self) -> str:
        """Header token for the page's own requests (double safety beside the Origin check)."""
        return self._sign("csrf")[:32] if self.enabled else ""

    def authenticated(self, authorization: str, cookie: str) -> bool:
        if not self.enabled:
            return True
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and value and self.check_token(value.strip()):
            return True
        return self.check_session(cookie)

    # ----------------------------------------------------------- login throttle
    def login_allowed(self, client: str, limit: int = 5, window: float = 60.0) -> bool:
        now = self.clock()
        recent = [t for t in self._failures.get(client, []) if now - t < window]
        self._failures[client] = recent
        return len(recent) < limit

    def login_failed(self, client: str) -> None:
        self._failures.setdefault(client, []).append(self.clock())


def same_origin(url: str, host_header: str) -> bool:
    """Does the Origin/Referer `url` name the host (and port) the request was sent to?"""
    if not url or url == "null":
        return False
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host, port = split_host(host_header)
    default = "443" if parts.scheme == "https" else "80"
    try:
        url_port = str(parts.port or default)
    except ValueError:
        return False
    return parts.hostname.lower() == host.lower() and url_port == (port or default)


def cross_site_problem(method: str, headers: dict[str, str], access: AccessControl) -> str:
    """Why a state-changing request looks cross-site (empty when it is fine).

    A browser always sends Origin with a cross-origin POST, so a request with neither Origin nor
    Referer comes from a program (curl, scripts), which a foreign page cannot drive."""
    if method not in UNSAFE_METHODS:
        return ""
    host = headers.get("host", "")
    csrf = headers.get(CSRF_HEADER, "")
    if access.enabled and csrf and hmac.compare_digest(csrf, access.csrf_token()):
        return ""
    origin = headers.get("origin")
    if origin is not None:
        return "" if same_origin(origin, host) else f"cross-site request refused (Origin {origin!r})"
    referer = headers.get("referer")
    if referer is not None:
        return "" if same_origin(referer, host) else "cross-site request refused (Referer of another site)"
    return ""
