"""A hook's process and its answer (guard/hooks.py runs the hooks): the event fed to its stdin, its
stdout and stderr read in chunks while it runs — only what an answer needs is kept, so a hook that
writes gigabytes costs tether a few megabytes — and its answer read from how it ended.

The answer, for a hook that exits 0: a JSON object with a `"decision"` key, as all of stdout or as
one line of it (text around it is chatter). Every such object counts, and any deny wins: a hook
that echoes text it was sent cannot have an `{"decision": "allow"}` in that text overrule its own
deny. A hook fails — and so denies — where its answer cannot be read: a decision other than allow
or deny, stdout that is one JSON object without a decision, a line that starts with `{` and is not
JSON, or a line that looks like an answer and is not one (`decision` then `:` or `=`, such as
Python's `{'decision': 'deny'}`, or a pretty-printed object after other text); and where stdout
runs past `STDOUT_CAP` bytes, since what was dropped could have held a deny. Stderr keeps its head
and tail: exit 2's reason is its first line, a crash's its last."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING

from ...errors import Cancelled
from ...redaction import redact

if TYPE_CHECKING:
    from .hooks import Hook

__all__ = ["Capped", "answer", "kill", "wait"]

STDOUT_CAP = 1_000_000  # bytes of stdout kept whole; past it the hook fails (its answer could be in what was dropped)
STDERR_KEEP = 64_000  # bytes kept of stderr's head, and as many of its tail
CHUNK = 65_536
REASON_CAP = 300  # characters of a reason the model and the log are told
STOP_POLL = 0.1  # seconds between looks at a Stop while a hook runs
ANSWERISH = re.compile(r"""\bdecision\b["']?\s*[:=]""")  # a line meant as an answer, read or not


class Capped:
    """One output stream of a hook: its first `head` bytes and last `tail` bytes; the rest counted
    and dropped as it is read."""

    def __init__(self, head: int, tail: int = 0):
        self.head, self.tail = head, tail
        self.start, self.end, self.size = bytearray(), bytearray(), 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self.head - len(self.start)
        if room > 0:
            self.start += chunk[:room]
            chunk = chunk[room:]
        if self.tail and chunk:
            self.end += chunk
            del self.end[: max(0, len(self.end) - self.tail)]

    @property
    def over(self) -> bool:
        return self.size > len(self.start) + len(self.end)

    def text(self) -> str:
        """What was kept; a line break stands where bytes were dropped."""
        return (bytes(self.start) + (b"\n" if self.over else b"") + bytes(self.end)).decode("utf-8", "replace")


def wait(proc: subprocess.Popen, data: bytes, timeout: float, cancel) -> tuple[Capped, Capped, int | None]:
    """The hook fed `data`, its stdout, stderr and exit code (None: killed at the timeout); a Stop
    raises Cancelled (the caller kills it). Each pipe has a thread, so none can block the others."""
    out, err = Capped(STDOUT_CAP), Capped(STDERR_KEEP, STDERR_KEEP)
    reading = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True)]
    reading.append(threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True))
    for thread in [threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True), *reading]:
        thread.start()
    end = time.monotonic() + timeout
    while any(t.is_alive() for t in reading) or proc.poll() is None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("stopped while a hook ran")
        left = end - time.monotonic()
        if left <= 0:
            kill(proc)
            return out, err, None
        alive = [t for t in reading if t.is_alive()]
        if alive:
            alive[0].join(min(STOP_POLL, left))
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(min(STOP_POLL, left))
    return out, err, proc.returncode


def _feed(stream, data: bytes) -> None:
    """The event on the hook's stdin; a hook that reads none of it is no error."""
    with contextlib.suppress(OSError, ValueError), stream:
        stream.write(data)


def _drain(stream, into: Capped) -> None:
    with contextlib.suppress(OSError, ValueError), stream:
        while chunk := os.read(stream.fileno(), CHUNK):
            into.add(chunk)


def kill(proc: subprocess.Popen) -> None:
    """The hook and every process it started (its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def answer(hook: Hook, code: int | None, out: Capped, err: Capped) -> tuple[bool, str]:
    """(allowed, reason) from how a hook ended and what it wrote: see the module's protocol."""
    if code is None:
        return False, f"the hook failed: no answer within {hook.timeout:g}s"
    said = err.text()
    if code == 2:
        return False, _line(said) or _line(out.text()) or "the hook refused (exit 2) without a reason"
    if code != 0:  # a crash says what went wrong last (a traceback's last line)
        ended, last = f"killed by signal {-code}" if code < 0 else f"exit {code}", _line(said, last=True)
        return False, f"the hook failed: {ended}" + (f": {last}" if last else "")
    if out.over:
        return False, f"the hook failed: it wrote more than {STDOUT_CAP:,} bytes on stdout, where its answer could be lost"
    answers = _answers(out.text())
    if isinstance(answers, str):
        return False, f"the hook failed: {answers}"
    if not answers:  # a plain tool's chatter is not an answer: exit 0 allows
        return True, "allowed"
    if any(a["decision"] not in ("allow", "deny") for a in answers):
        return False, 'the hook failed: its JSON answer has no "decision" of "allow" or "deny"'
    denials = [a for a in answers if a["decision"] == "deny"]
    reason = _line(str((denials or answers)[-1].get("reason") or ""))
    return not denials, reason or ("allowed" if not denials else "the hook refused without a reason")


def _answers(text: str) -> list[dict] | str:
    """The JSON answers on stdout, or why it holds one that cannot be read."""
    text = text.strip()
    if text.startswith("{"):
        with contextlib.suppress(ValueError, RecursionError):
            whole = json.loads(text)
            if isinstance(whole, dict):  # all of stdout is the answer
                return [whole] if "decision" in whole else 'its JSON answer has no "decision" of "allow" or "deny"'
    found, broken = [], False
    for line in (line.strip() for line in text.splitlines()):
        data = None
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except (ValueError, RecursionError):
                broken = True
                continue
        if isinstance(data, dict) and "decision" in data:
            found.append(data)
        elif ANSWERISH.search(line):  # meant as an answer, and not one
            broken = True
    if broken:
        return "its answer on stdout is not valid JSON (write it as one line of JSON, or as all of stdout)"
    return found


def _line(text: str, last: bool = False) -> str:
    """The first (or last) line with words in it, redacted and cut short."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return redact(lines[-1 if last else 0][:REASON_CAP])[0] if lines else ""
