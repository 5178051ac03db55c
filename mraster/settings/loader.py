"""Build Settings from the five sources, lowest precedence first:

built-in defaults < dashboard_config.json < .env < process environment < CLI flags.

Every process (dashboard, bot, guard, paper exchange) calls `load_settings`
the same way, so they all see the same values.
"""
from __future__ import annotations

import difflib
import json
import os
from datetime import date
from dataclasses import dataclass, field, fields as dc_fields, make_dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from dotenv import dotenv_values

from mraster.accounts import is_account_variable
from mraster.settings.confine import confinement_problems
from mraster.settings.fields import FIELDS, FIELDS_BY_ENV
from mraster.settings.schema import FieldError, FieldSpec

SOURCES = ("default", "config file", ".env", "environment", "cli")
MASK = "********"

_PYTYPES = {"int": int, "float": float, "bool": bool, "str": str, "choice": str, "names": str,
            "symbols": tuple, "path": str, "url": str}


def _settings_base_repr(self: Any) -> str:
    parts = [f"{f.name}={MASK if f.metadata['spec'].secret and getattr(self, f.name) else getattr(self, f.name)!r}"
             for f in dc_fields(self)]
    return "Settings(" + ", ".join(parts) + ")"


Settings = make_dataclass(
    "Settings",
    [(spec.attr, _PYTYPES[spec.kind],
      field(default=spec.parse(spec.default, "default"), metadata={"spec": spec}, repr=not spec.secret))
     for spec in FIELDS],
    frozen=True,
    namespace={
        "__doc__": "Typed, validated, immutable settings. Attribute = variable name, lower case, "
                   "without the ASTER_ prefix (ASTER_LEVERAGE -> leverage).",
        "__repr__": _settings_base_repr,
        "spec": staticmethod(lambda env: FIELDS_BY_ENV[env]),
        "value": lambda self, env: getattr(self, FIELDS_BY_ENV[env].attr),
        "with_values": lambda self, **values: replace(self, **values),
    },
)
Settings.__module__ = __name__


