"""Which project configs the person trusts, each pinned to the hash of its bytes: a `tether.toml`
that changes after `tether trust` is untrusted again until the person looks at it once more.

The pins live in the user's data dir (0700, the file 0600), which the agent may never write and a
sandboxed check cannot see."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import TetherError
from .paths import config_bytes, locked, write_json


@dataclass(frozen=True)
class TrustState:
    path: str  # the real path of the project's tether.toml
    trusted: bool
    sha256: str | None  # of the file as it is now
    pinned: str | None  # the hash the person trusted, if any

    def to_dict(self) -> dict:
        changed = self.pinned is not None and self.pinned != self.sha256
        return {"path": self.path, "trusted": self.trusted, "sha256": self.sha256, "changed_since_trusted": changed}


def pins_file() -> Path:
    from .config import data_dir, private_dir

    return private_dir(data_dir()) / "trust.json"


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(config_bytes(path)).hexdigest()
    except OSError:
        return None


def _load(pins: Path) -> dict[str, str]:
    try:
        data = json.loads(pins.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise TetherError(f"{pins}: cannot read the trusted configs ({e}); remove the file to trust none") from None
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def _key(path: Path | str) -> str:
    """The config by its folder's real path and its own name, not by where a link leads: a
    `tether.toml` that links to a trusted one elsewhere is another project's file, untrusted."""
    path = Path(path)
    return os.path.join(os.path.realpath(path.parent), path.name)


def state(path: Path | str) -> TrustState:
    key = _key(path)
    pinned = _load(pins_file()).get(key)
    digest = _digest(Path(key))
    return TrustState(key, pinned is not None and pinned == digest, digest, pinned)


def trust(path: Path | str, revoke: bool = False) -> TrustState:
    """Pin (or with `revoke`, forget) the project config at `path` as it is now."""
    real = _key(path)
    digest = _digest(Path(real))
    if digest is None and not revoke:
        raise TetherError(f"{path}: cannot read the config to trust")
    pins_path = pins_file()
    with locked(pins_path.with_name(".trust.lock")):
        pins = _load(pins_path)
        if revoke:
            pins.pop(real, None)
        else:
            pins[real] = digest
        write_json(pins_path, pins, sort_keys=True)
    return state(real)
