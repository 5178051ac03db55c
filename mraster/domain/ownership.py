"""Client order ids that name the engine instance that placed the order.

    <instance>:<body>        e.g.  mom1:ETHUSDT.EN.mx9g6z1x      maker2:B.mk.mxa615gd

An instance only cancels, amends or closes what it owns, so every engine asks `owner_of` before it
touches an order it did not just place. The venue allows ids of at most 36 characters from
`[.A-Z:/a-z0-9_-]`; `:` appears in no other id mraster makes, so the owner is unambiguous.

The scanner's ids (`mr-<trade>-<role>`, mraster/domain/ids.py) predate instances: they belong to the
default scanner instance (`DEFAULT_SCANNER`). Ids that are neither form (orders placed by hand or by
another program) have no owner here (`None`): what the user does with them is the user's choice.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from mraster.domain.ids import DEFAULT_INSTANCE, MAX_LEN, PREFIX, base36

DEFAULT_SCANNER = DEFAULT_INSTANCE
INSTANCE_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_BODY_RE = re.compile(r"^[.A-Za-z0-9_-]{1,34}$")
_VENUE_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_OWNED_RE = re.compile(r"^([a-z][a-z0-9]{0,9}):([.A-Za-z0-9_-]+)$")
STAMP_EPOCH_MS = 1_735_689_600_000          # 2025-01-01T00:00:00Z


def check_instance_name(name: str) -> str:
    """An instance name short enough to leave room for the id body: a lower-case letter, then up to
    nine lower-case letters or digits. ValueError with the rule otherwise."""
    if not isinstance(name, str) or not INSTANCE_RE.match(name):
        raise ValueError(f"instance name {name!r}: expected a lower-case letter then up to 9 lower-case "
                         "letters or digits (it goes into every client order id, 36 characters at most)")
    return name


def order_id(instance: str, body: str) -> str:
    """`<instance>:<body>`; ValueError when it breaks the venue's rules (too long, bad characters)."""
    check_instance_name(instance)
    if not _BODY_RE.match(body or ""):
        raise ValueError(f"order id body {body!r}: expected 1-34 characters from [.A-Za-z0-9_-]")
    cid = f"{instance}:{body}"
    if len(cid) > MAX_LEN or not _VENUE_RE.match(cid):
        raise ValueError(f"client order id {cid!r} is longer than the venue's {MAX_LEN} characters")
    return cid


def owner_of(client_id: str | None) -> str | None:
    """The instance that placed the order with this client id; None for orders mraster did not place."""
    cid = client_id or ""
    m = _OWNED_RE.match(cid)
    if m:
        return m.group(1)
    if cid.startswith(PREFIX):
        return DEFAULT_SCANNER
    return None


def body_of(client_id: str) -> str:
    """The part after `<instance>:` (the whole id for the scanner's legacy ids and foreign ids)."""
    m = _OWNED_RE.match(client_id or "")
    return m.group(2) if m else client_id


def owns(instance: str, client_id: str | None) -> bool:
    return owner_of(client_id) == instance


class OrderIds:
    """Fresh ids for one instance: `<instance>:<tag>.<stamp>`, the stamp in milliseconds since
    2025-01-01 (base 36), strictly increasing within the process, so no two orders share an id and
    a restarted process starts above the previous run's ids unless that run sent more than one order
    per millisecond just before it stopped. `tag` says what the order is for (e.g. `ETHUSDT.EN`)."""

    def __init__(self, instance: str, clock_ms: Callable[[], int] | None = None):
        self.instance = check_instance_name(instance)
        self._clock = clock_ms or (lambda: int(time.time() * 1000))
        self._last = -1
        self._lock = threading.Lock()

    def __call__(self, tag: str) -> str:
        with self._lock:
            self._last = max(self._last + 1, self._clock() - STAMP_EPOCH_MS)
            stamp = base36(self._last)
        room = MAX_LEN - len(self.instance) - 2 - len(stamp)
        return order_id(self.instance, f"{tag[:max(1, room)]}.{stamp}")
