"""Claims and their citations, checked: a claim holds when every citation names real lines of a
workspace file and every identifier it names in backticks is defined or used as code there."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from ...redaction import redact_file
from ..edits.workspace import PathRefused, readable

_CITATION = re.compile(r"\[?`?([\w./-]*\.\w+)`?(?::|,?\s+(?:on\s+|at\s+)?lines?\s+)(\d+)(?:\s*(?:[-–]|to)\s*(\d+))?\]?")


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
    shown: list[str] = field(default_factory=list)  # the cited lines, as `path:n  text`, for a person to check at a glance

    @property
    def state(self) -> str:
        """verified (the cited lines define or use, as code, what the claim names), unchecked (it
        names no code, so no line can confirm it) or unverified."""
        return (
            "verified"
            if self.verified
            else "unchecked"
            if not self.identifiers and self.citations and all(c.ok for c in self.citations)
            else "unverified"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "state": self.state}


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
    cited_text = "\n".join(line for c in citations for line in (_lines(root, c.path, lines_of) or [])[c.start - 1 : c.end])
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


def _names(claim: str) -> set[str]:
    """The code a claim names: `backticked` identifiers and snake_case or camelCase words."""
    return {i.split(".")[-1] for i in _IDENT.findall(claim)} | set(re.findall(r"\b[A-Za-z_]\w*(?:_\w+|[a-z][A-Z]\w*)\b", claim))


def _mentions(text: str, name: str) -> bool:
    """`name` stands in `text` as a whole word."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


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
        citations = [
            Citation(m.group(1).removeprefix("./"), int(m.group(2)), int(m.group(3) or m.group(2))) for m in _CITATION.finditer(sentence)
        ]
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
            cited_text.append("\n".join(lines[c.start - 1 : min(c.end, len(lines))]))
    claim.problems = [c.problem for c in citations if not c.ok]
    if not citations:
        claim.problems.append("no citation")
    elif not idents and not claim.problems:
        claim.problems.append("it names no code in `backticks`, so the cited lines cannot confirm it")
    claim.shown = [
        f"{c.path}:{n}  {line}"
        for c in citations
        if c.ok
        for n, line in enumerate(lines_of[c.path][c.start - 1 : min(c.end, c.start + 11)], c.start)
    ]
    joined = "\n".join(code for c in citations if c.ok for code in _code(c.path, lines_of)[c.start - 1 : c.end])
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
    for above in reversed(lines[: start - 1]):
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


def _holds(snippet, name: str) -> bool:
    """Whether a shown snippet (ask.Snippet) mentions `name` as code."""
    return any(_mentions(line, name) for line in snippet.lines)
