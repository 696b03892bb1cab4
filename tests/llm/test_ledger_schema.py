"""The ledger database's tables are described once (llm/ledger_schema.py) and rendered for
SQLite and PostgreSQL; the PostgreSQL rendering is the schema tether wrote by hand before."""

import re

from tether.llm import keys, ledger_schema, meter, pg

# pg.py's SCHEMA as tethers before the one description left it, by commit: the first (no stamp),
# the one that added keys (stamped 2) and the last (stamped 2 too, with cached_tokens).
POSTGRES_BEFORE = {
    "38bcf2c": (
        None,
        """
CREATE TABLE IF NOT EXISTS ledger (
    id            BIGSERIAL PRIMARY KEY,
    ts            DOUBLE PRECISION NOT NULL,
    day           TEXT NOT NULL,
    call_id       TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    route         TEXT,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd      DOUBLE PRECISION,
    latency_ms    DOUBLE PRECISION,
    ttft_ms       DOUBLE PRECISION,
    outcome       TEXT NOT NULL,
    error_class   TEXT,
    error         TEXT,
    stream        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ledger_day ON ledger(day);
CREATE INDEX IF NOT EXISTS ledger_route_day ON ledger(route, day);
CREATE TABLE IF NOT EXISTS reservations (
    id      BIGSERIAL PRIMARY KEY,
    ts      DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    day     TEXT NOT NULL,
    route   TEXT,
    usd     DOUBLE PRECISION,
    tokens  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_day ON reservations(day);
""",
    ),
    "191f074": (
        2,
        """
CREATE TABLE IF NOT EXISTS ledger (
    id            BIGSERIAL PRIMARY KEY,
    ts            DOUBLE PRECISION NOT NULL,
    day           TEXT NOT NULL,
    call_id       TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    route         TEXT,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd      DOUBLE PRECISION,
    latency_ms    DOUBLE PRECISION,
    ttft_ms       DOUBLE PRECISION,
    outcome       TEXT NOT NULL,
    error_class   TEXT,
    error         TEXT,
    stream        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ledger_day ON ledger(day);
CREATE INDEX IF NOT EXISTS ledger_route_day ON ledger(route, day);
CREATE TABLE IF NOT EXISTS reservations (
    id      BIGSERIAL PRIMARY KEY,
    ts      DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    day     TEXT NOT NULL,
    route   TEXT,
    usd     DOUBLE PRECISION,
    tokens  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_day ON reservations(day);
CREATE TABLE IF NOT EXISTS keys (
    id       BIGSERIAL PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    hash     TEXT NOT NULL UNIQUE,
    prefix   TEXT NOT NULL,
    created  DOUBLE PRECISION NOT NULL,
    revoked  DOUBLE PRECISION,
    budget   TEXT NOT NULL,
    rpm      INTEGER,
    routes   TEXT NOT NULL
);
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS key TEXT;
ALTER TABLE reservations ADD COLUMN IF NOT EXISTS key TEXT;
CREATE INDEX IF NOT EXISTS ledger_key_ts ON ledger(key, ts);
""",
    ),
    "f355b5c": (
        2,
        """
CREATE TABLE IF NOT EXISTS ledger (
    id            BIGSERIAL PRIMARY KEY,
    ts            DOUBLE PRECISION NOT NULL,
    day           TEXT NOT NULL,
    call_id       TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    route         TEXT,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd      DOUBLE PRECISION,
    latency_ms    DOUBLE PRECISION,
    ttft_ms       DOUBLE PRECISION,
    outcome       TEXT NOT NULL,
    error_class   TEXT,
    error         TEXT,
    stream        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ledger_day ON ledger(day);
CREATE INDEX IF NOT EXISTS ledger_route_day ON ledger(route, day);
CREATE TABLE IF NOT EXISTS reservations (
    id      BIGSERIAL PRIMARY KEY,
    ts      DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    day     TEXT NOT NULL,
    route   TEXT,
    usd     DOUBLE PRECISION,
    tokens  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_day ON reservations(day);
CREATE TABLE IF NOT EXISTS keys (
    id       BIGSERIAL PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    hash     TEXT NOT NULL UNIQUE,
    prefix   TEXT NOT NULL,
    created  DOUBLE PRECISION NOT NULL,
    revoked  DOUBLE PRECISION,
    budget   TEXT NOT NULL,
    rpm      INTEGER,
    routes   TEXT NOT NULL
);
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS key TEXT;
ALTER TABLE reservations ADD COLUMN IF NOT EXISTS key TEXT;
CREATE INDEX IF NOT EXISTS ledger_key_ts ON ledger(key, ts);
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS cached_tokens INTEGER NOT NULL DEFAULT 0;
""",
    ),
}


def statements(script: str) -> list[str]:
    return sorted(" ".join(s.split()) for s in script.split(";") if s.strip())


def test_postgresql_gets_the_statements_it_had_when_they_were_written_by_hand():
    assert statements(pg.SCHEMA) == statements(POSTGRES_BEFORE["f355b5c"][1])
    assert pg.SCHEMA_VERSION > 2  # clusters stamped 2, with or without cached_tokens, run the steps once more


def test_each_dialect_spells_the_same_columns_in_its_own_types():
    sqlite = "\n".join(meter.SCHEMA.migrations + keys.SCHEMA.migrations)
    assert "BIGSERIAL" not in sqlite and "DOUBLE PRECISION" not in sqlite and "IF NOT EXISTS" not in sqlite
    assert "REAL" not in pg.SCHEMA and "INTEGER PRIMARY KEY" not in pg.SCHEMA
    names = re.compile(r"^    (\w+) ", re.MULTILINE).findall  # a CREATE TABLE's column names, in order
    assert names(pg.SCHEMA) == names(sqlite) and "cached_tokens" in sqlite
    assert [len(meter.SCHEMA.migrations), len(keys.SCHEMA.migrations)] == [len(ledger_schema.LEDGER), len(ledger_schema.KEYS)]
