"""The store's runner: each owner's tables made once, under a lock, and a database written
before the registry (one global list of scripts) taken over with nothing made twice or lost."""

import sqlite3
import subprocess
import sys

import pytest

import tether.autonomy.answers.wiki
import tether.autonomy.guard.leash
import tether.context.digest  # noqa: F401 - every owner of a table in tether's database registers its schema at import
from tether import store as store_mod
from tether.autonomy import memory
from tether.autonomy.history import runlog
from tether.config import from_dict
from tether.errors import TetherError
from tether.llm import keys, meter
from tether.llm.types import Usage
from tether.store import REGISTRY_ERA, Schema, Store, schemas

OLD_MIGRATIONS = [  # src/tether/store.py before the registry (commit d984d4a): one global list, its length in user_version
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

OWNERS = {"ledger": 4, "keys": 1, "token_cache": 1, "decisions": 1, "runs": 1, "memory": 1, "wiki": 1}


def old_database(path, version: int):
    """A database as the store before the registry left it at `version`, with a ledger row (and a
    run, when the runs table was made)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for script in OLD_MIGRATIONS[:version]:
        for statement in filter(str.strip, script.split(";")):
            db.execute(statement)
    db.execute(f"PRAGMA user_version={version}")
    if version >= 1:
        db.execute(
            "INSERT INTO ledger (ts, day, call_id, attempt, provider, model, outcome) VALUES (1, '2024-01-01', 'old', 1, 's', 's/m', 'ok')"
        )
    if version >= 4:
        db.execute(
            "INSERT INTO runs (id, ts, root, command, instruction, level, model, status) VALUES ('old-run', 1, '/w', 'do', 'fix', 'auto', 's/m', 'done')"
        )
    db.close()


def shape(path) -> dict:
    """Every table's columns (name, type, not null, default, key) and indexes, as SQLite reports them."""
    db = sqlite3.connect(path)
    tables = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_versions') AND name NOT LIKE 'sqlite_%'"
        )
    ]
    found = {}
    for table in sorted(tables):
        columns = [tuple(r[1:]) for r in db.execute(f"PRAGMA table_info({table})")]
        indexes = {r[1]: [c[2] for c in db.execute(f"PRAGMA index_info({r[1]})")] for r in db.execute(f"PRAGMA index_list({table})")}
        found[table] = (columns, indexes)
    db.close()
    return found


def versions(path) -> dict:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT owner, version FROM schema_versions"))
    finally:
        db.close()


def test_database_is_created_under_the_data_dir_in_wal_mode_with_every_owners_tables(isolated):
    store = Store()
    assert store.path == isolated / "data" / "tether" / "tether.db"
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.query("PRAGMA user_version")[0][0] == REGISTRY_ERA
    assert versions(store.path) == OWNERS
    assert {name: len(s.migrations) for name, s in schemas().items()} == OWNERS


def test_the_tables_made_from_the_owners_schemas_are_the_tables_the_old_global_list_made(tmp_path):
    old_database(tmp_path / "old.db", len(OLD_MIGRATIONS))
    Store(tmp_path / "new.db").close()
    assert shape(tmp_path / "new.db") == shape(tmp_path / "old.db")


def test_reopening_keeps_rows_and_does_not_migrate_twice(isolated):
    store = Store()
    store.write("INSERT INTO ledger (ts, day, call_id, attempt, provider, model, outcome) VALUES (1, 'd', 'c', 1, 'p', 'p/m', 'ok')")
    store.close()
    again = Store()
    assert again.query("SELECT COUNT(*) FROM ledger")[0][0] == 1


def test_a_database_of_the_old_store_is_taken_over_with_its_rows_and_written_to(tmp_path):
    path = tmp_path / "tether.db"
    old_database(path, 8)
    store = Store(path)
    assert [r["call_id"] for r in store.query("SELECT call_id FROM ledger")] == ["old"]
    assert [r["id"] for r in runlog.runs(store)] == ["old-run"]
    log = runlog.RunLog(store, root="/w", command="do", instruction="again", level="auto", model="s/m")
    log.step("note", text="written after the upgrade")
    ledger = meter.Ledger(store, from_dict({}))
    ledger.record(meter.Attempt("new", 1, None, "s", "s/m", Usage(3, 4, cached_tokens=1), None, 1.0, None, "ok", key="team"))
    assert [(r["call_id"], r["cached_tokens"], r["key"]) for r in ledger.rows()] == [("new", 1, "team"), ("old", 0, None)]
    assert [r["id"] for r in runlog.runs(store)] == ["old-run", log.id]
    keys.Keys(store).create("alice")
    store.close()
    assert versions(path) == {**OWNERS, "legacy": 8}
    assert shape(path) == shape(_fresh(tmp_path))


