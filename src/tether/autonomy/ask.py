"""`tether ask`: an answer about the repository whose every claim cites `path:start-end`, and
whose citations are checked after generation — the file exists, the lines exist, and the
identifiers the claim names in backticks stand in those lines. A claim that fails is marked
unverified; it is never passed off as fact."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from ..context import tokens
from ..errors import TetherError
from ..llm.types import Response
from .brief import brief
from .edits.workspace import PathRefused, resolve
from .runlog import RunLog
from .tools import Toolbox
from .untrusted import Fence
from .verify import VerifySettings

SYSTEM = """You answer questions about a code repository, using only the code shown to you.

{fence_rule}

Lines are shown as "number| code". After each sentence that states something about the code, cite
the lines that show it as [path:start-end], e.g. [shop/cart.py:12-18]. Write identifiers in
`backticks`. Be brief. If the code shown does not answer the question, say so."""

_CITATION = re.compile(r"\[?`?([\w./-]+\.\w+)`?(?::|,?\s+(?:on\s+|at\s+)?lines?\s+)(\d+)(?:\s*(?:[-–]|to)\s*(\d+))?\]?")
_IDENT = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?`")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\[(])")


@dataclass
class Citation:
    path: str
    start: int
    end: int
    ok: bool = False
    problem: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.start}-{self.end}"


@dataclass
class Claim:
    text: str
    citations: list[Citation]
    identifiers: list[str]
    verified: bool = False
    problems: list[str] = field(default_factory=list)


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
        return {"answer": self.text, "run": self.run_id, "model": r.model if r else None, "cost_usd": r.cost_usd if r else None,
                "usage": {"input_tokens": r.usage.input_tokens, "output_tokens": r.usage.output_tokens} if r else None,
                "claims": [asdict(c) for c in self.claims]}


def ask(grid, root: str | Path, question: str, model: str = "default", budget: int = 5000) -> Iterator[str | Answer]:
    """The answer's text as it streams, then the checked Answer."""
    root = Path(root).resolve()
    fence = Fence()
    log = RunLog(grid.store, root=str(root), command="ask", instruction=question, level="ask", model=model)
    toolbox = Toolbox(root, VerifySettings(timeout=30, output_cap=4000))  # ask runs no commands: reads and searches only
    try:
        context = brief(root, question, fence, budget, search=lambda q: toolbox.index().search(q, k=8), numbered=True)
    finally:
        toolbox.close()
    system = SYSTEM.format(fence_rule=fence.rule())
    messages = [{"role": "system", "content": system}, {"role": "user", "content": f"{context}\n\nThe question:\n{question}"}]
    log.step("prompt", system=system, user=messages[1]["content"], tokens=tokens.count(system + messages[1]["content"]))
    started, pieces, response = time.monotonic(), [], None
    try:
        for item in grid.stream(model, messages, max_tokens=1024):
            if isinstance(item, str):
                pieces.append(item)
                yield item
            else:
                response = item
    except (TetherError, KeyboardInterrupt) as e:
        log.finish("error" if isinstance(e, TetherError) else "interrupted", str(e) or "stopped", [])
        raise
    text = "".join(pieces)
    claims = check(root, text)
    log.step("reply", text=text, model=response.model, input_tokens=response.usage.input_tokens,
             output_tokens=response.usage.output_tokens, cost_usd=response.cost_usd, latency_ms=response.latency_ms)
    log.step("note", citations=[{"claim": c.text, "verified": c.verified, "problems": c.problems} for c in claims])
    log.totals(1, response.usage.input_tokens, response.usage.output_tokens, response.cost_usd, time.monotonic() - started)
    verified = sum(c.verified for c in claims)
    log.finish("answered", f"{verified} of {len(claims)} claims verified", [])
    yield Answer(text, claims, log.id, response)


def claims_of(text: str) -> list[str]:
    """Sentences and list items that say something (four words or more, or a citation)."""
    found = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*•>#").strip()
        if line.startswith("```"):
            continue
        for sentence in _SENTENCE.split(line):
            if len(sentence.split()) >= 4 or _CITATION.search(sentence):
                found.append(sentence.strip())
    return found


def check(root: Path, text: str) -> list[Claim]:
    claims = []
    lines_of: dict[str, list[str] | None] = {}
    for sentence in claims_of(text):
        citations = [Citation(m.group(1).lstrip("./"), int(m.group(2)), int(m.group(3) or m.group(2))) for m in _CITATION.finditer(sentence)]
        prose = _CITATION.sub("", sentence)
        idents = [i for i in _IDENT.findall(prose) if not re.fullmatch(r"[\w./-]+\.\w{1,4}", i)]  # file names are checked as paths
        claim = Claim(sentence, citations, idents)
        cited_text = []
        for c in citations:
            if c.path not in lines_of:
                lines_of[c.path] = _read_lines(root, c.path)
            lines = lines_of[c.path]
            if lines is None:
                c.problem = f"{c.path} is not a file in the workspace"
            elif c.start < 1 or c.end < c.start or c.start > len(lines):
                c.problem = f"{c.path} has {len(lines)} lines; {c.start}-{c.end} is not among them"
            else:
                c.ok = True
                cited_text.append("\n".join(lines[c.start - 1:min(c.end, len(lines))]))
        claim.problems = [c.problem for c in citations if not c.ok]
        if not citations:
            claim.problems.append("no citation")
        joined = "\n".join(cited_text)
        for ident in idents:
            if cited_text and re.search(rf"(?<![\w]){re.escape(ident.split('.')[-1])}(?![\w])", joined) is None:
                claim.problems.append(f"`{ident}` is not in the cited lines")
        claim.verified = not claim.problems
        claims.append(claim)
    return claims


def _read_lines(root: Path, path: str) -> list[str] | None:
    try:
        target, _ = resolve(root, path)
        return target.read_text(encoding="utf-8", errors="replace").splitlines() if target.is_file() else None
    except (PathRefused, OSError):
        return None
