"""How the agent asks a model for edits: one object per edit format — the prompt text, the
sentence that asks for an edit, and the parser — chosen from the model's catalogue entry."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import TetherError
from ...llm import models as catalogue
from . import Edit, parse_reply, search_replace, whole
from .apply import DEFAULT_FORMATS

__all__ = ["EditFormat", "FORMATS", "for_model", "small"]


@dataclass(frozen=True)
class EditFormat:
    name: str
    parsers: tuple[str, ...]  # the reply formats taken (a diff is always understood)
    ask: str  # the sentence that asks for an edit

    def prompt(self, example: str) -> str:
        """The instructions; `example` is a real file of the workspace (small models copy it)."""
        return whole.prompt(example) if self.name == "whole" else search_replace.PROMPT

    def grammar(self, path: str, current: str = "") -> str:
        """GBNF for a reply that is an edit of `path` and nothing else (`current`: its text now)."""
        return (whole if self.name == "whole" else search_replace).grammar(path, current)

    def parse(self, reply: str, sole: str | None = None) -> list[Edit]:
        """Every edit of the reply, read once; the prompt's own example copied back is not one.
        `sole`: the one file the run may write, which a whole file without its path is taken for."""
        reply = self.clean(reply)
        edits = parse_reply(reply, self.parsers)
        if not edits and sole and self.name == "whole":
            edits = whole.bare(reply, sole)
        return edits

    @staticmethod
    def clean(reply: str) -> str:
        return reply.replace(search_replace.EXAMPLE.strip(), "")


FORMATS = {
    "search-replace": EditFormat("search-replace", DEFAULT_FORMATS,
                                 "Reply with the SEARCH/REPLACE blocks that make the change, each under its file's path."),
    "whole": EditFormat("whole", (*DEFAULT_FORMATS, "whole"),
                        "Reply with each file you change, under its path: the whole file (in Python, the functions you change will do)."),
}


def for_model(grid, model: str, name: str | None = None) -> EditFormat:
    """`name` if given; else what the catalogue says the route's models write best (all of them
    must agree on whole files, since any of them may answer)."""
    if name is not None:
        if name not in FORMATS:
            raise TetherError(f"unknown edit format {name!r} (formats: {', '.join(FORMATS)})")
        return FORMATS[name]
    return FORMATS["whole" if small(grid, model) else "search-replace"]


def small(grid, model: str) -> bool:
    """Whether every model of the route is a small one: those the catalogue (or the user's config)
    has write whole files, which only small models do better than SEARCH/REPLACE blocks."""
    try:
        _, route = grid.route(model)
    except TetherError:
        return False
    return {catalogue.info(m, grid.config).edit_format for m in route.models} == {"whole"}
