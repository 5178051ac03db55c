"""Service status for the reports: systemd units when mraster runs under systemd, else the pid files
of the processes the dashboard supervises (`<run dir>/*.pid`)."""
from __future__ import annotations

from pathlib import Path

from mraster.procinfo import is_alive, read_pid_file

from ops.engines import systemctl, unit_loaded
from ops.systemd import production_units


def service_status(service: str, run_dir: Path, units: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    main = f"{service}.service"
    if unit_loaded(main):
        rows = []
        for unit in units or production_units(service, recorder=unit_loaded(f"{service}-recorder.service")):
            _, active = systemctl("is-active", unit, check=False, timeout=20)
            rows.append((unit, active or "unknown"))
        _, restarts = systemctl("show", "-p", "NRestarts", "-p", "ActiveEnterTimestamp", main, check=False,
                                timeout=20)
        rows += [(main, line) for line in restarts.splitlines() if line]
        return rows
    rows = []
    for pid_file in sorted(run_dir.glob("*.pid")) if run_dir.is_dir() else []:
        try:
            record = read_pid_file(pid_file)
        except Exception as exc:    # a corrupt pid file is a finding, not a crash of the report
            rows.append((pid_file.stem, f"pid file unreadable ({type(exc).__name__})"))
            continue
        if record is None:
            continue
        alive = is_alive(record.identity)
        rows.append((pid_file.stem, f"running (pid {record.identity.pid})" if alive else "not running"))
    return rows or [("processes", "none recorded in " + str(run_dir))]
