"""A repository as one document an LLM digests well: a token-annotated tree, then every file,
with exact token counts, secrets redacted, in text, markdown, XML or JSON, split into parts
that each fit a budget when asked."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TetherError
from ..redaction import redact_file, rules_for
from ..store import Schema, Store, register
from . import gitsource, tokens
from .compress import compress as compress_text
from .parallel import in_two
from .render import _block, _chunks, _part_marker
from .walk import SNIFF, is_binary, walk


@dataclass
class DigestFile:
    path: str
    size: int
    tokens: int = 0
    text: str | None = None  # None: binary, listed but not inlined
    redactions: int = 0
    lossy: bool = False  # undecodable bytes were replaced with U+FFFD
    compressed: bool = False
    key: bytes = b""  # hash of the file's bytes, for the token cache

    @property
    def binary(self) -> bool:
        return self.text is None


@dataclass
class Digest:
    root: Path
    source: str
    encoding: str
    files: list[DigestFile]
    skipped: list[tuple[str, str]]
    sections: dict[str, str] = field(default_factory=dict)  # "git log", "git diff" → text
    section_tokens: dict[str, int] = field(default_factory=dict)
    redactions: Counter = field(default_factory=Counter)

    @property
    def total_tokens(self) -> int:
        return sum(f.tokens for f in self.files) + sum(self.section_tokens.values())

    def summary(self) -> dict:
        return {
            "source": self.source,
            "encoding": self.encoding,
            "files": len(self.files),
            "binary_files": sum(f.binary for f in self.files),
            "total_tokens": self.total_tokens,
            "skipped": dict(Counter(reason for _, reason in self.skipped)),
            "redacted": dict(self.redactions),
            "lossy_files": [f.path for f in self.files if f.lossy],
        }

    def tree(self) -> str:
        """The folder tree with tokens per file and per folder."""
        folders: Counter = Counter()
        for f in self.files:
            parts = f.path.split("/")
            for depth in range(1, len(parts)):
                folders["/".join(parts[:depth])] += f.tokens
        lines = [f"{self.root.name}/ ({self.total_tokens:,} tokens)"]
        shown: set[str] = set()
        for f in sorted(self.files, key=lambda f: f.path):
            parts = f.path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in shown:
                    shown.add(folder)
                    lines.append(f"{'  ' * depth}{parts[depth - 1]}/ ({folders[folder]:,})")
            note = "binary" if f.binary else f"{f.tokens:,}"
            lines.append(f"{'  ' * len(parts)}{parts[-1]} ({note})")
        return "\n".join(lines)

    def render(self, fmt: str = "text") -> str:
        return "".join(_chunks(self, fmt, self.files, include_head=True))

    def write(self, stream, fmt: str = "text") -> None:
        """Render straight into a text stream, never holding the whole output in memory."""
        for chunk in _chunks(self, fmt, self.files, include_head=True):
            stream.write(chunk)

    def save(self, output: Path, fmt: str = "text", max_tokens: int | None = None) -> list[str]:
        """Write the digest to `output`, or in parts NAME-1.EXT, NAME-2.EXT … of at most
        `max_tokens` each; the paths written."""
        if not max_tokens:
            _write(output, lambda handle: self.write(handle, fmt))
            return [str(output)]
        parts = self.parts(fmt, max_tokens)
        written = []
        for number, text in enumerate(parts, start=1):
            target = output if len(parts) == 1 else output.with_name(f"{output.stem}-{number}{output.suffix}")
            _write(target, lambda handle, text=text: handle.write(text))
            written.append(str(target))
        return written

    def to_dict(self) -> dict:
        """Everything but the files (`render("json")` adds them, written file by file)."""
        summary = self.summary()
        return {
            **summary,
            "file_count": summary.pop("files"),
            "tree": self.tree(),
            "skipped_files": [{"path": p, "reason": r} for p, r in self.skipped],
            "sections": self.sections,
        }

    def page(self, number: int, max_tokens: int, fmt: str = "markdown") -> "DigestPage":
        """Part `number` (from 1) of the digest split as `parts` splits it."""
        parts = self.parts(fmt, max_tokens)
        if not 1 <= number <= len(parts):
            raise TetherError(f"page {number} does not exist: the digest has {len(parts)} page(s)")
        return DigestPage(
            number, len(parts), len(self.files), self.total_tokens, tokens.count(parts[number - 1], self.encoding), parts[number - 1]
        )

    def parts(self, fmt: str, max_tokens: int) -> list[str]:
        """The digest split into parts of at most `max_tokens` each (the header and tree go in
        the first). A file is cut only when it alone is larger than a part."""
        if fmt == "json":
            raise TetherError("--max-tokens splits text, markdown or xml output, not json")
        marker = tokens.count(_part_marker(fmt, 999, 999), self.encoding)  # "(part N of M)", at its longest
        head_cost = tokens.count("".join(_chunks(self, fmt, [], include_head=True)), self.encoding) + marker
        frame_cost = tokens.count("".join(_chunks(self, fmt, [], include_head=False)), self.encoding) + marker
        if head_cost >= max_tokens:
            raise TetherError(f"--max-tokens {max_tokens} is smaller than the digest's header and tree ({head_cost} tokens)")
        parts: list[list[DigestFile]] = [[]]
        budgets = [max_tokens - head_cost]
        for f in self.files:
            for piece in _fit(f, fmt, max_tokens - frame_cost, self.encoding):
                cost = _block_tokens(piece, fmt, self.encoding)
                if cost > budgets[-1] and parts[-1]:
                    parts.append([])
                    budgets.append(max_tokens - frame_cost)
                parts[-1].append(piece)
                budgets[-1] -= cost
        rendered = ["".join(_chunks(self, fmt, files, include_head=(i == 0))) for i, files in enumerate(parts)]
        return [_part_marker(fmt, i + 1, len(rendered)) + text for i, text in enumerate(rendered)] if len(rendered) > 1 else rendered


@dataclass(frozen=True)
class DigestPage:
    """One part of a digest read page by page: its text and tokens, and the whole digest's size."""

    page: int
    pages: int
    files: int
    total_tokens: int
    tokens: int
    text: str

    def to_dict(self) -> dict:
        return {
            "page": self.page,
            "pages": self.pages,
            "files": self.files,
            "total_tokens": self.total_tokens,
            "tokens": self.tokens,
            "text": self.text,
        }


