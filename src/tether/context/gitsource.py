"""Git as a source of context: a URL cloned into a cache at a branch, tag or commit, and the
history of a local checkout (change counts, log, diff). Git runs as a subprocess; a folder
that is not a repository simply has no history."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from .. import config
from ..errors import TetherError

_URL = re.compile(r"^(https?://|ssh://|git://|file://|git@[^:]+:)")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")


def is_url(source: str) -> bool:
    return bool(_URL.match(source))


def run_git(
    args: list[str], cwd: Path | None = None, timeout: float = 600, env: dict | None = None, input: str | None = None, binary: bool = False
) -> subprocess.CompletedProcess:
    """git in a clean environment (no prompts, none of the user's GIT_* settings), plus `env`;
    `binary` gives stdout as bytes."""
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=not binary,
            timeout=timeout,
            input=input,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})},
        )
    except FileNotFoundError:
        raise TetherError("git is not installed; tether needs it for URLs, history and checkpoints") from None
    except subprocess.TimeoutExpired:
        raise TetherError(f"git {args[0]} took longer than {timeout:g}s") from None


def checkout(url: str, ref: str | None = None) -> Path:
    """A clone of `url` at `ref` (branch, tag or commit) in the cache, fetched once."""
    key = hashlib.sha256(f"{url}@{ref or ''}".encode()).hexdigest()[:16]
    target = config.data_dir() / "repos" / key
    if (target / ".git").is_dir():
        return target
    tmp = target.with_name(key + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    config.private_dir(tmp.parent)
    if ref and _SHA.match(ref):
        steps = [
            (["init", "-q", str(tmp)], None),
            (["fetch", "-q", "--depth", "1", url, ref], tmp),
            (["checkout", "-q", "FETCH_HEAD"], tmp),
        ]
    else:
        steps = [(["clone", "-q", "--depth", "1", *(["--branch", ref] if ref else []), url, str(tmp)], None)]
    for args, cwd in steps:
        done = run_git(args, cwd)
        if done.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            last = (done.stderr.strip().splitlines() or ["failed"])[-1]
            raise TetherError(f"cannot fetch {url}{'@' + ref if ref else ''}: {last}")
    tmp.rename(target)
    return target


# What a repository's own .git/config may make git run, turned off: the repository is untrusted input.
_INERT = ["-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "diff.external=", "-c", "core.untrackedCache=false"]


_PLAIN = ["--no-ext-diff", "--no-textconv"]  # for log and diff: the repository's diff drivers stay unused


def inert(root: Path) -> list[str]:
    """The -c options that make the workspace's own git config run nothing: no fsmonitor, hooks,
    external diff, and every filter driver it names made plain (a clean or smudge filter runs
    whenever git reads the working tree). Read once per operation."""
    found = run_git(["config", "--get-regexp", r"^filter\."], root, timeout=30).stdout.split("\n")
    drivers = {line.split(" ", 1)[0].split(".")[1] for line in found if line.count(".") >= 2}
    plain = [
        part
        for d in sorted(drivers)
        for kv in (f"filter.{d}.clean=cat", f"filter.{d}.smudge=cat", f"filter.{d}.process=")
        for part in ("-c", kv)
    ]
    return [*_INERT, *plain]


def repo_git(args: list[str], root: Path, timeout: float = 600, safe: list[str] | None = None) -> subprocess.CompletedProcess:
    """git over the workspace's own repository with nothing of its config that runs a command
    (`safe`: what `inert(root)` gave, when one operation runs git more than once)."""
    return run_git([*(inert(root) if safe is None else safe), *args], root, timeout=timeout)


def _is_repo(root: Path, safe: list[str]) -> bool:
    done = repo_git(["rev-parse", "--is-inside-work-tree"], root, timeout=30, safe=safe)
    return done.returncode == 0 and done.stdout.strip() == "true"


def change_counts(root: Path, limit: int = 5000) -> Counter:
    """How many of the last `limit` commits touched each file (paths relative to root)."""
    safe = inert(root)
    if not _is_repo(root, safe):
        return Counter()
    done = repo_git(["log", f"-n{limit}", "--format=", "--name-only", "--relative", *_PLAIN, "--", "."], root, safe=safe)
    return Counter(line for line in done.stdout.splitlines() if line)


def log(root: Path, count: int) -> str:
    safe = inert(root)
    if not _is_repo(root, safe):
        return "(not a git repository)"
    args = ["log", f"-n{count}", "--date=short", "--format=%h %ad %an%n  %s", "--name-status", *_PLAIN, "--", "."]
    return repo_git(args, root, safe=safe).stdout.strip()


def diff(root: Path) -> str:
    """The uncommitted changes, less those of files the ignore files leave out (a tracked file
    named in .tetherignore stays unread here too)."""
    from .walk import ignored

    safe = inert(root)
    if not _is_repo(root, safe):
        return "(not a git repository)"
    names = repo_git(["diff", "HEAD", *_PLAIN, "--name-only", "--relative", "-z", "--", "."], root, safe=safe).stdout.split("\0")
    shown = [f":(literal){n}" for n in names if n and not ignored(root, n)]
    text = repo_git(["diff", "HEAD", *_PLAIN, "--", *shown], root, safe=safe).stdout.strip() if shown else ""
    return text or "(no uncommitted changes)"
