"""V3 nonces: microseconds, strictly increasing per agent across threads, restarts and real processes
sharing one run directory (bot, guard and engines of one account)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from mraster.exchange.nonce import NonceSource, reset_in_process

AGENT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from mraster.exchange.nonce import NonceSource
src = NonceSource(sys.argv[1], sys.argv[2])
print("\\n".join(str(src.next()) for _ in range(int(sys.argv[3]))))
"""


def test_microseconds_and_strictly_increasing_in_memory():
    reset_in_process()
    src = NonceSource(AGENT)
    values = [src.next() for _ in range(1000)]
    assert values == sorted(values) and len(set(values)) == 1000
    assert abs(values[0] - time.time_ns() // 1000) < 5_000_000          # µs, near now
    assert len(str(values[0])) == 16


def test_restart_continues_above_the_high_water_mark_even_if_the_clock_steps_back(tmp_path):
    clock = [1_750_000_000_000_000]
    first = NonceSource(AGENT, tmp_path, now_us=lambda: clock[0])
    used = [first.next() for _ in range(3)]
    assert used == [clock[0], clock[0] + 1, clock[0] + 2]
    clock[0] -= 5_000_000                                                # NTP stepped the clock back 5 s
    restarted = NonceSource(AGENT, tmp_path, now_us=lambda: clock[0])
    assert restarted.next() == used[-1] + 1 and restarted.last() == used[-1] + 1
    other_agent = NonceSource("0x" + "11" * 20, tmp_path, now_us=lambda: clock[0])
    assert other_agent.next() == clock[0]                                # marks are per agent


def test_unreadable_mark_falls_back_to_the_clock(tmp_path):
    src = NonceSource(AGENT, tmp_path, now_us=lambda: 42_000_000)
    src.path.write_bytes(b"\x00garbage")
    assert src.next() == 42_000_000 and src.last() == 42_000_000


def test_threads_of_one_process_never_share_a_nonce(tmp_path):
    src = NonceSource(AGENT, tmp_path)
    out: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [src.next() for _ in range(300)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 1200 and len(set(out)) == 1200


def test_processes_sharing_an_agent_never_share_a_nonce(tmp_path):
    """Real child processes on one run dir, each drawing nonces as fast as it can."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, AGENT, str(tmp_path), "400"], stdout=subprocess.PIPE,
                              env=env, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    per_process = [[int(x) for x in o.split()] for o in outputs]
    assert all(len(v) == 400 and v == sorted(v) for v in per_process)
    every = [n for v in per_process for n in v]
    assert len(set(every)) == 1200
    assert NonceSource(AGENT, tmp_path).last() == max(every)
