"""Applying a reply's edits to the workspace: all of them or none.

Every block is resolved and matched in memory first; if one fails, nothing is written. Then the
new contents are written through the journal (journal.py): a process killed at any moment leaves
the old files or the new ones, never a torn file, half of a change or a temporary file."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from ... import config
from ...errors import TetherError
from ...redaction import MARKER, redact_file
from . import search_replace, udiff, whole
from .journal import path_for, write_files
from .match import ELISION, NoMatch, apply_elided, locate, split_elided
from .model import ApplyReport, BlockResult, Edit
from .splice import splice
from .workspace import PathRefused, TextFile, protected, refuse_ignored, resolve

PARSERS = {"search-replace": search_replace.parse, "udiff": udiff.parse, "whole": whole.parse}


DEFAULT_FORMATS = ("search-replace", "udiff")  # whole files only when the prompt asked for them


def parse_reply(reply: str, formats: tuple[str, ...] = DEFAULT_FORMATS) -> list[Edit]:
    """Every SEARCH/REPLACE block and diff of the reply, in the order they stand; whole-file
    blocks (when asked for) only when there is neither, since any fenced code could pass for one."""
    edits = [e for name in formats if name != "whole" for e in PARSERS[name](reply)]
    if not edits and "whole" in formats:
        edits = PARSERS["whole"](reply)
    edits.sort(key=lambda e: (e.line, e.block))
    for number, edit in enumerate(edits, start=1):
        edit.block = number
    return edits


def apply_text(root: str | Path, reply_text: str, formats: tuple[str, ...] = DEFAULT_FORMATS) -> ApplyReport:
    report, plan = propose(root, reply_text, formats)
    if report.applied:
        report.changed, report.diff = plan.commit()
    return report


def propose(
    root: str | Path, reply_text: str, formats: tuple[str, ...] = DEFAULT_FORMATS, keep=None, edits: list[Edit] | None = None
) -> tuple[ApplyReport, "Plan"]:
    """Every edit of the reply matched in memory, nothing written: the report says whether all
    would apply, and the plan (its `texts` may still be changed, e.g. hunk by hunk) commits them.
    `keep(path)` false leaves that file's edits out (they are reported in `left_out`); `edits`
    already parsed from the reply are not parsed again."""
    root = config.workspace(root)
    _recover(root)
    plan = Plan(root)
    edits = parse_reply(reply_text, formats) if edits is None else edits
    if not edits:
        error = "no edit blocks found in the reply"
        if re.search(r"^\s*(<{5,9}|>{5,9})\s*(SEARCH|REPLACE)", reply_text, re.M | re.I):
            error += ": a block needs all three marker lines, <<<<<<< SEARCH, ======= and >>>>>>> REPLACE"
        return ApplyReport(False, [BlockResult(0, "", False, error=error)]), plan
    plan.keep = keep
    results = [plan.add(edit) for edit in edits]
    report = ApplyReport(all(r.ok for r in results), results, left_out=sorted({r.path for r in results if r.how == "left out"}))
    if report.applied:
        report.changed = [rel for rel, _, _ in plan.changes()]
        report.diff = plan.diff()
    return report, plan


def _recover(root: Path) -> None:
    """An interrupted write is finished (and recorded for undo) or undone before anything is read."""
    if path_for(root).exists():
        from ..history.checkpoints import Checkpoints  # same floor; only a crash's journal needs the undo history

        Checkpoints(root)


class Plan:
    """The workspace as the edits would leave it, kept in memory until commit."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, TextFile | None] = {}  # relative path -> original (None: did not exist)
        self.texts: dict[str, str | None] = {}  # relative path -> new text (None: deleted)
        self.known_files: list[str] | None = None
        self.keep = None  # a path predicate: edits to other files are left out, not applied
        self._diff: tuple | None = None

    def _current(self, rel: str, target: Path) -> str | None:
        if rel not in self.texts:
            original = TextFile.read(target) if target.is_file() else None
            self.files[rel] = original
            self.texts[rel] = original.text if original else None
        return self.texts[rel]

    def _target(self, edit: Edit) -> tuple[Path, str]:
        """The file an edit means: its path, else the one file that holds its SEARCH lines, else
        the file whose name it misspelt."""
        if not edit.path.strip() and edit.action == "replace" and edit.search.strip():
            edit.path = self._holder(edit.search) or ""
        target, rel = resolve(self.root, edit.path)
        if edit.action == "write" and self._current(rel, target) is None:
            target, rel = self._same_file(edit.path, target, rel)
        if edit.action in ("replace", "append", "delete", "rename") and self._current(rel, target) is None:
            try:
                target, rel = self._guess(edit.path)
            except NoMatch:
                if edit.action != "replace" or not (holder := self._holder(edit.search, required=False)):
                    raise
                target, rel = resolve(self.root, holder)
        return target, rel

    def add(self, edit: Edit) -> BlockResult:
        result = BlockResult(edit.block, edit.path, False)
        try:
            target, rel = self._target(edit)
            result.path = rel
            _refuse_protected(self.root, rel)
            if self.keep is not None and not self.keep(rel):
                result.ok, result.how = True, "left out"
                return result
            text = self._current(rel, target)
            if edit.action in ("create", "write"):
                if edit.action == "create" and text is not None:
                    raise NoMatch(f"{rel} exists already; to change it, give SEARCH lines from it")
                old_lines, new_lines = len((text or "").splitlines()), len(edit.replace.splitlines())
                if edit.action == "write" and text is not None and (spliced := splice(rel, text, edit.replace)) is not None:
                    self.texts[rel], result.how = spliced, "spliced"  # the definitions it changes; the rest stays
                elif edit.action == "write" and not edit.anew and old_lines > 10 and new_lines < old_lines / 2:
                    raise NoMatch(
                        f"the new {rel} would keep {new_lines} of its {old_lines} lines; a whole-file reply must hold the complete file"
                    )
                else:
                    self.texts[rel] = edit.replace
                    result.how = "created" if text is None else "rewritten"
            elif edit.action == "delete":
                self.texts[rel] = None
                result.how = "deleted"
            elif edit.action == "rename":
                new_target, new_rel = resolve(self.root, edit.new_path or "")
                _refuse_protected(self.root, new_rel)
                if self._current(new_rel, new_target) is not None:
                    raise NoMatch(f"cannot rename to {new_rel}: it exists")
                self.texts[new_rel], self.texts[rel] = text, None
                result.how = f"renamed to {new_rel}"
            elif edit.action == "append":
                self.texts[rel] = (text or "") + ("" if not text or text.endswith("\n") else "\n") + edit.replace
                result.how = "appended"
            else:
                try:
                    self.texts[rel], result.how = _replace(text or "", edit)
                except NoMatch:  # not here, even loosely: a block under the wrong file's name?
                    holder = self._holder(edit.search, required=False)
                    if not holder or holder == rel or (self.keep is not None and not self.keep(holder)):
                        raise
                    result.path = rel = holder
                    _refuse_protected(self.root, rel)
                    self.texts[rel], result.how = _replace(self._current(rel, self.root / rel) or "", edit)
            _refuse_markers(text, self.texts.get(rel), rel)
            result.ok = True
        except TetherError as e:  # PathRefused included
            result.error = str(e)
        except NoMatch as e:
            result.error = str(e)
            if e.nearest is not None and result.path in self.texts and self.texts[result.path] is not None:
                lines = (self.texts[result.path] or "").splitlines()
                start, end = e.nearest
                snippet = redact_file(self.root / result.path, "\n".join(lines[start:end]))[0]  # it goes back to a model
                result.hint = f"{result.path}:{start + 1}\n{snippet}"
        return result

    def _same_file(self, path: str, target: Path, rel: str) -> tuple[Path, str]:
        """A whole file under a name that only differs from an existing one by case, or by the
        prompt's placeholder folder `path/to/`, is that file."""
        wanted = path.strip().removeprefix("path/to/").lower()
        hits = [f for f in self._known() if f.lower() == wanted]
        return resolve(self.root, hits[0]) if len(hits) == 1 else (target, rel)

    def _holder(self, search: str, required: bool = True) -> str | None:
        """The one file a block without a path (or under a wrong one) must mean: the only one
        holding its SEARCH lines, whitespace aside."""
        holders = [rel for rel in self._known() if _holds(self._current(rel, self.root / rel) or "", search)] if search.strip() else []
        if len(holders) != 1 and not required:
            return None
        if len(holders) != 1:
            raise NoMatch(
                "the block names no file; put the file's path on the line before it"
                + (f" (its SEARCH lines are in {', '.join(holders[:5])})" if holders else "")
            )
        return holders[0]

    def _known(self) -> list[str]:
        if self.known_files is None:
            from ...context.walk import walk

            self.known_files = [f.path for f in walk(self.root).files if not f.binary]
        return self.known_files

    def _guess(self, path: str) -> tuple[Path, str]:
        """The one workspace file a missing or sloppy path surely means (same tail or same name)."""
        wanted = path.strip().replace("\\", "/").lstrip("./")
        for test in (lambda f: f.endswith("/" + wanted), lambda f: f.rsplit("/", 1)[-1] == wanted.rsplit("/", 1)[-1]):
            hits = [f for f in self._known() if test(f)]
            if len(hits) == 1:
                return resolve(self.root, hits[0])
            if len(hits) > 1:
                raise NoMatch(f"{path} does not exist and could mean {', '.join(hits[:5])}; give the full path")
        raise NoMatch(f"{path} does not exist")

    def changes(self) -> list[tuple[str, str | None, str | None]]:
        """(path, text before, text after) of every file the plan changes; None: absent."""
        found = []
        for rel, text in self.texts.items():
            original = self.files.get(rel)
            before = original.text if original else None
            if text != before:
                found.append((rel, before, text))
        return found

    def diff(self) -> str:
        """The plan's diff, made once per state of its texts (a review may change them)."""
        key = tuple(self.texts.items())
        if self._diff is None or self._diff[0] != key:
            self._diff = (key, "".join(unified_diff(before, after, rel) for rel, before, after in self.changes()))
        return self._diff[1]

    def commit(self, meta: dict | None = None, then=None) -> tuple[list[str], str]:
        """Write the plan, all or none (see journal; a link swapped onto a path since the plan was
        made is refused there); `meta` is kept in the journal for recovery, and `then()` records
        the change before the journal goes."""
        changes, diff = self.changes(), self.diff()
        writes = []
        for rel, _, text in changes:
            original = self.files.get(rel)
            data = None if text is None else (original or TextFile("")).encode(text)
            writes.append((rel, data, original.mode if original and original.mode is not None else None))
        write_files(self.root, writes, meta, guard=self._unchanged, then=then)
        return [rel for rel, _, _ in writes], diff

    def _unchanged(self) -> None:
        """Every file the plan writes still holds what the plan read (another process may have
        written it since): a lost update is refused, not made."""
        for rel, before, _ in self.changes():
            target = self.root / rel
            now = TextFile.read(target).text if target.is_file() else None
            if now != before:
                raise TetherError(f"{rel} changed while the edit was planned (another process wrote it); nothing was written")


