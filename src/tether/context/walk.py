"""Which files of a tree go to a model, and why each other one does not.

Nested .gitignore files and a .tetherignore apply; a built-in list drops build artefacts,
caches and vendored dependencies but never a project's own docs (a nested `doc/build/` is a
docs source tree in many projects, so only a root `build/` or `dist/` is dropped). Symlinks are
followed only when they stay inside the root, out of any `.git`, and do not loop. Every skipped path is counted
with its reason."""

from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from ..errors import TetherError

ALWAYS_SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "bower_components",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".idea",
    ".next",
    ".nuxt",
    ".gradle",
    ".eggs",
    "_build",
    ".terraform",
    ".cache",
    "htmlcov",
    "coverage",
}
ROOT_SKIP_DIRS = {"build", "dist", "out", "target"}  # artefacts at the root; nested ones may be sources
SKIP_SUFFIXES = {".pyc", ".pyo", ".so", ".o", ".a", ".dll", ".dylib", ".class", ".min.js", ".min.css", ".map", ".egg-info"}
LOCK_FILES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Cargo.lock",
    "uv.lock",
    "Pipfile.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
}
BINARY_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".bmp",
    ".ico",
    ".webp",
    ".tiff",
    ".pdf",
    ".zip",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".7z",
    ".tar",
    ".jar",
    ".war",
    ".whl",
    ".exe",
    ".bin",
    ".gguf",
    ".onnx",
    ".pt",
    ".npy",
    ".npz",
    ".parquet",
    ".sqlite",
    ".db",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".eot",
    ".mp3",
    ".mp4",
    ".wav",
    ".ogg",
    ".mov",
    ".avi",
}
TETHER_SHOWN = (".tether/memory.md",)  # of tether's own folder, what a model is shown: the standing notes (autonomy/memory.py)
SNIFF = 8192
MAX_DEPTH = 100  # folders deep: no project's sources go deeper, and a tree that does is skipped with this reason


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


def walk(
    root: Path | str,
    include: list[str] | tuple = (),
    exclude: list[str] | tuple = (),
    *,
    max_file_bytes: int = 1_000_000,
    gitignore: bool = True,
) -> Walk:
    root = Path(root)
    if not root.exists():
        raise TetherError(f"{root}: no such file or folder")
    if not root.is_dir():
        raise TetherError(f"{root}: not a folder")
    root = root.resolve()
    result = Walk(root)
    include_spec = pathspec.GitIgnoreSpec.from_lines(include) if include else None
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    seen_dirs, stack = {root}, []  # a stack of folders being listed, never recursion: a tree may be thousands deep

    def enter(folder: Path, rel: str, rules: list, depth: int) -> None:
        if gitignore:
            rules = rules + _ignore_files(folder, rel)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            result.skipped.append((rel or ".", f"unreadable ({e.strerror})"))
            return
        stack.append((folder, rel, rules, depth, iter(entries)))

    enter(root, "", _ignore_files_above(root) if gitignore else [], 0)
    while stack:
        folder, rel, rules, depth, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        path = f"{rel}{entry.name}"
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir()  # follows links
        except OSError:
            result.skipped.append((path, "unreadable"))
            continue
        reason = _builtin_skip(entry.name, is_dir, rel == "", folder)
        if reason is None and tethers_own(path + ("/" if is_dir else "")):
            reason = "tether's own file"
        if reason is None and _ignored(rules, path, is_dir):
            reason = "gitignored"
        if reason is None and exclude_spec is not None and exclude_spec.match_file(path + ("/" if is_dir else "")):
            reason = "excluded"
        if reason is None and is_link:
            reason = _link_skip(root, folder, Path(os.path.realpath(entry.path)), is_dir, seen_dirs)
        if reason is None and is_dir and depth >= MAX_DEPTH:
            reason = f"deeper than {MAX_DEPTH} folders"
        if reason is not None:
            result.skipped.append((path + ("/" if is_dir else ""), reason))
        elif is_dir:
            seen_dirs.add(Path(os.path.realpath(entry.path)))
            enter(Path(entry.path), path + "/", rules, depth + 1)
        else:
            _add_file(result, entry, path, include_spec, max_file_bytes)
    return result


