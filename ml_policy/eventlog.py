"""The `policy_events` table of the bot's SQLite journal, and reading logged events back.

One row per candidate the policy decided on (trade id, or a signal id for a skip):
what the policy saw (the SignalContext as JSON), which arm the bot actually played
(`arm`, the effective arm), what the policy wanted (`policy_arm`), the logging
policy's probability of playing `arm` in that context (`propensity`; 1.0 for a
deterministic choice, 1/k for a k-way tie, NULL if unknown) and, once the trade
closed, its R multiple net of fees and the reward (R x size multiplier of `arm`;
SKIP rows get reward 0 when they are written). `mraster policy eval` replays
these rows; the same columns in a CSV file work too (docs/policy.md).

The functions run inside the caller's connection and transaction: the journal
commits as it does for its own tables.
"""
from __future__ import annotations

import csv
import json
import math
import sqlite3
from dataclasses import dataclass, fields as dc_fields
from pathlib import Path
from typing import Any, Iterable

from mraster.logs import get_logger

from ml_policy.config import ARMS, PolicyConfig
from ml_policy.context import SignalContext

log = get_logger("ml_policy")

TABLE = "policy_events"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    event_id       TEXT PRIMARY KEY,          -- trade id, or signal id of a skipped candidate
    time_ms        INTEGER NOT NULL,          -- venue time of the decision
    symbol         TEXT NOT NULL,
    context        TEXT NOT NULL,             -- SignalContext.to_json()
    arm            TEXT NOT NULL CHECK (arm IN ('SKIP','S','M','L')),        -- arm the bot played
    policy_arm     TEXT NOT NULL CHECK (policy_arm IN ('SKIP','S','M','L')), -- arm the policy chose
    shadow         INTEGER NOT NULL,          -- 1 when the bandit ran in shadow mode
    propensity     REAL,                      -- P(arm | context) under the logging policy; NULL unknown
    size_mult      REAL NOT NULL,             -- multiplier of `arm` at decision time (SKIP 0)
    scores         TEXT,                      -- Decision.scores as JSON
    r_multiple     REAL,                      -- realised R net of fees; NULL until closed (and for SKIP)
    reward         REAL,                      -- r_multiple x size_mult; 0 for SKIP; NULL until known
    reward_time_ms INTEGER                    -- venue time the reward became known
);
CREATE INDEX IF NOT EXISTS {TABLE}_time ON {TABLE}(time_ms);
"""
CONTEXT_COLUMNS = tuple(f.name for f in dc_fields(SignalContext) if f.name not in ("symbol", "time_ms"))
CSV_COLUMNS = ("event_id", "time_ms", "symbol", "arm", "propensity", "size_mult", "r_multiple",
               *CONTEXT_COLUMNS)
CSV_REQUIRED = ("event_id", "time_ms", "symbol", "arm", "r_multiple", *CONTEXT_COLUMNS)


class EventLogError(ValueError):
    """The events file is missing, empty or not in the documented layout."""


@dataclass(frozen=True)
class LoggedEvent:
    event_id: str
    time_ms: int
    ctx: SignalContext
    arm: str                      # arm the logging policy played
    propensity: float | None      # its probability under the logging policy, if known
    size_mult: float
    r_multiple: float | None      # None for SKIP and for trades not closed yet
    reward: float | None          # None while unknown

    @property
    def resolved(self) -> bool:
        return self.reward is not None


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(DDL)


def record_decision(conn: sqlite3.Connection, event_id: str, time_ms: int, symbol: str, ctx: SignalContext,
                    decision: Any) -> bool:
    """One decided candidate (`decision`: a Decision or its to_json()). False if the id was logged before."""
    d = decision.to_json() if hasattr(decision, "to_json") else dict(decision)
    arm, policy_arm = d["effective_arm"], d["arm"]
    if arm not in ARMS or policy_arm not in ARMS:
        raise ValueError(f"decision arms must be in {ARMS}, got {arm!r}/{policy_arm!r}")
    skip = arm == "SKIP"
    cur = conn.execute(
        f"INSERT INTO {TABLE} (event_id, time_ms, symbol, context, arm, policy_arm, shadow, propensity, "
        "size_mult, scores, r_multiple, reward, reward_time_ms) VALUES (?,?,?,?,?,?,?,?,?,?,NULL,?,?) "
        "ON CONFLICT(event_id) DO NOTHING",
        (str(event_id), int(time_ms), symbol, _dumps(ctx.to_json()), arm, policy_arm, int(bool(d["shadow"])),
         d.get("propensity"), float(d["size_mult"]), _dumps(d.get("scores", {})),
         0.0 if skip else None, int(time_ms) if skip else None))
    return cur.rowcount == 1


def _dumps(obj: Any) -> str:
    """JSON that also takes numpy scalars (a context built from numpy arrays carries them)."""
    return json.dumps(obj, default=lambda v: v.item() if hasattr(v, "item") else str(v))


def record_reward(conn: sqlite3.Connection, event_id: str, r_multiple: float, time_ms: int) -> bool:
    """The trade closed: `r_multiple` is its R net of fees (the same number given to note_exit).

    The stored reward is r_multiple x the size multiplier logged with the decision. False (and a
    warning) when no traded event has that id.
    """
    if not math.isfinite(r_multiple):
        raise ValueError(f"event {event_id}: R multiple must be finite, got {r_multiple!r}")
    cur = conn.execute(f"UPDATE {TABLE} SET r_multiple = ?, reward = ? * size_mult, reward_time_ms = ? "
                       "WHERE event_id = ? AND arm != 'SKIP'",
                       (float(r_multiple), float(r_multiple), int(time_ms), str(event_id)))
    if cur.rowcount != 1:
        log.warning("policy.event_unknown", f"no traded policy event {event_id}; reward not recorded",
                    event_id=str(event_id))
        return False
    return True


def read_events(path: str | Path, cfg: PolicyConfig | None = None) -> list[LoggedEvent]:
    """Events from a SQLite journal or a `.csv` file, oldest first. EventLogError when unusable."""
    path = Path(path)
    if not path.is_file():
        raise EventLogError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise EventLogError(f"{path}: the file is empty")
    events = _read_csv(path, cfg or PolicyConfig()) if path.suffix.lower() == ".csv" else _read_sqlite(path)
    if not events:
        raise EventLogError(f"{path}: no policy events in it yet")
    return sorted(events, key=lambda e: (e.time_ms, e.event_id))


def _read_sqlite(path: Path) -> list[LoggedEvent]:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute(f"SELECT event_id, time_ms, symbol, context, arm, propensity, size_mult, "
                                f"r_multiple, reward FROM {TABLE}").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            raise EventLogError(f"{path}: no {TABLE} table (has the bot written decisions to this journal?)") \
                from None
        raise EventLogError(f"{path}: not a readable SQLite journal ({exc})") from None
    out = []
    for event_id, time_ms, symbol, context, arm, propensity, size_mult, r_multiple, reward in rows:
        try:
            data = json.loads(context)
            ctx = SignalContext.from_json({**data, "symbol": symbol, "time_ms": int(time_ms)})
        except (ValueError, TypeError) as exc:
            raise EventLogError(f"{path}: event {event_id} has an unreadable context ({exc})") from None
        out.append(LoggedEvent(event_id, int(time_ms), ctx, arm, propensity, float(size_mult), r_multiple, reward))
    return out


def _number(row: dict[str, str], name: str, line: int, path: Path, optional: bool = False) -> float | None:
    text = (row.get(name) or "").strip()
    if not text:
        if optional:
            return None
        raise EventLogError(f"{path}:{line}: column {name} is empty")
    try:
        value = float(text)
    except ValueError:
        raise EventLogError(f"{path}:{line}: column {name}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise EventLogError(f"{path}:{line}: column {name}={text!r} is not finite")
    return value


def _read_csv(path: Path, cfg: PolicyConfig) -> list[LoggedEvent]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise EventLogError(f"{path}: missing column(s) {', '.join(missing)}; expected "
                                + ",".join(CSV_COLUMNS))
        out = []
        for line, row in enumerate(reader, start=2):
            arm = (row["arm"] or "").strip().upper()
            if arm not in ARMS:
                raise EventLogError(f"{path}:{line}: arm must be one of {', '.join(ARMS)}, got {row['arm']!r}")
            ctx_values: dict[str, Any] = {c: _number(row, c, line, path) for c in CONTEXT_COLUMNS}
            ctx_values["side"] = int(ctx_values["side"])
            time_ms = int(_number(row, "time_ms", line, path))
            ctx = SignalContext(symbol=row["symbol"].strip(), time_ms=time_ms, **ctx_values)
            mult = _number(row, "size_mult", line, path, optional=True)
            mult = cfg.size_mult(arm) if mult is None else mult
            r = None if arm == "SKIP" else _number(row, "r_multiple", line, path, optional=True)
            reward = 0.0 if arm == "SKIP" else (None if r is None else r * mult)
            out.append(LoggedEvent(row["event_id"].strip(), time_ms, ctx, arm,
                                   _number(row, "propensity", line, path, optional=True), mult, r, reward))
    return out


def write_events_csv(events: Iterable[LoggedEvent], path: str | Path) -> int:
    """The CSV layout `read_events` accepts (e.g. to export a journal); returns the number of rows."""
    n = 0
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for e in events:
            ctx = e.ctx.to_json()
            writer.writerow([e.event_id, e.time_ms, e.ctx.symbol, e.arm,
                             "" if e.propensity is None else repr(e.propensity), repr(e.size_mult),
                             "" if e.r_multiple is None else repr(e.r_multiple),
                             *(repr(ctx[c]) for c in CONTEXT_COLUMNS)])
            n += 1
    return n