@pytest.mark.parametrize("version", range(1, len(OLD_MIGRATIONS) + 1))
def test_a_partly_migrated_old_database_gets_only_the_steps_it_lacks(tmp_path, version):
    path = tmp_path / "tether.db"
    old_database(path, version)
    store = Store(path)
    assert store.query("SELECT COUNT(*) FROM ledger")[0][0] == 1
    assert store.query("SELECT COUNT(*) FROM runs")[0][0] == (1 if version >= 4 else 0)
    store.write(
        "INSERT INTO ledger (ts, day, call_id, attempt, provider, model, outcome, key, cached_tokens) VALUES (2, 'd', 'n', 1, 'p', 'p/m', 'ok', 'k', 5)"
    )
    store.close()
    assert shape(path) == shape(_fresh(tmp_path))


def test_version_3_old_database_keeps_its_ledger_and_gains_the_later_tables(tmp_path):
    path = tmp_path / "tether.db"
    old_database(path, 3)  # ledger, token_cache, decisions
    store = Store(path)
    assert versions(path) == {**OWNERS, "legacy": 3}
    assert [r["call_id"] for r in store.query("SELECT * FROM ledger")] == ["old"]
    memory.Memory(store, tmp_path).propose("tests run with make test")
    assert [r["text"] for r in memory.Memory(store, tmp_path).list()] == ["tests run with make test"]


def test_an_owner_first_seen_after_the_takeover_starts_where_the_old_list_left_it(tmp_path, monkeypatch):
    path = tmp_path / "tether.db"
    old_database(path, 8)
    with monkeypatch.context() as only:
        only.setattr(store_mod, "_schemas", {"ledger": meter.SCHEMA})  # a command that imported only the meter
        Store(path).close()
    assert versions(path) == {"ledger": 4, "legacy": 8}
    store = Store(path)  # the rest of the owners now: their tables exist already, nothing is made twice
    assert [r["id"] for r in runlog.runs(store)] == ["old-run"]
    assert versions(path) == {**OWNERS, "legacy": 8}


def test_an_owner_imported_after_its_store_opened_gets_its_tables_at_its_first_use(isolated):
    store = Store()
    late = Schema("late", ["CREATE TABLE late (x INTEGER)", "ALTER TABLE late ADD COLUMN y TEXT"])  # not registered
    store.ensure(late).write("INSERT INTO late (x, y) VALUES (1, 'a')")
    assert store.ensure(late) is store and Store().ensure(late).query("SELECT y FROM late")[0][0] == "a"
    assert versions(store.path)["late"] == 2


def test_a_database_from_a_newer_tether_is_refused_clearly(isolated):
    old_style = isolated / "old-style.db"
    db = sqlite3.connect(old_style)
    db.execute(f"PRAGMA user_version={len(OLD_MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(TetherError, match="newer tether"):
        Store(old_style)
    owner_ahead = Store(isolated / "ahead.db").path
    db = sqlite3.connect(owner_ahead)
    db.execute("UPDATE schema_versions SET version = 9 WHERE owner = 'ledger'")
    db.commit()
    db.close()
    with pytest.raises(TetherError, match="newer tether .ledger tables at version 9"):
        Store(owner_ahead)


def test_racing_processes_take_over_an_old_database_once(tmp_path):
    path = tmp_path / "tether.db"
    old_database(path, 8)
    code = (
        "import tether.llm.meter, tether.llm.keys, tether.context.digest, tether.autonomy.memory, tether.autonomy.guard.leash,"
        " tether.autonomy.history.runlog, tether.autonomy.answers.wiki, sys; from tether.store import Store; Store(sys.argv[1]).close()"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert versions(path) == {**OWNERS, "legacy": 8}
    assert Store(path).query("SELECT COUNT(*) FROM ledger")[0][0] == 1


def test_unwritable_location_is_one_line(isolated):
    blocker = isolated / "file"
    blocker.write_text("x")
    with pytest.raises(TetherError, match="cannot open the database"):
        Store(blocker / "sub" / "t.db")


def _fresh(tmp_path):
    path = tmp_path / "fresh.db"
    Store(path).close()
    return path


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE schema_versions SET version = 'x'",
        "UPDATE schema_versions SET version = -1",
        "DELETE FROM schema_versions WHERE owner = 'runs'",
        "PRAGMA user_version = 101",
    ],
)
def test_a_damaged_or_newer_database_is_one_clear_error_and_keeps_its_rows(tmp_path, damage):
    from tether.autonomy.history import runlog

    path = tmp_path / "tether.db"
    store = Store(path)
    store.ensure(runlog.SCHEMA)
    runlog.RunLog(store, root=str(tmp_path), command="chat", instruction="hi", level="chat", model="m")
    store.close()
    db = sqlite3.connect(path)
    db.execute(damage)
    db.commit()
    db.close()
    with pytest.raises(TetherError) as refused:
        Store(path).ensure(runlog.SCHEMA)
    assert str(path) in str(refused.value) and "\\n" not in str(refused.value)
    assert sqlite3.connect(path).execute("SELECT count(*) FROM runs").fetchone()[0] == 1