class SettingsError(Exception):
    """Bad configuration: one message per problem, every one naming the variable and the source."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class LoadedSettings:
    settings: Any  # Settings
    sources: dict[str, str]          # env name -> source label
    warnings: tuple[str, ...] = ()
    config_file: Path | None = None
    dotenv_file: Path | None = None

    def source_of(self, env: str) -> str:
        return self.sources.get(env, "default")

    def public_values(self) -> dict[str, Any]:
        """Values safe to show anywhere: secrets become a mask (or empty when unset)."""
        out: dict[str, Any] = {}
        for spec in FIELDS:
            value = getattr(self.settings, spec.attr)
            out[spec.env] = (MASK if value else "") if spec.secret else spec.to_raw(value)
        return out


@dataclass
class _Collected:
    raw: dict[str, tuple[Any, str]] = field(default_factory=dict)  # env -> (raw value, source)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def is_setting_name(name: str) -> bool:
    return name.startswith("ASTER_") or name.startswith("FAST_TP") or name.startswith("FASTTP")


def suggest(name: str) -> str:
    close = difflib.get_close_matches(name.upper(), FIELDS_BY_ENV.keys(), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse dashboard_config.json; a syntax error names file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError([f"{path}: cannot read ({exc.strerror})"]) from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError([f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]) from None
    if not isinstance(data, dict):
        raise SettingsError([f"{path}: must hold a JSON object of NAME: value pairs, not {type(data).__name__}"])
    return data


def _collect_file(data: Mapping[str, Any], path: Path, out: _Collected) -> None:
    unknown = []
    for key, value in data.items():
        if key.startswith("_"):  # comments such as "_comment" are allowed
            continue
        spec = FIELDS_BY_ENV.get(key)
        if spec is None and is_account_variable(key):
            out.problems.append(f"{key} found in {path}: named accounts are declared only in .env (mode 0600) "
                                f"or the environment; remove it from {path.name}")
            continue
        if spec is None:
            unknown.append(key + suggest(key))
            continue
        if spec.secret:
            out.problems.append(
                f"{key} found in {path}: secrets are never read from this file; "
                f"put it in .env (mode 0600) or the environment, and remove it from {path.name}")
            continue
        if spec.env_only:
            out.problems.append(f"{key} found in {path}: {_env_only_reason(key)}")
            continue
        out.raw[key] = (value, "config file")
    if unknown:
        out.warnings.append(f"{path}: unknown keys ignored (likely typos): " + ", ".join(unknown))


def _env_only_reason(key: str) -> str:
    if key in ("ASTER_CONFIG_FILE", "ASTER_DOTENV_FILE"):
        return "it locates the config files, so set it in the environment"
    return "only the operator sets it, in .env or the environment"


def _collect_mapping(values: Mapping[str, str | None], label: str, out: _Collected, warn_unknown: bool = True) -> None:
    unknown = []
    for key, value in values.items():
        if not is_setting_name(key):
            continue
        if key not in FIELDS_BY_ENV:
            if not is_account_variable(key):       # named accounts: mraster/accounts.py reads them
                unknown.append(key + suggest(key))
            continue
        if value is None:
            continue
        out.raw[key] = (value, label)
    if unknown and warn_unknown:
        out.warnings.append(f"unknown variables in {label} ignored (likely typos): " + ", ".join(unknown))


def resolve_paths(env: Mapping[str, str], cli: Mapping[str, str], cwd: Path) -> tuple[Path, Path]:
    def pick(name: str) -> Path:
        raw = cli.get(name) or env.get(name) or FIELDS_BY_ENV[name].default
        p = Path(raw).expanduser()
        return p if p.is_absolute() else cwd / p
    return pick("ASTER_CONFIG_FILE"), pick("ASTER_DOTENV_FILE")


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    cli: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    use_files: bool = True,
) -> LoadedSettings:
    """Load and validate settings; raises SettingsError listing every bad value."""
    env = dict(os.environ if env is None else env)
    cli = dict(cli or {})
    base = Path(cwd) if cwd is not None else Path.cwd()
    config_path, dotenv_path = resolve_paths(env, cli, base)
    out = _Collected()
    if use_files:
        _collect_file(read_config_file(config_path), config_path, out)
        if dotenv_path.is_file():
            _check_dotenv_mode(dotenv_path, out)
            dot = {k: v for k, v in dotenv_values(dotenv_path).items()}
            _collect_mapping(dot, ".env", out)
    _collect_mapping(env, "environment", out)
    _collect_mapping(cli, "cli", out)
    for key in cli:
        if key not in FIELDS_BY_ENV:
            out.problems.append(f"unknown setting {key} given on the command line{suggest(key)}")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, (raw, label) in out.raw.items():
        spec = FIELDS_BY_ENV[key]
        try:
            values[spec.attr] = spec.parse(raw, label)
            sources[key] = label
        except FieldError as exc:
            out.problems.append(str(exc))
    if out.problems:
        raise SettingsError(out.problems)
    settings = Settings(**values)
    cross = cross_check(settings, sources)
    if use_files:
        cross += confinement_problems(settings, sources, config_path.parent)
    if cross:
        raise SettingsError(cross)
    return LoadedSettings(settings, sources, tuple(out.warnings), config_path if use_files else None,
                          dotenv_path if use_files else None)


def _check_dotenv_mode(path: Path, out: _Collected) -> None:
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        out.warnings.append(f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}")


def cross_check(s: Any, sources: Mapping[str, str]) -> list[str]:
    """Rules that involve more than one setting."""
    problems = []

    def src(*names: str) -> str:
        return ", ".join(f"{n} from {sources.get(n, 'default')}" for n in names)

    if s.min_notional_usdt > s.max_notional_usdt:
        problems.append(
            f"ASTER_MIN_NOTIONAL_USDT={s.min_notional_usdt} is above ASTER_MAX_NOTIONAL_USDT="
            f"{s.max_notional_usdt} ({src('ASTER_MIN_NOTIONAL_USDT', 'ASTER_MAX_NOTIONAL_USDT')})")
    if s.rsi_sell_max > s.rsi_buy_min:
        problems.append(
            f"ASTER_RSI_SELL_MAX={s.rsi_sell_max} is above ASTER_RSI_BUY_MIN={s.rsi_buy_min}: a candle could "
            f"be both long and short ({src('ASTER_RSI_SELL_MAX', 'ASTER_RSI_BUY_MIN')})")
    feed = s.paper_feed
    if not (feed in ("auto", "synthetic", "live") or (feed.startswith("replay:") and len(feed) > 7)):
        problems.append(f"ASTER_PAPER_FEED={feed!r} from {sources.get('ASTER_PAPER_FEED', 'default')}: "
                        "expected auto, synthetic, live or replay:PATH")
    return problems + ops_problems(s, sources)


def ops_problems(s: Any, sources: Mapping[str, str]) -> list[str]:
    """Formats of the ops group's text settings (times of day, dates, the backtest's data source)."""
    problems = []
    for name in ("ASTER_ENTRY_HALT_UTC", "ASTER_FORCE_EXIT_UTC"):
        value = s.value(name)
        if not _is_hhmm(value):
            problems.append(f"{name}={value!r} from {sources.get(name, 'default')}: expected a UTC time HH:MM")
    dates = {}
    for name in ("ASTER_BACKTEST_START_DATE", "ASTER_BACKTEST_END_DATE"):
        value = s.value(name)
        if value:
            try:
                dates[name] = date.fromisoformat(value) if len(value) == 10 else None
            except ValueError:
                dates[name] = None
            if dates[name] is None:
                problems.append(f"{name}={value!r} from {sources.get(name, 'default')}: expected YYYY-MM-DD or empty")
    start, end = dates.get("ASTER_BACKTEST_START_DATE"), dates.get("ASTER_BACKTEST_END_DATE")
    if start and end and start > end:
        problems.append(f"ASTER_BACKTEST_START_DATE={start} is after ASTER_BACKTEST_END_DATE={end}")
    source = s.ops_backtest_source
    if not (source in ("store", "csv") or (source.startswith("klines:") and len(source) > 7)):
        problems.append(f"ASTER_OPS_BACKTEST_SOURCE={source!r} from "
                        f"{sources.get('ASTER_OPS_BACKTEST_SOURCE', 'default')}: expected store, csv or klines:NAME")
    return problems


def _is_hhmm(text: str) -> bool:
    hh, sep, mm = text.partition(":")
    return bool(sep) and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit() \
        and int(hh) < 24 and int(mm) < 60


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """`--set NAME=VALUE` flags -> mapping; a malformed item raises SettingsError."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SettingsError([f"--set {item!r}: expected NAME=VALUE"])
        out[name.strip().upper()] = value
    return out


