"""Which positions this guard protects, and which orders it may therefore touch. Pure.

The guard runs per account. Each position on it has an owner (mraster/engines/owners.py: the instances'
claims, then the owners of resting orders) or none (opened by hand or by another program):

- an instance's position is protected when the instance's guard scope is `protect` (its own choice in
  engines.json, else its kind's `guard_default`; a maker or a delta-neutral pair is `leave`), and, when
  the guard was started with `--instances`, the instance is one of those;
- a position nobody opened is protected when ASTER_GUARD_MANUAL is `protect` (the default: as before).

A position left alone is left entirely: no stop, no take-profit, and no order on its symbol and side is
cancelled or replaced. Exit orders on a symbol without a position (leftovers) are cancelled only when
their owner is one the guard protects. The margin kill-switch and `--flatten` are not scoped: they
close every position on the account (the account's margin is shared).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mraster.domain.ids import parse_client_order_id
from mraster.domain.ownership import owner_of
from mraster.domain.types import Order, Position
from mraster.engines.registry import GuardScope

from guard.classify import exit_key

OwnerKey = tuple[str, str]      # (symbol, position side value)


@dataclass(frozen=True)
class ScopeRule:
    manual: GuardScope = "protect"
    only: frozenset[str] | None = None                          # --instances: these instances only
    scopes: Mapping[str, GuardScope] = field(default_factory=dict)   # instance -> its guard scope

    def protects(self, owner: str | None) -> bool:
        if owner is None:
            return self.manual == "protect"
        if self.only is not None and owner not in self.only:
            return False
        return self.scopes.get(owner, "protect") == "protect"

    @property
    def everything(self) -> bool:
        """Today's guard: every position, every order (no instance left alone, hand positions protected)."""
        return self.manual == "protect" and self.only is None and all(v == "protect" for v in self.scopes.values())


def okey(p: Position) -> OwnerKey:
    return p.symbol, p.position_side.value


def split(rule: ScopeRule, positions: Iterable[Position], orders: Iterable[Order],
          owners: Mapping[OwnerKey, str | None], waiting: Iterable[OwnerKey] = ()
          ) -> tuple[list[Position], list[Order], list[tuple[Position, str | None]]]:
    """(positions to protect, orders the guard may see, positions left alone with their owner).
    `waiting`: keys not yet judged (a position nobody claims yet on an account with `leave` instances:
    its owner may be about to say so); they are left alone for now."""
    hold = set(waiting)
    kept: list[Position] = []
    left: list[tuple[Position, str | None]] = []
    left_keys: set[tuple[str, object]] = set()
    for p in positions:
        if p.is_flat:
            continue
        owner = owners.get(okey(p))
        if okey(p) not in hold and rule.protects(owner):
            kept.append(p)
        else:
            left.append((p, owner))
            left_keys.add((p.symbol, p.position_side))
    held = {(p.symbol, p.position_side) for p in kept}
    seen: list[Order] = []
    for o in orders:
        key = exit_key(o)
        if key in left_keys:
            continue                                  # a position left alone: none of its orders is touched
        if key in held or rule.protects(order_owner(o.client_order_id)):
            seen.append(o)
    return kept, seen, left


def order_owner(client_id: str | None) -> str | None:
    """The owner of an order for the scope: `owner_of`, except the guard's own stable ids for positions
    no trade knows (`mr-<SYM>.gb-SL` ...), which stand for a position nobody opened."""
    parsed = parse_client_order_id(client_id or "")
    if parsed is not None and ":" not in parsed[0] and parsed[0].rpartition(".")[2] in _GUARD_KEYS:
        return None
    return owner_of(client_id)


_GUARD_KEYS = frozenset({"gb", "gl", "gs"})


__all__ = ["OwnerKey", "ScopeRule", "okey", "order_owner", "split"]
