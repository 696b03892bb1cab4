"""The workspaces tether was started in, most recent first: the door's way back to another one.

The record is one small JSON list in the user's private data dir (0600, written whole and
atomically, under a lock), at most `LIMIT` real paths. A record that cannot be read is one clear
note and an empty list, never a crash; the next workspace remembered starts it over. A face may
open only a path from this record that is still a folder, never one a browser made up."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import TetherError
from .paths import locked, write_json

LIMIT = 20
LABELS = {"trusted": "trusted config", "untrusted": "config not trusted", "none": "no tether.toml"}


class NotRecent(TetherError):
    """A workspace asked for that is not in the recent list (or is no longer a folder)."""

    http_status, error_type = 403, "forbidden"


@dataclass(frozen=True)
class Workspace:
    path: str
    trust: str  # "trusted", "untrusted" (its tether.toml only narrows) or "none" (no tether.toml)
    current: bool = False

    @property
    def label(self) -> str:
        return LABELS[self.trust]

    def to_dict(self) -> dict:
        return {"path": self.path, "trust": self.trust, "label": self.label, "current": self.current}


@dataclass(frozen=True)
class Recent:
    workspaces: list[Workspace]
    note: str | None = None  # why the record could not be read, when it could not

    def to_dict(self) -> dict:
        return {"workspaces": [w.to_dict() for w in self.workspaces], "note": self.note}


def record_file() -> Path:
    from .paths import data_dir, private_dir

    return private_dir(data_dir()) / "workspaces.json"


def read() -> tuple[list[str], str | None]:
    """The recorded paths, most recent first, and a note when the record cannot be read."""
    path = record_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], None
    except (OSError, ValueError) as e:
        return [], f"{path}: the recent workspaces cannot be read ({type(e).__name__}); the list starts over"
    if not isinstance(data, list) or not all(isinstance(p, str) for p in data):
        return [], f"{path}: the recent workspaces are not a list of paths; the list starts over"
    return _unique(data), None


def remember(root: Path | str) -> bool:
    """Put `root` (by its real path) first in the record; False when the record cannot be written
    (a read-only data dir): the list is a convenience, and no command fails for it."""
    real = os.path.realpath(root)
    try:
        path = record_file()
        with locked(path.with_name(".workspaces.lock")):
            write_json(path, _unique([real, *read()[0]]))
    except OSError:
        return False
    return True


def recent(current: Path | str | None = None) -> Recent:
    """The recorded workspaces with each one's trust state, `current` first-class among them (it
    is listed even when the record could not hold it); folders that are gone are left out."""
    paths, note = read()
    here = os.path.realpath(current) if current is not None else None
    if here is not None and here not in paths:
        paths = [here, *paths][:LIMIT]
    return Recent([Workspace(p, trust_of(p), p == here) for p in paths if os.path.isdir(p)], note)


def chosen(path: object, current: Path | str | None = None) -> Path:
    """The workspace a face may open for `path`: one from the record (or `current`, the one open
    now), by its real path, still a folder."""
    if not isinstance(path, str) or not path:
        raise NotRecent("choose a workspace from the recent list")
    real = os.path.realpath(path)
    allowed = [*read()[0], *([os.path.realpath(current)] if current is not None else [])]
    if real != path or real not in allowed:
        raise NotRecent(f"{path[:200]} is not one of the recent workspaces; only those can be opened here")
    if not os.path.isdir(real):
        raise NotRecent(f"{path[:200]} is no longer a folder")
    return Path(real)


def trust_of(root: Path | str) -> str:
    """'trusted', 'untrusted' or 'none': how the workspace's tether.toml (the one its config
    would load) stands with `tether trust`."""
    from . import trust
    from .paths import project_config

    config = project_config(Path(root))
    if config is None:
        return "none"
    try:
        return "trusted" if trust.state(config).trusted else "untrusted"
    except TetherError:  # an unreadable pins file trusts nothing
        return "untrusted"


def _unique(paths: list[str]) -> list[str]:
    return list(dict.fromkeys(paths))[:LIMIT]
