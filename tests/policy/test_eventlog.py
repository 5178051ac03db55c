"""The policy_events table in a real SQLite journal, and the CSV layout."""
from __future__ import annotations

import csv
import json
import logging
import sqlite3

import numpy as np
import pytest

from ml_policy import BanditPolicy, PolicyConfig
from ml_policy.eventlog import (
    CSV_COLUMNS, EventLogError, ensure_schema, read_events, record_decision, record_reward, write_events_csv,
)

from tests.policy.synth import linear_world, make_ctx, with_numpy_scalars


def journal_with_events(path, n: int, enabled: bool = True) -> list[tuple[str, str, float | None]]:
    """Run a policy like the bot does and log every decision; returns (id, arm, R) per event."""
    cfg = PolicyConfig(enabled=enabled, seed=5)
    policy, world, rng = BanditPolicy(cfg), linear_world(cfg), np.random.default_rng(6)
    conn = sqlite3.connect(path)
    ensure_schema(conn)
    ensure_schema(conn)                      # idempotent
    logged = []
    for t in range(n):
        c = make_ctx(rng, t)
        d = policy.decide(c)
        assert record_decision(conn, f"sig{t}", c.time_ms, c.symbol, c, d)
        r = None
        if d.take and t % 5:                 # every fifth trade is still open
            r = world.draw_r(c, rng)
            assert record_reward(conn, f"sig{t}", r, c.time_ms + 60_000)
        logged.append((f"sig{t}", d.effective_arm, r))
        conn.commit()
    conn.close()
    return logged


def test_decisions_and_rewards_round_trip_through_sqlite(tmp_path):
    path = tmp_path / "aster_journal.sqlite"
    logged = journal_with_events(path, 120)
    events = read_events(path)
    assert [e.event_id for e in events] == [i for i, _, _ in logged]
    for e, (_, arm, r) in zip(events, logged):
        assert e.arm == arm
        if arm == "SKIP":
            assert e.reward == 0.0 and e.r_multiple is None and e.resolved
        elif r is None:
            assert not e.resolved
        else:
            assert e.r_multiple == r and e.reward == pytest.approx(r * e.size_mult)
        assert e.propensity is not None and 0 < e.propensity <= 1
    assert {e.arm for e in events} >= {"SKIP", "M"}


def test_duplicate_decisions_and_unknown_rewards(tmp_path, ctx, caplog):
    conn = sqlite3.connect(tmp_path / "j.sqlite")
    ensure_schema(conn)
    d = BanditPolicy(PolicyConfig(enabled=False)).decide(ctx)
    assert record_decision(conn, "a", ctx.time_ms, ctx.symbol, ctx, d)
    assert not record_decision(conn, "a", ctx.time_ms, ctx.symbol, ctx, d.to_json())
    with caplog.at_level(logging.WARNING, logger="ml_policy"):
        assert not record_reward(conn, "nope", 1.0, ctx.time_ms)
    assert any(r.event == "policy.event_unknown" for r in caplog.records)
    with pytest.raises(ValueError):
        record_reward(conn, "a", float("nan"), ctx.time_ms)
    row = conn.execute("SELECT arm, policy_arm, shadow, propensity, size_mult FROM policy_events").fetchone()
    assert row == ("M", d.arm, 1, 1.0, 1.4)


def test_csv_export_reads_back_identically(tmp_path):
    path = tmp_path / "aster_journal.sqlite"
    journal_with_events(path, 60)
    events = read_events(path)
    out = tmp_path / "events.csv"
    assert write_events_csv(events, out) == 60
    assert read_events(out) == events


def test_csv_without_size_mult_uses_the_configured_buckets(tmp_path, ctx):
    out = tmp_path / "min.csv"
    row = {c: "" for c in CSV_COLUMNS} | {k: str(v) for k, v in ctx.to_json().items()}
    row |= {"event_id": "x1", "arm": "L", "r_multiple": "0.5"}
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[c for c in CSV_COLUMNS if c not in ("size_mult", "propensity")])
        writer.writeheader()
        writer.writerow({k: row[k] for k in writer.fieldnames})
    (event,) = read_events(out, PolicyConfig(size_mults={"S": 1.0, "M": 1.4, "L": 2.0}))
    assert event.size_mult == 2.0 and event.reward == 1.0 and event.propensity is None


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_text(""), "empty"),
    (lambda p: p.write_text("event_id,time_ms\n1,2\n"), "missing column"),
    (lambda p: p.write_text(",".join(CSV_COLUMNS) + "\n"), "no policy events"),
])
def test_unusable_csv_files_give_clear_errors(tmp_path, setup, message):
    path = tmp_path / "events.csv"
    setup(path)
    with pytest.raises(EventLogError, match=message):
        read_events(path)


def test_csv_row_errors_name_the_line(tmp_path, ctx):
    path = tmp_path / "events.csv"
    values = {c: "" for c in CSV_COLUMNS} | {k: str(v) for k, v in ctx.to_json().items()}
    values |= {"event_id": "a", "arm": "M", "rsi": "high"}
    path.write_text(",".join(CSV_COLUMNS) + "\n" + ",".join(values[c] for c in CSV_COLUMNS) + "\n")
    with pytest.raises(EventLogError, match=r"events.csv:2: column rsi='high'"):
        read_events(path)


def test_sqlite_without_the_table_or_not_sqlite(tmp_path):
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(EventLogError, match="no policy_events table"):
        read_events(other)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(EventLogError, match="not a readable SQLite"):
        read_events(junk)


def test_contexts_built_from_numpy_scalars_are_logged_as_json(tmp_path, ctx):
    as_numpy = with_numpy_scalars(ctx)
    policy = BanditPolicy(PolicyConfig())
    d = policy.decide(as_numpy)
    json.dumps(d.to_json())
    conn = sqlite3.connect(tmp_path / "j.sqlite")
    ensure_schema(conn)
    assert record_decision(conn, "n1", as_numpy.time_ms, as_numpy.symbol, as_numpy, d)
    conn.commit()
    conn.close()
    (event,) = read_events(tmp_path / "j.sqlite")
    assert event.ctx == ctx
