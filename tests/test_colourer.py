"""A hostile line that makes a Pygments rule run for minutes never holds the server: the colouring
process is given a limit, the text is shown plain, and the next file is coloured by a fresh one."""

import time

from tether.web import colourer
from tether.web.diffview import file_lines

EVIL = "match" + " " * 60000 + "\n"  # Python's soft-keyword rule backtracks over the spaces: ~20 s


def test_a_text_that_runs_out_of_time_is_shown_plain_and_the_next_is_coloured():
    assert colourer.colour_many([("evil.py", EVIL), ("ok.py", "x = 1\n")], seconds=1.0) == [None, None]
    assert colourer.colour_many([("ok.py", "def f(): pass\n")])[0][0][0] == ("k", "def")  # a new worker


def test_the_file_view_shows_such_a_file_plain(monkeypatch):
    monkeypatch.setattr(colourer, "SECONDS", 1.0)
    lines = file_lines("evil.py", EVIL + "def f(): pass\n")
    assert lines[1] == "def f(): pass" and "<i" not in "".join(lines)


def test_the_worker_goes_when_idle_and_comes_back_when_asked():
    colourer.colour_many([("ok.py", "x = 1\n")])
    process = colourer._worker[0]
    assert colourer._release(60.0, time.monotonic()) == []  # asked a moment ago
    assert colourer._release(60.0, time.monotonic() + 61) == ["colourer"] and process.poll() is not None
    assert colourer.colour_many([("ok.py", "def f(): pass\n")])[0][0][0] == ("k", "def")
