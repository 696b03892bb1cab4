"""Each floor owns its tables (DESIGN.md): every SQL statement that names a table is in the
module that owns it, and every table in tether's database is made by its owner's schema."""

import ast
import importlib
import re
from pathlib import Path

import tether
from tether.store import Schema

SRC = Path(tether.__file__).parent
OWNERS = {  # table → the modules whose SQL may name it
    "schema_versions": {"tether.store"},  # the runner's own bookkeeping
    "ledger": {"tether.llm.meter"},
    "reservations": {"tether.llm.meter"},
    "keys": {"tether.llm.keys"},
    "tether_schema": {"tether.llm.pg"},  # the PostgreSQL ledger database's stamp
    "pg_database": {"tether.llm.pgcluster"},
    "token_cache": {"tether.context.digest"},
    "decisions": {"tether.autonomy.guard.leash"},
    "runs": {"tether.autonomy.history.runlog"},
    "run_steps": {"tether.autonomy.history.runlog"},
    "memory": {"tether.autonomy.memory"},
    "wiki": {"tether.autonomy.answers.wiki"},
    "files": {"tether.context.index"},  # the search index: a database of its own, per workspace
    "chunks": {"tether.context.index"},
    "chunks_fts": {"tether.context.index"},
    "meta": {"tether.context.index"},
}
SCHEMA_OWNERS = {  # a Schema's owner → the module that declares it
    "ledger": "tether.llm.meter",
    "keys": "tether.llm.keys",
    "token_cache": "tether.context.digest",
    "decisions": "tether.autonomy.guard.leash",
    "runs": "tether.autonomy.history.runlog",
    "memory": "tether.autonomy.memory",
    "wiki": "tether.autonomy.answers.wiki",
}
NAMED = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN|TRUNCATE|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?\w+\s+ON)\s+(\w+)"
)
MADE = re.compile(r"\b(?:CREATE\s+(?:VIRTUAL\s+)?TABLE|ALTER\s+TABLE|CREATE\s+INDEX\s+\w+\s+ON)\s+(\w+)")


def module_of(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def tables_named(text: str) -> set[str]:
    return set(NAMED.findall(text))


def sql_in_source() -> dict[str, set[str]]:
    """module → the tables its string constants name in SQL (keywords upper case, as tether writes SQL)."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (named := tables_named(node.value)):
                found.setdefault(module_of(path), set()).update(named)
    return found


def test_sql_naming_a_table_lives_only_in_the_module_that_owns_it():
    wrong = [
        f"{module} names {table}"
        for module, tables in sql_in_source().items()
        for table in tables
        if module not in OWNERS.get(table, set())
    ]
    assert wrong == []


def test_the_scan_finds_sql_wherever_it_is_written():
    assert tables_named('"SELECT a FROM ledger WHERE x IN"') == {"ledger"}
    assert tables_named("INSERT OR REPLACE INTO token_cache (key) VALUES (?)") == {"token_cache"}
    assert tables_named("UPDATE runs SET status=?") == {"runs"}
    assert tables_named("CREATE INDEX IF NOT EXISTS ledger_day ON ledger(day)") == {"ledger"}
    assert tables_named("the ledger: one row per attempt, read from the ledger") == set()
    assert "tether.llm.meter" in {m for m, t in sql_in_source().items() if "ledger" in t}


def test_each_schema_is_declared_by_its_owner_and_makes_only_its_owners_tables():
    declared = {}
    for owner, module in SCHEMA_OWNERS.items():
        schemas = [v for v in vars(importlib.import_module(module)).values() if isinstance(v, Schema)]
        assert [s.owner for s in schemas] == [owner], module
        declared[owner] = schemas[0]
        made = {t for script in schemas[0].migrations for t in MADE.findall(script)}
        assert made and all(module in OWNERS[t] for t in made), (owner, made)
    from tether.store import schemas as registered

    assert {o: s for o, s in registered().items() if o in SCHEMA_OWNERS} == declared
