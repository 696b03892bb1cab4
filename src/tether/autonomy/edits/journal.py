"""Writing several files as one step that a crash cannot tear: all old or all new, no stray files.

The journal is written and synced before anything in the workspace is touched, naming every
temporary file it will create. Phase `prepare`: the temporary files are being written — a crash
here is rolled back (they are removed; the workspace is all old). Phase `commit`: every new
content is on disk — a crash here is rolled forward (the renames and deletions are finished; all
new). Whoever opens the workspace next calls `recover`, which says what it did. The journal goes
only after the change is recorded (`then`), so a crash cannot leave new files that undo forgets.

Every path is checked as a real path right before it is touched, and each file is reached
through folders opened without following a link (beneath.py): a link that a check put on the
way between planning and writing, or between a crash and its recovery, is refused, not followed."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from ... import config
from ...errors import TetherError
from . import beneath
from .beneath import Folders
from .workspace import PathRefused, still

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; one writer is assumed
    fcntl = None  # type: ignore[assignment]


@dataclass
class Recovered:
    direction: str  # "back": the interrupted write was undone; "forward": it was finished
    files: list[str]
    meta: dict  # what the writer asked to keep (e.g. the checkpoint to record the change against)


def write_files(root: Path, changes: list[tuple[str, bytes | None, int | None]], meta: dict | None = None, guard=None, then=None) -> None:
    """Write (path, bytes, mode) — bytes None deletes — under `root`, all or none.

    Under the workspace's lock: every path must still be the real path it was planned as (no
    link has come onto it), then `guard()` may raise to write nothing (e.g. a file changed since
    it was read). `then()` runs once every file is new and before the journal goes, so what
    records the change (for undo) is done before the one thing a crash could recover it from."""
    with _locked(root):
        for rel, _, _ in changes:
            try:
                still(root, rel)
            except PathRefused as e:
                raise PathRefused(f"{e}; nothing was written") from None
        if guard is not None:
            guard()
        if changes:
            _write(root, changes, meta)
        if then is not None:
            then()
        _crash_point("recorded")
        path_for(root).unlink(missing_ok=True)
        _crash_point("removed")


def _write(root: Path, changes, meta: dict | None) -> None:
    token = secrets.token_hex(4)
    steps = []
    for rel, data, mode in changes:
        if data is None:
            steps.append({"op": "delete", "rel": rel})
        else:
            target = root / rel
            steps.append(
                {
                    "op": "write",
                    "rel": rel,
                    "tmp": str(target.with_name(f".{target.name}.{token}.tether-tmp")),
                    "mode": mode if mode is not None else 0o644,
                }
            )
    journal = path_for(root)
    _save(journal, {"root": str(root), "phase": "prepare", "steps": steps, "meta": meta or {}})
    with Folders(root) as folders:
        try:
            for step, (_, data, _) in zip(steps, changes, strict=False):
                _prepare(folders, step, data)
                _crash_point(f"prepare:{step['rel']}")
        except BaseException as e:
            _roll_back(folders, steps)
            journal.unlink(missing_ok=True)
            if isinstance(e, PathRefused):
                raise PathRefused(f"{e}; nothing was written") from None
            raise
        _save(journal, {"root": str(root), "phase": "commit", "steps": steps, "meta": meta or {}})
        _crash_point("commit")
        _roll_forward(folders, steps, crash_points=True)


def _prepare(folders: Folders, step: dict, data: bytes | None) -> None:
    """The new content beside its file, in a folder reached without a link; refused if a link or
    a folder has come to stand at the file's own name."""
    fd, name = folders.holding(step["rel"], create=data is not None)
    if fd is not None and beneath.kind(fd, name) not in ("file", None):
        raise PathRefused(f"{step['rel']}: a symlink or folder now stands at the file's name")
    if data is not None:
        assert fd is not None  # holding(create=True) made the folder or raised
        beneath.create(fd, _tmp(step), data, step["mode"])


def recover(root: str | Path, then=None) -> Recovered | None:
    """Finish or undo a write that a crash interrupted; None if there was none. `then(found)`
    runs before the journal goes (e.g. to record the finished change for undo)."""
    root = Path(os.path.realpath(root))
    journal = path_for(root)
    if not journal.exists():
        return None
    with _locked(root):  # a journal another process is still writing is its, not a crash's
        return _recover(root, journal, then)


def _recover(root: Path, journal: Path, then) -> Recovered | None:
    if not journal.exists():
        return None  # the other process finished it while we waited
    try:
        data = json.loads(journal.read_text())
        steps, phase = data["steps"], data["phase"]
    except (OSError, ValueError, KeyError):
        journal.unlink(missing_ok=True)  # torn before it was synced: nothing in the workspace was touched yet
        return None
    result = Recovered("forward" if phase == "commit" else "back", [s["rel"] for s in steps], data.get("meta", {}))
    with Folders(root) as folders:
        try:
            if phase == "commit":
                _roll_forward(folders, steps)
            else:
                _roll_back(folders, steps)
        except (TetherError, OSError) as e:  # the workspace changed since the crash
            raise TetherError(
                f"a write that a crash interrupted cannot be finished: {e}; remove what stands in its way and run the command again"
            ) from None
    if then is not None:
        then(result)
    journal.unlink()
    return result


@contextlib.contextmanager
def _locked(root: Path):
    """One writer per workspace at a time, across processes (released by the OS if it dies)."""
    lock = path_for(root).with_suffix(".lock")
    config.private_dir(lock.parent)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def path_for(root: Path) -> Path:
    return config.workspace_data("journals", root, ".json")


def _save(journal: Path, data: dict) -> None:
    config.private_dir(journal.parent)
    tmp = journal.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, journal)
    _sync_dir(journal.parent)


def _tmp(step: dict) -> str:
    """The temporary file's name, beside the file it becomes."""
    return os.path.basename(step["tmp"])


def _roll_back(folders: Folders, steps: list[dict]) -> None:
    for step in steps:
        if step["op"] == "write":
            try:
                fd, _ = folders.holding(step["rel"])
            except TetherError:
                continue  # a link stands on the way now: whatever is behind it is not ours to touch
            if fd is not None:
                beneath.remove(fd, _tmp(step))


def _roll_forward(folders: Folders, steps: list[dict], crash_points: bool = False) -> None:
    for step in steps:
        fd, name = folders.holding(step["rel"])
        if fd is not None and step["op"] == "write":
            if beneath.kind(fd, _tmp(step)) is not None:
                beneath.replace(fd, _tmp(step), name)
        elif fd is not None:
            beneath.remove(fd, name)
        if crash_points:
            _crash_point(f"rename:{step['rel']}")
    folders.sync()


def _sync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _crash_point(name: str) -> None:
    """Tests kill the writer at a named moment (TETHER_CRASH_AT=rename:a.py), deterministically."""
    if os.environ.get("TETHER_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
