"""`tether ask`: an answer about the repository whose every claim cites `path:start-end`, and
whose citations are checked after generation — the file exists, the lines exist, and the
identifiers the claim names in backticks stand in those lines. A claim that fails is marked
unverified; it is never passed off as fact."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ...context import tokens
from ...context.symbols import named_in
from ...errors import Cancelled, TetherError
from ...llm.types import Response
from ..agent.progress import CallProgress
from ..agent.tools import Toolbox
from ..guard.untrusted import Fence
from ..guard.verify import VerifySettings
from ..history.runlog import RunLog
from .claims import (
    Citation,
    Claim,
    _defining,
    _definitions,
    _facts,
    _holds,
    _mentions,
    _names,
    _true_names,
    check,
    file_lines,
    verify,
)

if TYPE_CHECKING:
    from ...llm.protocol import GridLike

SYSTEM = """You answer questions about a code repository from the numbered snippets shown to you,
and from nothing else.

{fence_rule}

Reply with JSON: {{"claims": [{{"text": "...", "snippets": ["S1"]}}]}}. Each claim is one short
sentence about the code, with identifiers in `backticks`, and lists the ids of the snippets that
show it. {count} claims, one fact each. If the snippets do not answer the question, give one claim
saying so, with no snippets."""

CONTEXT_TOKENS = 1000  # of snippets' bare lines: on the embedded model the prompt is most of the wait (~50 tokens/s read on 2 AVX2 cores)
MAX_CLAIM = 240  # characters of one claim: the schema's bound, so a small model's JSON ends in time
_CLAIM = re.compile(r'\{\s*"text"\s*:\s*"(?:[^"\\]|\\.)*"\s*,\s*"snippets"\s*:\s*\[[^\]]*\]\s*\}')


@dataclass
class Answer:
    text: str
    claims: list[Claim]
    run_id: str
    response: Response | None = None

    @property
    def verified(self) -> int:
        return sum(c.verified for c in self.claims)

    def to_dict(self) -> dict:
        r = self.response
        return {
            "answer": self.text,
            "run": self.run_id,
            "model": r.model if r else None,
            "cost_usd": r.cost_usd if r else None,
            "usage": r.usage.to_dict() if r else None,
            "claims": [c.to_dict() for c in self.claims],
        }


@dataclass
class Snippet:
    id: str
    path: str
    start: int
    lines: list[str]

    @property
    def end(self) -> int:
        return self.start + len(self.lines) - 1

    @property
    def source(self) -> str:
        return f"{self.id} {self.path}:{self.start}-{self.end}"

    @cached_property
    def cost(self) -> int:
        """Tokens as the model reads it: the lines bare, since the model cites the snippet's id and
        tether finds the lines (numbering each line cost a third of the prompt), and its header."""
        return tokens.count("".join(self.lines)) + 20


def ask(
    grid: GridLike,
    root: str | Path,
    question: str,
    model: str = "default",
    budget: int | None = None,
    shown: list[Snippet] | None = None,
    command: str = "ask",
    claims: tuple[int, int] = (1, 5),
    on_event=None,
    cancel=None,
) -> Iterator[str | Answer]:
    """Each claim's text as soon as the model has written it, then the checked Answer. The model
    sees numbered snippets (`shown`, else what search finds) and may only cite their ids (its
    reply is held to a JSON schema, a grammar for the embedded model); tether turns ids into
    `path:start-end`, narrowed to the lines that hold the claim's identifiers, and verifies them.
    `claims` bounds how many claims the reply holds (the schema enforces it). `on_event(kind, **data)`
    hears the model load, read the prompt and write (autonomy.progress); setting `cancel` (an Event)
    stops the call within a slice of the prompt or a token."""
    if not question.strip():
        raise TetherError("the question is empty: ask something about the code")
    root = Path(root).resolve()
    fence = Fence.lasting()  # the same system prompt from question to question: the model's prompt cache serves it
    if shown is None:
        toolbox = Toolbox(root, VerifySettings(timeout=30, output_cap=4000))  # ask runs no commands: reads and searches only
        try:
            shown = snippets(
                root, question, budget or CONTEXT_TOKENS, lambda q: toolbox.index().search(q, k=12), toolbox.index().definitions
            )
        finally:
            toolbox.close()
    context = "\n\n".join(fence.wrap(s.source, "".join(s.lines)) for s in shown) or "(no code matched the question)"
    system = SYSTEM.format(fence_rule=fence.rule(), count=f"{max(2, claims[0])} to {claims[1]}")
    messages = [{"role": "system", "content": system}, {"role": "user", "content": f"{context}\n\nThe question:\n{question}"}]
    log = RunLog(grid.store, root=str(root), command=command, instruction=question, level="ask", model=model)
    log.step("prompt", system=system, user=messages[1]["content"], tokens=tokens.count(system + messages[1]["content"]))
    started, pieces, response, told = time.monotonic(), [], None, 0
    try:
        for item in grid.stream(
            model,
            messages,
            max_tokens=600,
            schema=_schema([s.id for s in shown], claims),
            cancel=cancel,
            progress=CallProgress(on_event) if on_event else None,
        ):
            if isinstance(item, str):
                pieces.append(item)
                done = _finished_texts("".join(pieces))
                for text in done[told:]:
                    yield f"- {text}\n"
                told = len(done)
            else:
                response = item
    except BaseException as e:  # a stop, a failure, Ctrl-C or a caller that stopped reading: never left "running"
        log.finish(
            "stopped" if isinstance(e, Cancelled) else "error" if isinstance(e, TetherError) else "interrupted", str(e) or "stopped", []
        )
        raise
    raw = "".join(pieces)
    claims = cited(root, raw, {s.id: s for s in shown})
    text = "\n".join(f"- {c.text}" + "".join(f" [{x}]" for x in c.citations) for c in claims)
    log.step("reply", **{**response.log_fields(), "text": raw})
    log.step("note", citations=[{"claim": c.text, "verified": c.verified, "problems": c.problems} for c in claims])
    log.totals(1, response.usage.input_tokens, response.usage.output_tokens, response.cost_usd, time.monotonic() - started)
    verified = sum(c.verified for c in claims)
    log.finish("answered", f"{verified} of {len(claims)} claims verified", [])
    yield Answer(text, claims, log.id, response)


def answer(grid: GridLike, root: str | Path, question: str, model: str = "default", on_claim=None, **options) -> Answer:
    """The checked Answer, once it is done (`ask`'s options); `on_claim(text)` hears each claim's
    text as soon as the model has written it, unchecked (`- ` and the newline taken off)."""
    for item in ask(grid, root, question, model, **options):
        if isinstance(item, Answer):
            return item
        if on_claim is not None:
            on_claim(item.strip().removeprefix("- "))
    raise TetherError("the question ended without an answer")  # ask always ends with one


def snippets(root: Path, question: str, budget: int, search, definitions=None) -> list[Snippet]:
    """What search finds for the question (and for each identifier it names), as numbered
    snippets that fit `budget` tokens, best first; `definitions(name)` puts where a named symbol
    is defined before anything else."""
    hits, seen = [], set()
    for query in [*named_in(question), question]:
        found = search(query)
        if query != question:  # a name the question asks about: where it is defined comes first
            name = query.split(".")[-1]
            found = sorted(found[:8], key=lambda h: not (h.name.split(".")[-1] == name or _defining(name).search(h.snippet)))[:3]
            found = (definitions(query)[:2] if definitions else []) + found
        for h in found[:12]:
            if (h.path, h.start) not in seen:
                seen.add((h.path, h.start))
                hits.append(h)
    found, used = [], 0
    for h in hits:
        lines = file_lines(root, h.path)
        if not lines:
            continue
        snippet = Snippet(f"S{len(found) + 1}", h.path, h.start, [line + "\n" for line in lines[h.start - 1 : min(h.end, h.start + 59)]])
        if snippet.lines and used + snippet.cost <= budget:
            found.append(snippet)
            used += snippet.cost
    return found


def cited(root: Path, raw: str, shown: dict[str, Snippet]) -> list[Claim]:
    """The reply's claims with their snippet ids turned into line citations and checked; a reply
    that is not the asked-for JSON (a provider without schemas) is read as cited prose."""
    try:
        value = json.loads(raw)
        items = value["claims"] if isinstance(value, dict) and isinstance(value.get("claims"), list) else None
    except (json.JSONDecodeError, TypeError):
        items = [json.loads(m.group(0)) for m in _CLAIM.finditer(raw)] or None  # a reply cut short keeps its whole claims
    if items is None:
        return check(root, raw)
    claims, lines_of, said = [], {}, set()
    for item in items:
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            continue
        given = [i for i in item.get("snippets") or [] if isinstance(i, str) and i in shown]
        for text in _facts(_true_names(_whole(str(item["text"]).strip()), shown.values())):  # each sentence stands or falls alone
            if text in said:  # a small model that says the same thing five times said it once
                continue
            said.add(text)
            ids = list(given)
            missing = [n for n in _names(text) if not any(_holds(shown[i], n) for i in ids)]
            if missing and shown:  # the claim names code that its snippets lack: the shown snippet that holds most of it is cited too
                best = max(shown.values(), key=lambda s: sum(_holds(s, n) for n in missing))
                ids += [best.id] if any(_holds(best, n) for n in missing) else []
            citations = [_narrow(text, shown[i]) for i in dict.fromkeys(ids)]
            claims.append(verify(root, text, text, citations + _definitions(root, text, citations, lines_of), lines_of))
    return claims


def _whole(text: str, limit: int = MAX_CLAIM) -> str:
    """A claim the schema's length cut mid-sentence, back to its last whole sentence (or word),
    so that a half-written `identif` is not checked as a name."""
    if len(text) < limit - 1:
        return text
    end = max(text.rfind(". "), text.rfind("; "))
    text = text[: end + 1] if end > 20 else text[: text.rfind(" ")].rstrip(",;:") + " …"
    return text[: text.rfind("`")].rstrip() + " …" if text.count("`") % 2 else text


def _narrow(claim: str, snippet: Snippet) -> Citation:
    """The snippet's lines that hold the claim's identifiers (the whole snippet when none does)."""
    names = _names(claim)
    hold = [snippet.start + n for n, line in enumerate(snippet.lines) if any(_mentions(line, x) for x in names)]
    start, end = (min(hold), max(hold)) if hold else (snippet.start, snippet.end)
    return Citation(snippet.path, start, end)


def _schema(ids: list[str], claims: tuple[int, int] = (1, 5)) -> dict:
    """Bounded, so that even a rambling small model ends its JSON inside `max_tokens`."""
    ref = {"type": "string", "enum": ids} if ids else {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "claims": {
                "type": "array",
                "minItems": claims[0],
                "maxItems": claims[1],
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "maxLength": MAX_CLAIM},
                        "snippets": {"type": "array", "maxItems": 3, "items": ref},
                    },
                    "required": ["text", "snippets"],
                },
            }
        },
        "required": ["claims"],
    }


def _finished_texts(partial: str) -> list[str]:
    """The claim texts a reply still being written has finished, for showing them as they come."""
    found = []
    for m in re.finditer(r'"text"\s*:\s*"((?:[^"\\]|\\.)*)"', partial):
        try:
            found.append(json.loads(f'"{m.group(1)}"'))
        except json.JSONDecodeError:
            continue
    return found
