"""Every agent run and each of its steps in the database, so a run can be listed and replayed.

A step is one event of a kind — start, prompt, reply, tool, decision, diff, verify, note, end —
with its details as JSON; `cost` and token totals sit on the run row, updated as it goes. A run
going on holds a lock (`hold`), so a run left `running` by a kill -9 is told from a live one
(`alive`), and two processes never resume the same run."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from ...errors import TetherError
from ...paths import data_dir, private_dir
from ...redaction import redact, redact_all
from ...store import Schema, Store, register

try:
    import fcntl
except ImportError:  # Windows: no lock, a run is never seen as going on elsewhere
    fcntl = None  # type: ignore[assignment]

KINDS = ("start", "prompt", "reply", "tool", "decision", "diff", "verify", "note", "end")
SCHEMA = register(
    Schema(
        "runs",
        [
            """
    CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        ts            REAL NOT NULL,
        root          TEXT NOT NULL,
        command       TEXT NOT NULL,
        instruction   TEXT NOT NULL,
        level         TEXT NOT NULL,
        model         TEXT NOT NULL,
        status        TEXT NOT NULL,
        reason        TEXT,
        steps         INTEGER NOT NULL DEFAULT 0,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd      REAL,
        seconds       REAL,
        changed       TEXT
    );
    CREATE TABLE run_steps (
        id       INTEGER PRIMARY KEY,
        run_id   TEXT NOT NULL,
        n        INTEGER NOT NULL,
        ts       REAL NOT NULL,
        kind     TEXT NOT NULL,
        detail   TEXT NOT NULL
    );
    CREATE INDEX run_steps_run ON run_steps(run_id, n);
    """
        ],
        legacy=(4,),
    )
)


class RunLog:
    def __init__(self, store: Store, *, root: str, command: str, instruction: str, level: str, model: str):
        self.store = store = store.ensure(SCHEMA)
        self.id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        self.n = 0
        store.write(
            "INSERT INTO runs (id, ts, root, command, instruction, level, model, status) VALUES (?,?,?,?,?,?,?,?)",
            (self.id, time.time(), root, command, redact(instruction)[0], level, model, "running"),
        )

    @classmethod
    def resume(cls, store: Store, run_id: str) -> "RunLog":
        """Go on writing a logged run (a chat that is continued)."""
        log = cls.__new__(cls)
        log.store, log.id = store.ensure(SCHEMA), run_id
        log.n = store.query("SELECT COALESCE(MAX(n), 0) FROM run_steps WHERE run_id = ?", (run_id,))[0][0]
        return log

    def hold(self) -> None:
        """Mark the run as going on in this process until `release` (or the process dies)."""
        fd = _lock(self.id)
        if fd is None:
            raise TetherError(f"run {self.id} is going on in another process; `tether log {self.id}` shows how far it is")
        self._held = fd

    def release(self) -> None:
        if (fd := getattr(self, "_held", None)) is not None:
            os.close(fd)
            self._held = None

    def step(self, kind: str, **detail) -> int:
        """Record one step (its text redacted first, like everything tether stores); its number."""
        self.n += 1
        self.store.write(
            "INSERT INTO run_steps (run_id, n, ts, kind, detail) VALUES (?,?,?,?,?)",
            (self.id, self.n, time.time(), kind, json.dumps(redact_all(detail), default=str)),
        )
        return self.n

    def totals(self, steps: int, input_tokens: int, output_tokens: int, cost_usd: float | None, seconds: float, add: bool = False) -> None:
        """The run's totals; `add` adds the tokens, cost and seconds to those recorded (a chat's next turn)."""
        if add:
            self.store.write(
                "UPDATE runs SET steps=?, input_tokens=COALESCE(input_tokens, 0)+?, output_tokens=COALESCE(output_tokens, 0)+?, "
                "cost_usd=CASE WHEN ? IS NULL THEN NULL ELSE COALESCE(cost_usd, 0)+? END, seconds=COALESCE(seconds, 0)+? WHERE id=?",
                (steps, input_tokens, output_tokens, cost_usd, cost_usd, seconds, self.id),
            )
            return
        self.store.write(
            "UPDATE runs SET steps=?, input_tokens=?, output_tokens=?, cost_usd=?, seconds=? WHERE id=?",
            (steps, input_tokens, output_tokens, cost_usd, seconds, self.id),
        )

    def mark(self, status: str, reason: str = "") -> None:
        """The run's status now, without ending it (a chat is `answered` after each turn, `failed` after a turn that failed)."""
        self.store.write("UPDATE runs SET status=?, reason=? WHERE id=?", (status, reason, self.id))

    def finish(self, status: str, reason: str, changed: list[str]) -> None:
        self.step("end", status=status, reason=reason, changed=changed)
        self.store.write("UPDATE runs SET status=?, reason=?, changed=? WHERE id=?", (status, reason, json.dumps(changed), self.id))


