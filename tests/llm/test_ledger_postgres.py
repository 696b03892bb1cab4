"""The ledger on PostgreSQL, on a throwaway cluster this test starts on a Unix socket: the same
rows and totals as on SQLite, budgets that hold across processes, a killed process's hold
released by its lease, and no row lost when the database restarts."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import jsonschema
import pytest

from tests.llm.test_budget_holds import CALLER
from tests.llm.test_ledger_schema import POSTGRES_BEFORE
from tether.errors import BudgetExceeded, TetherError
from tether.llm.pg import SCHEMA_VERSION, PgStore
from tether.llm.pgcluster import Cluster
from tether.llm.router import Grid
from tether.shapes import SHAPES

REPLY = '{ text = "ok", delay = 0.05, usage = { input_tokens = 1, output_tokens = 400 } }'


@pytest.fixture(scope="module")
def cluster():
    folder = tempfile.mkdtemp(dir="/tmp", prefix="tether-pg-")  # not under a home the postgres user cannot enter
    os.chmod(folder, 0o755)
    c = Cluster(os.path.join(folder, "pg"), port=5499)
    c.up()
    yield c
    c.down("immediate")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg(cluster):
    store = PgStore(cluster.url)
    with store.transaction() as db:
        db.execute("TRUNCATE ledger, reservations")
    yield cluster.url
    store.close()


def config(tmp_path, url: str, calls: int, limit: int | None = None):
    path = tmp_path / "tether.toml"
    path.write_text(
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = [{", ".join([REPLY] * calls)}] }}\n'
        f'[routes.default]\nmodels = ["s/m"]\n[ledger]\nurl = "{url}"\n' + (f"[budget]\ntokens_per_day = {limit}\n" if limit else "")
    )
    return path


def rows(url: str) -> list[dict]:
    return PgStore(url).query("SELECT * FROM ledger ORDER BY id")


def test_the_ledger_on_postgresql_records_and_totals_like_sqlite(pg, tmp_path):
    path = config(tmp_path, pg, calls=2)
    grid = Grid.from_config(path)
    assert grid.complete("default", "hi").text == "ok" and grid.complete("default", "again").text == "ok"
    grid.close()
    assert [(r["model"], r["outcome"], r["output_tokens"]) for r in rows(pg)] == [("s/m", "ok", 400)] * 2
    # the ledger URL is the user's alone: named with --config, never read from a project's tether.toml
    done = subprocess.run(
        [sys.executable, "-m", "tether", "--config", str(path), "ledger", "--by", "model", "--rows", "5", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    summary = json.loads(done.stdout)
    jsonschema.validate(summary, SHAPES["ledger"])
    assert summary["totals"][0]["attempts"] == 2 and summary["totals"][0]["output_tokens"] == 800 and len(summary["rows"]) == 2


@pytest.mark.slow
def test_processes_sharing_a_postgresql_ledger_never_pass_the_budget(pg, tmp_path):
    path = config(tmp_path, pg, calls=6, limit=4000)
    procs = [subprocess.Popen([sys.executable, "-c", CALLER, str(path), "6"], stdout=subprocess.PIPE, text=True) for _ in range(6)]
    done = [tuple(map(int, p.communicate(timeout=120)[0].split())) for p in procs]
    spent = sum(r["input_tokens"] + r["output_tokens"] for r in rows(pg) if r["outcome"] == "ok")
    assert spent <= 4000 and sum(d for d, _ in done) >= 8 and len([r for r in rows(pg) if r["outcome"] == "ok"]) == sum(d for d, _ in done)
    assert PgStore(pg).query("SELECT COUNT(*) AS n FROM reservations")[0]["n"] == 0


HOLDER = """
import sys, time
from tether.llm.router import Grid
grid = Grid.from_config(sys.argv[1])
grid.ledger.reserve([(grid.config.budget, "overall", None, None)], None, 3000, "s/m", None, lease=3600)
print("held", flush=True)
time.sleep(600)
"""


def test_a_killed_processes_hold_stays_until_its_lease_ends(pg, tmp_path):
    path = config(tmp_path, pg, calls=2, limit=4000)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)  # mid-call: its hold is never settled
    holder.wait(10)
    grid = Grid.from_config(path)
    with pytest.raises(BudgetExceeded, match="3000 tokens used or held today"):
        grid.complete("default", "hi", max_tokens=1500)
    PgStore(pg).query("UPDATE reservations SET expires = 0 RETURNING id")  # the lease runs out
    assert grid.complete("default", "hi", max_tokens=1500).text == "ok"
    grid.close()


def test_a_database_restart_loses_no_row_and_fails_cleanly(pg, cluster, tmp_path):
    grid = Grid.from_config(config(tmp_path, pg, calls=4, limit=100000))
    assert grid.complete("default", "before").text == "ok"
    grid.ledger.flush()
    cluster.down()
    with pytest.raises(TetherError, match="ledger"):  # the budget hold cannot be taken: a clear error, not a hang
        grid.complete("default", "while down")
    cluster.up()
    answered = 1
    for _ in range(3):
        try:
            grid.complete("default", "after")
            answered += 1
        except TetherError:
            pass  # the first use of a connection the restart broke fails cleanly; the next one reconnects
    grid.ledger.flush()
    grid.close()
    assert answered >= 3 and len([r for r in rows(pg) if r["outcome"] == "ok"]) == answered


def database(cluster, name: str) -> str:
    """A new, empty database in the cluster; its URL."""
    import psycopg

    with psycopg.connect(cluster.url.replace("/tether?", "/postgres?"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return cluster.url.replace("/tether?", f"/{name}?")


def columns(url: str) -> list[tuple]:
    return [
        tuple(r.values())
        for r in PgStore(url).query(
            "SELECT table_name, column_name, data_type, is_nullable, column_default IS NOT NULL AS has_default FROM information_schema.columns"
            " WHERE table_name IN ('ledger', 'reservations', 'keys') ORDER BY table_name, ordinal_position"
        )
    ]


@pytest.mark.parametrize("made_by", POSTGRES_BEFORE)
def test_a_ledger_database_an_earlier_tether_made_gets_what_it_lacks_and_keeps_its_rows(cluster, tmp_path, made_by):
    import psycopg

    stamp, schema = POSTGRES_BEFORE[made_by]
    url = database(cluster, f"made_by_{made_by}")
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in filter(str.strip, schema.split(";")):
            conn.execute(statement)
        if stamp is not None:
            conn.execute("CREATE TABLE tether_schema (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO tether_schema (version) VALUES (%s)", (stamp,))
        conn.execute(
            "INSERT INTO ledger (ts, day, call_id, attempt, provider, model, outcome) VALUES (1, '2024-01-01', 'old', 1, 's', 's/m', 'ok')"
        )
    grid = Grid.from_config(config(tmp_path, url, calls=1))
    assert grid.complete("default", "hi").text == "ok"
    grid.ledger.flush()
    grid.keys().create("alice")
    grid.close()
    assert [r["call_id"] for r in rows(url)][0] == "old" and len(rows(url)) == 2
    assert PgStore(url).query("SELECT version FROM tether_schema")[0]["version"] == SCHEMA_VERSION
    fresh = database(cluster, "fresh_ledger")
    PgStore(fresh).close()
    assert columns(url) == columns(fresh)
