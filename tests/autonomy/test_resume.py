"""A run that stopped — on its budget, by a Stop, or killed with kill -9 — goes on with its
conversation, its leash and what it has spent, and the whole of it stays undoable."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import make_tree, user_config
from tether.autonomy.agent.start import RunOptions, prepare, resume
from tether.autonomy.history import runlog
from tether.autonomy.history.checkpoints import Checkpoints
from tether.errors import TetherError

BROKEN = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a + b\n"
FIX_ADD = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"
FIX_SUB = "calc.py\n```python\n<<<<<<< SEARCH\ndef sub(a, b):\n    return a + b\n=======\ndef sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n```\n"
FIXED = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
READ = 'TOOL read_file {"path": "calc.py"}'
CONFIG = {"routes": {"default": {"models": ["s/m"]}}, "verify": {"commands": [], "sandbox": "off"}}


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {"calc.py": BROKEN})


def test_a_run_out_of_steps_goes_on_with_its_conversation_and_what_it_spent(make_grid, work):
    grid = make_grid(CONFIG, s=[READ, FIX_ADD, "DONE both fixed"])
    first = prepare(RunOptions("fix add and sub", work, level="agent", max_steps=1), grid).run()
    assert first.status == "budget" and first.steps == 1

    with pytest.raises(TetherError, match=r"used 1 of its 1 steps; raise its max steps to go on"):
        resume(grid, work, None, {})
    run = resume(grid, work, None, {"max_steps": 5})
    assert run.to_dict()["resumes"] == first.id and run.to_dict()["level"] == "agent"
    result = run.run()

    assert result.id == first.id and result.status == "done" and "return a + b" in (work / "calc.py").read_text()
    assert result.steps == 3  # the first run's step counts against the same budget
    asked = grid.provider("s").requests[1].messages
    assert [m["role"] for m in asked] == ["system", "user", "assistant", "user"]
    assert asked[2]["content"] == READ and "resumed" in asked[3]["content"]
    assert "lines 1-" in asked[3]["content"]  # the tool's output it had asked for is still there
    found = runlog.replay(grid.store, first.id)
    assert found is not None and found[0]["status"] == "done" and found[0]["steps"] == 3


def test_a_stopped_run_resumed_twice_keeps_one_conversation(make_grid, work):
    grid = make_grid(CONFIG, s=[FIX_ADD, READ, FIX_SUB, "DONE"])
    first = prepare(RunOptions("fix add and sub", work, level="agent", max_steps=1), grid).run()
    second = resume(grid, work, first.id[:12], {"max_steps": 2}).run()
    assert second.status == "budget" and "calc.py" in runlog.replay(grid.store, first.id)[0]["changed"]
    third = resume(grid, work, None, {"max_steps": 4}).run()
    assert third.status == "done" and (work / "calc.py").read_text() == FIXED
    roles = [m["role"] for m in grid.provider("s").requests[-1].messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert sum("resumed" in m["content"] for m in grid.provider("s").requests[-1].messages) == 2


@pytest.mark.parametrize(
    "status, message",
    [("done", "ended done: there is nothing to resume"), ("running", "is still going on")],
)
def test_a_finished_or_live_run_is_not_resumed(make_grid, work, status, message):
    grid = make_grid(CONFIG, s=[FIX_ADD, "DONE"])
    first = prepare(RunOptions("fix add", work, level="agent"), grid).run()
    assert first.status == "done"
    log = runlog.RunLog.resume(grid.store, first.id)
    if status == "running":
        log.mark("running")
        log.hold()  # as a process going on with it would
    try:
        with pytest.raises(TetherError, match=message):
            resume(grid, work, first.id, {})
    finally:
        log.release()


def test_nothing_to_continue_is_one_clear_error(make_grid, work):
    with pytest.raises(TetherError, match="no run of `tether do`"):
        resume(make_grid(CONFIG, s=[]), work, None, {})
    with pytest.raises(TetherError, match="no single run"):
        resume(make_grid(CONFIG, s=[]), work, "nope", {})


def _prompts(db) -> int:
    """How many prompts the run log holds so far (0 while the database is not there yet)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM run_steps WHERE kind = 'prompt'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _tether(*args, cwd):
    return subprocess.run([sys.executable, "-m", "tether", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _replies(*replies):
    toml = ", ".join(
        json.dumps(r) if isinstance(r, str) else "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in r.items()) + " }" for r in replies
    )
    user_config(
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = [{toml}] }}\n'
        '[routes.default]\nmodels = ["s/m"]\n[verify]\nsandbox = "off"\n'
    )


