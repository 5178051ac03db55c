"""The executor's journal: one JSON line per order event, appended before and after each venue call.

    {"t": 1733385600123, "ev": "placed", "kind": "maker", "cid": "maker:B.mk.mxa615gd", "side": "BUY",
     "qty": "0.002", "price": "65000.1"}
    {"t": ..., "ev": "ack", "cid": ..., "order_id": 1234, "status": "NEW"}
    {"t": ..., "ev": "rejected" | "skipped" | "cancelled" | "expired", "cid": ..., "why": "..."}

`placed` is written before the order is sent, so an order whose acknowledgement was lost still counts
as placed in the statistics. Lines are flushed to the OS at once (a killed process loses nothing); a torn
last line (power loss) is skipped by the reader, never misread.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterator


class Journal:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, t_ms: int, ev: str, **fields: Any) -> None:
        line = json.dumps({"t": t_ms, "ev": ev, **fields}, separators=(",", ":"), default=str)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def read(path: Path | str, since_ms: int = 0) -> Iterator[dict[str, Any]]:
    """Records with `t >= since_ms`; lines that are not complete JSON objects are skipped."""
    p = Path(path)
    if not p.exists():
        return
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and int(rec.get("t", 0)) >= since_ms:
                yield rec
