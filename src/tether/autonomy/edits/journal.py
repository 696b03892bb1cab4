"""Writing several files as one step that a crash cannot tear: all old or all new, no stray files.

The journal is written and synced before anything in the workspace is touched, naming every
temporary file it will create. Phase `prepare`: the temporary files are being written — a crash
here is rolled back (they are removed; the workspace is all old). Phase `commit`: every new
content is on disk — a crash here is rolled forward (the renames and deletions are finished; all
new). Whoever opens the workspace next calls `recover`, which says what it did."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from ... import config

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; one writer is assumed
    fcntl = None


@dataclass
class Recovered:
    direction: str  # "back": the interrupted write was undone; "forward": it was finished
    files: list[str]
    meta: dict  # what the writer asked to keep (e.g. the checkpoint to record the change against)


def write_files(root: Path, changes: list[tuple[str, bytes | None, int | None]], meta: dict | None = None, guard=None) -> None:
    """Write (path, bytes, mode) — bytes None deletes — under `root`, all or none. `guard()` runs
    first, under the workspace's lock, and may raise to write nothing (e.g. a file changed since
    it was read)."""
    if not changes:
        return
    with _locked(root):
        if guard is not None:
            guard()
        _write(root, changes, meta)


def _write(root: Path, changes, meta: dict | None) -> None:
    token = secrets.token_hex(4)
    steps = []
    for rel, data, mode in changes:
        target = root / rel
        if data is None:
            steps.append({"op": "delete", "rel": rel})
        else:
            steps.append({"op": "write", "rel": rel, "tmp": str(target.with_name(f".{target.name}.{token}.tether-tmp")),
                          "mode": mode if mode is not None else 0o644})
    journal = path_for(root)
    _save(journal, {"root": str(root), "phase": "prepare", "steps": steps, "meta": meta or {}})
    try:
        for step, (_, data, _) in zip(steps, changes):
            if data is not None:
                target = root / step["rel"]
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(step["tmp"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(step["tmp"], step["mode"])
            _crash_point(f"prepare:{step['rel']}")
    except BaseException:
        _roll_back(steps)
        journal.unlink(missing_ok=True)
        raise
    _save(journal, {"root": str(root), "phase": "commit", "steps": steps, "meta": meta or {}})
    _crash_point("commit")
    _roll_forward(root, steps, crash_points=True)
    journal.unlink()


def recover(root: str | Path) -> Recovered | None:
    """Finish or undo a write that a crash interrupted; None if there was none."""
    root = Path(os.path.realpath(root))
    journal = path_for(root)
    if not journal.exists():
        return None
    with _locked(root):  # a journal another process is still writing is its, not a crash's
        return _recover(root, journal)


def _recover(root: Path, journal: Path) -> Recovered | None:
    if not journal.exists():
        return None  # the other process finished it while we waited
    try:
        data = json.loads(journal.read_text())
        steps, phase = data["steps"], data["phase"]
    except (OSError, ValueError, KeyError):
        journal.unlink(missing_ok=True)  # torn before it was synced: nothing in the workspace was touched yet
        return None
    files = [s["rel"] for s in steps]
    if phase == "commit":
        _roll_forward(root, steps)
        result = Recovered("forward", files, data.get("meta", {}))
    else:
        _roll_back(steps)
        result = Recovered("back", files, data.get("meta", {}))
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


def _roll_back(steps: list[dict]) -> None:
    for step in steps:
        if step["op"] == "write":
            Path(step["tmp"]).unlink(missing_ok=True)


def _roll_forward(root: Path, steps: list[dict], crash_points: bool = False) -> None:
    for step in steps:
        target = root / step["rel"]
        if step["op"] == "write":
            if os.path.exists(step["tmp"]):
                os.replace(step["tmp"], target)
        else:
            target.unlink(missing_ok=True)
        if crash_points:
            _crash_point(f"rename:{step['rel']}")
    for folder in {(root / s["rel"]).parent for s in steps}:
        _sync_dir(folder)


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
