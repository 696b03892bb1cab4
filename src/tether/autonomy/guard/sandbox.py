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
Every folder above a protected path (up to the workspace) is bound onto itself: a mount point
cannot be renamed, so no command moves a `.git` away by renaming the folder it is in (a file moved
out of such a folder to another gets EXDEV, as across disks). The command keeps no capability, so
even as root it cannot unmount any of this. With the sandbox off (the user's choice) nothing is
read-only and no protected path is removed. Tether's data and the usual credential files and
folders of the home directory (`CREDENTIALS`) are hidden; no network; its own process namespace,
killed with tether. The environment is an allow-list, never the user's: PATH,
the locale, HOME and TMPDIR pointing at the private temp folder, and what the user names in
`[verify] env`. Where no sandbox can be had, `auto` and `agent` refuse to run checks unless the
user opts out with `[verify] sandbox = "off"`.

The look before and after a command, and the putting right of what it may not leave, are
survey.py's."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ... import config

ALLOWED_ENV = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TERM",
    "TZ",
    "VIRTUAL_ENV",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONHASHSEED",
    "SOURCE_DATE_EPOCH",
    "NO_COLOR",
)
# under the home folder, hidden from commands: keys, tokens, password stores, and histories (secrets typed at a prompt)
CREDENTIALS = (
    ".ssh",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".gnupg",
    ".netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".config/git/credentials",
    ".config/gh",
    ".config/hub",
    ".config/op",
    ".config/tether",
    ".local/share/tether",
    ".local/share/keyrings",
    ".password-store",
    ".pgpass",
    ".my.cnf",
    ".vault-token",
    ".terraform.d",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".cache/huggingface",
    ".env",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".sqlite_history",
    ".node_repl_history",
    ".lesshst",
    ".viminfo",
)
VCS = (".git", ".hg", ".svn")  # their hooks and config run commands
# folders whose code runs later: installed packages (a `.pth` runs at every `python`), tox and nox's virtualenvs, direnv's
ENVIRONMENTS = frozenset(
    {".venv", "venv", "node_modules", "bower_components", "__pypackages__", ".tox", ".nox", ".direnv", ".eggs", ".pixi"}
)
CACHES = frozenset({".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"})  # data a test run keeps, never code


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


def wrap(argv: list[str], root: Path, tmp: str, protected: Iterable[Path]) -> list[str]:
    """`argv` inside bubblewrap, confined as the module says, with `tmp` its writable temp
    folder and `protected` (the paths a survey found) read-only. Raises if bwrap is missing."""
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
    for path, how in _mounts(root, protected):
        args += [how, str(path), str(path)]
    if data.is_dir() and _inside(data, root):  # tether's data kept in the workspace: hidden there too
        args += ["--tmpfs", str(data)]
    args += ["--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--chdir", str(root)]
    return args + ["--", *argv]


def _mounts(root: Path, protected: Iterable[Path]) -> list[tuple[Path, str]]:
    """Each protected path read-only, and each folder above one bound onto itself (immovable),
    parents before what they hold."""
    mounts = {}
    for path in protected:
        mounts[path] = "--ro-bind"
        for up in path.parents:
            if root not in up.parents:
                break
            mounts.setdefault(up, "--bind")
    return sorted(mounts.items())


def _inside(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents
