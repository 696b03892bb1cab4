"""`tether ask`: an answer about the repository whose every claim cites `path:start-end`, and
whose citations are checked after generation — the file exists, the lines exist, and the
identifiers the claim names in backticks stand in those lines. A claim that fails is marked
unverified; it is never passed off as fact."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Iterator

from ...context import tokens
from ...context.symbols import named_in
from ...errors import Cancelled, TetherError
from ...llm.types import Response
from ...redaction import redact_file
from ..edits.workspace import PathRefused, readable
from ..agent.progress import CallProgress
from ..history.runlog import RunLog
from ..agent.tools import Toolbox
from ..guard.untrusted import Fence
from ..guard.verify import VerifySettings

SYSTEM = """You answer questions about a code repository from the numbered snippets shown to you,
and from nothing else.

{fence_rule}

Reply with JSON: {{"claims": [{{"text": "...", "snippets": ["S1"]}}]}}. Each claim is one short
sentence about the code, with identifiers in `backticks`, and lists the ids of the snippets that
show it. {count} claims, one fact each. If the snippets do not answer the question, give one claim
saying so, with no snippets."""

CONTEXT_TOKENS = 1000  # of snippets' bare lines: on the embedded model the prompt is most of the wait (~50 tokens/s read on 2 AVX2 cores)
MAX_CLAIM = 240  # characters of one claim: the schema's bound, so a small model's JSON ends in time
_CITATION = re.compile(r"\[?`?([\w./-]*\.\w+)`?(?::|,?\s+(?:on\s+|at\s+)?lines?\s+)(\d+)(?:\s*(?:[-–]|to)\s*(\d+))?\]?")
_IDENT = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?`")
_CLAIM = re.compile(r'\{\s*"text"\s*:\s*"(?:[^"\\]|\\.)*"\s*,\s*"snippets"\s*:\s*\[[^\]]*\]\s*\}')
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
    shown: list[str] = field(default_factory=list)  # the cited lines, as `path:n  text`, for a person to check at a glance

    @property
    def state(self) -> str:
        """verified (the cited lines define or use, as code, what the claim names), unchecked (it
        names no code, so no line can confirm it) or unverified."""
        return "verified" if self.verified else "unchecked" if not self.identifiers and self.citations and \
            all(c.ok for c in self.citations) else "unverified"

    def to_dict(self) -> dict:
        return {**asdict(self), "state": self.state}


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
                "usage": r.usage.to_dict() if r else None,
                "claims": [c.to_dict() for c in self.claims]}


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


def ask(grid, root: str | Path, question: str, model: str = "default", budget: int | None = None, shown: list[Snippet] | None = None,
        command: str = "ask", claims: tuple[int, int] = (1, 5), on_event=None, cancel=None) -> Iterator[str | Answer]:
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
            shown = snippets(root, question, budget or CONTEXT_TOKENS, lambda q: toolbox.index().search(q, k=12), toolbox.index().definitions)
        finally:
            toolbox.close()
    context = "\n\n".join(fence.wrap(s.source, "".join(s.lines)) for s in shown) or "(no code matched the question)"
    system = SYSTEM.format(fence_rule=fence.rule(), count=f"{max(2, claims[0])} to {claims[1]}")
    messages = [{"role": "system", "content": system}, {"role": "user", "content": f"{context}\n\nThe question:\n{question}"}]
    log = RunLog(grid.store, root=str(root), command=command, instruction=question, level="ask", model=model)
    log.step("prompt", system=system, user=messages[1]["content"], tokens=tokens.count(system + messages[1]["content"]))
    started, pieces, response, told = time.monotonic(), [], None, 0
    try:
        for item in grid.stream(model, messages, max_tokens=600, schema=_schema([s.id for s in shown], claims), cancel=cancel,
                                progress=CallProgress(on_event) if on_event else None):
            if isinstance(item, str):
                pieces.append(item)
                done = _finished_texts("".join(pieces))
                for text in done[told:]:
                    yield f"- {text}\n"
                told = len(done)
            else:
                response = item
    except BaseException as e:  # a stop, a failure, Ctrl-C or a caller that stopped reading: never left "running"
        log.finish("stopped" if isinstance(e, Cancelled) else "error" if isinstance(e, TetherError) else "interrupted", str(e) or "stopped", [])
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


def answer(grid, root: str | Path, question: str, model: str = "default", **options) -> Answer:
    """The checked Answer alone, for a caller that shows nothing until it is done (`ask`'s options)."""
    return next(x for x in ask(grid, root, question, model, **options) if isinstance(x, Answer))


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
        snippet = Snippet(f"S{len(found) + 1}", h.path, h.start, [line + "\n" for line in lines[h.start - 1:min(h.end, h.start + 59)]])
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


def _facts(text: str) -> list[str]:
    """A claim's sentences, each a fact of its own (a short one stays with the one before), so
    that one wrong sentence drops itself, not the true ones beside it."""
    facts: list[str] = []
    for sentence in _SENTENCE.split(text):
        if facts and (len(sentence.split()) < 4 or facts[-1].endswith(("e.g.", "i.e.", "etc.", "vs."))):
            facts[-1] += " " + sentence
        else:
            facts.append(sentence)
    return facts


def _true_names(text: str, shown) -> str:
    """A small model misspells a real name: drops a private name's leading underscores
    (`AnnotationExtractor` for `_AnnotationExtractor`) or the case of a compound one
    (`requestsCookieJar`). A backticked name that no shown snippet holds, where exactly one name
    of the snippets matches it so, is written as the code spells it, so the claim names what it
    is about. One-word names keep their case: `Session` and `session` are different things."""
    known: set[str] | None = None
    for name in set(_IDENT.findall(text)):
        if "." in name or any(_holds(s, name) for s in shown):
            continue
        if known is None:
            known = {w for s in shown for line in s.lines for w in re.findall(r"(?<!\w)[A-Za-z_]\w*", line)}
        bare = name.lstrip("_")
        compound = any(c.isupper() for c in bare[1:]) or "_" in bare
        same = {w for w in known if w.lstrip("_") == bare or (compound and w.lstrip("_").lower() == bare.lower())}
        if len(same) == 1:
            text = re.sub(rf"`{re.escape(name)}(\(\))?`", rf"`{same.pop()}\1`", text)
    return text


def _definitions(root: Path, text: str, citations: list[Citation], lines_of: dict) -> list[Citation]:
    """Where a name the claim gives in backticks, but none of its cited lines hold, is defined in
    one of the files it cites (`def head` further down api.py): a citation of that line, so a
    true claim is not dropped for a snippet that was not shown."""
    found = []
    cited_text = "\n".join(line for c in citations for line in (_lines(root, c.path, lines_of) or [])[c.start - 1:c.end])
    for name in dict.fromkeys(i.split(".")[-1] for i in _IDENT.findall(text)):
        if _mentions(cited_text, name):
            continue
        defines = _defining(name)
        for path in dict.fromkeys(c.path for c in citations):
            line = next((n for n, x in enumerate(_lines(root, path, lines_of) or [], 1) if defines.match(x)), None)
            if line:
                found.append(Citation(path, line, line))
                break
    return found


def _defining(name: str) -> re.Pattern:
    """A line that defines `name`: a def or class, or an assignment at the top level."""
    return re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*[:=]", re.M)


def _whole(text: str, limit: int = MAX_CLAIM) -> str:
    """A claim the schema's length cut mid-sentence, back to its last whole sentence (or word),
    so that a half-written `identif` is not checked as a name."""
    if len(text) < limit - 1:
        return text
    end = max(text.rfind(". "), text.rfind("; "))
    text = text[:end + 1] if end > 20 else text[:text.rfind(" ")].rstrip(",;:") + " …"
    return text[:text.rfind("`")].rstrip() + " …" if text.count("`") % 2 else text


def _names(claim: str) -> set[str]:
    """The code a claim names: `backticked` identifiers and snake_case or camelCase words."""
    return {i.split(".")[-1] for i in _IDENT.findall(claim)} | set(re.findall(r"\b[A-Za-z_]\w*(?:_\w+|[a-z][A-Z]\w*)\b", claim))


def _mentions(text: str, name: str) -> bool:
    """`name` stands in `text` as a whole word."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def _holds(snippet: Snippet, name: str) -> bool:
    return any(_mentions(line, name) for line in snippet.lines)


def _narrow(claim: str, snippet: Snippet) -> Citation:
    """The snippet's lines that hold the claim's identifiers (the whole snippet when none does)."""
    names = _names(claim)
    hold = [snippet.start + n for n, line in enumerate(snippet.lines) if any(_mentions(line, x) for x in names)]
    start, end = (min(hold), max(hold)) if hold else (snippet.start, snippet.end)
    return Citation(snippet.path, start, end)


def _schema(ids: list[str], claims: tuple[int, int] = (1, 5)) -> dict:
    """Bounded, so that even a rambling small model ends its JSON inside `max_tokens`."""
    ref = {"type": "string", "enum": ids} if ids else {"type": "string"}
    return {"type": "object", "properties": {"claims": {"type": "array", "minItems": claims[0], "maxItems": claims[1], "items": {
        "type": "object", "properties": {"text": {"type": "string", "maxLength": MAX_CLAIM},
                                         "snippets": {"type": "array", "maxItems": 3, "items": ref}},
        "required": ["text", "snippets"]}}}, "required": ["claims"]}


def _finished_texts(partial: str) -> list[str]:
    """The claim texts a reply still being written has finished, for showing them as they come."""
    found = []
    for m in re.finditer(r'"text"\s*:\s*"((?:[^"\\]|\\.)*)"', partial):
        try:
            found.append(json.loads(f'"{m.group(1)}"'))
        except json.JSONDecodeError:
            continue
    return found


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
    """The claims of cited prose (`[path:start-end]` after each sentence), each verified."""
    lines_of: dict[str, list[str] | None] = {}
    claims = []
    for sentence in claims_of(text):
        citations = [Citation(m.group(1).removeprefix("./"), int(m.group(2)), int(m.group(3) or m.group(2))) for m in _CITATION.finditer(sentence)]
        claims.append(verify(root, sentence, _CITATION.sub("", sentence), citations, lines_of))
    return claims


def verify(root: Path, text: str, prose: str, citations: list[Citation], lines_of: dict) -> Claim:
    """A claim holds when every citation names real lines of a workspace file and every
    identifier the claim names in backticks is defined there, or is used there as code — a name
    in a docstring, a comment or a string does not count — or the lines stand inside its
    definition. A claim that names no identifier cannot be checked: it is never verified."""
    idents = [i for i in _IDENT.findall(prose) if not _file_name(root, i)]  # file names are checked as paths
    claim = Claim(text, citations, idents)
    cited_text = []
    for c in citations:
        lines = _lines(root, c.path, lines_of)
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
    elif not idents and not claim.problems:
        claim.problems.append("it names no code in `backticks`, so the cited lines cannot confirm it")
    claim.shown = [f"{c.path}:{n}  {line}" for c in citations if c.ok
                   for n, line in enumerate(lines_of[c.path][c.start - 1:min(c.end, c.start + 11)], c.start)]
    joined = "\n".join(code for c in citations if c.ok for code in _code(c.path, lines_of)[c.start - 1:c.end])
    places = {part for c in citations if c.ok for part in PurePosixPath(c.path).with_suffix("").parts}  # `utils` of utils.py
    places |= {name for c in citations if c.ok for name in _enclosing(lines_of[c.path], c.start)}  # `Cart` of a method of Cart
    places.add(root.name)  # the project itself (`attrs`)
    for ident in idents:
        if cited_text and ident not in places and not _mentions(joined, ident.split(".")[-1]):
            claim.problems.append(f"`{ident}` is not in the cited lines")
    claim.verified = not claim.problems
    return claim


_STRINGS = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`")
_COMMENT = re.compile(r"(?://|#|--)\s.*$|/\*.*?\*/")


def _file_name(root: Path, name: str) -> bool:
    """Whether a backticked name is a file (`src/app.py`, or `setup.py` where there is one), not
    code like `Region.area` or `os.path`, which must stand in the cited lines."""
    if not re.fullmatch(r"[\w./-]+\.\w{1,4}", name):
        return False
    return "/" in name or (".." not in name and (root / name).is_file())


def _code(path: str, lines_of: dict) -> list[str]:
    """The file's lines with comments and string literals (docstrings too) blanked: what the
    code itself says. Python is read by its tokenizer; other languages by their common marks."""
    key = ("code", path)
    if key not in lines_of:
        lines = lines_of[path] or []
        lines_of[key] = _python_code(lines) if path.endswith(".py") else None
        if lines_of[key] is None:
            lines_of[key] = [_COMMENT.sub("", _STRINGS.sub('""', line)) for line in lines]
    return lines_of[key]


def _python_code(lines: list[str]) -> list[str] | None:
    import io
    import tokenize

    blank = [list(line) for line in lines]
    quiet = {tokenize.STRING, tokenize.COMMENT} | {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    try:
        for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if tok.type not in quiet:
                continue
            (row, col), (end_row, end_col) = tok.start, tok.end
            for r in range(row, min(end_row, len(blank)) + 1):
                first, last = (col if r == row else 0), (end_col if r == end_row else len(blank[r - 1]))
                blank[r - 1][first:last] = " " * (last - first)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return ["".join(chars) for chars in blank]


def _enclosing(lines: list[str], start: int) -> set[str]:
    """The classes and functions whose bodies hold line `start`, read by indentation."""
    names: set[str] = set()
    line = lines[start - 1]
    indent = len(line) - len(line.lstrip()) if line.strip() else 1 << 30
    for above in reversed(lines[:start - 1]):
        depth = len(above) - len(above.lstrip())
        if above.strip() and depth < indent:
            if m := re.match(r"\s*(?:async\s+)?(?:def|class)\s+(\w+)", above):
                names.add(m.group(1))
            indent = depth
            if depth == 0:
                break
    return names


def _lines(root: Path, path: str, lines_of: dict) -> list[str] | None:
    """`file_lines`, each file read once per answer."""
    if path not in lines_of:
        lines_of[path] = file_lines(root, path)
    return lines_of[path]


def file_lines(root: Path, path: str) -> list[str] | None:
    """A workspace file's lines, redacted, its real path confined to the workspace (None when it is not one)."""
    try:
        target, rel = readable(root, path)
        return redact_file(target, target.read_text(encoding="utf-8", errors="replace"))[0].splitlines() if target.is_file() else None
    except (PathRefused, OSError):
        return None
