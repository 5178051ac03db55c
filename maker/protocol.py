"""The coordinator -> executor instruction: its JSON form, parsed and checked before anything else.

    {"id": "<unique>", "action": "maker", "client_id": "maker:B.mk.mxa615gd", "side": "BUY",
     "qty": "0.002", "price": "64999.9", "expire_s": 30}
    {"id": ..., "action": "taker", "client_id": ..., "side": "SELL", "qty": "0.002", "reduce_only": false}
    {"id": ..., "action": "cancel", "client_id": ...}
    {"id": ..., "action": "cancel_all"}          {"id": ..., "action": "heartbeat"}

Signed with `mraster.domain.signed` (headers over the raw body); `id` is what the replay check keys on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ACTIONS = ("maker", "taker", "cancel", "cancel_all", "heartbeat")


class InstructionError(ValueError):
    """The body is not a valid instruction; the message names the field."""


@dataclass(frozen=True)
class Instruction:
    id: str
    action: str
    client_id: str = ""
    side: str = ""
    qty: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    expire_s: float | None = None
    reduce_only: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "action": self.action}
        if self.client_id:
            out["client_id"] = self.client_id
        if self.action in ("maker", "taker"):
            out.update(side=self.side, qty=str(self.qty))
        if self.action == "maker":
            out["price"] = str(self.price)
            if self.expire_s is not None:
                out["expire_s"] = self.expire_s
        if self.action == "taker":
            out["reduce_only"] = self.reduce_only
        return out

    def body(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()


def _dec(obj: dict[str, Any], name: str) -> Decimal:
    try:
        value = Decimal(str(obj[name]))
    except (KeyError, InvalidOperation):
        raise InstructionError(f"{name}: a positive decimal is required") from None
    if not value.is_finite() or value <= 0:
        raise InstructionError(f"{name}: a positive decimal is required, not {obj[name]!r}")
    return value


def parse(body: bytes) -> Instruction:
    try:
        obj = json.loads(body or b"")
    except ValueError:
        raise InstructionError("the body is not JSON") from None
    if not isinstance(obj, dict):
        raise InstructionError("the body must be a JSON object")
    ident, action = str(obj.get("id") or ""), obj.get("action")
    if not ident or len(ident) > 64:
        raise InstructionError("id: 1-64 characters required")
    if action not in ACTIONS:
        raise InstructionError(f"action: one of {', '.join(ACTIONS)}, not {action!r}")
    if action in ("cancel_all", "heartbeat"):
        return Instruction(ident, action)
    client_id = str(obj.get("client_id") or "")
    if not client_id:
        raise InstructionError("client_id is required")
    if action == "cancel":
        return Instruction(ident, action, client_id)
    side = obj.get("side")
    if side not in ("BUY", "SELL"):
        raise InstructionError(f"side: BUY or SELL, not {side!r}")
    qty = _dec(obj, "qty")
    if action == "taker":
        reduce_only = obj.get("reduce_only", False)
        if not isinstance(reduce_only, bool):
            raise InstructionError("reduce_only: true or false")
        return Instruction(ident, action, client_id, side, qty, reduce_only=reduce_only)
    price = _dec(obj, "price")
    expire = obj.get("expire_s")
    if expire is not None and (not isinstance(expire, (int, float)) or isinstance(expire, bool)):
        raise InstructionError("expire_s: a number of seconds")
    return Instruction(ident, action, client_id, side, qty, price, None if expire is None else float(expire))
