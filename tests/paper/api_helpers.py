"""A minimal signed REST client and WebSocket reader for the paper-exchange tests (not the project's client,
so the server is checked against the wire protocol itself)."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any, Callable

import httpx
from websockets.sync.client import connect


class Api:
    def __init__(self, url: str, key: str = "paper-key", secret: str = "paper-secret"):
        self.url, self.key, self.secret = url, key, secret
        self.http = httpx.Client(base_url=url, timeout=15.0)
        self.offset = 0

    def close(self) -> None:
        self.http.close()

    def sync_time(self) -> int:
        server = self.http.get("/fapi/v1/time").json()["serverTime"]
        self.offset = server - int(time.time() * 1000)
        return self.offset

    def public(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def signed(self, method: str, path: str, *, body: bool = False, **params: Any) -> httpx.Response:
        """Signed request; parameters in the query string (or the form body with `body=True`)."""
        params.setdefault("timestamp", int(time.time() * 1000) + self.offset)
        q = urllib.parse.urlencode({k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()})
        sig = hmac.new(self.secret.encode(), q.encode(), hashlib.sha256).hexdigest()
        headers = {"X-MBX-APIKEY": self.key}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self.http.request(method, path, content=f"{q}&signature={sig}", headers=headers)
        return self.http.request(method, f"{path}?{q}&signature={sig}", headers=headers)

    def ok(self, method: str, path: str, **params: Any) -> Any:
        r = self.signed(method, path, **params)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        return r.json()

    def err(self, method: str, path: str, **params: Any) -> tuple[int, int]:
        r = self.signed(method, path, **params)
        assert r.status_code != 200, (method, path, r.text)
        return r.status_code, r.json()["code"]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy (returns it) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class WsReader:
    """Collects JSON messages of one WebSocket connection until a predicate holds."""

    def __init__(self, url: str):
        self._cm = connect(url, open_timeout=10, close_timeout=2)
        self.ws = self._cm.__enter__()
        self.messages: list[Any] = []

    def send(self, obj: Any) -> None:
        self.ws.send(json.dumps(obj))

    def until(self, predicate: Callable[[list[Any]], Any], timeout: float = 10.0, what: str = "messages") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = predicate(self.messages)
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; got {self.messages[-5:]}")
            try:
                self.messages.append(json.loads(self.ws.recv(timeout=min(left, 1.0))))
            except TimeoutError:
                continue

    def close(self) -> None:
        self._cm.__exit__(None, None, None)

    def __enter__(self) -> "WsReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
