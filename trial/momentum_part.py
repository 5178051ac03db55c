"""The momentum engine's part in the whole-system trial: it trades beside the scanner on a second paper
account, under the same faults, and the venue-side invariants are checked for its account too.

- The second account is a key pair registered through the paper exchange's admin API (the trial's
  exchange accepts only its own fixed key otherwise); the pair is added to the leak scanner's secrets.
- The engine runs as a user runs it: `python -m commands.main momentum --instance`-less, trading on, in
  the trial's folder (its settings files), with that pair in its environment, its journal in
  `momentum_journal.sqlite` (the trial's ledger check reconciles the shared journal against the
  scanner's state file, trade by trade) and permissive parameters in `run/momentum_params.json`, so it
  trades on the synthetic market.
- Once during the run it is SIGKILLed while it holds a position with its exits (or, if it never holds
  one in time, while flat) and started again: the trial then checks that the same trade is adopted and
  that no entry was repeated (`adoptions`), while the monitor keeps checking the stop gap and duplicates.
- At the end it is stopped with SIGTERM (exit code 0 expected) and its status file is summarised.
"""
from __future__ import annotations

import asyncio
import json
import secrets as pysecrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trial.workdir import WorkDir

PARAMS = {"k": 0.3, "T": 5, "n": 0.5, "V": 5, "tp_bps": 40, "sl_bps": 30, "activation_bps": 15,
          "activation_buffer_bps": 2, "callback_bps": 10, "min_tp_gap_bps": 5, "spread_max": 50,
          "funding_max": 50, "cooldown_min": 2}


@dataclass
class MomentumPart:
    work: WorkDir
    symbols: tuple[str, ...]
    notional: float = 50.0
    loop_s: float = 0.25
    key: str = field(default_factory=lambda: f"mk{pysecrets.token_hex(16)}")
    secret: str = field(default_factory=lambda: f"ms{pysecrets.token_hex(16)}")
    proc: subprocess.Popen | None = None
    starts: int = 0
    kill: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None

    @property
    def status_path(self) -> Path:
        return self.work.run_dir / "momentum.status.json"

    def secrets(self) -> list[str]:
        return [self.key, self.secret]

    def env(self) -> dict[str, str]:
        env = self.work.child_env()
        env.update({"ASTER_CONFIG_FILE": str(self.work.config_file), "ASTER_DOTENV_FILE": str(self.work.dotenv_file),
                    "ASTER_PAPER_API_KEY": self.key, "ASTER_PAPER_API_SECRET": self.secret,
                    "ASTER_JOURNAL_FILE": str(self.work.path / "momentum_journal.sqlite"),
                    "MRASTER_MOMENTUM__LOOP_S": str(self.loop_s)})
        return env

    async def start(self, admin: Any) -> None:
        """Register the account, write the parameter file, start the engine."""
        await admin.register_key(self.key, self.secret)
        self.work.run_dir.mkdir(parents=True, exist_ok=True)
        (self.work.run_dir / "momentum_params.json").write_text(json.dumps(
            {"strategy": "momentum", "symbols": {s: dict(PARAMS, config_id="trial") for s in self.symbols},
             "source": {"applied_by": "mraster trial"}}, indent=1))
        self._spawn()

    def _spawn(self) -> None:
        out = open(self.work.path / "momentum.out", "ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "commands.main", "momentum", "--symbols", ",".join(self.symbols),
                 "--enable-trading", "true", "--order-notional", f"{self.notional:g}"],
                cwd=self.work.path, env=self.env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            out.close()
        self.starts += 1

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads(self.status_path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def held(self) -> dict[str, Any]:
        """symbol -> (trade id, armed exit roles) of what the engine holds now, from its status file."""
        out = {}
        for sym, s in (self.status().get("symbols") or {}).items():
            pos = s.get("position")
            if pos:
                out[sym] = {"trade_id": pos["trade_id"], "exits": sorted(pos.get("exits") or {})}
        return out

    async def kill_and_restart(self, wait_for_position_s: float) -> None:
        """SIGKILL while a position has all three exits (waiting up to `wait_for_position_s`), start again,
        and check that the new process adopted the same trades without entering again."""
        deadline = time.monotonic() + wait_for_position_s
        while time.monotonic() < deadline and not any(len(h["exits"]) == 3 for h in self.held().values()):
            await asyncio.sleep(0.1)
        before = {s: h["trade_id"] for s, h in self.held().items() if len(h["exits"]) == 3}
        if self.proc is None:
            return
        pid = self.proc.pid
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait, 10)
        killed = time.time()
        self._spawn()
        self.kill = {"pid": pid, "new_pid": self.proc.pid, "holding": before, "adopted": None, "recovery_s": None}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = self.status()
            if st.get("pid") == self.proc.pid and st.get("ticks", 0) >= 1:
                held = {s: h["trade_id"] for s, h in self.held().items()}
                # adopted: every trade held before the kill is held under the same id now, or was closed
                self.kill["adopted"] = all(held.get(s) in (tid, None) for s, tid in before.items())
                self.kill["still_held"] = {s: held.get(s) for s in before}
                self.kill["kept"] = sum(1 for s, tid in before.items() if held.get(s) == tid)
                self.kill["recovery_s"] = round(time.time() - killed, 2)
                break
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.exit_code = await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.exit_code = await asyncio.to_thread(self.proc.wait, 10)
        else:
            self.exit_code = self.proc.returncode

    def summary(self, journal_trades: int) -> dict[str, Any]:
        st = self.status()
        return {"account": "second paper account (admin-registered pair)", "symbols": list(self.symbols),
                "starts": self.starts, "exit_code": self.exit_code, "state": st.get("state"),
                "ticks": st.get("ticks"), "entries": journal_trades, "kill": self.kill,
                "entry_latency_ms": st.get("entry_latency_ms"), "problems": st.get("problems", [])}

    def problems(self, journal_trades: int) -> list[str]:
        out = []
        if self.exit_code not in (0, None):
            out.append(f"momentum exited with code {self.exit_code} when stopped")
        if not (self.status().get("ticks") or 0):
            out.append("momentum never completed a tick")
        if self.kill and self.kill.get("adopted") is False:
            out.append(f"momentum did not adopt its positions after the restart: {self.kill}")
        if self.kill and self.kill.get("recovery_s") is None:
            out.append("momentum did not come back after it was killed")
        if journal_trades == 0:
            out.append("momentum made no trade: its part of the trial checked nothing")
        return out


def journal_trades(path: Path) -> int:
    import sqlite3
    if not path.exists():
        return 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM trades").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        con.close()
