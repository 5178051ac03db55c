"""Field specifications: the one description of every setting.

A `FieldSpec` knows how to parse a raw value (from JSON, a .env file, the
environment or a CLI flag) into its typed value and how to explain what it
accepts. The dashboard form, the README table and `mraster config schema` are
all generated from these specs, so they cannot drift apart.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "str", "choice", "names", "symbols", "path", "url"]

GROUPS: tuple[str, ...] = (
    "exchange", "universe", "signals", "sizing", "risk",
    "fasttp", "policy", "runtime", "paper", "dashboard", "ops",
)

KLINE_INTERVALS: tuple[str, ...] = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M",
)

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")


class FieldError(ValueError):
    """One setting has a bad value; the message names variable, value, source and what is allowed."""

    def __init__(self, env: str, value: Any, source: str, allowed: str, detail: str = ""):
        self.env, self.value, self.source, self.allowed, self.detail = env, value, source, allowed, detail
        shown = value if value == "<hidden>" else repr(value)
        why = f" ({detail})" if detail else ""
        super().__init__(f"{env}={shown} from {source}: expected {allowed}{why}")


@dataclass(frozen=True)
class FieldSpec:
    env: str
    kind: Kind
    default: Any
    desc: str
    group: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    live: bool = False
    env_only: bool = False  # may not be set in dashboard_config.json (paths that locate that file)
    tags: tuple[str, ...] = field(default=())

    @property
    def attr(self) -> str:
        name = self.env.lower()
        return name[len("aster_"):] if name.startswith("aster_") else name

    # ----------------------------------------------------------------- text
    def allowed(self) -> str:
        """Human description of the accepted values, used in every error message."""
        rng = ""
        if self.min is not None and self.max is not None:
            rng = f" from {_fmt(self.min)} to {_fmt(self.max)}"
        elif self.min is not None:
            rng = f" >= {_fmt(self.min)}"
        elif self.max is not None:
            rng = f" <= {_fmt(self.max)}"
        unit = f" ({self.unit})" if self.unit else ""
        if self.kind == "int":
            return f"an integer{rng}{unit}"
        if self.kind == "float":
            return f"a number{rng}{unit}"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "names":
            return "all, or a comma-separated list of: " + ", ".join(self.choices)
        if self.kind == "symbols":            # min/max bound the number of symbols
            if self.min is None and self.max is None:
                return "a comma-separated list of upper-case symbols such as BTCUSDT,ETHUSDT (may be empty)"
            count = (f"{_fmt(self.min or 0)} to {_fmt(self.max)}" if self.max is not None
                     else f"at least {_fmt(self.min or 0)}")
            return f"a comma-separated list of {count} upper-case symbols such as BTCUSDT,ETHUSDT"
        if self.kind == "url":
            return "an http(s) or ws(s) URL"
        if self.kind == "path":
            return "a file or directory path"
        return "a text value"

    # ---------------------------------------------------------------- parse
    def parse(self, raw: Any, source: str) -> Any:
        """Turn a raw value into the typed value or raise FieldError."""
        def fail(detail: str = "") -> FieldError:
            shown = "<hidden>" if self.secret else raw
            return FieldError(self.env, shown, source, self.allowed(), detail)

        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
                return raw.strip().lower() in _TRUE
            raise fail()
        if self.kind in ("int", "float"):
            if isinstance(raw, bool):
                raise fail()
            try:
                if self.kind == "int":
                    if isinstance(raw, float):
                        if not raw.is_integer():
                            raise ValueError
                        value: float = int(raw)
                    else:
                        value = int(str(raw).strip().replace("_", ""))
                else:
                    value = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
                    if not math.isfinite(value):
                        raise ValueError
            except (TypeError, ValueError):
                raise fail() from None
            if self.min is not None and value < self.min:
                raise fail("below the minimum")
            if self.max is not None and value > self.max:
                raise fail("above the maximum")
            return value
        if self.kind == "choice":
            text = str(raw).strip() if isinstance(raw, (str, int, float)) and not isinstance(raw, bool) else None
            if text is None:
                raise fail()
            for choice in self.choices:
                if text == choice or (text.upper() == choice.upper() and choice not in ("1m", "1M")):
                    return choice
            raise fail()
        if self.kind == "names":
            items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",") if isinstance(raw, str) else None
            if items is None:
                raise fail()
            names = [str(x).strip().lower() for x in items if str(x).strip()]
            if not names or names == ["all"]:
                return "all"
            unknown = [n for n in names if n not in self.choices]
            if unknown:
                raise fail(f"unknown: {', '.join(unknown)}")
            return ",".join(dict.fromkeys(names))
        if self.kind == "symbols":
            if isinstance(raw, str) and raw.strip().startswith("["):     # a JSON list, as seed 004 writes it
                try:
                    raw = json.loads(raw)
                except ValueError:
                    raise fail("not a JSON list") from None
            if isinstance(raw, (list, tuple)):
                items = [str(x) for x in raw]
            elif isinstance(raw, str):
                items = raw.split(",")
            else:
                raise fail()
            out: list[str] = []
            for item in items:
                sym = item.strip().upper()
                if not sym:
                    continue
                if not _SYMBOL_RE.match(sym):
                    raise fail(f"{item.strip()!r} is not a symbol")
                if sym not in out:
                    out.append(sym)
            if self.min is not None and len(out) < self.min:
                raise fail(f"{len(out)} symbol(s), fewer than {_fmt(self.min)}")
            if self.max is not None and len(out) > self.max:
                raise fail(f"{len(out)} symbols, more than {_fmt(self.max)}")
            return tuple(out)
        if not isinstance(raw, str) or isinstance(raw, bool):
            if raw is None:
                raise fail()
            raw = str(raw)
        text = raw.strip()
        if self.kind == "url":
            if not re.match(r"^(https?|wss?)://[^\s/]+", text):
                raise fail()
            return text.rstrip("/")
        if self.kind == "path":
            if not text or "\x00" in text:
                raise fail()
            return text
        return text

    # --------------------------------------------------------------- export
    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.env,
            "type": self.kind,
            "default": _jsonable(self.default) if not self.secret else "",
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices),
            "unit": self.unit,
            "description": self.desc,
            "group": self.group,
            "secret": self.secret,
            "live": self.live,
            "env_only": self.env_only,
            "allowed": self.allowed(),
        }

    def to_raw(self, value: Any) -> Any:
        """Typed value -> JSON value as written to dashboard_config.json."""
        return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return ",".join(value)
    return value


def _fmt(x: float) -> str:
    if float(x).is_integer():
        return str(int(x))
    return repr(float(x))
