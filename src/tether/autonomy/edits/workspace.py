"""The workspace boundary and how files are read and written inside it.

A path is refused if it is absolute, climbs out with `..`, leads outside through a symlink, or
points into `.git`. Text is read as UTF-8 (a BOM kept) or, failing that, Latin-1, and written
back in the same encoding, with the file's own line endings, final newline and mode."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ...errors import TetherError


class PathRefused(TetherError):
    pass


def resolve(root: Path, path: str) -> tuple[Path, str]:
    """(absolute path, workspace-relative posix path) for `path`, or PathRefused."""
    text = path.strip().replace("\\", "/")
    if not text:
        raise PathRefused("the edit names no file")
    if text.startswith("/") or re.match(r"^[A-Za-z]:/", text) or text.startswith("~"):
        raise PathRefused(f"{path}: absolute paths are outside the workspace")
    parts = PurePosixPath(text).parts
    if ".." in parts:
        raise PathRefused(f"{path}: `..` leads outside the workspace")
    if parts and parts[0] == ".git":
        raise PathRefused(f"{path}: the .git folder is not the agent's to change")
    target = root / PurePosixPath(*[p for p in parts if p != "."])
    real = Path(os.path.realpath(target))
    if real != root and root not in real.parents:
        raise PathRefused(f"{path}: a symlink leads outside the workspace")
    return target, target.relative_to(root).as_posix()


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
            data = path.read_bytes()
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as e:
            raise TetherError(f"{path}: cannot read ({e.strerror or e})") from None
        if b"\x00" in data[:8192]:
            raise TetherError(f"{path}: a binary file cannot be edited as text")
        bom = data.startswith(b"\xef\xbb\xbf")
        try:
            text, encoding = data[3 if bom else 0:].decode("utf-8"), "utf-8"
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