def validate_updates(current: LoadedSettings, updates: Mapping[str, Any], label: str = "request") -> dict[str, str]:
    """Check a set of new raw values against the schema; returns {name: message} for each bad one.

    Used by the dashboard before anything is written: nothing is saved unless this is empty.
    """
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for key, raw in updates.items():
        spec = FIELDS_BY_ENV.get(key)
        if spec is None:
            errors[key] = f"unknown setting {key}{suggest(key)}"
            continue
        if spec.env_only:
            where = "" if key in ("ASTER_CONFIG_FILE", "ASTER_DOTENV_FILE") else " or .env, by the operator"
            errors[key] = f"{key} can only be set in the environment{where}"
            continue
        try:
            parsed[spec.attr] = spec.parse(raw, label)
        except FieldError as exc:
            errors[key] = str(exc)
    if errors:
        return errors
    candidate = replace(current.settings, **parsed)
    for problem in cross_check(candidate, {k: label for k in updates}):
        name = problem.split("=", 1)[0].split()[0]
        errors[name if name in FIELDS_BY_ENV else "_"] = problem
    root = current.config_file.parent if current.config_file is not None else Path.cwd()
    for problem in confinement_problems(candidate, {k: label for k in updates}, root, names=updates):
        errors[problem.split("=", 1)[0]] = problem
    return errors


def field_spec(env: str) -> FieldSpec:
    return FIELDS_BY_ENV[env]


def default_settings() -> Any:
    """Settings with every default and nothing read from disk or environment (tests, docs)."""
    return Settings()
