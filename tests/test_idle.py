"""A long-lived process gives back what sits idle: every holder is asked with the same clock, the
shortest idle time asked for wins, and the search's embedding table is dropped and made again."""

import time

from tether import idle
from tether.context import embedders


def test_each_holder_is_asked_and_the_shortest_idle_time_wins(monkeypatch):
    asked = []
    monkeypatch.setattr(idle, "_releases", [])
    monkeypatch.setattr(idle, "_period", 300.0)  # as if the reaper ran already (no thread is started here)
    idle.register(lambda seconds, now: asked.append((seconds, now)) or ["a"], 300.0)
    idle.register(lambda seconds, now: asked.append((seconds, now)) or [], 10.0)
    assert idle._period == 10.0 and idle._shorter.is_set()  # the reaper's wait for 75 s starts again, at 2.5 s
    idle._shorter.clear()
    assert idle.release(10.0, now=123.0) == ["a"] and asked == [(10.0, 123.0), (10.0, 123.0)]


def test_the_embedding_table_is_dropped_when_idle_and_made_again_on_the_next_search():
    table = embedders.get("static")
    assert "static" not in embedders._release(60.0, time.monotonic())  # used a moment ago: kept (another test's e5 may go)
    assert "static" in embedders._release(60.0, time.monotonic() + 61)
    again = embedders.get("static")
    assert again is not table and again.embed(["def area"]).shape == (1, 256)
