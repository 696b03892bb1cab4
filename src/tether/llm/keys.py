"""Virtual keys for the gateway: one per person or team, each with its own budget, rate limit
and allowed routes. Only a hash of a key is stored; the key itself is shown once, when made.
Keys live in the ledger's database, so every gateway process sharing it sees the same keys and
a revoked key stops working everywhere at its next request."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field

from ..config import Budget
from ..errors import TetherError
from ..store import Schema, register
from . import ledger_schema

__all__ = ["Key", "Keys"]

PREFIX = "tk-"
SCHEMA = register(Schema("keys", ledger_schema.sqlite("keys"), legacy=(7,)))  # described with the ledger's (one source for PostgreSQL)


@dataclass(frozen=True)
class Key:
    id: int
    name: str
    prefix: str  # the first characters, to recognise a key without storing it
    created: float
    budget: Budget = field(default_factory=Budget)
    rpm: int | None = None  # requests a minute, across every gateway
    routes: tuple[str, ...] = ()  # routes and models it may call; empty: all
    revoked: float | None = None

    def allows(self, model: str) -> bool:
        return not self.routes or model in self.routes

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created": self.created,
            "revoked": self.revoked,
            "budget": {k: v for k, v in asdict(self.budget).items() if v is not None},
            "rpm": self.rpm,
            "routes": list(self.routes),
        }


class Keys:
    def __init__(self, store):
        self.store = store.ensure(SCHEMA)  # tether's SQLite Store or a PgStore: the ledger's database

    def create(self, name: str, budget: Budget | None = None, rpm: int | None = None, routes: tuple[str, ...] = ()) -> tuple[Key, str]:
        """A new key and its secret, which is never shown again."""
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise TetherError("a key's name is letters, digits, '-', '_' or '.'")
        if self.store.query("SELECT id FROM keys WHERE name = ?", (name,)):
            raise TetherError(f"a key named {name!r} exists already (revoke it first, or pick another name)")
        if rpm is not None and rpm < 1:
            raise TetherError("--rpm must be at least 1")
        token = PREFIX + secrets.token_urlsafe(32)
        budget = budget or Budget()
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO keys (name, hash, prefix, created, budget, rpm, routes) VALUES (?,?,?,?,?,?,?)",
                (name, _hash(token), token[:9], time.time(), json.dumps(asdict(budget)), rpm, json.dumps(list(routes))),
            )
        return self.get(name), token

    def list(self) -> list[Key]:
        return [_key(r) for r in self.store.query("SELECT * FROM keys ORDER BY id")]

    def get(self, name: str) -> Key:
        rows = self.store.query("SELECT * FROM keys WHERE name = ?", (name,))
        if not rows:
            raise TetherError(f"no key named {name!r} (`tether keys list` shows them)")
        return _key(rows[0])

    def revoke(self, name: str) -> Key:
        key = self.get(name)
        if key.revoked is None:
            with self.store.transaction() as db:
                db.execute("UPDATE keys SET revoked = ? WHERE id = ?", (time.time(), key.id))
        return self.get(name)

    def find(self, token: str) -> Key | None:
        """The live key this secret is, or None (unknown or revoked)."""
        if not token.startswith(PREFIX):
            return None
        rows = self.store.query("SELECT * FROM keys WHERE hash = ? AND revoked IS NULL", (_hash(token),))
        return _key(rows[0]) if rows else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()  # a 256-bit random secret: a slow hash adds nothing


def _key(row) -> Key:
    r = dict(row)
    return Key(
        r["id"],
        r["name"],
        r["prefix"],
        r["created"],
        Budget(**json.loads(r["budget"])),
        r["rpm"],
        tuple(json.loads(r["routes"])),
        r["revoked"],
    )
