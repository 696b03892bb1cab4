"""Touching a workspace file without following a link on the way to it.

A path checked a moment ago need not be the path written a moment later: a command running in
the workspace (a check) can swap a folder for a symlink in between. So every folder a write
touches is opened from the workspace root one name at a time, refusing a link at each step
(O_NOFOLLOW), and the file is then created, renamed or removed relative to that open folder:
what was checked is what is written, whatever the names come to mean meanwhile. A rename or an
unlink acts on a link planted at the file's own name, never on what it points to."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ...errors import TetherError
from .workspace import PathRefused

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW


class Folders:
    """The open folders of one write, each opened once, all closed when it ends."""

    def __init__(self, root: Path):
        self.root = root
        self.fds: dict[str, int] = {}

    def __enter__(self) -> "Folders":
        return self

    def __exit__(self, *exc) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def holding(self, rel: str, create: bool = False) -> tuple[int | None, str]:
        """(the open folder that holds `rel`, its name there); the folder is None when it does
        not exist and was not to be created."""
        parent, _, name = rel.rpartition("/")
        return self._open(parent, create), name

    def sync(self) -> None:
        """Renames and removals in these folders survive a power cut."""
        for fd in self.fds.values():
            try:
                os.fsync(fd)
            except OSError:
                pass

    def _open(self, rel: str, create: bool) -> int | None:
        if rel not in self.fds:
            fd: int | None
            if not rel:
                fd = os.open(self.root, _FOLDER)
            else:
                up, _, name = rel.rpartition("/")
                at = self._open(up, create)
                fd = None if at is None else _enter(at, name, rel, create)
                if fd is None:
                    return None
            self.fds[rel] = fd
        return self.fds[rel]


def _enter(at: int, name: str, rel: str, create: bool) -> int | None:
    """The folder `name` in the open folder `at`, never through a link; made when `create`."""
    try:
        return os.open(name, _FOLDER, dir_fd=at)
    except FileNotFoundError:
        if not create:
            return None
    except OSError as e:
        raise _refused(at, name, rel, e) from None
    try:
        os.mkdir(name, dir_fd=at)
    except FileExistsError:
        pass  # made meanwhile: opened below, or refused if it is a link
    try:
        return os.open(name, _FOLDER, dir_fd=at)
    except OSError as e:
        raise _refused(at, name, rel, e) from None


def _refused(at: int, name: str, rel: str, e: OSError) -> TetherError:
    if e.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR):
        if kind(at, name) == "link":
            return PathRefused(f"{rel}: a symlink stands where a folder was (a link is not followed)")
        return PathRefused(f"{rel}: a file stands where a folder was")
    return TetherError(f"{rel}: cannot open ({e.strerror or e})")


def kind(fd: int, name: str) -> str | None:
    """ "file", "link" or "other" for what stands at `name` itself (a link is not followed); None: nothing."""
    try:
        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    return "file" if stat.S_ISREG(mode) else "link" if stat.S_ISLNK(mode) else "other"


def create(fd: int, name: str, data: bytes, mode: int) -> None:
    """A new file `name` (never an existing one, never through a link), synced, with `mode`."""
    out = os.open(name, _NEW, 0o600, dir_fd=fd)
    with os.fdopen(out, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fchmod(handle.fileno(), mode)
        os.fsync(handle.fileno())


def replace(fd: int, source: str, name: str) -> None:
    os.replace(source, name, src_dir_fd=fd, dst_dir_fd=fd)


def remove(fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
