"""One look at the workspace before a command and one after it, and the putting right of what a
command may not leave behind (sandbox.py says what is protected; watch.py makes the rest part of
the run).

The look (`survey`) finds the protected paths (by device and inode too, so a path moved is never
taken for one made) and fingerprints every other file (size, mtime, ctime, inode, device, mode:
the ctime catches a write whose mtime was put back, the mode a chmod alone). It walks without
recursion, so no tree is too deep for it, and it never looks into a path `LONGEST` bytes long:
tether could not keep such a file nor put it back (git and the journal take whole paths). What it
cannot see it says: a folder it cannot read (after a command, a folder that the command locked is
opened again first), a path too long, the `SURVEY_LIMIT`. It never opens a file.

After a command (`tidy`): a protected path it created is removed (one it moved is only named),
and so are the fifos, sockets and device files it made (reading one hangs, and git refuses them)
and a new folder that holds paths too long to keep; the mode of a file or folder it changed is put back."""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..edits.workspace import PROTECTED_NAMES
from .sandbox import CACHES, ENVIRONMENTS, VCS

__all__ = ["LONGEST", "SURVEY_LIMIT", "Survey", "special", "survey", "tidy"]

SURVEY_LIMIT = 200_000  # entries a survey looks at: a few thousand files take milliseconds
LONGEST = 3800  # bytes of a whole path tether can keep and put back (PATH_MAX is 4096, with room for a journal's names)
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


@dataclass
class Survey:
    """One look at the workspace: what a command may not write, and a fingerprint of the rest."""

    protected: dict[Path, tuple] = field(default_factory=dict)  # path -> (device, inode)
    files: dict[str, tuple] = field(default_factory=dict)  # relative path -> (size, mtime ns, inode, mode, ctime ns, device)
    folders: dict[str, int] = field(default_factory=dict)  # relative path ("" the workspace) -> mode
    beyond: set[str] = field(default_factory=set)  # at paths too long to keep: not looked into
    unseen: dict[str, str] = field(default_factory=dict)  # folders it could not read -> why
    opened: list[str] = field(default_factory=list)  # folders a command had locked, opened to look inside
    truncated: bool = False  # it stopped at its limit

    @property
    def complete(self) -> bool:
        return not (self.truncated or self.unseen or self.beyond)

    def gaps(self) -> list[str]:
        """What it could not see, one line each, for the person and the model."""
        lines = []
        if self.unseen:
            why = sorted({f"{p} ({reason})" for p, reason in self.unseen.items()})
            lines.append(f"[tether could not look inside {_names(why)}: what the command wrote there is not known]")
        if self.beyond:
            lines.append(
                f"[tether did not look inside {_names(sorted(self.beyond))}: its paths are too long to keep,"
                " so what the command wrote there is not known]"
            )
        if self.truncated:
            lines.append("[the workspace is too large to survey whole: what the command wrote in its unsurveyed part is not known]")
        return lines


def _names(paths: list[str], most: int = 5) -> str:
    return ", ".join(paths[:most]) + (f" and {len(paths) - most} more" if len(paths) > most else "")


def survey(root: Path, writable: tuple[str, ...] = (), limit: int = SURVEY_LIMIT, reopen: Survey | None = None) -> Survey:
    """The protected paths under `root` (sandbox.py) and the fingerprints of every other file,
    less those in data caches and under `writable`: globs matched with `fnmatch` against the
    workspace-relative path of a file or folder (`*` crosses folders). At most `limit` entries
    are looked at. With `reopen` (the look before a command), a folder that has become
    unreadable since is made readable to its owner and looked into."""
    found, seen, stack = Survey(), 0, [("", False)]
    try:
        found.folders[""] = os.lstat(root).st_mode  # the workspace's own mode: a command may change it too
    except OSError:
        pass
    while stack and not found.truncated:
        rel, cached = stack.pop()
        entries = _entries(root, rel, found, reopen)
        for name, st in entries:
            sub = f"{rel}/{name}" if rel else name
            if writable and any(fnmatch.fnmatchcase(sub, glob) for glob in writable):  # folders above: matched already
                continue
            path = root / sub
            if len(os.fsencode(str(path))) >= LONGEST:
                found.beyond.add(sub)
            elif _protected(name, path, st):
                found.protected[path] = (st.st_dev, st.st_ino)
            elif stat.S_ISDIR(st.st_mode):
                found.folders[sub] = st.st_mode
                stack.append((sub, cached or name in CACHES))
            elif not cached:
                found.files[sub] = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode, st.st_ctime_ns, st.st_dev)
        seen += len(entries)
        found.truncated = seen > limit
    return found


def _entries(root: Path, rel: str, found: Survey, reopen: Survey | None) -> list[tuple[str, os.stat_result]]:
    """A folder's names and what `lstat` says of each; a folder it cannot read is noted in
    `found` (one a command locked is opened first, where `reopen` says it was readable before)."""
    folder = root / rel
    try:
        return _listing(folder)
    except PermissionError as e:
        if reopen is None or rel in reopen.unseen or not _open_up(folder):
            found.unseen[rel or "."] = e.strerror or "unreadable"
            return []
        found.opened.append(rel)
        return _entries(root, rel, found, None)
    except FileNotFoundError:
        return []
    except OSError as e:
        found.unseen[rel or "."] = e.strerror or str(e)
        return []


