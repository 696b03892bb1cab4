"""Hybrid search over a repository: BM25 (SQLite FTS5) and embeddings, fused by reciprocal rank.

The index lives in one SQLite file per repository under the data dir. Updating it re-chunks
and re-embeds only the files whose bytes changed, and forgets deleted ones. Identifiers are
split (`getUserById` → get user by id) so that words find code. Embeddings come from
`embedders` (static token vectors by default; `[search] embedder = "e5"` for a transformer), offline."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..errors import ConfigError, TetherError
from ..redaction import RULES, redact_file
from . import embedders, tokens
from .chunks import SEARCH_RULES, Chunk, chunk_file, searchable
from .walk import walk

SCHEMA = 3
RRF_K = 60
EMBED_CHARS = 256  # what of a chunk the embedding sees: its path, name and opening lines (cost grows with length)
# words too common to tell chunks apart; dropping them from queries keeps BM25 fast and sharp
STOPWORDS = frozenset(
    """a an and are as at be but by can do does for from has have how i if in into is it its of on or so
that the their them then there these this to was what when where which who why will with you your""".split()
)
_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")


@dataclass
class Hit:
    path: str
    start: int
    end: int
    name: str
    snippet: str
    score: float
    found_by: dict[str, int] = field(default_factory=dict)  # retriever -> rank (1-based)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.start}-{self.end}"

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "name": self.name,
            "score": round(self.score, 6),
            "found_by": self.found_by,
            "snippet": self.snippet,
        }


@dataclass
class UpdateReport:
    files: int
    changed: int
    removed: int
    chunks: int
    seconds: float
    pending: int = 0  # chunks not embedded yet (searchable by BM25 only)

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "changed": self.changed,
            "removed": self.removed,
            "chunks": self.chunks,
            "not_embedded": self.pending,
            "update_seconds": round(self.seconds, 3),
        }


@dataclass
class Found:
    """A search's answer: the query, the index as the search found it, and the hits, best first."""

    query: str
    index: UpdateReport
    hits: list[Hit]

    def fitted(self, max_tokens: int) -> "Found":
        """The best hits whose JSON fits `max_tokens` (the first one always)."""
        hits = list(self.hits)
        while len(hits) > 1 and tokens.count(json.dumps([h.to_dict() for h in hits])) > max_tokens:
            hits.pop()
        return Found(self.query, self.index, hits)

    def to_dict(self) -> dict:
        return {"query": self.query, "index": self.index.to_dict(), "results": [h.to_dict() for h in self.hits]}


def terms(text: str) -> str:
    """Words for BM25: each identifier whole and split into its parts, lower-cased."""
    out = []
    for word in _WORD.findall(text):
        low = word.lower()
        out.append(low)
        parts = [p.lower() for p in _SPLIT.findall(word)]
        if len(parts) > 1:
            out += parts
    return " ".join(out)


