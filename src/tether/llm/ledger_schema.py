"""The ledger database's tables, written once: the meter's `ledger` and `reservations`, and the
gateway's `keys`. tether's own SQLite file and a team's PostgreSQL database hold the same tables,
rendered here from one description into each dialect.

A table's history is a list of versions, each a list of steps — a table made, an index, a column
added — with columns of the few types the ledger uses. `sqlite(owner)` is that owner's migrations
for the store's runner (`meter.SCHEMA`, `keys.SCHEMA`); `postgres()` is every step with `IF NOT
EXISTS`, which `pg.PgStore` runs on a database stamped with an older `postgres_version()`, so a
cluster made by any earlier tether gets exactly the steps it lacks."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OWNERS", "postgres", "postgres_version", "sqlite"]

TYPES = {  # a column type → its spelling in (sqlite, postgres)
    "id": ("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY"),
    "real": ("REAL", "DOUBLE PRECISION"),
    "int": ("INTEGER", "INTEGER"),
    "text": ("TEXT", "TEXT"),
}
DIALECTS = ("sqlite", "postgres")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a key of TYPES
    rule: str = ""  # NOT NULL, DEFAULT, UNIQUE: the same words in both dialects

    def sql(self, dialect: str) -> str:
        return " ".join(filter(None, (self.name, TYPES[self.type][DIALECTS.index(dialect)], self.rule)))


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    def sql(self, dialect: str) -> str:
        body = ",\n".join(f"    {c.sql(dialect)}" for c in self.columns)
        return f"CREATE TABLE {_if_not_exists(dialect)}{self.name} (\n{body}\n)"


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: str

    def sql(self, dialect: str) -> str:
        return f"CREATE INDEX {_if_not_exists(dialect)}{self.name} ON {self.table}({self.columns})"


@dataclass(frozen=True)
class AddColumn:
    table: str
    column: Column

    def sql(self, dialect: str) -> str:
        return f"ALTER TABLE {self.table} ADD COLUMN {_if_not_exists(dialect)}{self.column.sql(dialect)}"


Step = Table | Index | AddColumn  # one change to the schema


def _if_not_exists(dialect: str) -> str:
    """PostgreSQL runs every step on any older cluster, so each must be a no-op when done; SQLite's
    runner applies each step once (and SQLite has no ADD COLUMN IF NOT EXISTS)."""
    return "IF NOT EXISTS " if dialect == "postgres" else ""


def _columns(*spec: tuple[str, ...]) -> tuple[Column, ...]:
    return tuple(Column(*c) for c in spec)


LEDGER: list[list[Step]] = [  # owner "ledger" (llm/meter.py): one row per attempt, and the budget holds not yet settled
    [
        Table(
            "ledger",
            _columns(
                ("id", "id"),
                ("ts", "real", "NOT NULL"),
                ("day", "text", "NOT NULL"),
                ("call_id", "text", "NOT NULL"),
                ("attempt", "int", "NOT NULL"),
                ("route", "text"),
                ("provider", "text", "NOT NULL"),
                ("model", "text", "NOT NULL"),
                ("input_tokens", "int", "NOT NULL DEFAULT 0"),
                ("output_tokens", "int", "NOT NULL DEFAULT 0"),
                ("cost_usd", "real"),
                ("latency_ms", "real"),
                ("ttft_ms", "real"),
                ("outcome", "text", "NOT NULL"),
                ("error_class", "text"),
                ("error", "text"),
                ("stream", "int", "NOT NULL DEFAULT 0"),
            ),
        ),
        Index("ledger_day", "ledger", "day"),
        Index("ledger_route_day", "ledger", "route, day"),
    ],
    [
        Table(
            "reservations",
            _columns(
                ("id", "id"),
                ("ts", "real", "NOT NULL"),
                ("expires", "real", "NOT NULL"),
                ("day", "text", "NOT NULL"),
                ("route", "text"),
                ("usd", "real"),
                ("tokens", "int", "NOT NULL"),
            ),
        ),
        Index("reservations_day", "reservations", "day"),
    ],
    [
        AddColumn("ledger", Column("key", "text")),
        AddColumn("reservations", Column("key", "text")),
        Index("ledger_key_ts", "ledger", "key, ts"),
    ],
    [AddColumn("ledger", Column("cached_tokens", "int", "NOT NULL DEFAULT 0"))],
]

KEYS: list[list[Step]] = [  # owner "keys" (llm/keys.py): the gateway's virtual keys, stored as hashes
    [
        Table(
            "keys",
            _columns(
                ("id", "id"),
                ("name", "text", "NOT NULL UNIQUE"),
                ("hash", "text", "NOT NULL UNIQUE"),
                ("prefix", "text", "NOT NULL"),
                ("created", "real", "NOT NULL"),
                ("revoked", "real"),
                ("budget", "text", "NOT NULL"),
                ("rpm", "int"),
                ("routes", "text", "NOT NULL"),
            ),
        ),
    ],
]

OWNERS = {"ledger": LEDGER, "keys": KEYS}


def sqlite(owner: str) -> tuple[str, ...]:
    """`owner`'s migrations for tether's SQLite store: one script per version."""
    return tuple(";\n".join(step.sql("sqlite") for step in version) + ";" for version in OWNERS[owner])


def postgres() -> str:
    """Every step of every owner for PostgreSQL, in order, each a no-op where it is done already."""
    return "".join(step.sql("postgres") + ";\n" for versions in OWNERS.values() for version in versions for step in version)


def postgres_version() -> int:
    """The version a PostgreSQL ledger database is stamped with once `postgres()` ran on it: the
    number of its owners' versions, so a version added later reaches every cluster. (Tethers before
    this description stamped 2 both clusters with the cached_tokens column and clusters made before
    it, without; every cluster stamped 2 runs the steps once more and gets what it lacks.)"""
    return sum(len(versions) for versions in OWNERS.values())
