"""What a parsed edit is, and what applying a reply reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Edit:
    path: str  # as the model wrote it; resolved against the workspace when applied
    action: str  # replace | create | delete | rename | write
    search: str = ""  # replace: the text to find
    replace: str = ""  # replace: its replacement; create/write: the whole new content
    new_path: str | None = None  # rename: where to
    block: int = 0  # 1-based number of the block in the reply
    line: int = 0  # line of the reply where the block starts
    format: str = ""  # search-replace | udiff | whole
    anew: bool = False  # write: asked for the file anew from its outline, so a much shorter file is meant, not cut short


@dataclass
class BlockResult:
    block: int
    path: str
    ok: bool
    how: str = ""  # which matcher found the place: exact, trailing-whitespace, indentation, blank-lines, elision, fuzzy …
    error: str | None = None
    hint: str | None = None  # the nearest real snippet, `path:line` first, for the model to retry with


@dataclass
class ApplyReport:
    applied: bool
    blocks: list[BlockResult] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # workspace-relative paths written, created, deleted or renamed
    diff: str = ""
    left_out: list[str] = field(default_factory=list)  # paths whose edits the caller chose not to apply

    def to_dict(self) -> dict:
        return {
            "applied": self.applied,
            "changed": self.changed,
            "diff": self.diff,
            "left_out": self.left_out,
            "blocks": [asdict(b) for b in self.blocks],
        }

    @property
    def errors(self) -> list[BlockResult]:
        return [b for b in self.blocks if not b.ok]

    def feedback(self) -> str:
        """What to tell the model when some blocks failed: each error with the nearest real text."""
        lines = []
        for b in self.errors:
            lines.append(f"Block {b.block} ({b.path}) was not applied: {b.error}")
            if b.hint:
                lines.append(b.hint)
        return "\n".join(lines)
