"""Checkpoints in a shadow git repository under the data dir, one per workspace.

The shadow repository's work tree is the workspace, but its git dir lives elsewhere, so the
user's own `.git` is never touched and folders that are not repositories work too. Every applied
change is recorded as (before, after) commits on a linear history with a pointer: undo restores
`before`, redo restores `after`, byte for byte — files the change created are removed and files
it deleted come back."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import config
from ..context.gitsource import run_git
from ..context.walk import ALWAYS_SKIP_DIRS
from ..errors import TetherError


@dataclass
class Change:
    before: str  # commit of the workspace before the change
    after: str  # and after it
    message: str
    time: float
    files: list[str]


class Checkpoints:
    def __init__(self, root: str | Path):
        self.root = Path(os.path.realpath(root))
        if not self.root.is_dir():
            raise TetherError(f"{root}: the workspace is not a folder")
        key = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        self.git_dir = config.data_dir() / "checkpoints" / key
        self._history_file = self.git_dir / "tether-history.json"
        if not (self.git_dir / "HEAD").exists():
            self.git_dir.mkdir(parents=True, exist_ok=True)
            self._git("init", "-q")
            self._git("config", "core.autocrlf", "false")
            self._git("config", "core.fileMode", "true")
            (self.git_dir / "info").mkdir(exist_ok=True)
            (self.git_dir / "info" / "exclude").write_text("".join(f"{d}/\n" for d in sorted(ALWAYS_SKIP_DIRS)))

    def _git(self, *args: str, check: bool = True) -> str:
        env = {"GIT_DIR": str(self.git_dir), "GIT_WORK_TREE": str(self.root), "GIT_AUTHOR_NAME": "tether",
               "GIT_AUTHOR_EMAIL": "tether@localhost", "GIT_COMMITTER_NAME": "tether", "GIT_COMMITTER_EMAIL": "tether@localhost",
               "HOME": str(self.git_dir)}
        done = run_git(list(args), cwd=self.root, timeout=300, env=env)
        if check and done.returncode != 0:
            raise TetherError(f"checkpoint failed: git {args[0]}: {(done.stderr.strip().splitlines() or ['error'])[-1]}")
        return done.stdout.strip()

    # -- taking ------------------------------------------------------------------------------

    def snapshot(self, message: str) -> str:
        """A commit of the workspace as it is now (only what changed since the last is read)."""
        self._git("add", "-A", "--ignore-errors", ".", check=False)
        tree = self._git("write-tree")
        parent = self._git("rev-parse", "-q", "--verify", "HEAD", check=False)
        commit = self._git("commit-tree", tree, "-m", message, *(["-p", parent] if parent else []))
        self._git("update-ref", "HEAD", commit)
        return commit

    def record(self, before: str, message: str, files: list[str]) -> Change:
        """After a change was applied on top of `before`: remember it, drop any redo tail."""
        history, pointer = self._load()
        change = Change(before, self.snapshot(f"after: {message}"), message, time.time(), files)
        history = history[:pointer] + [change]
        self._save(history, len(history))
        return change

    # -- moving ------------------------------------------------------------------------------

    def undo(self) -> Change:
        history, pointer = self._load()
        if pointer == 0:
            raise TetherError("nothing to undo")
        change = history[pointer - 1]
        self._guard(change.after, "undo")
        self.restore(change.before)
        self._save(history, pointer - 1)
        return change

    def redo(self) -> Change:
        history, pointer = self._load()
        if pointer >= len(history):
            raise TetherError("nothing to redo")
        change = history[pointer]
        self._guard(change.before, "redo")
        self.restore(change.after)
        self._save(history, pointer + 1)
        return change

    def log(self) -> list[dict]:
        history, pointer = self._load()
        return [{**asdict(c), "number": n + 1, "applied": n < pointer} for n, c in enumerate(history)]

    def tree(self, commit: str) -> str:
        return self._git("rev-parse", f"{commit}^{{tree}}")

    def diff(self, a: str, b: str) -> str:
        """What changed from commit a to commit b, as `diff -u` text."""
        return self._git("diff", "--no-renames", "--no-color", a, b) + "\n"

    def changed_files(self, a: str, b: str) -> list[str]:
        return [line for line in self._git("diff", "--name-only", "--no-renames", a, b).splitlines() if line]

    def _guard(self, expected: str, verb: str) -> None:
        """Edits made by hand since the change are kept in a checkpoint before they are replaced."""
        now = self.snapshot(f"before {verb}")
        if self.tree(now) != self.tree(expected):
            self._git("update-ref", f"refs/tether/saved/{int(time.time() * 1000)}", now)

    def restore(self, commit: str) -> list[str]:
        """Make the workspace hold exactly the files of `commit`; returns the paths touched."""
        current = self.snapshot("before restore")
        changed = [line.split("\t", 1) for line in self._git("diff", "--name-status", "--no-renames", current, commit).splitlines() if line]
        removed = [path for status, path in changed if status == "D"]
        for path in removed:
            try:
                (self.root / path).unlink()
            except FileNotFoundError:
                pass
        others = [path for status, path in changed if status != "D"]
        for start in range(0, len(others), 500):
            self._git("checkout", commit, "--", *others[start:start + 500])
        self._git("read-tree", commit)
        self._git("update-ref", "HEAD", commit)
        return [path for _, path in changed]

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
        tmp.write_text(json.dumps({"changes": [asdict(c) for c in history], "pointer": pointer}))
        os.replace(tmp, self._history_file)