class Index:
    def __init__(self, root: str | Path, path: Path | None = None, embeddings: bool = True, embedder: str | None = None):
        self.root = config.workspace(root)
        self.embedder_name = embedder or configured_embedder(self.root)
        self.path = path or config.workspace_data("indexes", self.root, ".db")
        config.private_dir(self.path.parent)
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        self.embeddings = embeddings
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()
        self._use_redaction()
        if embeddings:
            self._use_embedder()
        self._matrix = None  # (ids, vectors), loaded on the first vector query

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA:
            return
        self.db.executescript(f"""
            DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS chunks; DROP TABLE IF EXISTS chunks_fts;
            CREATE TABLE files (path TEXT PRIMARY KEY, hash BLOB NOT NULL, size INTEGER, mtime_ns INTEGER, checked REAL);
            CREATE TABLE chunks (id INTEGER PRIMARY KEY, path TEXT NOT NULL, start INTEGER, end_line INTEGER,
                                 name TEXT, text TEXT, vector BLOB);
            CREATE INDEX chunks_path ON chunks(path);
            CREATE VIRTUAL TABLE chunks_fts USING fts5(terms);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
            PRAGMA user_version={SCHEMA};
        """)

    def _use_embedder(self) -> None:
        """Vectors from another embedder cannot be compared with this one's: forget them."""
        self._forget_unless("embedder", self.embedder_name, "UPDATE chunks SET vector = NULL WHERE vector IS NOT NULL")

    def _use_redaction(self) -> None:
        """Chunks made by older rules may hold what these redact, or files these leave out: forget
        them, so every file is read anew."""
        self._forget_unless("redaction", f"{RULES}/{SEARCH_RULES}", "DELETE FROM chunks_fts", "DELETE FROM chunks", "DELETE FROM files")

    def _forget_unless(self, key: str, value: str, *statements: str) -> None:
        """Run `statements` and record `value` under `key`, unless the index was built with it."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row and row[0] == value:
            return
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for statement in statements:
                self.db.execute(statement)
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- building -----------------------------------------------------------------------------

    def update(self, progress=None, embed_seconds: float | None = None) -> UpdateReport:
        """Bring the index in line with the files on disk; only changed files are re-read.
        Chunks are searchable by BM25 at once; embedding them, the slow part, may be given a
        time budget (`embed_seconds`), and what it leaves is embedded by the next update."""
        started = time.perf_counter()
        found = walk(self.root)
        known = {r[0]: r[1:] for r in self.db.execute("SELECT path, hash, size, mtime_ns, checked FROM files")}
        current, changed, stats = {}, [], {}
        now = time.time()
        for f in found.files:
            if f.binary:
                continue
            try:
                st = (self.root / f.path).stat()
            except OSError:
                continue
            old = known.get(f.path)
            # the same size and mtime as when it was hashed means the same bytes, as git trusts its index; a file
            # written in the second it was hashed may have changed unseen, so it is hashed again ("racy", as git says)
            if old and old[1] == st.st_size and old[2] == st.st_mtime_ns and st.st_mtime < old[3] - 1:
                current[f.path] = old[0]
                continue
            try:
                data = (self.root / f.path).read_bytes()
            except OSError:
                continue
            digest = hashlib.blake2b(data, digest_size=16).digest()
            current[f.path], stats[f.path] = digest, (st.st_size, st.st_mtime_ns)
            if not old or old[0] != digest:
                changed.append((f.path, data.decode("utf-8", errors="replace")))
        removed = [p for p in known if p not in current]
        new_chunks: list[Chunk] = [
            c for path, text in changed if searchable(path, text) for c in chunk_file(path, redact_file(self.root / path, text)[0])
        ]  # the index stores no secret
        with self.db:  # one transaction: a crash leaves the old index or the new one
            self.db.execute("BEGIN")
            for path in removed + [p for p, _ in changed]:
                ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE path = ?", (path,))]
                self.db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in ids])
                self.db.execute("DELETE FROM chunks WHERE path = ?", (path,))
                self.db.execute("DELETE FROM files WHERE path = ?", (path,))
            for c in new_chunks:
                cursor = self.db.execute(
                    "INSERT INTO chunks (path, start, end_line, name, text) VALUES (?,?,?,?,?)", (c.path, c.start, c.end, c.name, c.text)
                )
                self.db.execute(
                    "INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)", (cursor.lastrowid, terms(f"{c.path} {c.name} {c.text}"))
                )
            self.db.executemany(
                "INSERT OR REPLACE INTO files (path, hash, size, mtime_ns, checked) VALUES (?, ?, ?, ?, ?)",
                [(p, current[p], *stats[p], now) for p in stats],
            )
        if changed or removed:
            self._matrix = None
        if self.embeddings:
            self._embed_pending(progress, embed_seconds)
        total, pending = self.db.execute("SELECT COUNT(*), COALESCE(SUM(vector IS NULL), 0) FROM chunks").fetchone()
        return UpdateReport(
            len(current), len(changed), len(removed), total, time.perf_counter() - started, pending if self.embeddings else 0
        )

    def _embed_pending(self, progress, seconds: float | None) -> None:
        import numpy as np

        embedder = embedders.get(self.embedder_name)
        pending = self.db.execute("SELECT id, path, name, text FROM chunks WHERE vector IS NULL ORDER BY id").fetchall()
        deadline = None if seconds is None else time.monotonic() + seconds
        for start in range(0, len(pending), embedder.batch):
            if deadline is not None and time.monotonic() >= deadline:
                break
            batch = pending[start : start + embedder.batch]
            texts = [_embed_text(Chunk(path, 0, 0, name, text)) for _, path, name, text in batch]
            vectors = np.asarray(embedder.passages(texts), dtype=np.float32)
            with self.db:
                self.db.executemany(
                    "UPDATE chunks SET vector = ? WHERE id = ?", [(v.tobytes(), row[0]) for v, row in zip(vectors, batch, strict=False)]
                )
            self._matrix = None
            if progress:
                progress(len(batch), len(pending))

    # -- searching ----------------------------------------------------------------------------

    def bm25(self, query: str, k: int = 20) -> list[int]:
        words = sorted(set(terms(query).split()) - STOPWORDS)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        return [
            r[0]
            for r in self.db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?", (match, k))
        ]

    def vector(self, query: str, k: int = 20) -> list[int]:
        if not self.embeddings:
            return []
        import numpy as np

        ids, matrix = self._vectors()
        if not len(ids):
            return []
        q = np.asarray(embedders.get(self.embedder_name).query([query])[0], dtype=np.float32)
        scores = matrix @ (q / max(float(np.linalg.norm(q)), 1e-9))
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        return [int(ids[i]) for i in top[np.argsort(-scores[top])]]

    def _vectors(self):
        """Every chunk's unit vector, read once per process (and again after an update)."""
        import numpy as np

        if self._matrix is None:
            rows = self.db.execute("SELECT id, vector FROM chunks WHERE vector IS NOT NULL").fetchall()
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            matrix = (
                np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                if rows
                else np.zeros((0, 1), np.float32)
            )
            self._matrix = (ids, matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9))
        return self._matrix

    def definitions(self, name: str, k: int = 3) -> list[Hit]:
        """Chunks that define `name` (a symbol, or `Class.member`), by the names the chunker gave
        them: where a definition is, which ranking can bury under the symbol's many uses."""
        last = name.split(".")[-1]
        rows = self.db.execute(
            "SELECT path, start, end_line, name, text FROM chunks WHERE name LIKE ? ORDER BY path, start", (f"%{last}%",)
        )
        ranked = []
        for row in rows:
            names = row[3].split(", ")
            if name in names if "." in name else any(n.split(".")[-1] == name for n in names):  # `invoke`: any class's
                ranked.append(("test" in row[0].lower(), row))
        ranked.sort(key=lambda r: r[0])  # the code before its tests; stable, so a definition cut in pieces keeps its first piece first
        return [
            Hit(p, start, end, n, _snippet(text), 0.0, {"name": rank})
            for rank, (_, (p, start, end, n, text)) in enumerate(ranked[:k], start=1)
        ]

    def find(self, query: str, k: int = 10, mode: str = "hybrid", embed_seconds: float | None = None, progress=None) -> Found:
        """`search` on an index brought up to date first (`update`'s progress and embedding time)."""
        report = self.update(progress=progress, embed_seconds=embed_seconds)
        return Found(query, report, self.search(query, k=k, mode=mode))

    def search(self, query: str, k: int = 10, mode: str = "hybrid") -> list[Hit]:
        if mode not in ("hybrid", "bm25", "vector"):
            raise TetherError(f"--mode must be hybrid, bm25 or vector (got {mode!r})")
        if mode == "vector" and not self.embeddings:
            raise TetherError("this index was built without embeddings")
        lists = {}
        if mode == "hybrid" and self.embeddings:
            # one after the other: BM25 takes under a millisecond, and embedding the query from a new thread each
            # time left OpenBLAS's threads spinning against the next call (p50 went from ~15 ms to ~100 ms)
            lists["bm25"] = self.bm25(query, k * 4)
            lists["vector"] = self.vector(query, k * 4)
        elif mode == "bm25" or (mode == "hybrid" and not self.embeddings):
            lists["bm25"] = self.bm25(query, k * 4)
        else:
            lists["vector"] = self.vector(query, k * 4)
        fused: dict[int, float] = {}
        found_by: dict[int, dict[str, int]] = {}
        for name, ids in lists.items():
            for rank, chunk_id in enumerate(ids, start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
                found_by.setdefault(chunk_id, {})[name] = rank
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        rows = (
            {
                r[0]: r
                for r in self.db.execute(
                    f"SELECT id, path, start, end_line, name, text FROM chunks WHERE id IN ({','.join('?' * len(best))})", best
                )
            }
            if best
            else {}
        )
        return [Hit(rows[i][1], rows[i][2], rows[i][3], rows[i][4], _snippet(rows[i][5]), fused[i], found_by[i]) for i in best if i in rows]

    def close(self) -> None:
        self.db.close()


def configured_embedder(root: Path) -> str:
    """`[search] embedder` from the workspace's config, so every face (CLI, agent, web, MCP) reads the same index."""
    loaded = config.load(start=root)
    section = loaded.extra.get("search", {})
    name = section.get("embedder", "static") if isinstance(section, dict) else None
    if name not in embedders.NAMES:
        raise ConfigError(f"{loaded.where('search')}: search.embedder must be one of {', '.join(embedders.NAMES)} (got {name!r})")
    return name


def _embed_text(c: Chunk) -> str:
    return f"{c.path} {c.name}\n{c.text}"[:EMBED_CHARS]


def _snippet(text: str, lines: int = 6) -> str:
    body = text.splitlines()
    return "\n".join(body[:lines]) + ("\n…" if len(body) > lines else "")