def digest(
    path: str | Path,
    *,
    include=(),
    exclude=(),
    encoding: str = "o200k_base",
    order: str = "path",
    max_file_bytes: int = 1_000_000,
    max_total_bytes: int = 100_000_000,
    compress: bool = False,
    redact: bool = True,
    git_diff: bool = False,
    git_log: int = 0,
    ref: str | None = None,
    subdir: str | None = None,
    cache: bool = True,
    leave_out=(),
) -> Digest:
    """Digest a local folder or a git URL (cloned into a cache at `ref`), or a `subdir` of it.
    `leave_out`: files never to include (the digest's own output, written inside the folder)."""
    source = str(path)
    tokens.check(encoding)  # bad options fail before any work
    if ref and not gitsource.is_url(source):
        raise TetherError("--ref is for git URLs; for a local repository, check the ref out first")
    root = gitsource.checkout(source, ref) if gitsource.is_url(source) else Path(path)
    if subdir:
        inner = Path(os.path.realpath(root / subdir))
        if not (inner == Path(os.path.realpath(root)) or Path(os.path.realpath(root)) in inner.parents):
            raise TetherError(f"--subdir {subdir} leads outside the source; give a folder inside it")
        root = inner
    found = walk(root, include, exclude, max_file_bytes=max_file_bytes)
    files, skipped, total = [], list(found.skipped), 0
    own = {os.path.realpath(p) for p in leave_out}
    for entry in found.files:
        if own and os.path.realpath(found.root / entry.path) in own:
            skipped.append((entry.path, "the digest's own output"))
            continue
        item = _read(found.root, entry.path, entry.size, entry.binary, skipped)
        if item is None:
            continue
        if item.text is not None:
            total += item.size
            if total > max_total_bytes:
                skipped.append((item.path, f"over the total of {max_total_bytes:,} bytes"))
                continue
        files.append(item)
    redactions = _prepare([f for f in files if f.text], found.root, encoding, redact, compress, cache)
    if order == "changes":
        changes = gitsource.change_counts(found.root)
        files.sort(key=lambda f: (changes.get(f.path, 0), f.path))  # most changed last, nearest the question
    elif order != "path":
        raise TetherError(f"--order must be path or changes (got {order!r})")
    result = Digest(found.root, source, encoding, files, skipped, redactions=redactions)
    if git_log:
        result.sections["git log"] = gitsource.log(found.root, git_log)
    if git_diff:
        result.sections["git diff"] = gitsource.diff(found.root)
    result.section_tokens = {name: tokens.count(text, encoding) for name, text in result.sections.items()}
    return result


def _write(target: Path, fill) -> None:
    try:
        with open(target, "w", encoding="utf-8") as handle:
            fill(handle)
    except OSError as e:
        raise TetherError(f"cannot write {target}: {e.strerror or e}") from None


def _read(root: Path, rel: str, size: int, binary: bool, skipped: list) -> DigestFile | None:
    if binary:
        return DigestFile(rel, size)
    try:
        with open(root / rel, "rb") as handle:
            data = handle.read()
    except OSError as e:
        skipped.append((rel, f"unreadable ({e.strerror or e})"))
        return None
    if is_binary(data[:SNIFF]):
        return DigestFile(rel, size)
    try:
        text, lossy = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, lossy = data.decode("utf-8", errors="replace"), True
    return DigestFile(rel, size, text=text.removeprefix("\ufeff"), lossy=lossy, key=hashlib.blake2b(data, digest_size=16).digest())


