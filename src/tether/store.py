"""tether's one SQLite database (WAL, atomic writes) and the runner that gives each floor its tables.

The store owns no table but its own bookkeeping. A module that keeps state here declares its
tables at import, `SCHEMA = register(Schema(owner, migrations))`, and every statement on them
lives in that module: the meter's ledger and budget holds, the gateway's keys, the digest's token
cache, the leash's decisions, the run log, memory, the wiki (tests/test_tables.py checks it).
Each migration moves its owner's tables one version up; never edit a shipped one, append a new
one. The versions applied are kept per owner in the store's own table `schema_versions`.

When tables are made: opening a `Store` applies every schema registered so far, and an owner calls
`store.ensure(SCHEMA)` before its first statement, which covers a module imported after its store
was opened (a grid's store, then the agent's run log); once a handle has seen an owner up to date,
`ensure` is a dict lookup. Both go through `_migrate`: read the versions without a lock and, if an
owner is behind, take SQLite's write lock (BEGIN IMMEDIATE), read them again, apply what is still
missing and record it, in one transaction. Of racing processes one migrates, the others wait for
its lock and then find nothing left to do; a crash leaves the old schema or the new.

A database from before the registry kept one global list of scripts and its length in `PRAGMA
user_version`: 1 ledger, 2 token_cache, 3 decisions, 4 runs and run_steps, 5 memory and wiki,
6 reservations, 7 keys with the ledger's and reservations' key columns, 8 the ledger's
cached_tokens. It is recognised by a user_version above 0 and no `schema_versions` table: the
runner records that number under the owner `legacy` and sets user_version to `REGISTRY_ERA`, so
an older tether refuses the file clearly instead of migrating it again. Each `Schema.legacy` names
the old scripts that were its owner's first migrations (the ledger's: 1, 6, 7, 8), so an owner
seen for the first time on such a database — at the takeover or in a later command — starts after
those that were applied: nothing is made twice and nothing is lost."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import config
from .errors import TetherError

__all__ = ["Schema", "Store", "default_path", "register", "schemas"]

LEGACY = "legacy"  # the owner row that keeps the old global version of a database from before the registry
LEGACY_SCRIPTS = 8  # how many global scripts the old list had: a higher user_version without schema_versions is a newer tether's
REGISTRY_ERA = 100  # user_version of a database the registry runs, above every old global version

_schemas: dict[str, "Schema"] = {}
_registering = threading.Lock()


@dataclass(frozen=True)
class Schema:
    """An owner's tables: `migrations[i]` is the script (statements separated by `;`) that takes
    them from version i to i + 1. `legacy` lists, in order, which scripts of the old global list
    (1-based) were this owner's first migrations."""

    owner: str
    migrations: tuple[str, ...]
    legacy: tuple[int, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "migrations", tuple(self.migrations))
        object.__setattr__(self, "legacy", tuple(self.legacy))
        if not self.owner or self.owner == LEGACY:
            raise ValueError(f"{self.owner!r} cannot own tables")

    def start(self, legacy_version: int) -> int:
        """This owner's version in a database the old global list took to `legacy_version`."""
        return sum(1 for script in self.legacy if script <= legacy_version)


def register(schema: Schema) -> Schema:
    """Add an owner's schema to those every `Store` applies when it opens; a module declares
    `SCHEMA = register(Schema(...))` at import. Returns the schema."""
    with _registering:
        known = _schemas.get(schema.owner)
        if known is not None and known.migrations != schema.migrations:
            raise ValueError(f"two schemas claim the owner {schema.owner!r}")  # the same module imported again is fine
        _schemas[schema.owner] = schema
    return schema


def schemas() -> dict[str, Schema]:
    """Every schema registered so far, by owner."""
    with _registering:
        return dict(_schemas)


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
        self._ready: dict[str, int] = {}  # owner → the version this handle has seen applied
        self._migrate(list(schemas().values()))

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

    def ensure(self, schema: Schema) -> "Store":
        """Make sure `schema`'s tables are up to date in this database (an owner calls it before
        its first statement); returns the store."""
        if self._ready.get(schema.owner) != len(schema.migrations):
            self._migrate([schema])
        return self

    def _migrate(self, pending: list[Schema]) -> None:
        """Bring the owners' tables up to date under a write lock: of racing processes one
        migrates, the others wait for it and then find nothing left to do."""
        with self._lock:
            if not pending or self._up_to_date(pending, self._versions()):
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise TetherError(f"cannot lock the database {self.path}: {e}") from None
            try:
                versions = self._versions()
                if versions is None:
                    versions = self._adopt()
                elif (era := self._db.execute("PRAGMA user_version").fetchone()[0]) > REGISTRY_ERA:
                    raise TetherError(f"{self.path} was written by a newer tether (schema {era}); upgrade tether")
                legacy = versions.get(LEGACY, 0)
                for schema in pending:
                    version = versions.get(schema.owner)
                    if version is None:
                        version = schema.start(legacy)
                    if version > len(schema.migrations):
                        raise TetherError(
                            f"{self.path} was written by a newer tether ({schema.owner} tables at version {version}); upgrade tether"
                        )
                    for script in schema.migrations[version:]:
                        for statement in filter(str.strip, script.split(";")):
                            try:
                                self._db.execute(statement)
                            except sqlite3.Error as e:  # tables the versions say are missing exist, or the reverse
                                raise TetherError(f"cannot bring the {schema.owner} tables of {self.path} up to date: {e}") from None
                    if versions.get(schema.owner) != len(schema.migrations):
                        self._db.execute(
                            "INSERT OR REPLACE INTO schema_versions (owner, version) VALUES (?, ?)", (schema.owner, len(schema.migrations))
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._ready.update((schema.owner, len(schema.migrations)) for schema in pending)

    def _up_to_date(self, pending: list[Schema], versions: dict[str, int] | None) -> bool:
        if versions is None or any(versions.get(s.owner) != len(s.migrations) for s in pending):
            return False
        if (era := self._db.execute("PRAGMA user_version").fetchone()[0]) > REGISTRY_ERA:  # a newer tether's file, even if ours look done
            raise TetherError(f"{self.path} was written by a newer tether (schema {era}); upgrade tether")
        self._ready.update((s.owner, len(s.migrations)) for s in pending)
        return True

    def _versions(self) -> dict[str, int] | None:
        """Each owner's version; None before the registry first ran on this database."""
        try:
            found = dict(self._db.execute("SELECT owner, version FROM schema_versions").fetchall())
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return None
            raise TetherError(f"cannot read the database {self.path}: {e}") from None
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in found.values()):
            raise TetherError(f"{self.path}: its schema_versions table is damaged (a version that is not a whole number >= 0)")
        return found

    def _adopt(self) -> dict[str, int]:
        """Start the registry's bookkeeping (inside the migration's transaction), keeping the
        version of a database the old global list wrote."""
        legacy = self._db.execute("PRAGMA user_version").fetchone()[0]
        if legacy > LEGACY_SCRIPTS:
            raise TetherError(f"{self.path} was written by a newer tether (schema {legacy}); upgrade tether")
        self._db.execute("CREATE TABLE schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        if legacy:
            self._db.execute("INSERT INTO schema_versions (owner, version) VALUES (?, ?)", (LEGACY, legacy))
        self._db.execute(f"PRAGMA user_version={REGISTRY_ERA}")
        return {LEGACY: legacy} if legacy else {}

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
            part = keys[start : start + chunk]
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
