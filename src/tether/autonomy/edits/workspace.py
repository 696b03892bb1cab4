"""The workspace boundary and how files are read and written inside it.

A path is refused if it is absolute, climbs out with `..`, or — once symlinks are resolved —
leads outside or into any `.git`. Text is read as UTF-8 (a BOM kept) or, failing that, Latin-1, and written
back in the same encoding, with the file's own line endings, final newline and mode."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ... import config
from ...context.walk import is_binary, read_regular, tethers_own
from ...errors import TetherError


class PathRefused(TetherError):
    pass


# tether's own files: the config that governs a run and what it ignores are never the agent's to write
PROTECTED_NAMES = ("tether.toml", ".tetherignore")


def resolve(root: Path, path: str) -> tuple[Path, str]:
    """(real absolute path, workspace-relative posix path of it) for `path`, or PathRefused.

    Symlinks are resolved before anything is decided, so a link inside the workspace can lead
    neither outside it nor into any `.git` (the workspace's own or a nested repository's), and
    rules see the path that would really be touched."""
    text = path.strip().replace("\\", "/")
    if not text:
        raise PathRefused("the edit names no file")
    if text.startswith("/") or re.match(r"^[A-Za-z]:/", text) or text.startswith("~"):
        raise PathRefused(f"{path}: absolute paths are outside the workspace")
    parts = PurePosixPath(text).parts
    if ".." in parts:
        raise PathRefused(f"{path}: `..` leads outside the workspace")
    if _git_part(parts):
        raise PathRefused(f"{path}: a .git folder is not the agent's to change")
    real = Path(os.path.realpath(root / PurePosixPath(*[p for p in parts if p != "."])))
    if real != root and root not in real.parents:
        raise PathRefused(f"{path}: a symlink leads outside the workspace")
    rel = real.relative_to(root).as_posix()
    if _git_part(PurePosixPath(rel).parts):
        raise PathRefused(f"{path}: a symlink leads into .git ({rel})")
    return real, rel


def readable(root: Path, path: str) -> tuple[Path, str]:
    """`resolve`, and a file the ignore files leave out (.gitignore, .tetherignore) is refused too:
    what tether reads for a model or a page is what its walk would show, never more."""
    target, rel = resolve(root, path)
    if tethers_own(rel + ("/" if target.is_dir() else "")):
        raise PathRefused(f"{path}: tether's own file (its plan, its records), not part of the project")
    refuse_ignored(root, rel, "read", path)  # named as asked: a link's ignored target stays unnamed
    return target, rel


def refuse_ignored(root: Path, rel: str, doing: str, named: str | None = None) -> None:
    """PathRefused where the ignore files leave `rel` out (`named`: how the refusal names it)."""
    from ...context.walk import ignored

    if ignored(root, rel):
        raise PathRefused(f"{named or rel}: left out by .gitignore or .tetherignore, so tether does not {doing} it")


def still(root: Path, rel: str) -> Path:
    """The real path of `rel`, a workspace path resolved earlier (by a plan, the journal or the
    undo history), or PathRefused if a link has come to stand anywhere on it since: something a
    check ran may have swapped a folder for a link into .git, out of the workspace, or elsewhere."""
    real, now = resolve(root, rel)
    if now != rel:
        raise PathRefused(f"{rel}: a symlink now stands on the path (it leads to {now})")
    return real


def _git_part(parts) -> bool:
    return any(p.lower() == ".git" for p in parts)


def protected(root: Path, rel: str) -> str | None:
    """Why the agent may never write `rel` (already resolved), or None."""
    if rel.rsplit("/", 1)[-1] in PROTECTED_NAMES:
        return f"{rel}: tether's own config is not the agent's to change"
    if rel == ".tether/plan.md":
        return f"{rel}: tether's plan file is the person's to edit; a plan's run marks its steps itself"
    if rel == ".tether/memory.md":
        return f"{rel}: tether's memory of this project changes only when a person accepts a note (`tether memory`)"
    if rel == ".tether" or rel.startswith(".tether/"):
        return f"{rel}: tether's own files are not the agent's to change"
    data = Path(os.path.realpath(config.data_dir()))
    real = root / rel
    if real == data or data in real.parents:
        return f"{rel}: tether's data is not the agent's to change"
    if real in _config_targets(root, rel):
        return f"{rel}: a tether.toml or .tetherignore links to it, so it is tether's config, not the agent's to change"
    return None


def _config_targets(root: Path, rel: str) -> set[Path]:
    """Where the config files that could govern a run here really are: those of the workspace,
    the folders above it, and the folders on the way to `rel` — a link named tether.toml makes
    its target the config."""
    folders = [root, *root.parents, *(root / p for p in PurePosixPath(rel).parents if str(p) != ".")]
    return {Path(os.path.realpath(folder / name)) for folder in folders for name in PROTECTED_NAMES if (folder / name).is_symlink()}


@dataclass
class TextFile:
    """A file's text with \\n line endings, and how to write it back as it was."""

    text: str
    encoding: str = "utf-8"
    bom: bool = False
    crlf: bool = False
    final_newline: bool = True
    mode: int | None = None

    @classmethod
    def read(cls, path: Path) -> "TextFile":
        try:
            data = read_regular(path)
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as e:
            raise TetherError(f"{path}: cannot read ({e.strerror or e})") from None
        if is_binary(data):
            raise TetherError(f"{path}: a binary file cannot be edited as text")
        bom = data.startswith(b"\xef\xbb\xbf")
        try:
            text, encoding = data[3 if bom else 0 :].decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        crlf = "\r\n" in text and text.count("\r\n") >= text.count("\n") / 2
        text = text.replace("\r\n", "\n")
        return cls(text, encoding, bom, crlf, text.endswith("\n") or not text, mode)

    def encode(self, text: str) -> bytes:
        if text and not self.final_newline and text.endswith("\n"):
            text = text[:-1]
        if self.crlf:
            text = text.replace("\n", "\r\n")
        try:
            data = text.encode(self.encoding)
        except UnicodeEncodeError:
            raise TetherError(f"the new text has characters that {self.encoding} cannot hold") from None
        return (b"\xef\xbb\xbf" if self.bom else b"") + data
