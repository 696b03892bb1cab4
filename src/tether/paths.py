"""Where tether keeps things and which folder a command means: the data dir (0700), a workspace by
its real path, the user's config file, the project's root and its tether.toml."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: one writer is assumed
    fcntl = None  # type: ignore[assignment]

from .errors import TetherError


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "tether"


def private_dir(path: Path) -> Path:
    """A folder only its owner can enter (0700), made if missing, inside a data dir that is 0700
    too: tether's data holds code, prompts and logs. A folder outside the data dir (a path the
    user named, such as /tmp for `--db /tmp/x.db`) is made if missing but its mode is the user's."""
    home = data_dir()
    for folder in (home, path):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if folder.stat().st_mode & 0o077 and folder.resolve().is_relative_to(home.resolve()):
            os.chmod(folder, 0o700)
    return path


def workspace(path: Path | str) -> Path:
    """A workspace by its real path; one clear error when it is not a folder."""
    root = Path(os.path.realpath(path))
    if not root.is_dir():
        raise TetherError(f"{path}: the workspace is not a folder")
    return root


def workspace_data(kind: str, root: Path, suffix: str = "") -> Path:
    """Where tether keeps `kind` (checkpoints, journals, indexes) for one workspace."""
    return data_dir() / kind / (hashlib.sha256(str(root).encode()).hexdigest()[:16] + suffix)


def models_dir() -> Path:
    """Model weights are large and shared: TETHER_MODELS_DIR lets tests and users keep one copy."""
    override = os.environ.get("TETHER_MODELS_DIR")
    return Path(override) if override else data_dir() / "models"


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tether" / "config.toml"


def project_root(start: Path | str | None = None) -> Path:
    """The workspace a command means: the nearest folder at or above `start` holding a
    `tether.toml` or a `.git`, else `start` itself — so a command run in a subfolder acts on
    the project, with the project's leash and undo history."""
    here = Path(os.path.realpath(start or Path.cwd()))
    for folder in (here, *here.parents):
        if (folder / "tether.toml").is_file() or (folder / ".git").exists():
            return folder
    return here


def project_config(start: Path | None = None) -> Path | None:
    """The project's `tether.toml`: the nearest one at or above `start` (the workspace of the
    command, never the current folder when the two differ)."""
    here = Path(os.path.realpath(start or Path.cwd()))
    for folder in (here, *here.parents):
        candidate = folder / "tether.toml"
        if candidate.is_file():
            return candidate
    return None


CONFIG_BYTES = 1_000_000  # no tether config is longer


def config_bytes(path: Path) -> bytes:
    """A config file's bytes, read at most one past the limit: a repository's tether.toml linked to
    /dev/zero or a /proc file would otherwise be read without end."""
    with open(path, "rb") as f:
        data = f.read(CONFIG_BYTES + 1)
    if len(data) > CONFIG_BYTES:
        raise OSError(f"longer than {CONFIG_BYTES:,} bytes, so not a tether config")
    return data


def write_json(path: Path, data, **options) -> None:
    """`data` as JSON in a 0600 file, written whole or not at all (a temporary file, synced, renamed)."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, **options)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """`text` in a file written whole or not at all (a temporary file beside it, synced, renamed); a
    file that was there keeps its mode, a new one gets the umask's."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(lock: Path):
    """One process at a time in the block (an exclusive flock on `lock`, made 0600 if absent)."""
    if fcntl is None:
        yield
        return
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
