"""How the agent asks a model for edits: one object per edit format — the prompt text, the
sentence that asks for an edit, the grammar, the parser, the room a reply needs and how a file the
model must not copy is shown — chosen from the model's catalogue entry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...context import tokens
from ...context.symbols import is_stub, outline
from ...context.walk import read_regular
from ...errors import TetherError
from ...llm import models as catalogue
from . import Edit, parse_reply, search_replace, whole
from .apply import DEFAULT_FORMATS

if TYPE_CHECKING:
    from ...llm.protocol import GridLike

__all__ = ["EditFormat", "FORMATS", "SearchReplace", "WholeFile", "for_model", "small"]

WRITE_SHARE = 0.8  # a whole-file reply is at least this share of the file's tokens (to judge whether one can still finish)


@dataclass(frozen=True)
class EditFormat:
    name: str
    parsers: tuple[str, ...]  # the reply formats taken (a diff is always understood)
    ask: str  # the sentence that asks for an edit

    def prompt(self, example: str) -> str:
        """The instructions; `example` is a real file of the workspace (small models copy it)."""
        return search_replace.PROMPT

    def grammar(self, path: str, current: str = "") -> str:
        """GBNF for a reply that is an edit of `path` and nothing else (`current`: its text now)."""
        return search_replace.grammar(path, current)

    def parse(self, reply: str, sole: str | None = None) -> list[Edit]:
        """Every edit of the reply, read once; the prompt's own example copied back is not one.
        `sole`: the one file the run may write."""
        return parse_reply(self.clean(reply), self.parsers)

    def output_tokens(self, shown: list[str], most: int) -> int:
        """The longest reply worth waiting for, given the file blocks the prompt shows."""
        return most

    def reply_tokens(self, path: Path, last_reply: int) -> int | None:
        """About how long a reply that edits the file at `path` is, where the format can say."""
        return None

    def outline(self, path: str, text: str) -> str | None:
        """What to show of a failing file instead of its code, so a reply cannot copy it; None: the code."""
        return None

    @staticmethod
    def clean(reply: str) -> str:
        return reply.replace(search_replace.EXAMPLE.strip(), "")


class SearchReplace(EditFormat):
    """SEARCH/REPLACE blocks: what a capable model writes best (a diff is understood too)."""


class WholeFile(EditFormat):
    """The whole file, under its path: a small model writes it better than a block that must match."""

    def prompt(self, example: str) -> str:
        return whole.prompt(example)

    def grammar(self, path: str, current: str = "") -> str:
        return whole.grammar(path, current)

    def parse(self, reply: str, sole: str | None = None) -> list[Edit]:
        """A whole file without its path is taken for `sole`."""
        reply = self.clean(reply)
        return parse_reply(reply, self.parsers) or (whole.bare(reply, sole) if sole else [])

    def output_tokens(self, shown: list[str], most: int) -> int:
        """About as long as the biggest file shown: a reply far longer is a model looping."""
        return min(most, max(1024, 2 * max((len(b) // 3 for b in shown), default=0)))

    def reply_tokens(self, path: Path, last_reply: int) -> int | None:
        """As long as the file (or the last reply, where a sample starts from an older, shorter file)."""
        try:
            size = tokens.count(read_regular(path).decode("utf-8", "replace"))
        except OSError:
            return None
        return int(WRITE_SHARE * max(size, last_reply))

    def outline(self, path: str, text: str) -> str | None:
        """Its definitions: shown a failing file, qwen2.5-coder-1.5b wrote it out unchanged even at
        temperature 1.0. A stub has no code to copy."""
        return None if not text or is_stub(path, text) else (outline(path, text) or None)


FORMATS: dict[str, EditFormat] = {
    "search-replace": SearchReplace(
        "search-replace", DEFAULT_FORMATS, "Reply with the SEARCH/REPLACE blocks that make the change, each under its file's path."
    ),
    "whole": WholeFile(
        "whole",
        (*DEFAULT_FORMATS, "whole"),
        "Reply with each file you change, under its path: the whole file (in Python, the functions you change will do).",
    ),
}


def for_model(grid: GridLike, model: str, name: str | None = None) -> EditFormat:
    """`name` if given; else what the catalogue says the route's models write best (all of them
    must agree on whole files, since any of them may answer)."""
    if name is not None:
        if name not in FORMATS:
            raise TetherError(f"unknown edit format {name!r} (formats: {', '.join(FORMATS)})")
        return FORMATS[name]
    return FORMATS["whole" if small(grid, model) else "search-replace"]


def small(grid: GridLike, model: str) -> bool:
    """Whether every model of the route is a small one: those the catalogue (or the user's config)
    has write whole files, which only small models do better than SEARCH/REPLACE blocks."""
    try:
        _, route = grid.route(model)
    except TetherError:
        return False
    return {catalogue.info(m, grid.config).edit_format for m in route.models} == {"whole"}
