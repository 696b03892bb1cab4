"""A fresh sign-in link for a running `tether ui`, without a restart: the server leaves a note
(0600, in the private data dir) with its address and a secret; `tether ui --link` reads it and asks
the server for a new one-time token. Only the user who started the server can read the note."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx

from .. import config
from ..errors import TetherError


def note_path(root: Path) -> Path:
    folder = config.private_dir(config.data_dir() / "ui")
    return folder / (hashlib.sha256(str(root).encode()).hexdigest()[:16] + ".json")


def announce(root: Path, origin: str, admin: str) -> Path:
    """Leave the note for `fresh_link`; the caller removes it when the server stops."""
    path = note_path(root)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"origin": origin, "admin": admin, "pid": os.getpid()}, f)
    return path


def fresh_link(root: Path) -> str:
    """A new one-time sign-in URL from the `tether ui` serving `root`."""
    path = note_path(root)
    try:
        note = json.loads(path.read_text())
        answer = httpx.post(f"{note['origin']}/door/link", headers={"x-tether-admin": note["admin"]}, timeout=10)
    except (OSError, ValueError, KeyError, TypeError):
        raise TetherError(f"no tether ui is running for {root}; start one with `tether ui`") from None
    except httpx.HTTPError:
        raise TetherError(f"the tether ui for {root} does not answer (stopped?); start one with `tether ui`") from None
    if answer.status_code != 200:
        raise TetherError(f"the tether ui for {root} refused a new link ({answer.status_code}): start one with `tether ui`")
    return f"{note['origin']}/?token={answer.text.strip()}"
