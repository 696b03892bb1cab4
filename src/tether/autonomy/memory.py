"""What a project wants every agent to know, and what a run learned that is worth keeping.

The standing instructions are the files people already write for agents — AGENTS.md, CLAUDE.md,
CONVENTIONS.md, .cursor/rules/ — and tether's own `.tether/memory.md`, read into every brief
within a token budget. A run may propose a note for that memory (the model's `REMEMBER:` lines,
or the check command a person gave that made the run green); a proposal is only a row until a
person accepts it (`tether memory accept`, or the web app), and then it is one undoable change to
`.tether/memory.md`. The agent can never write that file itself: memory that steers later runs
is a person's decision, not a hostile file's."""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..context import tokens
from ..errors import TetherError
from ..redaction import redact
from ..store import Schema, register
from .edits.journal import write_files
from .edits.workspace import TextFile, resolve
from .history.checkpoints import Change, Checkpoints

__all__ = ["MEMORY_FILE", "Memory", "standing", "remembered"]

MEMORY_FILE = ".tether/memory.md"
SOURCES = ("AGENTS.md", "CLAUDE.md", "CONVENTIONS.md", MEMORY_FILE)
STANDING_TOKENS = 800
_REMEMBER = re.compile(r"^[ \t>*-]*REMEMBER:\s*(.+?)\s*$", re.M)
SCHEMA = register(
    Schema(
        "memory",
        [
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
    """
        ],
        legacy=(5,),
    )
)  # the proposals, each pending until a person accepts or rejects it


def standing(root: Path, budget: int = STANDING_TOKENS) -> tuple[str, list[str]]:
    """The project's standing instructions, each under its file's name, cut to `budget` tokens
    (exact count); and the files they came from."""
    found = [s for s in SOURCES if (root / s).is_file()]
    rules = root / ".cursor" / "rules"
    if rules.is_dir():
        found += sorted(str(p.relative_to(root)) for p in rules.iterdir() if p.suffix in (".md", ".mdc") and p.is_file())
    parts, used, sources = [], 0, []
    for rel in found:
        try:
            real, rel = resolve(root, rel)  # a link out of the workspace or into .git is not read
            text = redact(real.read_text(encoding="utf-8", errors="replace"))[0].strip()
        except (TetherError, OSError):
            continue
        if not text:
            continue
        block = f"From {rel}:\n{text}\n"
        cost = tokens.count(block)
        if used + cost > budget:
            lines, kept = block.splitlines(keepends=True), []
            for line in lines:
                if used + tokens.count("".join(kept + [line])) > budget - 20:
                    break
                kept.append(line)
            if kept:
                parts.append("".join(kept) + f"… ({rel} is cut here)\n")
                sources.append(rel)
            break
        parts.append(block)
        used += cost
        sources.append(rel)
    return "\n".join(parts), sources


PLACEHOLDER = "the note"  # what the agent's system prompt writes after REMEMBER:, which small models copy as is


def remembered(reply: str) -> list[str]:
    """The notes a model asked to keep: its `REMEMBER: …` lines, less the prompt's placeholder
    (qwen2.5-coder-1.5b began a reply with `REMEMBER: the note`)."""
    return [m.group(1)[:300] for m in _REMEMBER.finditer(reply) if m.group(1).strip(" .`").lower() != PLACEHOLDER]


class Memory:
    """Proposed notes of one workspace, kept in tether's database."""

    def __init__(self, store, root: str | Path):
        from .. import config

        self.store, self.root = store.ensure(SCHEMA), config.workspace(root)

    def propose(self, text: str, run_id: str | None = None, step: int | None = None, source: str = "model") -> int | None:
        """A new pending proposal's id; None when the same note is pending or kept already."""
        text = " ".join(redact(text)[0].split())
        if not text:
            return None
        same = self.store.query("SELECT id FROM memory WHERE root = ? AND text = ? AND status != 'rejected'", (str(self.root), text))
        if same:
            return None
        return self.store.write(
            "INSERT INTO memory (ts, root, run_id, step, source, text, status) VALUES (?,?,?,?,?,?, 'pending')",
            (time.time(), str(self.root), run_id, step, source, text),
        )

    def list(self, status: str | None = None) -> list[dict]:
        where, params = ("AND status = ?", (status,)) if status else ("", ())
        rows = self.store.query(f"SELECT * FROM memory WHERE root = ? {where} ORDER BY id", (str(self.root), *params))
        return [dict(r) for r in rows]

    def accept(self, proposal: int) -> Change:
        """Append the note to .tether/memory.md as one undoable change, with where it came from."""
        row = self._pending(proposal)
        target = self.root / MEMORY_FILE
        before = TextFile.read(target).text if target.is_file() else "# What this project wants agents to know\n\n"
        origin = f"run {row['run_id']}" + (f", step {row['step']}" if row["step"] is not None else "") if row["run_id"] else row["source"]
        after = before + ("" if before.endswith("\n") else "\n") + f"- {row['text']} <!-- {origin} -->\n"
        checkpoints = Checkpoints(self.root)
        message = f"memory: {row['text'][:60]}"
        snapshot = checkpoints.snapshot(f"before: {message}", [MEMORY_FILE])
        recorded = []  # before the journal goes, as every change is
        write_files(
            self.root,
            [(MEMORY_FILE, after.encode("utf-8"), None)],
            {"before": snapshot, "message": message, "files": [MEMORY_FILE]},
            then=lambda: recorded.append(checkpoints.record(snapshot, message, [MEMORY_FILE])),
        )
        change = recorded[0]
        self.store.write("UPDATE memory SET status = 'accepted' WHERE id = ?", (proposal,))
        return change

    def reject(self, proposal: int) -> None:
        self._pending(proposal)
        self.store.write("UPDATE memory SET status = 'rejected' WHERE id = ?", (proposal,))

    def _pending(self, proposal: int) -> dict:
        rows = self.store.query("SELECT * FROM memory WHERE id = ? AND root = ?", (proposal, str(self.root)))
        if not rows:
            raise TetherError(f"no memory proposal {proposal} in this workspace (`tether memory` lists them)")
        if rows[0]["status"] != "pending":
            raise TetherError(f"memory proposal {proposal} was {rows[0]['status']} already")
        return dict(rows[0])
