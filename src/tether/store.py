"""tether's one SQLite database: WAL, schema migrations kept here in code, atomic writes.

Every floor keeps its state in this file so that a user can inspect it with `sqlite3`."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path

from . import config
from .errors import TetherError

# Each entry moves the schema one version up; never edit a shipped one, append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE ledger (
        id            INTEGER PRIMARY KEY,
        ts            REAL    NOT NULL,
        day           TEXT    NOT NULL,
        call_id       TEXT    NOT NULL,
        attempt       INTEGER NOT NULL,
        route         TEXT,
        provider      TEXT    NOT NULL,
        model         TEXT    NOT NULL,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd      REAL,
        latency_ms    REAL,
        ttft_ms       REAL,
        outcome       TEXT    NOT NULL,
        error_class   TEXT,
        error         TEXT,
        stream        INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX ledger_day ON ledger(day);
    CREATE INDEX ledger_route_day ON ledger(route, day);
    """,
    """
    CREATE TABLE token_cache (
        key      BLOB PRIMARY KEY,
        tokens   INTEGER NOT NULL,
        redacted TEXT,
        found    TEXT
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE decisions (
        id      INTEGER PRIMARY KEY,
        ts      REAL NOT NULL,
        run_id  TEXT,
        level   TEXT NOT NULL,
        tool    TEXT NOT NULL,
        target  TEXT NOT NULL,
        verdict TEXT NOT NULL,
        rule    TEXT NOT NULL,
        reason  TEXT NOT NULL
    );
    CREATE INDEX decisions_run ON decisions(run_id);
    """,
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
    """,
    """
    CREATE TABLE memory (
        id      INTEGER PRIMARY KEY,
        ts      REAL NOT NULL,
        root    TEXT NOT NULL,
        run_id  TEXT,
        step    INTEGER,
        source  TEXT NOT NULL,
        text    TEXT NOT NULL,
        status  TEXT NOT NULL
    );
    CREATE INDEX memory_root ON memory(root, status);
    CREATE TABLE wiki (
        root      TEXT NOT NULL,
        slug      TEXT NOT NULL,
        rank      INTEGER NOT NULL,
        title     TEXT NOT NULL,
        files     TEXT NOT NULL,
        claims    TEXT NOT NULL,
        dropped   INTEGER NOT NULL,
        commit_id TEXT NOT NULL,
        run_id    TEXT,
        ts        REAL NOT NULL,
        PRIMARY KEY (root, slug)
    );
    """,
    """
    CREATE TABLE reservations (
        id      INTEGER PRIMARY KEY,
        ts      REAL NOT NULL,
        expires REAL NOT NULL,
        day     TEXT NOT NULL,
        route   TEXT,
        usd     REAL,
        tokens  INTEGER NOT NULL
    );
    CREATE INDEX reservations_day ON reservations(day);
    """,
    """
    CREATE TABLE keys (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        hash     TEXT NOT NULL UNIQUE,
        prefix   TEXT NOT NULL,
        created  REAL NOT NULL,
        revoked  REAL,
        budget   TEXT NOT NULL,
        rpm      INTEGER,
        routes   TEXT NOT NULL
    );
    ALTER TABLE ledger ADD COLUMN key TEXT;
    ALTER TABLE reservations ADD COLUMN key TEXT;
    CREATE INDEX ledger_key_ts ON ledger(key, ts);
    """,
    "ALTER TABLE ledger ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;",
]


def default_path() -> Path:
    return config.data_dir() / "tether.db"


class Store:
    """A thread-safe handle on the database. Writes are one transaction each."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_path()
        try:
            config.private_dir(self.path.parent)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))  # SQLite gives its -wal and -shm files this mode too
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as e:
            raise TetherError(f"cannot open the database {self.path}: {e}") from None
        self._lock = threading.Lock()
        self._migrate()

    @property
    def where(self) -> str:
        return str(self.path)

    def _wal(self) -> None:
        """Switch a new database to WAL. The switch takes an exclusive lock that SQLite's busy
        timeout does not wait for, so processes starting together on a fresh data dir take turns."""
        for attempt in range(200):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == 199:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        """Bring the schema up to date under a write lock: of racing processes one migrates, the
        others wait for it and then find nothing left to do."""
        with self._lock:
            if self._version() == len(MIGRATIONS):
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise TetherError(f"cannot lock the database {self.path}: {e}") from None
            try:
                version = self._version()
                if version > len(MIGRATIONS):
                    raise TetherError(f"{self.path} was written by a newer tether (schema {version}); upgrade tether")
                for script in MIGRATIONS[version:]:
                    for statement in filter(str.strip, script.split(";")):
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={len(MIGRATIONS)}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def write(self, sql: str, params: tuple | dict = ()) -> int:
        """One statement in its own transaction; returns the new row id."""
        with self._lock:
            return self._db.execute(sql, params).lastrowid

    @contextlib.contextmanager
    def transaction(self, immediate: bool = False):
        """Several statements, all or none. `immediate` takes the write lock first, so that a
        read-check-write in it is atomic across processes too."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def write_many(self, sql: str, rows: list[tuple]) -> None:
        """Many rows in one transaction: all land or none."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def query_many(self, sql_prefix: str, keys: list, chunk: int = 500) -> list[sqlite3.Row]:
        """`sql_prefix` ending in `IN` run over `keys` in chunks (SQLite caps bound parameters)."""
        rows: list[sqlite3.Row] = []
        for start in range(0, len(keys), chunk):
            part = keys[start:start + chunk]
            rows += self.query(f"{sql_prefix} ({','.join('?' * len(part))})", tuple(part))
        return rows

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
