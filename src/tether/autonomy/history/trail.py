"""A run's own checkpoints: only the files the run touches are ever snapshotted, so a reset or
an undo of the run can never put back (or delete) a file someone else changed meanwhile."""

from __future__ import annotations

from pathlib import Path

from .checkpoints import Checkpoints

__all__ = ["Trail"]


class Trail:
    current: str | None = None  # the checkpoint the touched files are at now, where the run moved them (else `last`)

    def __init__(self, root: Path, run_id: str):
        self.checkpoints, self.run_id = Checkpoints(root), run_id
        self.touched: set[str] = set()  # files the run wrote or is writing
        self.known: dict[str | None, frozenset] = {}  # checkpoint -> the files it holds a state of
        self.adopted: set[str] = set()  # files a check wrote, not the run's edits
        self.start = self.last = self.snapshot(f"before run {run_id}", [], None)

    @classmethod
    def taken_up(cls, root: Path, run_id: str, start: str, touched: list[str]) -> "Trail":
        """A killed run's trail, taken up by its resumed part: the same start (so the run stays
        one undo entry) and its files as they are now as the last state."""
        trail = cls.__new__(cls)
        trail.checkpoints, trail.run_id = Checkpoints(root), run_id
        trail.touched, trail.adopted = set(touched), set()
        trail.start, trail.known = start, {start: frozenset(touched)}
        trail.last = trail.snapshot(f"run {run_id}: resumed", sorted(touched), start)
        return trail

    def state(self) -> dict:
        """What a resumed run needs to take this trail up (logged with each applied change)."""
        return {"start": self.start, "touched": sorted(self.touched)}

    def snapshot(self, message: str, paths: list[str], base: str | None) -> str:
        commit = self.checkpoints.snapshot(message, paths, base)
        self.known[commit] = self.known.get(base, frozenset()) | frozenset(paths)
        return commit

    def first_touch(self, files: list[str]) -> None:
        """Files the run is about to write for the first time join the run's start (and the
        current state) as they are now, so every later reset and the final undo know them."""
        new = sorted(set(files) - self.touched)
        if new:
            self.start = self.snapshot(f"before run {self.run_id}", new, self.start)
            self.last = self.snapshot(f"run {self.run_id}: first touch", new, self.last)
            self.touched.update(new)

    def adopt(self, files: list[str], source: str | None) -> None:
        """Files a check wrote join the run with the state `source` holds of them as their start
        (absent there, or with no source: they were not there), so a reset or the run's undo puts
        them back; a file the run touched already keeps its start."""
        new = sorted(set(files) - self.touched)
        if new:
            start = self.checkpoints.graft(f"before run {self.run_id}", self.start, source, new)
            self.known[start] = self.known.get(self.start, frozenset()) | frozenset(new)
            self.start = start
            self.touched.update(new)
            self.adopted.update(new)

    def written(self, files: list[str]) -> str:
        """A checkpoint after a write; it becomes the run's last state only when kept (`keep`)."""
        self.current = self.snapshot(f"run {self.run_id}: {', '.join(files)}", files, self.last)
        return self.current

    def moved(self, files: list[str]) -> tuple[str, str]:
        """Two checkpoints around what a command just wrote to `files` (adopted already): before
        it (each file as the run has it now, else as at the run's start) and after it, so their
        diff is what the command did and `put_back` can undo it."""
        now = self.current or self.last
        known = self.known.get(now, frozenset())
        before = self.checkpoints.graft(f"run {self.run_id}: before a command", now, self.start, [f for f in files if f not in known])
        return before, self.checkpoints.snapshot(f"run {self.run_id}: what a command wrote", files, before)

    def put_back(self, files: list[str], before: str) -> list[str]:
        """`files` as `before` (from `moved`) has them; only those the trail holds a state of, since
        a file with no copy from before the command would be lost. Returns those put back."""
        back = [f for f in files if f in self.touched]
        self.checkpoints.restore(before, back)
        return back

    def keep(self, commit: str) -> None:
        self.last = commit

    def reset(self, commit: str | None = None) -> None:
        """The touched files as `commit` (default: the last kept state) has them; those it never
        saw, as they were at the start."""
        commit = self.current = commit or self.last
        known = self.known.get(commit, frozenset())
        self.checkpoints.restore(commit, [f for f in sorted(self.touched) if f in known])
        self.checkpoints.restore(self.start, [f for f in sorted(self.touched) if f not in known])

    def finish(self, message: str, wrote: bool) -> tuple[list[str], str]:
        """The run's files changed since its start and their diff, recorded as one undo entry."""
        final = self.snapshot(f"end of run {self.run_id}", sorted(self.touched), self.start)
        changed = self.checkpoints.changed_files(self.start, final) if wrote or self.adopted else []
        if not changed:
            return [], ""
        self.checkpoints.record(self.start, message, changed)
        return changed, self.checkpoints.diff(self.start, final)