def _lock(run_id: str) -> int | None:
    """An exclusive lock on the run's lock file, held by the returned descriptor (None: taken)."""
    if fcntl is None:
        return os.open(os.devnull, os.O_RDONLY)
    path = private_dir(data_dir() / "runs") / f"{Path(run_id).name}.lock"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def alive(run_id: str) -> bool:
    """Whether a process is going on with the run now (it holds the run's lock)."""
    fd = _lock(run_id)
    if fd is None:
        return True
    os.close(fd)
    return False


def headline(instruction: str, most: int = 100) -> str:
    """A request's first line, cut to `most` characters: what one-line displays show (a list of
    runs, an undo entry), so a request of several lines (a plan step's) never breaks a line."""
    first = next((line.strip() for line in instruction.splitlines() if line.strip()), "")
    return first if len(first) <= most else first[: most - 1] + "…"


def runs(store: Store, root: str | None = None, limit: int = 50, chats: bool = True) -> list[dict]:
    """The newest `limit` runs (of the workspace `root`), oldest first, each with its request's
    `title` (`headline`); `chats=False` leaves chats out."""
    where = " AND ".join(([] if root is None else ["root = ?"]) + ([] if chats else ["command != 'chat'"]))
    rows = store.ensure(SCHEMA).query(
        f"SELECT * FROM runs {'WHERE ' + where if where else ''} ORDER BY ts DESC LIMIT ?", (*(() if root is None else (root,)), limit)
    )
    found = [{**dict(r), "changed": json.loads(r["changed"] or "[]"), "title": headline(r["instruction"] or "")} for r in rows]
    return [_state(store, run) for run in found][::-1]


def _state(store: Store, run: dict) -> dict:
    """A `do` left running by a process that is gone (kill -9, a crash) was interrupted; what it
    changed is what its applied steps wrote."""
    if run["status"] == "running" and run["command"] == "do" and not alive(run["id"]):
        run["status"], run["reason"] = "interrupted", "the process running it ended (killed or crashed); resume goes on from there"
        applied = store.query("SELECT detail FROM run_steps WHERE run_id = ? AND kind = 'diff' ORDER BY n", (run["id"],))
        run["changed"] = sorted({f for r in applied if (d := json.loads(r["detail"])).get("applied") for f in d.get("files") or []})
    return run


def replay(store: Store, run_id: str) -> tuple[dict, list[dict]] | None:
    """A run and its steps in order; a unique prefix of the id is enough."""
    found = store.ensure(SCHEMA).query("SELECT * FROM runs WHERE id LIKE ? ORDER BY ts", (run_id + "%",))
    if len(found) != 1:
        return None
    run = _state(store, {**dict(found[0]), "changed": json.loads(found[0]["changed"] or "[]")})
    steps = [
        {"n": r["n"], "ts": r["ts"], "kind": r["kind"], **json.loads(r["detail"])}
        for r in store.query("SELECT * FROM run_steps WHERE run_id = ? ORDER BY n", (run["id"],))
    ]
    return run, steps


def conversation(store: Store, run_id: str | None = None) -> tuple[dict, list[dict]]:
    """A logged chat (`run_id` or a unique start of it; the latest chat when None) and its
    messages, to continue it. Secrets in it were redacted when it was logged."""
    if run_id is None:
        latest = store.ensure(SCHEMA).query("SELECT id FROM runs WHERE command = 'chat' ORDER BY ts DESC LIMIT 1")
        if not latest:
            raise TetherError("no chat to continue yet")
        run_id = latest[0]["id"]
    found = replay(store, run_id)
    if found is None or found[0]["command"] != "chat":
        raise TetherError(f"no single chat matches {run_id!r}; `tether log` lists runs and chats")
    run, steps = found
    messages = []
    for s in steps:
        if s["kind"] == "prompt":
            messages += [{"role": "system", "content": s["system"]}] if s.get("system") else []
            messages.append({"role": "user", "content": s["user"]})
        elif s["kind"] == "reply":
            messages.append({"role": "assistant", "content": s["text"]})
    return run, messages