def _killed(isolated, work) -> dict:
    """A `tether do` killed with kill -9 after its first change, while the model thinks; its row in `tether log`."""
    _replies(FIX_ADD, {"text": "DONE", "delay": 3600})  # the model "thinks" until the kill
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "do", "fix add and sub", "--level", "agent", "--verify", "true", "--json"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(3000):  # until the change is applied and the model asked again (no timing: the log says when)
            if _prompts(isolated / "data" / "tether" / "tether.db") >= 2 or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None and "return a + b" in (work / "calc.py").read_text()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    listed = json.loads(_tether("log", "--json", cwd=work).stdout)
    assert listed[-1]["status"] == "interrupted" and listed[-1]["changed"] == ["calc.py"]  # not "running" forever
    told = _tether("log", listed[-1]["id"], cwd=work)
    assert "interrupted: the process running it ended (killed or crashed)" in told.stdout + told.stderr
    return listed[-1]


def test_a_run_killed_with_kill_9_is_resumed_to_done_and_undone_as_one_change(isolated, work):
    killed = _killed(isolated, work)

    _replies(FIX_SUB, "DONE add and sub fixed")
    done = _tether("do", "--continue", "--json", cwd=work)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "done" and result["run"] == killed["id"] and result["changed"] == ["calc.py"]
    assert (work / "calc.py").read_text() == FIXED
    assert len(Checkpoints(work).log()) == 1  # the killed part and the resumed part: one change
    assert _tether("undo", cwd=work).returncode == 0
    assert (work / "calc.py").read_text() == BROKEN


def test_a_persons_edit_between_the_kill_and_the_resume_is_never_undone(isolated, work):
    killed = _killed(isolated, work)
    edited = (work / "calc.py").read_text() + "\n\ndef mul(a, b):\n    return a * b\n"
    (work / "calc.py").write_text(edited)

    _replies(FIX_SUB, "DONE add and sub fixed")
    result = json.loads(_tether("do", "--continue", "--json", cwd=work).stdout)
    assert result["status"] == "done" and result["run"] == killed["id"]
    assert (work / "calc.py").read_text() == edited.replace("def sub(a, b):\n    return a + b", "def sub(a, b):\n    return a - b")
    assert len(Checkpoints(work).log()) == 2  # the killed part is a change of its own, recorded as it left the file
    assert _tether("undo", cwd=work).returncode == 0
    assert (work / "calc.py").read_text() == edited  # the person's mul stays
    refused = _tether("undo", cwd=work)
    assert refused.returncode == 1 and "changed since" in refused.stderr
    assert (work / "calc.py").read_text() == edited


def test_a_limit_given_on_continue_replaces_the_runs_own_even_where_it_is_1(isolated, work):
    _replies(READ, READ, READ)
    stopped = json.loads(_tether("do", "fix add and sub", "--level", "agent", "--max-steps", "2", "--json", cwd=work).stdout)
    assert stopped["status"] == "budget" and stopped["steps"] == 2
    refused = _tether("do", "--continue", "--max-steps", "1", "--json", cwd=work)
    assert refused.returncode == 1 and "used 2 of its 1 steps" in refused.stderr  # --max-steps 1 is the person's, not a default
