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
Ids match the venue's pattern ^[.A-Z:/a-z0-9_-]{1,36}$.
"""
from __future__ import annotations

import re
from enum import Enum

PREFIX = "mr-"
MAX_LEN = 36
_VENUE_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_OUR_RE = re.compile(r"^mr-([A-Z0-9]{1,22})\.([a-z0-9]{1,9})-([A-Z]{2})([0-9a-z]{0,4})$")
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


def trade_id_for_entry(symbol: str, entry_time_ms: int) -> str:
    return f"{symbol.upper()[:22]}.{base36(entry_time_ms)}"


def trade_id_for_adopted(symbol: str, position_side: str = "BOTH", at_ms: int | None = None) -> str:
    """`SYM.gb` (the guard's stable id for a position no bot trade knows), or with `at_ms` the bot's
    id for one adoption: `SYM.gb<seconds base 36>`, new for every adoption."""
    key = f"g{position_side[:1].lower()}"
    if at_ms is not None:
        key += base36(max(0, at_ms) // 1000)
    return f"{symbol.upper()[:22]}.{key}"


def client_order_id(trade_id: str, role: Role, seq: int = 0) -> str:
    """The id of the `seq`-th order (0 = the first) of `role` for this trade."""
    if seq < 0:
        raise ValueError("negative sequence")
    cid = f"{PREFIX}{trade_id}-{role.value}{base36(seq) if seq else ''}"
    if len(cid) > MAX_LEN or not _VENUE_RE.match(cid):
        raise ValueError(f"client order id {cid!r} does not fit the venue's rules")
    return cid


def parse_client_order_id(cid: str) -> tuple[str, Role] | None:
    """(trade id, role) for ids made by mraster; None for any other id."""
    m = _OUR_RE.match(cid or "")
    if not m:
        return None
    try:
        role = Role(m.group(3))
    except ValueError:
        return None
    return f"{m.group(1)}.{m.group(2)}", role


def sequence_of(cid: str) -> int:
    """The sequence number of one of our ids (0 for the first order of a role, or for foreign ids)."""
    m = _OUR_RE.match(cid or "")
    return int(m.group(4), 36) if m and m.group(4) else 0


def symbol_of_trade(trade_id: str) -> str:
    return trade_id.split(".", 1)[0]


def is_valid_client_id(cid: str) -> bool:
    return bool(_VENUE_RE.match(cid or ""))
