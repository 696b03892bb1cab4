"""What a check wrote, seen and made part of the run's change.

Checks run code a model wrote, and it may write anywhere in the workspace that the sandbox leaves
writable. So the workspace is surveyed before each check and after it (`survey.survey`: the
size, mtime, ctime, inode and mode of every file — a few thousand files take milliseconds), and a
file whose fingerprint moved, and whose bytes did where a copy can tell, is one the check created,
changed or deleted. It is named in the check's output, and it joins the run's trail with the
state it had before the check: the run's result lists it, its diff shows it, a reset of the run
puts it back, and `tether undo` of the run restores it (a new one goes away).

The state before: the files the run edits are in its trail already. For every other file, the
run's first check keeps a copy of each regular file up to `COPY_BYTES` in tether's private
checkpoint store (0700; a file kept by an earlier run is not stored twice). A larger one, or one
that changed since that copy, is named as changed with no copy to put back.

Not reported: fifos, sockets and device files (one a check makes is removed: survey.tidy), the
data caches a test run keeps (`sandbox.CACHES`: `.pytest_cache`, `.mypy_cache`, `.ruff_cache`,
`.hypothesis`), paths under the user's `[verify] writable` globs, and the protected paths that are
read-only during checks. Bytecode (`__pycache__/`, `*.pyc`, `*.pyo`) a check writes
is removed instead of reported: checks run with PYTHONDONTWRITEBYTECODE, it is a cache rebuilt at
will, and bytecode planted beside a module would run at that module's next import.

What a command wrote passes the user's write hooks (hooks.py) as a change the model proposed does:
each file a `before_tool` write with its diff, then `after_edit` on them all — else a check the
model edited could write what a hook forbids. A denial puts every file the command wrote back as it
was before it (where a copy was kept) and fails the command with the hook's reason."""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

from ..history.trail import Trail
from .hooks import HookBroken
from .survey import Survey, special

if TYPE_CHECKING:
    from .hooks import Hooks

__all__ = ["COPY_BYTES", "Watch"]

COPY_BYTES = 1_000_000


class Watch:
    """One run's view of what its checks write."""

    def __init__(self, trail: Trail, hooks: Hooks | None = None):
        self.trail, self.root, self.hooks = trail, trail.checkpoints.root, hooks
        self.base: str | None = None  # the commit that holds the copies
        self.copied: dict[str, tuple] = {}  # path -> its fingerprint when copied

    def before(self, seen: Survey) -> None:
        """Called before a check: at the run's first, keep the copies."""
        if self.base is None:
            self.copied = {p: f for p, f in seen.files.items() if f and stat.S_ISREG(f[3]) and f[0] <= COPY_BYTES and not _bytecode(p)}
            self.base = self.trail.checkpoints.snapshot(f"before the checks of run {self.trail.run_id}", sorted(self.copied))

    def after(self, before: Survey, after: Survey) -> tuple[list[str], str]:
        """Called after a check: the paths it wrote (adopted by the run's trail) and a note that says so."""
        moved = sorted(
            p
            for p in before.files.keys() | after.files.keys()
            if before.files.get(p) != after.files.get(p) and not (p in after.files and special(after.files[p][3]))
        )
        bytecode = [p for p in moved if _bytecode(p)]
        for path in bytecode:
            (self.root / path).unlink(missing_ok=True)
        moved = [p for p in moved if not _bytecode(p)]
        known = [p for p in moved if p not in self.trail.touched and p in before.files and self.copied.get(p) == before.files[p]]
        differ = set(self.trail.checkpoints.differs(self.base, known)) if known else set()  # bytes hashed only here
        wrote = [p for p in moved if p not in known or p in differ]
        fresh = [p for p in wrote if p not in before.files]
        uncopied = [p for p in wrote if p in before.files and p not in known and p not in self.trail.touched]
        self.trail.adopt(sorted(differ), self.base)
        self.trail.adopt(fresh, None)
        return wrote, _note(wrote, uncopied, bytecode)

    def judged(self, wrote: list[str]) -> str:
        """The write hooks on what a command wrote (adopted by `after` already): "" where they
        allow it, else the refusal the command fails with, its files put back."""
        if not (self.hooks is not None and wrote and self.hooks.sees_writes(wrote)):
            return ""
        before, after = self.trail.moved(wrote)
        diff, denial = self.trail.checkpoints.diff, None
        try:
            for path in wrote:  # the first refusal decides, as for a change's files
                if (denial := self.hooks.before_tool("write", path, diff=diff(before, after, (path,)))) is not None:
                    break
            if denial is None and (denial := self.hooks.after_edit(wrote, diff(before, after))) is None:
                return ""
        except HookBroken:  # a hook that cannot run judged nothing: what the command wrote goes back, and the run ends
            self.trail.put_back(wrote, before)
            raise
        back = self.trail.put_back(wrote, before)
        kept = [p for p in wrote if p not in back]
        return f"{denial.refusal} What the command wrote was put back as it was before it" + (
            f", except {', '.join(kept)} (no copy was kept)." if kept else "."
        )


def _bytecode(path: str) -> bool:
    return path.endswith((".pyc", ".pyo")) or "__pycache__" in path.split("/")


def _note(wrote: list[str], uncopied: list[str], bytecode: list[str]) -> str:
    """What the check's output gains, for the person and the model."""
    lines = []
    if wrote:
        lines.append(f"[the command wrote {', '.join(wrote)}: part of this run's change, which `tether undo` reverts]")
    if uncopied:
        lines.append(
            f"[tether kept no copy of {', '.join(uncopied)} from before the command (over {COPY_BYTES:,} bytes,"
            " or changed during the run): undo cannot put it back]"
        )
    if bytecode:
        lines.append(f"[tether removed the bytecode the command wrote: {', '.join(bytecode)}]")
    return "".join(f"\n{line}" for line in lines)
