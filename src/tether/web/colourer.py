"""Syntax colouring in a process of its own, with a time limit.

Some of Pygments' lexer rules take minutes on a hostile line (Python's soft-keyword rule on 60,000
spaces: 20 s; Batch's `if` on 1,000 '=': 43 s), and one regex match never lets go of the
interpreter: in the server's own process the whole server would wait, Stop included. Here the
server waits on a pipe, which lets go; a text not coloured in time is shown plain and its worker
is replaced. A repository's files and a model's edits are untrusted input."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from .. import idle

__all__ = ["SECONDS", "colour_many", "warm"]

SECONDS = 2.0  # a request's limit: a 3,000-line file takes about 0.15 s
Lines = list[list[tuple[str, str]]]
_lock = threading.Lock()
_worker: tuple[subprocess.Popen, Connection, Connection] | None = None  # the process, what it is sent, what it answers
_used = [0.0]  # when it was last asked


def colour_many(items: list[tuple[str, str]], seconds: float | None = None, html: bool = False) -> list:
    """Each (path, text) coloured as `diffview.colour` does (`html`: each line's markup, as
    `diffview.line_html` makes it, which is quicker to send); None for all where the worker did not
    answer in `seconds` (or died): the caller shows them plain."""
    global _worker
    with _lock:
        try:
            if _worker is None:
                _worker = _start()
                idle.register(_release)
            _, ask, answer = _worker
            _used[0] = time.monotonic()
            ask.send((items, html))
            if answer.poll(SECONDS if seconds is None else seconds):
                return answer.recv()
        except (OSError, EOFError, BrokenPipeError):
            pass
        _stop()
        return [None] * len(items)


def warm() -> None:
    """Start the worker now (its imports take half a second), in the background."""
    threading.Thread(target=lambda: colour_many([("warm.py", "x = 1\n")]), name="tether-colour-warm", daemon=True).start()


def _start() -> tuple[subprocess.Popen, Connection, Connection]:
    """A fresh interpreter, spoken to over its stdin and stdout (no fork of a server's threads)."""
    serve = f"from {__name__} import _serve; _serve()"
    process = subprocess.Popen([sys.executable, "-c", serve], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    return process, Connection(os.dup(process.stdin.fileno()), readable=False), Connection(os.dup(process.stdout.fileno()), writable=False)


def _release(seconds: float, now: float) -> list[str]:
    """The worker goes when no page has asked it for `seconds` (see `tether.idle`); the next starts another."""
    with _lock:
        if _worker is None or now - _used[0] < seconds:
            return []
        _stop()
        return ["colourer"]


def _stop() -> None:
    global _worker
    if _worker is not None:
        process, ask, answer = _worker
        _worker = None
        process.kill()
        process.wait(5)
        for end in (ask, answer, process.stdin, process.stdout):
            if end is not None:
                end.close()


def _serve() -> None:
    from .diffview import colour, line_html

    asked, answer = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
    sys.stdout = sys.stderr  # nothing else may write into the answers
    while True:
        try:
            items, html = asked.recv()
        except EOFError:
            return
        done = [colour(path, text) for path, text in items]
        answer.send([[line_html(p) for p in lines] for lines in done] if html else done)
