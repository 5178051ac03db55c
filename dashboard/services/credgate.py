"""The live account's credentials, judged by the venue before the dashboard starts an engine.

Paper mode: nothing is checked and nothing is blocked. Live: before it starts (or restarts) the bot
or the guard, the dashboard runs `mraster.exchange.credcheck.preflight` (the check of `mraster
config check`) once and keeps the answer for a short time: a success for OK_TTL_S, a failure for
FAIL_TTL_S (so a fix on the venue's side is seen at the next click). Any change of the settings
the check depends on runs it again. The bot starts only on a passed check; the guard is refused
only when the venue refused the credentials (see `may_start`). The last result is shown in the
page's header (`status()`: no secret, ever).
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, Callable

from mraster.exchange.credcheck import CredentialCheck, may_start, preflight, profile_summary
from mraster.logs import get_logger

log = get_logger("dashboard.credentials")

OK_TTL_S = 60.0
FAIL_TTL_S = 5.0
# What the check depends on; the values are hashed, so no secret is kept in the cache key.
KEY_FIELDS = ("paper", "venue_profile", "paper_url", "exchange_base", "ws_base", "api_key", "api_secret",
              "v3_user", "v3_signer", "v3_signer_key", "v3_network", "recv_window", "run_dir")


class CredentialsRefused(Exception):
    """An engine may not start; the message is the diagnosis for the user."""


class CredentialGate:
    def __init__(self, settings_getter: Callable[[], Any], *, make: Callable[[Any], Any] | None = None,
                 ok_ttl: float = OK_TTL_S, fail_ttl: float = FAIL_TTL_S,
                 clock: Callable[[], float] = time.monotonic, wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)):
        self._settings = settings_getter
        self._make = make
        self.ok_ttl, self.fail_ttl = ok_ttl, fail_ttl
        self._clock, self._wall_ms = clock, wall_ms
        self._lock = asyncio.Lock()
        self._last: CredentialCheck | None = None
        self._last_key = ""
        self._at = -1e9
        self._at_ms = 0
        self.runs = 0          # checks made against the venue (tests: the cache works)

    @staticmethod
    def _key(settings: Any) -> str:
        text = repr(tuple(getattr(settings, name, None) for name in KEY_FIELDS))
        return hashlib.sha256(text.encode()).hexdigest()

    def _fresh(self, key: str) -> bool:
        if self._last is None or key != self._last_key:
            return False
        ttl = self.ok_ttl if self._last.ok else self.fail_ttl
        return self._clock() - self._at < ttl

    async def check(self, force: bool = False) -> CredentialCheck | None:
        """The venue's judgement (cached). None in paper mode: nothing to check."""
        settings = self._settings()
        if settings.paper:
            return None
        async with self._lock:
            key = self._key(settings)
            if force or not self._fresh(key):
                self.runs += 1
                self._last = await preflight(settings, make=self._make)
                self._last_key, self._at, self._at_ms = key, self._clock(), self._wall_ms()
                if self._last.ok:
                    log.info("credentials.ok", f"live credentials accepted by the venue: "
                             f"{'; '.join(self._last.lines)}", activity=True)
            return self._last

    async def require(self, engine: str) -> CredentialCheck | None:
        """Raise CredentialsRefused (logged to the activity feed) when `engine` may not start."""
        check = await self.check()
        if check is None or check.ok:
            return check
        if not may_start(check, engine):
            log.error("credentials.refused", f"{engine} not started: {check.problem}", engine=engine,
                      kind=check.kind, activity=True)
            raise CredentialsRefused(f"{engine} not started, the live credentials check failed: {check.problem}")
        log.warning("credentials.unchecked", f"{engine} started although the venue did not confirm the "
                    f"credentials (it keeps retrying): {check.problem}", engine=engine, kind=check.kind,
                    activity=True)
        return check

    def status(self) -> dict[str, Any]:
        """For the header: the account's profile and the last check (never a secret)."""
        settings = self._settings()
        try:
            summary = profile_summary(settings)
        except Exception as exc:        # a bad setting must not break the page
            summary = f"venue profile {getattr(settings, 'venue_profile', '?')}: {type(exc).__name__}: {exc}"
        out: dict[str, Any] = {"venue_profile": getattr(settings, "venue_profile", "aster-v1"),
                               "summary": summary, "mode": "paper" if settings.paper else "live", "check": None}
        if settings.paper:
            out["check"] = {"state": "paper", "text": "paper mode: no credentials check"}
            return out
        last = self._last
        if last is None:
            out["check"] = {"state": "unchecked", "text": "credentials not checked yet (checked at each start)"}
            return out
        current = self._key(settings) == self._last_key
        state = "ok" if last.ok else last.kind
        text = ("credentials accepted by the venue" if last.ok else f"credentials check failed: {last.problem}")
        if not current:
            state, text = "stale", "settings changed since the last check (checked again at the next start)"
        out["check"] = {"state": state, "text": text, **last.to_json(), "checked_ms": self._at_ms,
                        "age_s": round(self._clock() - self._at, 1)}
        return out
