"""Security by default: token, sessions, same-origin checks, loopback-only without a token.

- Without ASTER_DASHBOARD_TOKEN the dashboard serves loopback only, and only to
  requests whose Host is a loopback name (a DNS-rebinding page cannot reach it).
- With a token every page, API and WebSocket needs it: `Authorization: Bearer`
  for programs, or the login form, which sets an HttpOnly SameSite=Strict cookie
  holding a signed, expiring session derived from the token, never the token;
  the server lists live sessions, so logout ends one for good.
- State-changing requests must come from the page's own origin (Origin, else
  Referer) or carry the CSRF header; WebSockets must come from the page's origin.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from mraster.storage.atomic import write_json_atomic

COOKIE = "mraster_session"
CSRF_HEADER = "x-csrf-token"
SESSION_DAYS = 7
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_SESSIONS = 100            # logged-in browsers at once; a new login beyond that ends the oldest
MAX_TRACKED_CLIENTS = 1024    # addresses whose failed logins are remembered
MAX_FAILURES_KEPT = 20        # failed logins remembered per address (the throttle needs 5)
LOGIN_WINDOW_S = 60.0
SESSIONS_FILE = "dashboard_sessions.json"


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
    """Everything the routers need to decide who may do what. `token_getter` reads the current token.

    A session cookie is `expires.nonce.signature` (signed with a key derived from the token, so a new
    token ends every session) and is valid only while the server still lists it: logout removes it.
    The list lives in `session_file` (mode 0600, only hashes of the nonces) so a dashboard restart
    keeps people logged in but never revives a revoked session."""
    token_getter: Callable[[], str]
    clock: Callable[[], float] = time.time
    session_file: Path | None = None
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _sessions: dict[str, int] = field(default_factory=dict)   # sha256(nonce) -> expiry (epoch s)
    _save_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._sessions = self._load_sessions()

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

    # ---------------------------------------------------------------- sessions
    def make_session(self) -> str:
        now = int(self.clock())
        expires = now + SESSION_DAYS * 86400
        nonce = secrets.token_urlsafe(18)
        self._prune_sessions(now)
        while len(self._sessions) >= MAX_SESSIONS:   # the oldest logins go first
            del self._sessions[min(self._sessions, key=self._sessions.__getitem__)]
        self._sessions[_digest(nonce)] = expires
        return f"{expires}.{nonce}.{self._sign(f'session|{expires}|{nonce}')}"

    def _parse(self, value: str) -> tuple[int, str] | None:
        parts = (value or "").split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1]:
            return None
        expires, nonce, sig = int(parts[0]), parts[1], parts[2]
        if not hmac.compare_digest(sig.encode(), self._sign(f"session|{expires}|{nonce}").encode()):
            return None
        return expires, nonce

    def check_session(self, value: str) -> bool:
        if not self.enabled:
            return False
        parsed = self._parse(value)
        if parsed is None or parsed[0] < self.clock():
            return False
        return self._sessions.get(_digest(parsed[1])) == parsed[0]

    def revoke_session(self, value: str) -> bool:
        """Logout: the cookie stops working here and now, also if someone copied it."""
        parsed = self._parse(value) if self.enabled else None
        return parsed is not None and self._sessions.pop(_digest(parsed[1]), None) is not None

    def _prune_sessions(self, now: float) -> None:
        for key in [k for k, exp in self._sessions.items() if exp < now]:
            del self._sessions[key]

    def _load_sessions(self) -> dict[str, int]:
        if self.session_file is None:
            return {}
        try:
            data = json.loads(Path(self.session_file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, dict):
            return {}
        now = self.clock()
        return {k: v for k, v in sessions.items() if isinstance(k, str) and isinstance(v, int) and v >= now}

    async def save_sessions(self) -> None:
        """Write the session list in a worker thread (fsync must not stall the event loop); the lock
        keeps the last change the last write."""
        if self.session_file is None:
            return
        async with self._save_lock:
            snapshot = {"sessions": dict(self._sessions)}
            await asyncio.to_thread(write_json_atomic, self.session_file, snapshot, 0o600)

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
    def login_allowed(self, client: str, limit: int = 5, window: float = LOGIN_WINDOW_S) -> bool:
        now = self.clock()
        recent = [t for t in self._failures.get(client, []) if now - t < window]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return len(recent) < limit

    def login_failed(self, client: str, window: float = LOGIN_WINDOW_S) -> None:
        """Remember a failed login. The map stays bounded: clients whose failures are all older than
        the window are forgotten, and beyond MAX_TRACKED_CLIENTS the quietest ones go first."""
        now = self.clock()
        if client not in self._failures and len(self._failures) >= MAX_TRACKED_CLIENTS:
            for key in [k for k, times in self._failures.items() if not times or now - times[-1] >= window]:
                del self._failures[key]
            while len(self._failures) >= MAX_TRACKED_CLIENTS:
                del self._failures[min(self._failures, key=lambda k: self._failures[k][-1])]
        times = self._failures.setdefault(client, [])
        times.append(now)
        del times[:-MAX_FAILURES_KEPT]


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


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
