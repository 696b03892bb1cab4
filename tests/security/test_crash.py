"""kill -9 at every phase of an apply and of an undo: the next command finds the workspace all old
or all new, with no temporary file left, and an apply that it finished is in the undo history."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import make_tree

FILES = [f"pkg/m{n}.py" for n in range(4)]
REPLY = "".join(f"{f}\n<<<<<<< SEARCH\nvalue = 0\n=======\nvalue = 1\n>>>>>>> REPLACE\n" for f in FILES)
POINTS = [f"prepare:{f}" for f in FILES] + ["commit"] + [f"rename:{f}" for f in FILES]


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
@pytest.mark.parametrize("point", ["commit", f"rename:{FILES[0]}", f"rename:{FILES[-1]}"])
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
