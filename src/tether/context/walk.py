"""Which files of a tree go to a model, and why each other one does not.

Nested .gitignore files and a .tetherignore apply; a built-in list drops build artefacts,
caches and vendored dependencies but never a project's own docs (a nested `doc/build/` is a
docs source tree in many projects, so only a root `build/` or `dist/` is dropped). Symlinks are
followed only when they stay inside the root, out of any `.git`, and do not loop. Every skipped path is counted
with its reason."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from ..errors import TetherError

ALWAYS_SKIP_DIRS = {
    ".git", ".hg", ".svn", "node_modules", "bower_components", "__pycache__", ".venv", "venv", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".idea", ".next", ".nuxt", ".gradle",
    ".eggs", "_build", ".terraform", ".cache", "htmlcov", "coverage",
}
ROOT_SKIP_DIRS = {"build", "dist", "out", "target"}  # artefacts at the root; nested ones may be sources
SKIP_SUFFIXES = {".pyc", ".pyo", ".so", ".o", ".a", ".dll", ".dylib", ".class", ".min.js", ".min.css", ".map", ".egg-info"}
LOCK_FILES = {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Cargo.lock", "uv.lock", "Pipfile.lock", "composer.lock", "Gemfile.lock", "go.sum"}
BINARY_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tiff", ".pdf", ".zip", ".gz", ".tgz", ".bz2", ".xz",
    ".7z", ".tar", ".jar", ".war", ".whl", ".exe", ".bin", ".gguf", ".onnx", ".pt", ".npy", ".npz", ".parquet",
    ".sqlite", ".db", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp3", ".mp4", ".wav", ".ogg", ".mov", ".avi",
}
SNIFF = 8192


@dataclass
class SourceFile:
    path: str  # relative, with forward slashes
    size: int
    binary: bool = False


@dataclass
class Walk:
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.skipped))


def walk(root: Path | str, include: list[str] | tuple = (), exclude: list[str] | tuple = (), *,
         max_file_bytes: int = 1_000_000, gitignore: bool = True) -> Walk:
    root = Path(root)
    if not root.exists():
        raise TetherError(f"{root}: no such file or folder")
    if not root.is_dir():
        raise TetherError(f"{root}: not a folder")
    root = root.resolve()
    result = Walk(root)
    include_spec = pathspec.GitIgnoreSpec.from_lines(include) if include else None
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    seen_dirs = {root}

    def visit(folder: Path, rel: str, rules: list[tuple[str, pathspec.GitIgnoreSpec]]) -> None:
        if gitignore:
            rules = rules + _ignore_files(folder, rel)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            result.skipped.append((rel or ".", f"unreadable ({e.strerror})"))
            return
        for entry in entries:
            path = f"{rel}{entry.name}"
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()  # follows links
            except OSError:
                result.skipped.append((path, "unreadable"))
                continue
            reason = _builtin_skip(entry.name, is_dir, rel == "", folder)
            if reason is None and _ignored(rules, path, is_dir):
                reason = "gitignored"
            if reason is None and exclude_spec is not None and exclude_spec.match_file(path + ("/" if is_dir else "")):
                reason = "excluded"
            if reason is None and is_link:
                target = Path(os.path.realpath(entry.path))
                if target != root and root not in target.parents:
                    reason = "symlink outside the root"
                elif any(p.lower() == ".git" for p in target.relative_to(root).parts):
                    reason = "symlink into .git"  # a repository's config and hooks are never context
                elif not target.exists():
                    reason = "broken symlink"
                elif is_dir and (target in seen_dirs or target in folder.resolve().parents or target == folder.resolve()):
                    reason = "symlink loop"
            if reason is not None:
                result.skipped.append((path + ("/" if is_dir else ""), reason))
                continue
            if is_dir:
                seen_dirs.add(Path(os.path.realpath(entry.path)))
                visit(Path(entry.path), path + "/", rules)
                continue
            if not entry.is_file():
                result.skipped.append((path, "not a regular file"))
                continue
            if include_spec is not None and not include_spec.match_file(path):
                result.skipped.append((path, "not included"))
                continue
            try:
                size = entry.stat().st_size
            except OSError:
                result.skipped.append((path, "unreadable"))
                continue
            binary = Path(entry.name).suffix.lower() in BINARY_SUFFIXES
            if not binary and size > max_file_bytes:
                result.skipped.append((path, f"over {max_file_bytes:,} bytes"))
                continue
            result.files.append(SourceFile(path, size, binary))

    visit(root, "", [])
    return result


def _ignore_files(folder: Path, rel: str) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    found = []
    for name in (".gitignore", ".tetherignore"):
        try:
            lines = (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        found.append((rel, pathspec.GitIgnoreSpec.from_lines(lines)))
    return found


def _ignored(rules: list[tuple[str, pathspec.GitIgnoreSpec]], path: str, is_dir: bool) -> bool:
    """As git decides: the deepest ignore file with a pattern for the path (`!` included) wins."""
    for base, spec in reversed(rules):
        local = path[len(base):]
        verdict = spec.check_file(local + "/" if is_dir else local).include
        if verdict is not None:
            return verdict
    return False


def _builtin_skip(name: str, is_dir: bool, at_root: bool, folder: Path) -> str | None:
    if is_dir:
        if name in ALWAYS_SKIP_DIRS or name.endswith(".egg-info"):
            return "build or cache folder"
        if at_root and name in ROOT_SKIP_DIRS:
            return "build output"
        if name == "vendor" and ((folder / "go.mod").exists() or (folder / "composer.json").exists()):
            return "vendored dependencies"
        return None
    if name in LOCK_FILES:
        return "lock file"
    lower = name.lower()
    if any(lower.endswith(s) for s in SKIP_SUFFIXES):
        return "compiled or minified"
    return None


def is_binary(head: bytes) -> bool:
    return b"\x00" in head[:SNIFF]
