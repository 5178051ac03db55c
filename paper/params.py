"""Request parameters as the venue reads them: query and form body merged (query wins), strict types,
and the venue's error for each malformed value."""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Type, TypeVar
from urllib.parse import unquote_plus

from mraster.domain.types import MarginType, OrderType, PositionSide, Side, TimeInForce, WorkingType
from paper.engine.errors import VenueError, invalid, mandatory
from paper.engine.model import NewOrder

E = TypeVar("E", bound=Enum)
_ENUM_ERRORS = {
    Side: (-1117, "Invalid side."), OrderType: (-1116, "Invalid orderType."),
    TimeInForce: (-1115, "Invalid timeInForce."), WorkingType: (-4031, "Invalid workingType"),
    PositionSide: (-4060, "Invalid position side."), MarginType: (-4033, "Invalid marginType."),
}


class Params(dict):
    """Decoded parameters; `raw_query`/`raw_body` keep the bytes as sent, for the signature."""

    @classmethod
    def parse(cls, query: bytes, body: bytes) -> "Params":
        out = cls()
        if body:
            _parse_into(out, body)
        if query:
            _parse_into(out, query)          # the query string wins over the body
        return out

    def str(self, name: str, required: bool = False) -> str | None:
        value = self.get(name)
        if value is None or value == "":
            if required:
                raise mandatory(name)
            return None
        return value

    def symbol(self, required: bool = True) -> str | None:
        value = self.str("symbol", required)
        return value.upper() if value else None

    def decimal(self, name: str, required: bool = False) -> Decimal | None:
        value = self.str(name, required)
        if value is None:
            return None
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise mandatory(name) from None
        if not d.is_finite():
            raise mandatory(name)
        return d

    def int(self, name: str, required: bool = False, default: int | None = None) -> int | None:
        value = self.str(name, required)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise mandatory(name) from None

    def bool(self, name: str) -> bool | None:
        value = self.str(name)
        if value is None:
            return None
        low = value.lower()
        if low == "true":
            return True
        if low == "false":
            return False
        raise invalid(name)

    def enum(self, name: str, cls: Type[E], required: bool = False) -> E | None:
        value = self.str(name, required)
        if value is None:
            return None
        try:
            return cls(value.upper())
        except ValueError:
            code, msg = _ENUM_ERRORS.get(cls, (-1130, f"Data sent for parameter '{name}' is not valid."))
            raise VenueError(code, msg) from None

    def json_list(self, name: str) -> list | None:
        """A JSON list parameter, read leniently (single quotes, Python booleans) as clients send it."""
        value = self.str(name)
        if value is None:
            return None
        text = value.strip()
        for attempt in (text, text.replace("'", '"').replace("True", "true").replace("False", "false")):
            try:
                data = json.loads(attempt)
            except ValueError:
                continue
            if isinstance(data, list):
                return data
        raise invalid(name)


def _parse_into(out: dict, raw: bytes) -> None:
    """application/x-www-form-urlencoded -> dict, decoding only the pairs that need it (hot path)."""
    text = raw.decode("utf-8", "replace")
    for pair in text.split("&"):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        if "%" in pair or "+" in pair:
            k, v = unquote_plus(k), unquote_plus(v)
        out[k] = v


def new_order(p: Params) -> NewOrder:
    """A new-order request from its parameters (syntax only; the engine checks the rules)."""
    resp = (p.str("newOrderRespType") or "ACK").upper()
    if resp not in ("ACK", "RESULT"):
        raise VenueError(-1136, "Invalid newOrderRespType.")
    pp = p.str("priceProtect")
    if pp is not None and pp.lower() not in ("true", "false"):
        raise invalid("priceProtect")
    return NewOrder(
        symbol=p.symbol(), side=p.enum("side", Side, True), type=p.enum("type", OrderType, True),
        quantity=p.decimal("quantity"), price=p.decimal("price"), stop_price=p.decimal("stopPrice"),
        time_in_force=p.enum("timeInForce", TimeInForce), position_side=p.enum("positionSide", PositionSide),
        reduce_only=p.bool("reduceOnly"), close_position=bool(p.bool("closePosition")),
        working_type=p.enum("workingType", WorkingType) or WorkingType.CONTRACT_PRICE,
        price_protect=bool(pp and pp.lower() == "true"), activation_price=p.decimal("activationPrice"),
        callback_rate=p.decimal("callbackRate"), client_order_id=p.str("newClientOrderId"), response_type=resp,
    )


def batch_params(item: dict) -> Params:
    """One entry of batchOrders (a JSON object) as Params."""
    out = Params()
    for k, v in item.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif v is not None:
            out[k] = str(v)
    return out