def _prepare(files: list[DigestFile], root: Path, encoding: str, redact: bool, compress: bool, cache: bool) -> Counter:
    """Redact, compress and count every file. Results for content seen before come from the
    token cache (keyed by the file's bytes, the encoding and the options); the rest are worked
    out, a large batch split in two with one half in a forked child, since the tokenizer holds
    the GIL and the child shares its loaded tables."""
    store = _cache_store() if cache and not compress else None
    keys = [
        hashlib.blake2b(f.key + f"{encoding}:{rules_for(root / f.path) if redact else 0}".encode(), digest_size=16).digest() for f in files
    ]  # the redaction's rules and the file's names (`.env`, a link's target) decide what it redacts, as its bytes do
    results: dict[int, tuple] = {}
    if store is not None:
        known = _cached(store, keys)
        for i, key in enumerate(keys):
            if key in known:
                _, count, text, found = known[key]
                results[i] = (count, text, Counter(json.loads(found)) if found else Counter(), False)
    todo = [i for i in range(len(files)) if i not in results]
    jobs = [(files[i].path, files[i].text) for i in todo]
    if jobs:
        tokens.load(encoding)  # before any fork, so that both processes share the loaded tables
    worked = in_two(lambda part: _work(part, root, encoding, redact, compress), jobs, [len(t) for _, t in jobs])
    results.update(zip(todo, worked, strict=False))
    if store is not None:
        if todo:
            _remember(store, [(keys[i], results[i][0], results[i][1], json.dumps(results[i][2]) if results[i][2] else None) for i in todo])
        store.close()
    found: Counter = Counter()
    for i, (count, text, redacted, compressed) in results.items():
        f = files[i]
        f.tokens, f.compressed = count, compressed
        if text is not None:
            f.text = text
        f.redactions = sum(redacted.values())
        found.update(redacted)
    return found


# The token cache: a file's count, redacted text and secrets found, keyed by its bytes and the
# options that decide them. Only this module reads or writes it.
SCHEMA = register(
    Schema(
        "token_cache",
        [
            """
    CREATE TABLE token_cache (
        key      BLOB PRIMARY KEY,
        tokens   INTEGER NOT NULL,
        redacted TEXT,
        found    TEXT
    ) WITHOUT ROWID;
    """
        ],
        legacy=(2,),
    )
)


def _cache_store():
    try:
        return Store().ensure(SCHEMA)
    except TetherError:
        return None  # no writable data dir: work without the cache


def _cached(store, keys: list[bytes]) -> dict:
    """key → (key, tokens, redacted, found) of the keys the cache holds."""
    return {bytes(r[0]): r for r in store.query_many("SELECT key, tokens, redacted, found FROM token_cache WHERE key IN", keys)}


def _remember(store, rows: list[tuple]) -> None:
    """(key, tokens, redacted text or None, found as JSON or None) rows, all or none."""
    store.write_many("INSERT OR REPLACE INTO token_cache (key, tokens, redacted, found) VALUES (?,?,?,?)", rows)


def _work(jobs: list[tuple[str, str]], root: Path, encoding: str, redact: bool, compress: bool) -> list[tuple]:
    """(tokens, the new text if it changed, secrets found, compressed) for each file."""
    out = []
    for path, text in jobs:
        changed, found, compressed = None, Counter(), False
        if redact:
            redacted, found = redact_file(root / path, text)  # the path opened: a link is judged by its target's name too
            if found:
                text = changed = redacted
        if compress:
            shorter = compress_text(path, text)
            if shorter is not None:
                text = changed = shorter
                compressed = True
        out.append((tokens.count(text, encoding), changed, found, compressed))
    return out


# -- rendering ------------------------------------------------------------------------------------


def _block_tokens(f: DigestFile, fmt: str, encoding: str) -> int:
    """A file block's exact cost. Text and markdown blocks open and close at line boundaries,
    where the tokenizer splits, so the file's known count plus its frame's adds up; XML escapes
    the text and opens it mid-line, so it is counted whole."""
    if f.text is None or fmt == "xml":
        return tokens.count(_block(f, fmt), encoding)
    return f.tokens + tokens.count(_block(DigestFile(f.path, f.size, 0, ""), fmt), encoding)


def _fit(f: DigestFile, fmt: str, max_tokens: int, encoding: str) -> list[DigestFile]:
    """The file whole, or cut at line boundaries into pieces that each fit a part."""
    if f.text is None or _block_tokens(f, fmt, encoding) <= max_tokens - 64:
        return [f]
    pieces, lines, budget = [], [], max_tokens - 64 - tokens.count(_block(DigestFile(f.path + " (part 99)", 0, 0, ""), fmt), encoding)
    used = 0
    for line in f.text.splitlines(keepends=True):
        cost = tokens.count(line, encoding)
        if lines and used + cost > budget:
            pieces.append("".join(lines))
            lines, used = [], 0
        lines.append(line)
        used += cost
    pieces.append("".join(lines))
    return [DigestFile(f"{f.path} (part {i + 1} of {len(pieces)})", f.size, tokens.count(p, encoding), p) for i, p in enumerate(pieces)]
