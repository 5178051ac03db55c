"""What the Operator page needs of a delta-neutral instance, from files only (the dashboard never imports an
engine): its status file, its control file (pause, close the pair), the engines' trade database (trade
history, daily stats, CSV export) and its settings in engines.json (validated by the kind, with the seed's
warnings)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mraster.engines import InstanceError, get_kind, instances_file, load_instances, parse_instance, save_instances
from mraster.engines.kinds.deltaneutral import warnings as seed_warnings
from mraster.storage.atomic import CorruptFileError, read_json_checked, write_json_atomic
from mraster.tradedb import TABLES, TradeDB, TradeDBError

KIND = "deltaneutral"


class OperatorError(LookupError):
    """No such operator instance (or not a delta-neutral one)."""


class OperatorService:
    def __init__(self, config_file: Path, run_dir: Path, journal_file: Path):
        self.config_file, self.run_dir, self.journal_file = config_file, run_dir, journal_file

    def _instances(self) -> list[Any]:
        try:
            return [i for i in load_instances(instances_file(self.config_file)) if i.kind == KIND]
        except CorruptFileError:
            return []

    def names(self) -> list[str]:
        return [i.name for i in self._instances()]

    def instance(self, name: str) -> Any:
        for inst in self._instances():
            if inst.name == name:
                return inst
        raise OperatorError(f"no delta-neutral instance {name!r} (instances: {', '.join(self.names()) or 'none'})")

    def status_path(self, name: str) -> Path:
        return self.run_dir / get_kind(KIND).status_file.format(instance=name)

    def control_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.control.json"

    # ------------------------------------------------------------------ reads
    def status(self, name: str) -> dict[str, Any]:
        inst = self.instance(name)
        values = {**get_kind(KIND).defaults(), **dict(inst.settings)}
        try:
            status = read_json_checked(self.status_path(name)) or {}
        except CorruptFileError as exc:
            status = {"problem": str(exc)}
        return {"instance": name, "accounts": dict(inst.accounts), "settings": _plain(values),
                "warnings": seed_warnings(values), "control": self.control(name), "status": status,
                "running_status_age_s": _age(status)}

    def control(self, name: str) -> dict[str, Any]:
        try:
            data = read_json_checked(self.control_path(name))
        except CorruptFileError:
            return {"paused": True}
        return data if isinstance(data, dict) else {}

    def _db(self) -> TradeDB | None:
        if not self.journal_file.exists():
            return None
        return TradeDB(self.journal_file)

    def history(self, name: str, limit: int = 200, days: int = 30) -> dict[str, Any]:
        self.instance(name)
        db = self._db()
        if db is None:
            return {"trades": [], "daily": [], "positions": []}
        try:
            return {"trades": db.trades(name, limit=limit), "daily": db.daily_stats(name, days),
                    "positions": db.positions(name)[-limit:]}
        finally:
            db.close()

    def export_csv(self, name: str, table: str, out: Path) -> int:
        self.instance(name)
        if table not in TABLES:
            raise TradeDBError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        db = self._db()
        if db is None:
            out.write_text("")
            return 0
        try:
            return db.export_csv(table, out, name)
        finally:
            db.close()

    # ------------------------------------------------------------------ changes
    def set_paused(self, name: str, paused: bool) -> dict[str, Any]:
        self.instance(name)
        control = {**self.control(name), "paused": paused}
        write_json_atomic(self.control_path(name), control)
        return control

    def close_pair(self, name: str) -> dict[str, Any]:
        """Close both legs at the operator's next check, and pause (Resume opens a new pair)."""
        self.instance(name)
        control = {**self.control(name), "paused": True, "close_ms": int(time.time() * 1000)}
        write_json_atomic(self.control_path(name), control)
        return control

    def save_settings(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate with the kind's specs (InstanceError naming the setting) and save engines.json atomically."""
        path = instances_file(self.config_file)
        everything = load_instances(path)
        target = self.instance(name)
        merged = {**target.to_json()}
        merged["settings"] = {**{k: _raw(v) for k, v in target.settings}, **changes}
        updated = parse_instance(merged)
        save_instances(path, [updated if i.name == name else i for i in everything])
        values = {**get_kind(KIND).defaults(), **dict(updated.settings)}
        return {"settings": _plain(values), "warnings": seed_warnings(values), "restart_needed": True}


def _raw(v: Any) -> Any:
    return ",".join(v) if isinstance(v, tuple) else v


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _age(status: dict[str, Any]) -> float | None:
    stamp = status.get("written_ms") if isinstance(status, dict) else None
    return None if not stamp else round(time.time() - stamp / 1000, 1)


__all__ = ["InstanceError", "OperatorError", "OperatorService"]
