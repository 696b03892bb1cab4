"""The agent on a terminal: a live status line, and the person who answers the leash's questions."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from ._shared import e, err, print_diff, usd


class LiveLine:
    """One status line at the bottom — step, tokens, cost, what is happening — with diffs and
    check results printed above it as they come."""

    def __init__(self):
        self.status = err.status("starting…")
        self.status.start()

    def event(self, kind: str, **data) -> None:
        if kind in ("status", "reading", "writing"):
            self.status.update(Ticking(kind, data))
        elif kind == "diff":
            with self.paused():
                print_diff(data["diff"])
        elif kind == "verify":
            err.print(f"$ {e(data['command'])} → {'[green]ok[/green]' if data['ok'] else '[red]failed[/red]'}")
        elif kind == "tool":
            err.print(
                f"[dim]{e(data['name'])} {e(data['target'])}[/dim]"
                + ("" if data["allowed"] else f" [red]refused[/red]: {e(data['reason'])}")
            )
        elif kind == "note":
            err.print(f"[dim]{e(data['text'])}[/dim]")

    def stop(self) -> None:
        self.status.stop()

    @contextlib.contextmanager
    def paused(self):
        """The spinner off while something else owns the terminal (a diff, a question)."""
        self.status.stop()
        try:
            yield
        finally:
            self.status.start()


class Ticking:
    """The progress line, its seconds counting on between events (rich redraws it as it spins)."""

    def __init__(self, kind: str, data: dict):
        self.kind, self.data, self.at = kind, data, time.monotonic()

    def __rich__(self) -> str:
        return progress_line(self.kind, {**self.data, "elapsed": self.data.get("elapsed", 0) + time.monotonic() - self.at})


def progress_line(kind: str, data: dict) -> str:
    """What the model is doing now, as one line: the step, what it spent, how long this call has
    taken, and how far it has read its prompt (with the time left) or what it is writing."""
    spent = f"step {data['step']} · {data['tokens']:,} tokens · {usd(data['cost'])} · " if "step" in data else ""  # a question: one call
    head = f"{spent}{data.get('elapsed', 0):.0f}s"
    if kind == "reading":
        left = f" · about {data['left']:.0f}s left" if data.get("left") is not None else ""
        percent = 100 * data["read"] // max(data["total"], 1)
        return f"{head} · reading the prompt: {data['read']:,} of {data['total']:,} tokens ({percent}%){left}"
    if kind == "writing":
        tail = " ".join(data.get("text", "").split())[-60:]
        return f"{head} · writing: {data['written']:,} tokens{' · ' + e(tail) if tail else ''}"
    return f"{head} · {e(data.get('doing') or 'working')}"


class TerminalPerson:
    """The leash's questions, asked on the terminal: y / n / edit / quit per hunk."""

    def __init__(self, live: LiveLine | None = None):
        self.live = live

    def confirm(self, question: str) -> bool:
        with self.live.paused() if self.live else contextlib.nullcontext():
            err.print(f"[yellow]?[/yellow] {e(question)}", highlight=False)  # the question's text is data: no markup in it
            return self._key("[y]es / [n]o ", "yn") == "y"

    def review(self, hunks) -> list[bool] | None:
        with self.live.paused() if self.live else contextlib.nullcontext():
            taken = []
            for n, hunk in enumerate(hunks, start=1):
                err.print(f"[bold]hunk {n} of {len(hunks)}[/bold]")
                print_diff(hunk.text(), err)
                key = self._key("take it? [y]es / [n]o / [e]dit / [q]uit ", "ynesq")
                if key == "q":
                    return None
                if key == "e":
                    hunk.edit(self._edit("".join(hunk.new)))
                taken.append(key in "ye")
            return taken

    @staticmethod
    def _key(prompt: str, allowed: str) -> str:
        while True:
            try:
                answer = input(prompt).strip().lower()[:1]
            except EOFError:
                return "q" if "q" in allowed else "n"
            if answer and answer in allowed:
                return answer

    @staticmethod
    def _edit(text: str) -> str:
        with tempfile.NamedTemporaryFile("w+", suffix=".txt", delete=False) as handle:
            handle.write(text)
        try:
            subprocess.call([*os.environ.get("EDITOR", "vi").split(), handle.name])
            return Path(handle.name).read_text()
        finally:
            os.unlink(handle.name)
