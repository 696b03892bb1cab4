"""Two cores for CPU-bound work whose libraries hold the GIL (the tokenizer, tree-sitter).

A large batch is split in two by size; a forked child does one half while this process does
the other. The child shares what the parent already loaded (vocabularies, grammars) copy-on-
write, and sends back only its results."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable

from ..errors import TetherError

PARALLEL_BYTES = 8_000_000  # below this much input, a fork costs more than it saves


def in_two(work: Callable[[list], list], items: list, sizes: list[int]) -> list:
    """`work(items)`, done as two halves in two processes when the batch is large."""
    if sum(sizes) <= PARALLEL_BYTES or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return work(items)
    mine, theirs = _halves(sizes)
    done_there, done_here = _fork_join(lambda: work([items[i] for i in theirs]), lambda: work([items[i] for i in mine]))
    out: list = [None] * len(items)
    for i, result in zip(theirs, done_there, strict=False):
        out[i] = result
    for i, result in zip(mine, done_here, strict=False):
        out[i] = result
    return out


def _halves(sizes: list[int]) -> tuple[list[int], list[int]]:
    a, b, size_a, size_b = [], [], 0, 0
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        if size_a <= size_b:
            a.append(i)
            size_a += sizes[i]
        else:
            b.append(i)
            size_b += sizes[i]
    return sorted(a), sorted(b)


def _fork_join(child_work, parent_work) -> tuple:
    """Run `child_work` in a forked process while this one runs `parent_work`; both results."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and leave without running any cleanup
        os.close(read_end)
        try:
            payload = pickle.dumps(("ok", child_work()))
        except BaseException as e:  # noqa: BLE001 - handed to the parent
            payload = pickle.dumps(("error", f"{type(e).__name__}: {e}"))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    try:
        own = parent_work()
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
    status, value = pickle.loads(data) if data else ("error", "the worker process died")
    if status != "ok":
        raise TetherError(f"a worker process failed: {value}")
    return value, own