def ignored(root: Path, rel: str) -> bool:
    """Whether the ignore files (.gitignore, .tetherignore, at every level) leave `rel` out, as a
    walk would: what a tool or a link names is judged by where it really is, never by its name."""
    rules, folder, prefix = _ignore_files_above(root), root, ""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    for n, part in enumerate(parts):
        rules = rules + _ignore_files(folder, prefix)
        path = prefix + part
        if _ignored(rules, path, n < len(parts) - 1 or (folder / part).is_dir()):
            return True
        folder, prefix = folder / part, path + "/"
    return False


def tethers_own(rel: str) -> bool:
    """Whether `rel` (a folder's ending in /) is in the workspace's `.tether/` (tether's plan file,
    its leftovers), which is tether's, not the project's: no model is shown it or reads it, save
    the standing notes of TETHER_SHOWN. A small model shown the plan file kept rewriting it."""
    return rel.startswith(".tether/") and rel not in TETHER_SHOWN and rel != ".tether/"


def _link_skip(root: Path, folder: Path, target: Path, is_dir: bool, seen_dirs: set[Path]) -> str | None:
    """Why a symlink is not followed, or None."""
    if target != root and root not in target.parents:
        return "symlink outside the root"
    if any(p.lower() == ".git" for p in target.relative_to(root).parts):
        return "symlink into .git"  # a repository's config and hooks are never context
    if tethers_own(target.relative_to(root).as_posix() + ("/" if is_dir else "")):
        return "symlink to tether's own file"
    if ignored(root, target.relative_to(root).as_posix()):
        return "symlink to an ignored path"  # a cloned repository's link to a file people keep out of git (a tfstate)
    if not target.exists():
        return "broken symlink"
    if is_dir and (target in seen_dirs or target in folder.resolve().parents or target == folder.resolve()):
        return "symlink loop"
    return None


def _add_file(result: Walk, entry: os.DirEntry, path: str, include_spec, max_file_bytes: int) -> None:
    """A plain file joins the walk, or is skipped with its reason."""
    if not entry.is_file():
        result.skipped.append((path, "not a regular file"))
        return
    if include_spec is not None and not include_spec.match_file(path):
        result.skipped.append((path, "not included"))
        return
    try:
        size = entry.stat().st_size
    except OSError:
        result.skipped.append((path, "unreadable"))
        return
    binary = Path(entry.name).suffix.lower() in BINARY_SUFFIXES
    if not binary and size > max_file_bytes:
        result.skipped.append((path, f"over {max_file_bytes:,} bytes"))
        return
    result.files.append(SourceFile(path, size, binary))


def read_regular(path: Path) -> bytes:
    """A file's bytes, only where it is a plain file: a fifo would hang the read, and a socket or
    device file holds no text (a repository or a check can put any of them under a file's name). OSError else."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"{path.name} is not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never waits, should a fifo take the name meanwhile
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return handle.read()


def _ignore_files(folder: Path, rel: str) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    found = []
    for name in (".gitignore", ".tetherignore"):
        try:
            lines = read_regular(folder / name).decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        found.append((rel, pathspec.GitIgnoreSpec.from_lines(lines)))
    return found


def _ignore_files_above(root: Path) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    """The ignore files of the folders between the repository's top (the nearest folder above
    holding `.git`) and `root`, for a workspace that is a subfolder of a repository: its
    .gitignore still leaves out what it names. Each rule carries `root`'s path from its folder as
    a lead put before the path being judged (and a third item that marks it as from above)."""
    folders = []
    for folder in root.parents:
        folders.append(folder)
        if (folder / ".git").exists():
            break
    else:
        return []
    rules = []
    for folder in reversed(folders):
        lead = root.relative_to(folder).as_posix() + "/"
        rules += [(lead, spec, True) for _, spec in _ignore_files(folder, "")]
    return rules


def _ignored(rules: list, path: str, is_dir: bool) -> bool:
    """As git decides: the deepest ignore file with a pattern for the path (`!` included) wins."""
    for base, spec, *above in reversed(rules):
        local = base + path if above else path[len(base) :]
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
