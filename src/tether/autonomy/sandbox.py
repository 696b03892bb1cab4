"""The sandbox that checks and agent commands run in: they run code a model wrote.

On Linux with bubblewrap (`bwrap`): the whole file system read-only, the workspace and a private
temp folder (made for the command, removed after it) writable, and inside the workspace every
`.git`, tether's config and ignore files read-only;
tether's data and the usual credential folders of the home directory hidden; no network; its own
process namespace, killed with tether. The environment is an allow-list, never the user's: PATH,
the locale, HOME and TMPDIR pointing at the private temp folder, and what the user names in
`[verify] env`. Where no sandbox can be had, `auto` and `agent` refuse to run checks unless the
user opts out with `[verify] sandbox = "off"`."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from .. import config
from ..context.walk import ALWAYS_SKIP_DIRS
from .edits.workspace import PROTECTED_NAMES

ALLOWED_ENV = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM", "TZ", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE",
               "PYTHONHASHSEED", "SOURCE_DATE_EPOCH", "NO_COLOR")
CREDENTIALS = (".ssh", ".aws", ".azure", ".config/gcloud", ".kube", ".docker", ".gnupg", ".netrc", ".pypirc", ".npmrc",
               ".git-credentials", ".config/gh", ".config/tether", ".local/share/tether")


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
    folder and `protected` (see `protected_paths`) read-only. Raises if bwrap is missing."""
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


def protected_paths(root: Path, limit: int = 20000) -> set[Path]:
    """Every `.git` and tether config file under the workspace (large vendored trees skipped)."""
    found, seen = [], 0
    for folder, dirs, files in os.walk(root):
        seen += len(dirs) + len(files)
        here = Path(folder)
        found += [here / d for d in dirs if d == ".git"] + [here / f for f in files if f == ".git" or f in PROTECTED_NAMES]
        dirs[:] = [d for d in dirs if d != ".git" and d not in ALWAYS_SKIP_DIRS and not os.path.islink(here / d)]
        if seen > limit:
            break
    return set(found)


def remove_new(root: Path, before: set[Path]) -> list[str]:
    """A command may create files the sandbox could not bind read-only in advance (a new
    `sub/tether.toml` would govern a later run there; a new `.git` holds hooks): they are removed,
    and named."""
    created = sorted(protected_paths(root) - before)
    for path in created:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return [p.relative_to(root).as_posix() for p in created]
