"""Checkpoints in a shadow git repository under the data dir, one per workspace.

The shadow repository's work tree is the workspace, but its git dir lives elsewhere (0700, its
files 0600), so the user's own `.git` is never touched and folders that are not repositories work
too. A checkpoint holds only the files a change touches, never the whole workspace: no `.env`, no
large binary is copied that a change did not write.

Every applied change is recorded as (before, after) commits of its files on a linear history with
a pointer. Undo puts those files back as they were before, redo as they were after — and only
those files, and only while each still holds exactly what the change (or the undo) left: a file
created or edited by a person since is never deleted or overwritten; the command refuses and names
it. Restores go through the same journal as every apply, so a crash cannot tear them either; a
restore to any point of the history is one such write, refused where a step of it would be."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ... import config
from ...context.gitsource import run_git
from ...errors import TetherError
from ..edits.journal import Recovered, recover, write_files
from ..edits.workspace import PathRefused, still


@dataclass
class Change:
    before: str  # commit of the change's files before it
    after: str  # and after it
    message: str
    time: float
    files: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Restored:
    """A move of the history to change `point` (0: before every change): the changes it undid or
    redid, in the order single steps would have, and the files it wrote or removed."""

    point: int
    undone: list[Change]
    redone: list[Change]
    files: list[str]

    def to_dict(self) -> dict:
        return {
            "point": self.point,
            "undone": [c.to_dict() for c in self.undone],
            "redone": [c.to_dict() for c in self.redone],
            "files": self.files,
        }


class Checkpoints:
    def __init__(self, root: str | Path):
        self.root = config.workspace(root)
        self.git_dir = config.workspace_data("checkpoints", self.root)
        self._history_file = self.git_dir / "tether-history.json"
        if not (self.git_dir / "HEAD").exists():
            config.private_dir(self.git_dir.parent)
            config.private_dir(self.git_dir)
            self._git("init", "-q", "--template=", "--shared=0600")  # no sample hooks; every file its owner's only
            self._git("config", "core.autocrlf", "false")
            self._git("config", "core.fileMode", "true")
            self._git("config", "gc.auto", "0")  # commits are kept by the history file, not by refs
        self.recovered = self._recover()

    def _git(self, *args: str, check: bool = True, index: str | None = None, input: str | None = None) -> str:
        env = {
            "GIT_DIR": str(self.git_dir),
            "GIT_WORK_TREE": str(self.root),
            "GIT_AUTHOR_NAME": "tether",
            "GIT_AUTHOR_EMAIL": "tether@localhost",
            "GIT_COMMITTER_NAME": "tether",
            "GIT_COMMITTER_EMAIL": "tether@localhost",
            "HOME": str(self.git_dir),
            "GIT_LITERAL_PATHSPECS": "1",
            **({"GIT_INDEX_FILE": index} if index else {}),
        }
        done = run_git(list(args), cwd=self.root, timeout=300, env=env, input=input)
        if check and done.returncode != 0:
            raise TetherError(f"checkpoint failed: git {args[0]}: {(done.stderr.strip().splitlines() or ['error'])[-1]}")
        return done.stdout.strip()

    def _recover(self) -> Recovered | None:
        """An apply that a crash interrupted is finished or undone; a finished one is recorded
        (before its journal goes)."""
        return recover(self.root, then=self._record_recovered)

    def _record_recovered(self, found: Recovered) -> None:
        """A finished change enters the history once: a crash after its record was saved but
        before its journal went finds it there already."""
        history, pointer = self._load()
        if found.direction == "forward" and found.meta.get("before"):
            if not (pointer and history[pointer - 1].before == found.meta["before"]):
                self.record(found.meta["before"], found.meta.get("message", "interrupted change"), found.meta.get("files") or found.files)
        elif found.direction == "forward" and "pointer" in found.meta:  # an undo or redo: it happened
            self._save(history, found.meta["pointer"])

    # -- taking ------------------------------------------------------------------------------

    def snapshot(self, message: str, paths: list[str], base: str | None = None) -> str:
        """A commit holding `base`'s files with `paths` as they are now (absent ones left out)."""
        return self._commit(message, base, ["--add", "--remove", "-z", "--stdin"], "".join(f"{p}\0" for p in paths))

    def graft(self, message: str, base: str, source: str | None, paths: list[str]) -> str:
        """A commit holding `base`'s files with `paths` as `source` holds them (absent there, or
        with no source: left out) — a state from before, where the workspace has moved on since."""
        blobs = self._blobs(source, paths) if source else {}
        info = "".join(f"{blobs[p][0]} {blobs[p][1]}\t{p}\0" if p in blobs else f"0 {'0' * 40}\t{p}\0" for p in paths)
        return self._commit(message, base, ["-z", "--index-info"], info)

    def _commit(self, message: str, base: str | None, update: list[str], entries: str) -> str:
        """A commit of `base`'s tree with `entries` fed to `git update-index *update`."""
        with tempfile.TemporaryDirectory(dir=self.git_dir) as scratch:
            index = os.path.join(scratch, "index")
            if base:
                self._git("read-tree", base, index=index)
            if entries:
                self._git("update-index", *update, index=index, input=entries)
            tree = self._git("write-tree", index=index)
        parent = self._git("rev-parse", "-q", "--verify", "HEAD", check=False)
        commit = self._git("commit-tree", tree, "-m", message, *(["-p", parent] if parent else []))
        self._git("update-ref", "HEAD", commit)  # keeps every checkpoint reachable
        return commit

    def record(self, before: str, message: str, files: list[str], after: str | None = None) -> Change:
        """After a change was applied on top of `before`: remember it, drop any redo tail. `after`:
        the checkpoint it left, where the files may have changed since (else they are taken now)."""
        history, pointer = self._load()
        after = after or self.snapshot(f"after: {message}", files, base=before)
        change = Change(before, after, message, time.time(), sorted(files))
        history = history[:pointer] + [change]
        self._save(history, len(history))
        return change

    # -- moving ------------------------------------------------------------------------------

    def undo(self) -> Change:
        history, pointer = self._load()
        if pointer == 0:
            raise TetherError("nothing to undo")
        change = history[pointer - 1]
        self._refuse_drift(change, change.after, "undo")
        self.restore(change.before, change.files, {"pointer": pointer - 1}, then=lambda: self._save(history, pointer - 1))
        return change

    def redo(self) -> Change:
        history, pointer = self._load()
        if pointer >= len(history):
            raise TetherError("nothing to redo")
        change = history[pointer]
        self._refuse_drift(change, change.before, "redo")
        self.restore(change.after, change.files, {"pointer": pointer + 1}, then=lambda: self._save(history, pointer + 1))
        return change

    def restore_to(self, point: int) -> Restored:
        """Undo (or redo) every change between the last applied one and change `point` (0: before
        every change) as one journalled write: each file they touch is put back as it was at that
        point, or nothing is. A file that no longer holds what the nearest of those changes left —
        changed since, or between two of them — is never overwritten: the move is refused and names
        it, as undo and redo would one step at a time. The pointer moves to `point`, so undo and redo
        (and another restore) go on from there."""
        history, pointer = self._load()
        if isinstance(point, bool) or not isinstance(point, int) or not 0 <= point <= len(history):
            raise TetherError(f"there is no change {point!r} to restore to (the history has {len(history)})")
        if point < pointer:
            verb, moves = "undo", [(c, c.after, c.before) for c in reversed(history[point:pointer])]
        else:
            verb, moves = "redo", [(c, c.before, c.after) for c in history[pointer:point]]
        first: dict[str, tuple[Change, str]] = {}  # path -> the first change moved that touches it, and what the file must hold now
        last: dict[str, tuple[Change, str, str | None]] = {}  # path -> the last such change, the commit it ends as, its blob there
        for change, expected, result in moves:
            held, ends = self._blobs(expected, change.files), self._blobs(result, change.files)
            for path in change.files:
                if path in last and last[path][2] != held.get(path, ("", None))[1]:  # someone wrote it between the two changes
                    earlier, later = (change, last[path][0]) if verb == "undo" else (last[path][0], change)
                    raise TetherError(
                        f"cannot restore to change {point}: {path} was changed between “{earlier.message}” and "
                        f"“{later.message}”; nothing was touched (`tether {verb}` goes one change at a time)"
                    )
                first.setdefault(path, (change, expected))
                last[path] = (change, result, ends.get(path, ("", None))[1])
        drift: dict[int, tuple[Change, str, list[str]]] = {}
        for path, (change, expected) in first.items():
            drift.setdefault(id(change), (change, expected, []))[2].append(path)
        for change, expected, paths in drift.values():
            self._refuse_drift(change, expected, verb, paths)
        targets: dict[str, list[str]] = {}
        for path, (_, result, _) in last.items():
            targets.setdefault(result, []).append(path)
        writes = [w for commit, paths in targets.items() for w in self._writes(commit, paths)]
        if moves:
            write_files(self.root, writes, {"pointer": point}, then=lambda: self._save(history, point))
        changes = [c for c, _, _ in moves]
        return Restored(point, changes if verb == "undo" else [], changes if verb == "redo" else [], [p for p, _, _ in writes])

    def left_by_last(self, path: str) -> bool:
        """Whether the last applied change wrote `path` and it still holds exactly what that change
        left: text a model wrote, which no one has touched since."""
        history, pointer = self._load()
        return pointer > 0 and path in history[pointer - 1].files and not self.differs(history[pointer - 1].after, [path])

    def log(self) -> list[dict]:
        history, pointer = self._load()
        return [{**asdict(c), "number": n + 1, "applied": n < pointer} for n, c in enumerate(history)]

    def diff(self, a: str, b: str, paths: tuple[str, ...] = ()) -> str:
        """What changed from commit a to commit b (in `paths`, where given), as `diff -u` text."""
        return self._git("diff", "--no-renames", "--no-color", a, b, "--", *paths) + "\n"

    def changed_files(self, a: str, b: str) -> list[str]:
        return [line for line in self._git("diff", "--name-only", "--no-renames", a, b).splitlines() if line]

    def _refuse_drift(self, change: Change, expected: str, verb: str, paths: list[str] | None = None) -> None:
        """Files (of the change, or `paths` of them) that no longer hold what `expected` says were
        changed since, by someone else; a path that a link now stands on is named as such (a check
        may have put it there)."""
        paths = change.files if paths is None else paths
        for path in paths:
            try:
                still(self.root, path)
            except PathRefused as e:
                raise PathRefused(f"cannot {verb} “{change.message}”: {e}; nothing was touched") from None
        drifted = self.differs(expected, paths)
        if drifted:
            raise TetherError(
                f"cannot {verb} “{change.message}”: {', '.join(drifted)} changed since; "
                f"nothing was touched (save or revert your edits to {'them' if len(drifted) > 1 else 'it'} first)"
            )

    def differs(self, commit: str, paths: list[str], blobs: dict | None = None) -> list[str]:
        """The paths whose bytes in the workspace are not those of `commit` (absent counts);
        `blobs` is `_blobs(commit, paths)` where the caller has it already."""
        wanted = self._blobs(commit, paths) if blobs is None else blobs
        kinds = {p: self._kind(p) for p in paths}
        present = [p for p in paths if kinds[p] == "file"]
        hashes = dict(zip(present, self._git("hash-object", "--no-filters", "--", *present).split(), strict=False)) if present else {}
        return [p for p in paths if hashes.get(p, kinds[p]) != (wanted[p][1] if p in wanted else None)]

    def _kind(self, path: str) -> str | None:
        """ "file" for a plain file reached without any link; None for nothing there; else "link"
        (a link on the way or at the name, or a folder): never bytes a change left."""
        try:
            real = still(self.root, path)
        except PathRefused:
            return "link"
        return "file" if os.path.isfile(real) else ("link" if os.path.lexists(real) else None)

    def restore(self, commit: str, paths: list[str], meta: dict | None = None, then=None) -> list[str]:
        """Make `paths` hold what `commit` has (absent there: removed); returns the paths touched.
        A file that stays keeps its mode; one that comes back gets the mode it was saved with.
        `then()` records the move in the history before the journal goes."""
        writes = self._writes(commit, paths)
        write_files(self.root, writes, meta, then=then)
        return [p for p, _, _ in writes]

    def _writes(self, commit: str, paths: list[str]) -> list[tuple[str, bytes | None, int | None]]:
        """What `write_files` is given to make `paths` hold what `commit` has (only those that differ)."""
        blobs = self._blobs(commit, paths)
        writes = []
        for p in self.differs(commit, paths, blobs):
            if p not in blobs:
                writes.append((p, None, None))
                continue
            mode, sha = blobs[p]
            data = run_git(["cat-file", "blob", sha], env={"GIT_DIR": str(self.git_dir)}, binary=True).stdout
            try:
                keep = stat.S_IMODE(os.stat(self.root / p).st_mode)
            except OSError:
                keep = 0o755 if mode == "100755" else 0o644
            writes.append((p, data, keep))
        return writes

    def _blobs(self, commit: str, paths: list[str]) -> dict[str, tuple[str, str]]:
        """path -> (mode, blob id) in `commit`, for those of `paths` it holds."""
        if not paths:
            return {}
        out = self._git("ls-tree", "-r", "-z", commit, "--", *paths)
        blobs = {}
        for entry in filter(None, out.split("\0")):
            info, path = entry.split("\t", 1)
            mode, _, sha = info.split()
            blobs[path] = (mode, sha)
        return blobs

    # -- history file ------------------------------------------------------------------------

    def _load(self) -> tuple[list[Change], int]:
        try:
            data = json.loads(self._history_file.read_text())
        except FileNotFoundError:
            return [], 0
        except ValueError:
            raise TetherError(f"{self._history_file} is damaged; move it away to start a new undo history") from None
        return [Change(**c) for c in data["changes"]], data["pointer"]

    def _save(self, history: list[Change], pointer: int) -> None:
        tmp = self._history_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps({"changes": [asdict(c) for c in history], "pointer": pointer}))
            handle.flush()
            os.fsync(handle.fileno())  # the record of a change outlives a power cut, like the change
        os.replace(tmp, self._history_file)
