"""The three default-mode presets, defined in one place (documented in docs/dashboard.md).

Each preset is an explicit map of settings. Mid is the built-in defaults (the
seed's values); Low trades less and smaller; High trades more often and bigger,
with leverage still capped at 5x. Applying a preset writes exactly these keys
through the config store (validated, atomic, audited); nothing else changes.
"""
from __future__ import annotations

from typing import Any, Mapping

from mraster.settings import FIELDS_BY_ENV

from dashboard.services.configstore import ChangeResult, ConfigStore

DEFAULT_MODE_MAX_LEVERAGE = 5
RISK_SLIDER = (0.0025, 0.05)      # 0.25 % .. 5 % of equity per trade
LEVERAGE_SLIDER = (1, DEFAULT_MODE_MAX_LEVERAGE)

PRESETS: dict[str, dict[str, Any]] = {
    "low": {
        "ASTER_RISK_PER_TRADE": 0.0035,
        "ASTER_LEVERAGE": 2,
        "ASTER_MAX_OPEN_GLOBAL": 1,
        "ASTER_EQUITY_FRACTION": 0.15,
        "ASTER_SIZE_MULT": 0.75,
        "ASTER_SIZE_MULT_S": 1.0,
        "ASTER_SIZE_MULT_M": 1.2,
        "ASTER_SIZE_MULT_L": 1.4,
        "ASTER_RSI_BUY_MIN": 55.0,
        "ASTER_RSI_SELL_MAX": 45.0,
        "ASTER_MIN_EDGE_R": 0.15,
        "ASTER_ALLOW_TREND_ALIGN": True,
        "ASTER_LOOP_SLEEP": 30.0,
    },
    "mid": {
        "ASTER_RISK_PER_TRADE": 0.007,
        "ASTER_LEVERAGE": 3,
        "ASTER_MAX_OPEN_GLOBAL": 2,
        "ASTER_EQUITY_FRACTION": 0.25,
        "ASTER_SIZE_MULT": 1.0,
        "ASTER_SIZE_MULT_S": 1.0,
        "ASTER_SIZE_MULT_M": 1.4,
        "ASTER_SIZE_MULT_L": 1.9,
        "ASTER_RSI_BUY_MIN": 51.0,
        "ASTER_RSI_SELL_MAX": 49.0,
        "ASTER_MIN_EDGE_R": 0.08,
        "ASTER_ALLOW_TREND_ALIGN": True,
        "ASTER_LOOP_SLEEP": 20.0,
    },
    "high": {
        "ASTER_RISK_PER_TRADE": 0.012,
        "ASTER_LEVERAGE": 5,
        "ASTER_MAX_OPEN_GLOBAL": 4,
        "ASTER_EQUITY_FRACTION": 0.4,
        "ASTER_SIZE_MULT": 1.2,
        "ASTER_SIZE_MULT_S": 1.0,
        "ASTER_SIZE_MULT_M": 1.5,
        "ASTER_SIZE_MULT_L": 2.2,
        "ASTER_RSI_BUY_MIN": 50.5,
        "ASTER_RSI_SELL_MAX": 49.5,
        "ASTER_MIN_EDGE_R": 0.04,
        "ASTER_ALLOW_TREND_ALIGN": True,
        "ASTER_LOOP_SLEEP": 10.0,
    },
}

DESCRIPTIONS = {
    "low": "Careful: one position at a time, 0.35 % risk per trade, 2x leverage, stricter signals.",
    "mid": "Balanced: the built-in defaults (0.7 % risk, 3x leverage, up to 2 positions).",
    "high": "Active: up to 4 positions, 1.2 % risk per trade, 5x leverage, looser signals, faster scans.",
}


class UnknownPresetError(KeyError):
    pass


def preset_values(name: str) -> dict[str, Any]:
    try:
        return dict(PRESETS[name.lower()])
    except KeyError:
        raise UnknownPresetError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


class PresetService:
    def __init__(self, store: ConfigStore):
        self.store = store

    def listing(self) -> dict[str, Any]:
        return {
            "presets": [{"name": n, "title": n.capitalize(), "description": DESCRIPTIONS[n], "values": v}
                        for n, v in PRESETS.items()],
            "active": self.active(),
            "sliders": {"risk_per_trade": {"setting": "ASTER_RISK_PER_TRADE", "min": RISK_SLIDER[0],
                                           "max": RISK_SLIDER[1], "step": 0.0005},
                        "leverage": {"setting": "ASTER_LEVERAGE", "min": LEVERAGE_SLIDER[0],
                                     "max": LEVERAGE_SLIDER[1], "step": 1}},
        }

    def active(self) -> str | None:
        """The preset whose every value is in effect now; None means a custom mix."""
        settings = self.store.settings
        for name, values in PRESETS.items():
            if all(_same(settings.value(k), v) for k, v in values.items()):
                return name
        return None

    def preview(self, name: str) -> dict[str, Any]:
        """The diff the page shows before applying: only the settings that would change."""
        values = preset_values(name)
        loaded = self.store.loaded
        changes = []
        for key, new in values.items():
            spec = FIELDS_BY_ENV[key]
            current = loaded.settings.value(key)
            if _same(current, new):
                continue
            changes.append({"name": key, "current": spec.to_raw(current), "new": new, "unit": spec.unit,
                            "live": spec.live, "description": spec.desc, "source": loaded.source_of(key)})
        return {"preset": name.lower(), "changes": changes, "unchanged": len(values) - len(changes)}

    async def apply(self, name: str, who: str) -> ChangeResult:
        return await self.store.apply(preset_values(name), who=who, action=f"preset.{name.lower()}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) < 1e-12
        except (TypeError, ValueError):
            return False
    return a == b


def check_presets(presets: Mapping[str, Mapping[str, Any]] = PRESETS) -> list[str]:
    """Problems with the preset table itself (the tests run this): every key a real setting, every
    value valid, leverage within the default-mode cap."""
    problems = []
    for name, values in presets.items():
        for key, value in values.items():
            spec = FIELDS_BY_ENV.get(key)
            if spec is None:
                problems.append(f"{name}: unknown setting {key}")
                continue
            try:
                spec.parse(value, f"preset {name}")
            except ValueError as exc:
                problems.append(str(exc))
        if int(values.get("ASTER_LEVERAGE", 1)) > DEFAULT_MODE_MAX_LEVERAGE:
            problems.append(f"{name}: leverage above {DEFAULT_MODE_MAX_LEVERAGE}x")
        risk = float(values.get("ASTER_RISK_PER_TRADE", RISK_SLIDER[0]))
        if not RISK_SLIDER[0] <= risk <= RISK_SLIDER[1]:
            problems.append(f"{name}: risk per trade outside the slider's range")
    return problems