def _listing(folder: Path) -> list[tuple[str, os.stat_result]]:
    with os.scandir(folder) as listing:
        names = [entry.name for entry in listing]
    found = []
    for name in names:
        try:
            found.append((name, os.lstat(folder / name)))
        except FileNotFoundError:
            continue
    return found


def _open_up(folder: Path) -> bool:
    """Make a folder readable and searchable by its owner again (a command may have locked it to hide what it wrote)."""
    try:
        os.chmod(folder, stat.S_IMODE(os.lstat(folder).st_mode) | stat.S_IRWXU)  # a folder the listing found: no link
    except OSError:
        return False
    return True


def _protected(name: str, path: Path, st: os.stat_result) -> bool:
    if name.lower() in VCS or name in PROTECTED_NAMES or name == ".tether" or name in ENVIRONMENTS:
        return True
    return stat.S_ISDIR(st.st_mode) and os.path.isfile(path / "pyvenv.cfg")


def tidy(root: Path, before: Survey, after: Survey, confined: bool) -> list[str]:
    """Put right what a command left that tether may not keep (the module says what); one line
    for each kind of thing done. Protected paths are the sandbox's, so `confined` only."""
    lines = []
    if after.opened:
        lines.append(f"[tether opened what the command had made unreadable, to see inside: {_names(after.opened)}]")
    if confined:
        made, moved = _made_protected(root, before, after)
        lines += _removed(root, made, "what the command created and may not")
        if moved:
            lines.append(f"[tether kept {', '.join(moved)}: protected, and moved there by the command, not made by it]")
    made = sorted(p for p, f in after.files.items() if special(f[3]) and not (p in before.files and special(before.files[p][3])))
    lines += _removed(root, made, "the fifos, sockets or device files the command made (tether keeps none)")
    lines += _removed(root, _too_long(before, after), "what the command wrote at paths too long to keep and undo")
    return lines + _modes(root, before, after)


def _made_protected(root: Path, before: Survey, after: Survey) -> tuple[list[str], list[str]]:
    """The protected paths a command made (device and inode new), and those it moved (known, at a new path)."""
    known = set(before.protected.values())
    made = sorted(p.relative_to(root).as_posix() for p, key in after.protected.items() if key not in known)
    moved = sorted(p.relative_to(root).as_posix() for p, key in after.protected.items() if key in known and p not in before.protected)
    return made, moved


def special(mode: int) -> bool:
    """A fifo, socket or device file: never opened, never kept (reading a fifo waits for a writer; git refuses them)."""
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def _too_long(before: Survey, after: Survey) -> list[str]:
    """For each new path too long to keep, the topmost folder above it that the command made (else
    the path itself). A path there before is never removed: tether holds no copy of it."""
    tops = set()
    for rel in after.beyond:
        if rel in before.beyond:
            continue
        while "/" in rel and rel.rsplit("/", 1)[0] not in before.folders:
            rel = rel.rsplit("/", 1)[0]
        tops.add(rel)
    return sorted(tops)


def _modes(root: Path, before: Survey, after: Survey) -> list[str]:
    """A file's or folder's mode the command changed, put back."""
    put = []
    changed = [(p, f[3], before.files[p][3]) for p, f in after.files.items() if p in before.files and before.files[p][3] != f[3]]
    changed += [(p, mode, before.folders[p]) for p, mode in after.folders.items() if p in before.folders and before.folders[p] != mode]
    for rel, now, was in sorted(changed):
        if stat.S_IFMT(now) == stat.S_IFMT(was) and (stat.S_ISREG(now) or stat.S_ISDIR(now)):
            try:
                os.chmod(root / rel, stat.S_IMODE(was))  # a file or folder, reached by no link
            except OSError:
                continue
            put.append(f"{rel or '.'} ({stat.S_IMODE(now):o}, was {stat.S_IMODE(was):o})")
    return [f"[tether put back the mode the command changed: {_names(put)}]"] if put else []


def _removed(root: Path, paths: list[str], what: str) -> list[str]:
    for rel in paths:
        remove(root, rel)
    return [f"[tether removed {what}: {_names(paths)}]"] if paths else []


def remove(root: Path, rel: str) -> None:
    """`rel` gone: a file, a link, or a folder with all it holds however deep — by folder handles,
    one level at a time, so no path grows too long and nothing recurses."""
    parent_rel, _, name = rel.rpartition("/")
    parent = os.open(root / parent_rel, _FOLDER)
    try:
        if not _unlink(parent, name):
            _empty(parent, name)
            os.rmdir(name, dir_fd=parent)
    except FileNotFoundError:
        pass
    finally:
        os.close(parent)


def _unlink(folder: int, name: str) -> bool:
    """Unlink `name` in `folder`; False where it is a folder."""
    try:
        os.unlink(name, dir_fd=folder)
    except IsADirectoryError:
        return False
    except FileNotFoundError:
        pass
    return True


def _empty(parent: int, name: str) -> None:
    """Everything inside the folder `name` of `parent` removed, going down and back up by handles."""
    here, trail = os.open(name, _FOLDER, dir_fd=parent), []
    try:
        while True:
            inner = next((n for n in os.listdir(here) if not _unlink(here, n)), None)
            if inner is not None:  # a folder inside: go down into it
                down = os.open(inner, _FOLDER, dir_fd=here)
                os.close(here)
                here = down
                trail.append(inner)
            elif trail:  # empty: go up, and remove it there
                up = os.open("..", _FOLDER, dir_fd=here)
                os.close(here)
                here = up
                os.rmdir(trail.pop(), dir_fd=here)
            else:
                return
    finally:
        os.close(here)
