"""Who holds which position on an account, for the guard's scope and for engines sharing an account.

A venue position carries no owner. mraster learns it from two sources, in this order:

1. **Claims.** Every engine instance writes its status file `<ASTER_RUN_DIR>/<kind.status_file>` (e.g.
   `run/scan2.status.json`, `write_status`) with `"positions"`: the (account, symbol, position side) it
   holds or is entering. The scanner rewrites it whenever it writes its state, so the claim is on disk
   before the entry order is sent (the same order as "pending trade on disk, then the entry").
2. **Resting orders.** An open order whose client id names an instance (`mraster.domain.ownership`)
   on the position's symbol and side: a bracket, a maker's quote.

A position neither source names is nobody's: opened by hand or by another program (`owner` None). Two
instances claiming one position (one-way mode nets them into one) is a conflict reported by
`conflicts`; the risk gate refuses an entry on a symbol another owner holds, so it only arises by hand.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mraster.domain.ownership import owner_of
from mraster.domain.types import Order, Position
from mraster.engines.instances import EngineInstance
from mraster.engines.registry import EngineKind, GuardScope, get_kind
from mraster.storage.atomic import write_json_atomic

PositionKey = tuple[str, str]          # (symbol, position side: BOTH / LONG / SHORT)
MANUAL = ""                             # the owner key of positions no instance opened


def status_path(run_dir: Path | str, kind: EngineKind, instance: str) -> Path:
    return Path(run_dir) / kind.status_file.format(instance=instance)


def write_status(path: Path | str, *, instance: str, kind: str, account: str,
                 positions: Iterable[tuple[str, str, str]], **extra: Any) -> None:
    """The instance's status file (atomic). `positions`: (account, symbol, position side) it holds or is
    entering; `extra`: whatever the kind shows (heartbeat, mode, reason entries are blocked ...)."""
    body = {"instance": instance, "kind": kind, "account": account, "pid": os.getpid(),
            "updated_wall_ms": int(time.time() * 1000),
            "positions": [{"account": a, "symbol": s, "position_side": ps} for a, s, ps in sorted(set(positions))],
            **extra}
    write_json_atomic(path, body)


def read_claims(path: Path | str, account: str) -> frozenset[PositionKey]:
    """The positions an instance's status file claims on `account` (empty when there is no file; a file
    being replaced or unreadable reads as empty: the resting orders still name the owner)."""
    try:
        body = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return frozenset()
    out = set()
    for item in body.get("positions", []) if isinstance(body, dict) else []:
        if isinstance(item, dict) and item.get("account") == account and isinstance(item.get("symbol"), str):
            out.add((item["symbol"], str(item.get("position_side") or "BOTH")))
    return frozenset(out)


def on_account(instances: Iterable[EngineInstance], account: str) -> list[EngineInstance]:
    """The enabled instances with a role on `account`."""
    return [i for i in instances if i.enabled and any(acc == account for _, acc in i.accounts)]


def resolve_owners(keys: Iterable[PositionKey], claims: Mapping[str, frozenset[PositionKey]],
                   orders: Iterable[Order]) -> dict[PositionKey, str | None]:
    """Pure: the owner of each position key (None: nobody's). Claims first (the alphabetically first
    claimant when several claim one key), then the owner of a resting order on the key."""
    by_orders: dict[PositionKey, str] = {}
    for o in orders:
        who = owner_of(o.client_order_id)
        if who is not None:
            by_orders.setdefault((o.symbol, o.position_side.value), who)
    out: dict[PositionKey, str | None] = {}
    for key in keys:
        claimants = sorted(name for name, held in claims.items() if key in held)
        out[key] = claimants[0] if claimants else by_orders.get(key)
    return out


def conflicts(claims: Mapping[str, frozenset[PositionKey]]) -> dict[PositionKey, list[str]]:
    seen: dict[PositionKey, list[str]] = {}
    for name, held in sorted(claims.items()):
        for key in held:
            seen.setdefault(key, []).append(name)
    return {k: v for k, v in seen.items() if len(v) > 1}


@dataclass
class AccountOwners:
    """The instances of one account and their claims, re-read on each `refresh` (small files)."""
    run_dir: Path
    account: str
    instances: list[EngineInstance]
    kinds: dict[str, EngineKind] = field(default_factory=dict)
    claims: dict[str, frozenset[PositionKey]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.instances = on_account(self.instances, self.account)
        for inst in self.instances:
            self.kinds.setdefault(inst.kind, get_kind(inst.kind))

    def refresh(self) -> "AccountOwners":
        self.claims = {i.name: read_claims(status_path(self.run_dir, self.kinds[i.kind], i.name), self.account)
                       for i in self.instances}
        return self

    def owners(self, keys: Iterable[PositionKey], orders: Iterable[Order]) -> dict[PositionKey, str | None]:
        return resolve_owners(keys, self.claims, orders)

    def owner_of_position(self, p: Position) -> str | None:
        """The owner of one venue position by the claims on disk now (for `RiskGate(owner_of=...)` of an
        engine that keeps no view of its own; resting orders are not consulted)."""
        self.refresh()
        return self.owners([(p.symbol, p.position_side.value)], ()).get((p.symbol, p.position_side.value))

    def scope_of(self, instance: str) -> GuardScope:
        """The guard scope of an instance on this account: its own choice, else its kind's default; an
        instance not (or no longer) listed is protected (a position without a stop is the worse error)."""
        for inst in self.instances:
            if inst.name == instance:
                return inst.guard_scope(self.kinds[inst.kind])
        return "protect"

    @property
    def has_leave(self) -> bool:
        return any(self.scope_of(i.name) == "leave" for i in self.instances)


__all__ = ["AccountOwners", "MANUAL", "PositionKey", "conflicts", "on_account", "read_claims", "resolve_owners",
           "status_path", "write_status"]
