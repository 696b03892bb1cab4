"""The sandbox that checks and agent commands run in: they run code a model wrote.

On Linux with bubblewrap (`bwrap`): the whole file system read-only, the workspace and a private
temp folder (made for the command, removed after it) writable, and inside the workspace read-only
whatever would run or steer later without anyone seeing it: every version-control folder (`.git`
— a folder or a worktree's file — `.hg`, `.svn`) anywhere, skipped folders such as `node_modules`
included; tether's own `.tether/` (its memory), `tether.toml` and `.tetherignore`; and the
environment folders, whose code runs at the next `python` or `npm` (`ENVIRONMENTS` by name, and any
folder that holds a `pyvenv.cfg`, such as a virtualenv called `env`). Such a path the command
creates where there was none is removed after it, and named. A path under a glob of the user's
`[verify] writable` list is none of this: the user lets checks write it (a glob names a protected
folder itself, `node_modules`, not a path inside it, which stays read-only with its folder).
With the sandbox off (the user's choice) nothing is read-only and nothing is removed.
Tether's data and the usual credential folders of the home directory are hidden; no network; its own
process namespace, killed with tether. The environment is an allow-list, never the user's: PATH,
the locale, HOME and TMPDIR pointing at the private temp folder, and what the user names in
`[verify] env`. Where no sandbox can be had, `auto` and `agent` refuse to run checks unless the
user opts out with `[verify] sandbox = "off"`.

The same walk (`survey`) fingerprints every other file, so that what a command wrote is known
after it (watch.py); the data caches a test run keeps (`CACHES`) are not fingerprinted."""

from __future__ import annotations

import fnmatch
import functools
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from .edits.workspace import PROTECTED_NAMES

ALLOWED_ENV = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM", "TZ", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE",
               "PYTHONHASHSEED", "SOURCE_DATE_EPOCH", "NO_COLOR")
CREDENTIALS = (".ssh", ".aws", ".azure", ".config/gcloud", ".kube", ".docker", ".gnupg", ".netrc", ".pypirc", ".npmrc",
               ".git-credentials", ".config/gh", ".config/tether", ".local/share/tether")
VCS = (".git", ".hg", ".svn")  # their hooks and config run commands
# folders whose code runs later: installed packages (a `.pth` runs at every `python`), tox and nox's virtualenvs, direnv's
ENVIRONMENTS = frozenset({".venv", "venv", "node_modules", "bower_components", "__pypackages__", ".tox", ".nox", ".direnv", ".eggs", ".pixi"})
CACHES = frozenset({".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"})  # data a test run keeps, never code
SURVEY_LIMIT = 200_000  # entries a survey looks at: a few thousand files take milliseconds


@functools.cache
def bubblewrap() -> str | None:
    """The path of a bwrap that works here (user namespaces allowed), else None."""
    path = shutil.which("bwrap")
    if not path:
        return None
    try:
        done = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-net", "--dev", "/dev", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None


def environment(home: str, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """What a command sees of the environment: the allow-list, the names given, and HOME and
    TMPDIR pointing at its private temp folder."""
    env = {k: os.environ[k] for k in (*ALLOWED_ENV, *extra) if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(HOME=home, TMPDIR=home, PYTHONDONTWRITEBYTECODE="1")
    return env


def wrap(argv: list[str], root: Path, tmp: str, protected: set[Path]) -> list[str]:
    """`argv` inside bubblewrap, confined as the module says, with `tmp` its writable temp
    folder and `protected` (a `survey`'s) read-only. Raises if bwrap is missing."""
    bwrap = bubblewrap()
    if bwrap is None:
        raise RuntimeError("bubblewrap is not available")
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    home = Path(os.path.expanduser("~"))
    for name in CREDENTIALS:
        hidden = home / name
        if hidden.exists() and not _inside(root, hidden):
            args += ["--tmpfs", str(hidden)] if hidden.is_dir() else ["--ro-bind", "/dev/null", str(hidden)]
    data = Path(os.path.realpath(config.data_dir()))
    if data.is_dir() and not _inside(root, data):
        args += ["--tmpfs", str(data)]
    args += ["--bind", str(root), str(root), "--bind", tmp, tmp]
    for path in sorted(protected):
        args += ["--ro-bind", str(path), str(path)]
    if data.is_dir() and _inside(data, root):  # tether's data kept in the workspace: hidden there too
        args += ["--tmpfs", str(data)]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--chdir", str(root)]
    return args + ["--", *argv]


def _inside(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


@dataclass
class Survey:
    """One look at the workspace: what a command may not write, and a fingerprint of the rest."""

    protected: set[Path] = field(default_factory=set)
    files: dict[str, tuple] = field(default_factory=dict)  # relative path -> (size, mtime ns, inode, mode), links as links
    complete: bool = True  # False: the walk stopped at its limit


def survey(root: Path, writable: tuple[str, ...] = (), limit: int = SURVEY_LIMIT) -> Survey:
    """The protected paths under `root` (see the module) and the fingerprints of every other file,
    less those in data caches and under `writable`: globs matched with `fnmatch` against the
    workspace-relative path of a file or folder (`*` crosses folders). At most `limit` entries
    are looked at."""
    found, seen = Survey(), 0
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        rel = here.relative_to(root).as_posix()
        cached = any(part in CACHES for part in rel.split("/"))
        walked = set()
        for name in dirs + files:
            path, sub = here / name, name if rel == "." else f"{rel}/{name}"
            if writable and any(fnmatch.fnmatchcase(sub, glob) for glob in writable):  # folders above: matched already
                continue
            if _protected(name, path, name in dirs):
                found.protected.add(path)
            elif name in dirs and not os.path.islink(path):
                walked.add(name)
            elif not cached:
                found.files[sub] = _print(path)
        dirs[:] = [d for d in dirs if d in walked]
        seen += len(dirs) + len(files)
        if seen > limit:
            found.complete = False
            break
    return found


def _protected(name: str, path: Path, folder: bool) -> bool:
    if name.lower() in VCS or name in PROTECTED_NAMES or name == ".tether" or name in ENVIRONMENTS:
        return True
    return folder and os.path.isfile(path / "pyvenv.cfg")


def _print(path: Path) -> tuple:
    try:
        st = os.lstat(path)
    except OSError:
        return ()
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode


def remove_new(root: Path, before: set[Path], after: set[Path]) -> list[str]:
    """A command may create protected paths the sandbox could not bind read-only in advance (a new
    `sub/tether.toml` would govern a later run there; a new `.git` holds hooks, a new `.tether`
    memory, a new `.venv` code): they are removed, and named."""
    created = sorted(after - before)
    for path in created:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return [p.relative_to(root).as_posix() for p in created]
