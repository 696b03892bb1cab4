"""Edits proposed now and applied later, by a caller that is not a person at a prompt (an MCP
client, say): proposing writes nothing and returns the diff under an id; applying goes through
the leash, the checkpoints and the undo history like every other change, and only while every
file still holds what the diff was made from — a file changed in between is never overwritten
with a stale plan."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from ... import config
from ...config import Config
from ...errors import TetherError
from ...redaction import redact_file
from ..edits import ApplyReport, hunks, propose, unified_diff
from ..edits.apply import PARSERS
from ..edits.workspace import TextFile
from ..guard.leash import Leash
from .change import apply_change
from .checkpoints import Change

__all__ = ["Applied", "Draft", "Drafts", "Proposal", "StaleDraft"]

MAX_DRAFTS = 100  # a client that proposes forever does not grow the server forever


class StaleDraft(TetherError):
    """A file of the draft changed after it was proposed."""


@dataclass(frozen=True)
class Draft:
    id: str
    reply: str
    files: tuple[str, ...]
    before: dict  # path -> sha256 of its text when proposed (None: the file did not exist)
    lines: dict  # path -> changed lines, for the leash's size limits
    diff: str
    texts: tuple = ()  # (path, text before, text after) per file, for what the leash reads in the change


@dataclass(frozen=True)
class Proposal:
    """What proposing gives back: the applier's report and the draft to apply later (None: the
    edit does not apply, and the report says why). Its diff is redacted as every read is: a
    `.env`'s values stay in the workspace."""

    report: ApplyReport
    draft: Draft | None
    diff: str

    def to_dict(self) -> dict:
        return {"proposal": self.draft.id if self.draft else None, **self.report.to_dict(), "diff": self.diff}


@dataclass(frozen=True)
class Applied:
    """A draft applied: the applier's report and the change the undo history records."""

    report: ApplyReport
    change: Change

    def to_dict(self) -> dict:
        return {**self.report.to_dict(), "change": self.change.to_dict()}


class Drafts:
    def __init__(self, root: str | Path):
        self.root = config.workspace(root)
        self._drafts: dict[str, Draft] = {}
        self._lock = threading.Lock()

    def propose(self, reply: str) -> Proposal:
        """Every edit of `reply` (SEARCH/REPLACE, unified diff, or whole files) matched in memory."""
        formats = tuple(PARSERS)
        report, plan = propose(self.root, reply, formats)
        changes = plan.changes() if report.applied else []
        if not changes:
            return Proposal(report, None, report.diff)
        lines = {rel: hunks.changed_lines(hunks.split(rel, before, after)) for rel, before, after in changes}
        draft = Draft(
            secrets.token_hex(6), reply, tuple(lines), {rel: _sha(before) for rel, before, _ in changes}, lines, report.diff, tuple(changes)
        )
        with self._lock:
            self._drafts[draft.id] = draft
            while len(self._drafts) > MAX_DRAFTS:
                self._drafts.pop(next(iter(self._drafts)))
        shown = "".join(
            unified_diff(*(None if t is None else redact_file(self.root / rel, t)[0] for t in (before, after)), rel)
            for rel, before, after in changes
        )
        return Proposal(report, draft, shown)

    def apply(self, draft_id: str, config: Config, message: str = "") -> Applied:
        """Apply a draft once, if the config's leash allows it without asking: no one is here to
        ask, so the leash decides as at level auto."""
        leash = Leash.from_config(self.root, config, level="auto")
        with self._lock:
            draft = self._drafts.get(draft_id)
        if draft is None:
            raise TetherError(f"no proposal {draft_id!r} (proposals last as long as this server; propose the edit again)")
        decision = leash.check_change(draft.lines, draft.texts)
        if not decision.allowed:
            raise TetherError(f"refused by the leash ({decision.rule}): {decision.reason}")
        for rel in draft.files:
            if _sha(_text(self.root / rel)) != draft.before[rel]:
                raise StaleDraft(f"{rel} changed since proposal {draft_id} was made; propose the edit again")
        report, change = apply_change(self.root, draft.reply, message or f"proposal {draft_id}", tuple(PARSERS))  # as proposed
        if change is None:
            raise TetherError("the proposal no longer applies: " + (report.feedback() or "it changes nothing"))
        with self._lock:
            self._drafts.pop(draft_id, None)
        return Applied(report, change)


def _text(path: Path) -> str | None:
    try:
        return TextFile.read(path).text if path.is_file() else None
    except TetherError:
        return "\0unreadable"  # never the text a draft was made from


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
