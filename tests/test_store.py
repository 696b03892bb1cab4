import sqlite3

import pytest

from tether.errors import TetherError
from tether.store import MIGRATIONS, Store


def test_database_is_created_under_the_data_dir_in_wal_mode(isolated):
    store = Store()
    assert store.path == isolated / "data" / "tether" / "tether.db"
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)


def test_reopening_keeps_rows_and_does_not_migrate_twice(isolated):
    store = Store()
    store.write("INSERT INTO ledger (ts, day, call_id, attempt, provider, model, outcome) VALUES (1, 'd', 'c', 1, 'p', 'p/m', 'ok')")
    store.close()
    again = Store()
    assert again.query("SELECT COUNT(*) FROM ledger")[0][0] == 1


def test_a_database_from_a_newer_tether_is_refused_clearly(isolated):
    path = isolated / "new.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(TetherError, match="newer tether"):
        Store(path)


def test_unwritable_location_is_one_line(isolated):
    blocker = isolated / "file"
    blocker.write_text("x")
    with pytest.raises(TetherError, match="cannot open the database"):
        Store(blocker / "sub" / "t.db")
