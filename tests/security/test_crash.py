"""kill -9 at every phase of an apply and of an undo: the next command finds the workspace all old
or all new, with no temporary file left, and an apply that it finished is in the undo history
(once: also when it was killed after the change was recorded but before its journal went)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import make_tree

FILES = [f"pkg/m{n}.py" for n in range(4)]
REPLY = "".join(f"{f}\n<<<<<<< SEARCH\nvalue = 0\n=======\nvalue = 1\n>>>>>>> REPLACE\n" for f in FILES)
POINTS = [f"prepare:{f}" for f in FILES] + ["commit"] + [f"rename:{f}" for f in FILES] + ["recorded", "removed"]


def tether(work, *args, crash=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if k != "TETHER_CRASH_AT"} | ({"TETHER_CRASH_AT": crash} if crash else {})
    return subprocess.run([sys.executable, "-m", "tether.cli", *args], cwd=work, env=env, capture_output=True, text=True, input=stdin)


def state(work, files=FILES):
    values = {(work / f).read_text() for f in files}
    assert len(values) == 1, f"a mix of old and new files: {values}"
    temps = [p for p in work.rglob("*") if "tether-tmp" in p.name]
    assert not temps, f"temporary files left: {temps}"
    return "new" if values == {"value = 1\n"} else "old"


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_an_apply_killed_at_any_phase_is_recovered_by_the_next_command(tmp_path, point):
    work = make_tree(tmp_path / "w", {f: "value = 0\n" for f in FILES})
    (work / "reply.txt").write_text(REPLY)
    killed = tether(work, "apply", "reply.txt", crash=point)
    assert killed.returncode == -9, killed.stderr
    log = json.loads(tether(work, "log", "--changes", "--json").stdout)  # any command recovers first
    expected = "old" if point.startswith("prepare") else "new"
    assert state(work) == expected
    assert [e["applied"] for e in log] == ([True] if expected == "new" else [])
    if expected == "new":
        assert tether(work, "undo").returncode == 0 and state(work) == "old"


@pytest.mark.slow
@pytest.mark.parametrize("point", ["commit", f"rename:{FILES[0]}", f"rename:{FILES[-1]}", "recorded", "removed"])
def test_an_undo_killed_midway_is_finished_and_the_history_agrees(tmp_path, point):
    work = make_tree(tmp_path / "w", {f: "value = 0\n" for f in FILES})
    assert tether(work, "apply", "-", stdin=REPLY).returncode == 0 and state(work) == "new"
    assert tether(work, "undo", crash=point).returncode == -9
    log = json.loads(tether(work, "log", "--changes", "--json").stdout)
    assert state(work) == "old" and [e["applied"] for e in log] == [False]
    assert tether(work, "redo").returncode == 0 and state(work) == "new"


@pytest.mark.slow
def test_a_400_file_apply_killed_in_its_rename_phase_is_finished_and_undoable(tmp_path):
    files = [f"pkg/m{n}.py" for n in range(400)]
    work = make_tree(tmp_path / "w", {f: "value = 0\n" for f in files})
    reply = "".join(f"{f}\n<<<<<<< SEARCH\nvalue = 0\n=======\nvalue = 1\n>>>>>>> REPLACE\n" for f in files)
    assert tether(work, "apply", "-", stdin=reply, crash="rename:pkg/m53.py").returncode == -9
    assert tether(work, "undo").returncode == 0  # recovers (all new, recorded), then undoes it
    assert state(work, files) == "old"


def test_an_apply_never_overwrites_a_write_made_after_it_read_the_file(tmp_path):
    """Two applies at once: the second to commit finds the file changed under it and writes nothing."""
    from tether.autonomy.edits import propose
    from tether.errors import TetherError

    work = make_tree(tmp_path / "w", {"m.py": "a = 1\nb = 2\n"})
    _, first = propose(work, "m.py\n<<<<<<< SEARCH\na = 1\n=======\na = 10\n>>>>>>> REPLACE\n")
    _, second = propose(work, "m.py\n<<<<<<< SEARCH\nb = 2\n=======\nb = 20\n>>>>>>> REPLACE\n")
    first.commit()
    with pytest.raises(TetherError, match="changed while the edit was planned"):
        second.commit()
    assert (work / "m.py").read_text() == "a = 10\nb = 2\n"


def test_recovery_waits_for_a_writer_that_is_still_running(tmp_path):
    """A journal in its prepare phase may be another live process's, not a crash's: recover waits
    for the workspace lock instead of rolling that writer back under it."""
    import fcntl
    import threading

    from tether.autonomy.edits import journal

    work = make_tree(tmp_path / "w", {"m.py": "a = 1\n"})
    lock = journal.path_for(work).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    temp = work / ".m.py.live.tether-tmp"
    temp.write_text("a = 2\n")
    journal._save(
        journal.path_for(work),
        {"root": str(work), "phase": "commit", "meta": {}, "steps": [{"op": "write", "rel": "m.py", "tmp": str(temp), "mode": 0o644}]},
    )
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the live writer holds the lock
        waiting = threading.Thread(target=journal.recover, args=(work,))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive() and temp.exists()  # it waits rather than touch the writer's files
    waiting.join()
    assert (work / "m.py").read_text() == "a = 2\n" and not temp.exists()
