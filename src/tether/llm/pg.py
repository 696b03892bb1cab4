"""The ledger's database on PostgreSQL, for a team: many gateways and CLIs, one meter.

The ledger speaks to its database through three things — `transaction(immediate)`, `query` and
`where` — which the SQLite `Store` has and this class has too, so the ledger's code is the same
on both. Rows are appended, never updated; a budget hold is taken under a transaction-scoped
advisory lock, which serialises holds across every process on the database the way SQLite's
write lock does on one machine. A connection that breaks (the server restarted) is opened again
on the next use; the call in flight gets one clear error."""

from __future__ import annotations

import contextlib
import threading

from ..errors import LedgerUnavailable, TetherError, need_extra
from . import ledger_schema

__all__ = ["PgStore", "SCHEMA"]

HOLD_LOCK = 0x7E7E_0001  # the advisory lock every budget hold takes
SCHEMA = ledger_schema.postgres()  # the ledger's, the holds' and the keys' tables: the same description as on SQLite
SCHEMA_VERSION = ledger_schema.postgres_version()  # a database stamped lower gets SCHEMA's statements (each a no-op where done) once


class _Cursor:
    """SQLite's `?` placeholders on psycopg: the ledger writes its SQL once."""

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows) -> None:
        rows = list(rows)
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)


class PgStore:
    def __init__(self, url: str):
        need_extra("postgres", "a PostgreSQL ledger", "psycopg")
        self.url = url
        self._conn = None
        self._lock = threading.Lock()
        if self._version() < SCHEMA_VERSION:  # DDL only when needed: it locks tables that running gateways use
            with self.transaction() as db:
                db.execute("SELECT pg_advisory_xact_lock(?)", (HOLD_LOCK - 1,))  # two processes creating the tables take turns
                if self._version(db) < SCHEMA_VERSION:
                    for statement in filter(str.strip, SCHEMA.split(";")):
                        db.execute(statement)
                    db.execute("CREATE TABLE IF NOT EXISTS tether_schema (version INTEGER NOT NULL)")
                    db.execute("DELETE FROM tether_schema")
                    db.execute("INSERT INTO tether_schema (version) VALUES (?)", (SCHEMA_VERSION,))

    def _version(self, db=None) -> int:
        if db is None:
            with self.transaction() as db:
                return self._version(db)
        if db.execute("SELECT to_regclass('tether_schema')").fetchone()[0] is None:
            return 0
        row = db.execute("SELECT version FROM tether_schema").fetchone()
        return row[0] if row else 0

    def ensure(self, schema) -> "PgStore":
        """The store's `ensure`: the tables of the ledger's database are made when it opens."""
        if schema.owner not in ledger_schema.OWNERS:
            raise TetherError(f"the {schema.owner} tables live in tether's own database, not in PostgreSQL")
        return self

    @property
    def where(self) -> str:
        return _without_password(self.url)

    def _connection(self):
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except psycopg.Error as e:
                raise LedgerUnavailable(f"cannot reach the ledger's database {self.where}: {str(e).strip().splitlines()[0]}") from None
        return self._conn

    @contextlib.contextmanager
    def transaction(self, immediate: bool = False):
        """Statements all or none; `immediate` holds the budget lock until the end, as SQLite's
        BEGIN IMMEDIATE does."""
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    db = _Cursor(conn)
                    if immediate:
                        db.execute("SELECT pg_advisory_xact_lock(?)", (HOLD_LOCK,))
                    yield db
            except psycopg.OperationalError as e:
                raise LedgerUnavailable(f"the ledger's database {self.where} failed: {str(e).strip().splitlines()[0]}") from None
            except psycopg.Error as e:
                raise TetherError(f"the ledger's database {self.where} failed: {str(e).strip().splitlines()[0]}") from None

    def query(self, sql: str, params=()) -> list[dict]:
        import psycopg
        from psycopg.rows import dict_row

        with self._lock:
            for attempt in (1, 2):  # a connection the server dropped (a restart) is found broken here: one more, on a new one
                conn = self._connection()
                try:
                    with conn.cursor(row_factory=dict_row) as cur:
                        cur.execute(sql.replace("?", "%s"), params)
                        return cur.fetchall()
                except psycopg.OperationalError as e:
                    if attempt == 1 and conn.broken:
                        continue
                    raise LedgerUnavailable(f"the ledger's database {self.where} failed: {str(e).strip().splitlines()[0]}") from None
                except psycopg.Error as e:
                    raise TetherError(f"the ledger's database {self.where} failed: {str(e).strip().splitlines()[0]}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _without_password(url: str) -> str:
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
