"""Client order ids that encode the trade and the order's role.

    mr-<trade id>-<role>        e.g.  mr-BTCUSDT.lq3k2x1a-SL

    mr-<trade id>-<role><seq>   e.g.  mr-BTCUSDT.lq3k2x1a-CL2   (the third close of that trade)

A trade id is `<SYMBOL>.<key>`: for trades the bot opens, the key is the entry
time in base 36; for positions the guard adopts without a bot trade, it is `g`
plus the position side (`gb`, `gl`, `gs`), the same on every run; a position the
bot adopts gets `g<side><adoption time in seconds, base 36>`, so a second
adoption on the same symbol is a new trade (its own journal row and order ids).
Because the id of a first order is a pure function of (trade, role), the bot and
the guard acting at the same moment, or a process restarted mid-repair, compute
the same id, and the venue's "client id unique among open orders" rule lets only
one of them rest. A later order of the same role (a close retried, a stop placed
again after the venue cancelled it) carries a sequence number, so no id names
two orders and a look-up by client id can never return an older, finished one.

    mr-<trade id>-<role>_<actor><stamp>   e.g.  mr-BTCUSDT.lq3k2x1a-CL_g5k2x9a

The guard (`g`) and the dashboard (`d`) keep no journal of the ids they used, so every market close
they send (each chunk, each retry) and every bracket the guard places again carries a stamp: the
process's clock in tenths of a second since 2025-01-01, base 36, strictly increasing within the
process. The actor letter keeps the two apart, the `_` keeps them apart from the bot's sequence
numbers; `parse_client_order_id` reads the trade and role of all three forms alike.
Ids match the venue's pattern ^[.A-Z:/a-z0-9_-]{1,36}$.

Scanner instances other than the default one (`scanner`) put their name in the trade id,
`<instance>:<SYMBOL>.<key>`, and their client ids replace `mr-` by that `<instance>:`:

    scan2:BTCUSDT.mxk2a9q1-SL    scan2:BTCUSDT.mxk2a9q1-CL_g5k2x9a    scan2:ETHUSDT.gb-SX

so every order the instance (or the guard, for it) places names its owner as
`mraster.domain.ownership.owner_of` reads it, and trade and role read back the same way. To leave
room for the instance, its entry trade ids keep at most `21 - len(instance)` characters of the
symbol (the trade's symbol is in the state and on every order; the id only has to be unique).
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from enum import Enum

PREFIX = "mr-"
MAX_LEN = 36
DEFAULT_INSTANCE = "scanner"         # the scanner instance whose ids are `mr-...` (mraster.domain.ownership)
_VENUE_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_OUR_RE = re.compile(r"^(?:mr-|([a-z][a-z0-9]{0,9}):)([A-Z0-9]{1,22})\.([a-z0-9]{1,9})-([A-Z]{2})([0-9a-z]{0,4})"
                     r"(?:_([a-z])([0-9a-z]{1,9}))?$")
_INSTANCE_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
SEQ_ROOM = 2                         # base-36 digits of sequence numbers an instance's entry id leaves room for
STAMP_EPOCH_MS = 1_735_689_600_000          # 2025-01-01T00:00:00Z
ACTORS = {"guard": "g", "dashboard": "d"}
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class Role(str, Enum):
    ENTRY = "EN"
    STOP = "SL"
    TAKE_PROFIT = "TP"
    TRAILING = "TS"
    FAST_TP = "FT"      # partial exit decided by FastTP
    CLOSE = "CL"        # market close (stop could not be placed, stop level crossed, manual close)
    KILL = "KS"         # margin kill-switch flatten
    # Second ids per bracket role: a replacement is placed under the free one of the pair BEFORE the
    # order it replaces is cancelled (ids are unique among open orders), so there is never a gap.
    STOP_ALT = "SX"
    TAKE_PROFIT_ALT = "TX"
    TRAILING_ALT = "RX"

    @property
    def is_exit(self) -> bool:
        return self is not Role.ENTRY


def base36(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def _scoped(instance: str | None, trade_key: str) -> str:
    if instance is None or instance == DEFAULT_INSTANCE:
        return trade_key
    if not _INSTANCE_RE.match(instance):
        raise ValueError(f"instance name {instance!r} cannot go into a client order id")
    return f"{instance}:{trade_key}"


def _symbol_room(instance: str | None, key: str) -> int:
    """Characters of the symbol a trade id may keep so that `-<role><seq>` still fits in MAX_LEN."""
    if instance is None or instance == DEFAULT_INSTANCE:
        return 22
    return max(1, MAX_LEN - (len(instance) + 1) - 1 - len(key) - 3 - SEQ_ROOM)


def trade_id_for_entry(symbol: str, entry_time_ms: int, instance: str | None = None) -> str:
    key = base36(entry_time_ms)
    return _scoped(instance, f"{symbol.upper()[:min(22, _symbol_room(instance, key))]}.{key}")


def trade_id_for_adopted(symbol: str, position_side: str = "BOTH", at_ms: int | None = None,
                         instance: str | None = None) -> str:
    """`SYM.gb` (the guard's stable id for a position no bot trade knows), or with `at_ms` the bot's
    id for one adoption: `SYM.gb<seconds base 36>`, new for every adoption. With a non-default
    `instance`: `<instance>:SYM.gb...` (the position is that instance's)."""
    key = f"g{position_side[:1].lower()}"
    if at_ms is not None:
        key += base36(max(0, at_ms) // 1000)
    return _scoped(instance, f"{symbol.upper()[:min(22, _symbol_room(instance, key))]}.{key}")


def instance_of_trade(trade_id: str) -> str:
    """The scanner instance a trade id belongs to (`scanner` for ids without `<instance>:`)."""
    head, sep, _ = trade_id.partition(":")
    return head if sep else DEFAULT_INSTANCE


def client_order_id(trade_id: str, role: Role, seq: int = 0) -> str:
    """The id of the `seq`-th order (0 = the first) of `role` for this trade (`mr-<trade>-...` for the
    default scanner's trades, `<instance>:<trade>-...` for another instance's)."""
    if seq < 0:
        raise ValueError("negative sequence")
    prefix = "" if ":" in trade_id else PREFIX
    cid = f"{prefix}{trade_id}-{role.value}{base36(seq) if seq else ''}"
    if len(cid) > MAX_LEN or not _VENUE_RE.match(cid):
        raise ValueError(f"client order id {cid!r} does not fit the venue's rules")
    return cid


def parse_client_order_id(cid: str) -> tuple[str, Role] | None:
    """(trade id, role) for ids made by mraster; None for any other id."""
    m = _OUR_RE.match(cid or "")
    if not m:
        return None
    try:
        role = Role(m.group(4))
    except ValueError:
        return None
    return _scoped(m.group(1), f"{m.group(2)}.{m.group(3)}"), role


def sequence_of(cid: str) -> int:
    """The sequence number of one of our ids (0 for the first order of a role, or for foreign ids)."""
    m = _OUR_RE.match(cid or "")
    return int(m.group(5), 36) if m and m.group(5) else 0


def symbol_of_trade(trade_id: str) -> str:
    """The (possibly shortened) symbol part of a trade id."""
    return trade_id.rpartition(":")[2].split(".", 1)[0]


def is_valid_client_id(cid: str) -> bool:
    return bool(_VENUE_RE.match(cid or ""))


class FreshIds:
    """Client ids no earlier order carried, for actors without a journal (guard, dashboard).

    Each call takes a new stamp: tenths of a second since 2025-01-01 from `clock_ms`, but always
    above the last one this object gave (so chunks sent within one tenth get their own, and a
    burst runs the stamp ahead of the clock rather than reusing one). A restarted process starts
    at the clock again, which is behind the last stamp of the previous run only if that run sent
    more than ten orders a second right before it stopped.
    One shared instance per process (`fresh_ids`); tests pass their own clock."""

    def __init__(self, actor: str, clock_ms: Callable[[], int] | None = None):
        if actor not in ACTORS.values():
            raise ValueError(f"unknown actor letter {actor!r}")
        self.actor = actor
        self._clock = clock_ms or (lambda: int(time.time() * 1000))
        self._last = -1
        self._lock = threading.Lock()

    def stamp(self) -> str:
        with self._lock:
            now = max(0, self._clock() - STAMP_EPOCH_MS) // 100
            self._last = max(self._last + 1, now)
            return base36(self._last)

    def __call__(self, trade_id: str, role: Role, position_side: str = "BOTH") -> str:
        """A new id for an order of `role` on this trade. When the trade id is too long for the stamp
        (a long symbol), the stable adopted id of the symbol stands in for it (the role is kept;
        the trade is then found by position, as for any adopted position)."""
        return fresh_client_order_id(trade_id, role, self.actor, self.stamp(), position_side)


def fresh_client_order_id(trade_id: str, role: Role, actor: str, stamp: str, position_side: str = "BOTH") -> str:
    """`mr-<trade>-<role>_<actor><stamp>` (see the module docstring); ValueError if even the
    adopted trade id is too long."""
    instance = instance_of_trade(trade_id)
    symbol = symbol_of_trade(trade_id)
    shortest = ([trade_id_for_adopted(symbol[:n], position_side, instance=instance) for n in (8, 4)]
                if instance != DEFAULT_INSTANCE else [])    # an instance's name takes room: shorter symbols
    for tid in (trade_id, trade_id_for_adopted(symbol, position_side, instance=instance), *shortest):
        prefix = "" if ":" in tid else PREFIX
        cid = f"{prefix}{tid}-{role.value}_{actor}{stamp}"
        if len(cid) <= MAX_LEN and _VENUE_RE.match(cid) and _OUR_RE.match(cid):
            return cid
    raise ValueError(f"no client order id fits the venue's rules for {trade_id!r} {role.value}")


def stamp_of(cid: str) -> tuple[str, str] | None:
    """(actor letter, stamp) of a guard/dashboard id; None for the bot's ids and foreign ones."""
    m = _OUR_RE.match(cid or "")
    return (m.group(6), m.group(7)) if m and m.group(6) else None


_SHARED: dict[str, FreshIds] = {}


def fresh_ids(actor: str) -> FreshIds:
    """The process's one FreshIds for `actor` ("guard" or "dashboard")."""
    letter = ACTORS[actor]
    if letter not in _SHARED:
        _SHARED[letter] = FreshIds(letter)
    return _SHARED[letter]