def _refuse_markers(before: str | None, after: str | None, rel: str) -> None:
    """The model saw secrets as redaction markers; writing a marker back would destroy a secret."""
    if after and (after.count(MARKER) > (before or "").count(MARKER)):
        raise NoMatch(
            f"the change to {rel} writes a {MARKER}…] marker where the file holds a secret that was hidden"
            " from you; leave the lines with secrets out of the edit"
        )


def _refuse_protected(root: Path, rel: str) -> None:
    """Protected files (tether's own, the leash's) and what the ignore files leave out: an edit
    must not read them either, since its diff and its nearest-match hint show the file."""
    reason = protected(root, rel)
    if reason:
        raise PathRefused(reason)
    refuse_ignored(root, rel, "read or change")


def _holds(text: str, search: str) -> bool:
    wanted = [line.strip() for line in search.splitlines() if line.strip()]
    have = [line.strip() for line in text.splitlines() if line.strip()]
    return bool(wanted) and any(have[i : i + len(wanted)] == wanted for i in range(len(have) - len(wanted) + 1))


def unified_diff(before: str | None, after: str | None, rel: str, context: int = 3) -> str:
    """`diff -u` of one file. Only the stretch between the common head and tail is compared, so a
    small change to a large file costs little."""
    old, new = (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True)
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    start = max(0, head - context)
    old_mid, new_mid = old[start : len(old) - max(0, tail - context)], new[start : len(new) - max(0, tail - context)]
    body = difflib.unified_diff(
        old_mid, new_mid, "/dev/null" if before is None else f"a/{rel}", "/dev/null" if after is None else f"b/{rel}", n=context
    )
    shift = lambda m: f"@@ -{int(m.group(1)) + start}{m.group(2) or ''} +{int(m.group(3)) + start}{m.group(4) or ''} @@"  # noqa: E731
    return "".join(_HUNK.sub(shift, line) if line.startswith("@@") else line for line in body)


_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _replace(text: str, edit: Edit) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    search, replace = edit.search.splitlines(keepends=True), edit.replace.splitlines(keepends=True)
    try:
        pieces = split_elided(search, replace)
    except NoMatch:
        pieces = None  # `...` lines that do not pair up are code (a stub's body), not elisions
    literal = pieces is None or any(line in lines for line in search if ELISION.match(line))  # `...` the file has is code
    try:
        found = locate(lines, search, replace, fuzzy=literal)
    except NoMatch:
        if pieces is None:
            raise
        return "".join(apply_elided(lines, pieces)), "elision"
    return "".join(lines[: found.start] + found.replacement + lines[found.end :]), found.how
