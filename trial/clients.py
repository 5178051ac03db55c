"""HTTP clients of the trial: the dashboard's REST API (bearer token) and the paper exchange's admin API.

Every answer passes through a `LeakScanner` before it is used, so "no secret in any API response"
covers everything the trial received. The paper exchange's admin API names an account by its API
key (it is a test tool, off unless ASTER_PAPER_ADMIN is set): there, and only there, the paper
key is allowed; every other secret is still looked for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import httpx

MONITOR_ADDRESS = "127.0.0.2"


@dataclass
class LeakScanner:
    secrets: Mapping[str, str]                       # name -> value
    responses: int = 0
    bytes_scanned: int = 0
    hits: list[tuple[str, str]] = field(default_factory=list)   # (where, secret name)

    def scan(self, where: str, body: bytes | str, allow: Iterable[str] = ()) -> None:
        data = body.encode("utf-8", "replace") if isinstance(body, str) else body
        self.responses += 1
        self.bytes_scanned += len(data)
        allowed = set(allow)
        for name, value in self.secrets.items():
            if name not in allowed and value and value.encode() in data:
                self.hits.append((where, name))


class ApiError(Exception):
    """An API answered with an unexpected status."""

    def __init__(self, what: str, status: int, body: str):
        self.status, self.body = status, body
        super().__init__(f"{what}: HTTP {status}: {body[:300]}")


class DashboardClient:
    def __init__(self, base_url: str, token: str, scanner: LeakScanner, timeout: float = 40.0):
        self.base_url = base_url.rstrip("/")
        self.scanner = scanner
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                       headers={"Authorization": f"Bearer {token}"})

    async def close(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        resp = await self._http.request(method, path, json=json)
        self.scanner.scan(f"dashboard {method} {path}", resp.content)
        try:
            data = resp.json()
        except ValueError:
            data = resp.text
        return resp.status_code, data

    async def ok(self, method: str, path: str, json: Any = None) -> Any:
        status, data = await self.request(method, path, json)
        if status != 200:
            raise ApiError(f"{method} {path}", status, str(data))
        return data

    async def status(self, name: str) -> dict[str, Any]:
        return await self.ok("GET", f"/api/{name}/status")

    async def processes(self) -> dict[str, Any]:
        return await self.ok("GET", "/api/processes")

    async def act(self, name: str, action: str) -> dict[str, Any]:
        suffix = "?guard=false" if name == "bot" and action == "start" else ""
        return await self.ok("POST", f"/api/{name}/{action}{suffix}")


class VenueAdmin:
    """The paper exchange's admin and public endpoints (never touched by injected faults)."""

    def __init__(self, base_url: str, account: str, scanner: LeakScanner, timeout: float = 10.0):
        self.account = account
        self.scanner = scanner
        # From another loopback address: the venue counts request weight per IP, and the monitor's
        # polling must not eat into what bot and guard (on 127.0.0.1) may use.
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout,
                                       transport=httpx.AsyncHTTPTransport(local_address=MONITOR_ADDRESS))

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        if method in ("GET", "DELETE"):
            resp = await self._http.request(method, path, params=dict(body or {}))
        else:
            resp = await self._http.request(method, path, json=dict(body or {}))
        self.scanner.scan(f"paper {method} {path}", resp.content, allow=("ASTER_PAPER_API_KEY", "MOMENTUM_PAPER_KEY")
                          if path.startswith("/admin/") else ())
        if resp.status_code != 200:
            raise ApiError(f"{method} {path}", resp.status_code, resp.text)
        return resp.json()

    async def state(self, account: str | None = None) -> dict[str, Any]:
        return await self._call("GET", "/admin/state", {"account": account or self.account})

    async def register_key(self, key: str, secret: str) -> None:
        """A further paper account (the momentum engine's), verified strictly."""
        await self._call("POST", "/admin/keys", {"key": key, "secret": secret})

    async def info(self) -> dict[str, Any]:
        return await self._call("GET", "/paper/info")

    async def set_faults(self, faults: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/admin/faults", faults)

    async def clear_faults(self) -> dict[str, Any]:
        return await self._call("DELETE", "/admin/faults")

    async def end_order(self, symbol: str, order_id: int, status: str) -> dict[str, Any]:
        return await self._call("POST", "/admin/orders/cancel", {"account": self.account, "symbol": symbol,
                                                                 "orderId": order_id, "status": status})

    async def hold_price(self, symbol: str, last: str, mark: str, bid: str, ask: str) -> dict[str, Any]:
        return await self._call("POST", "/admin/price", {"symbol": symbol, "price": last, "mark": mark,
                                                          "bid": bid, "ask": ask, "hold": True})
