"""What a check leaves in the workspace cannot steer tether's own writes: undo, redo, an apply
and the recovery after a crash resolve every path right before they touch it, and refuse a link
that leads into .git or out of the workspace, writing nothing. And a kill -9 at the moment a
change is being recorded still leaves it undoable."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import make_tree
from tests.security.test_crash import tether
from tether.autonomy.edits.journal import write_files
from tether.autonomy.edits.workspace import PathRefused

HOOK = "#!/bin/sh\necho hooked\n"
DELETE_HOOK = f"--- a/d/pre-commit\n+++ /dev/null\n@@ -1,2 +0,0 @@\n{''.join('-' + line + chr(10) for line in HOOK.splitlines())}"
CREATE_HOOK = f"d/pre-commit\n<<<<<<< SEARCH\n=======\n{HOOK}>>>>>>> REPLACE\n"
EDIT_APP = "app.py\n<<<<<<< SEARCH\nvalue = 0\n=======\nvalue = 1\n>>>>>>> REPLACE\n"


@pytest.fixture
def work(tmp_path):
    root = make_tree(tmp_path / "w", {"app.py": "value = 0\n", "d/pre-commit": HOOK, "d/notes.md": "notes\n"})
    (root / "d" / "pre-commit").chmod(0o755)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


@pytest.fixture(params=["git", "outside"])
def link(request, tmp_path):
    """Where a check points the folder `d` it replaced by a link, and why tether must refuse it."""
    if request.param == "git":
        return ".git/hooks", "into .git"
    outside = tmp_path / "outside"
    outside.mkdir()
    return str(outside), "outside the workspace"


def check_links(work, target):
    """What a check (a test command, free to write in the workspace) may do: swap d/ for a link."""
    shutil.rmtree(work / "d")
    os.symlink(target, work / "d")


def written_behind(work, target):
    folder = work / target if not os.path.isabs(target) else target
    return sorted(p.name for p in os.scandir(folder) if "sample" not in p.name)


def test_undo_writes_nothing_through_a_folder_a_check_made_a_link(work, link):
    target, why = link
    assert tether(work, "apply", "-", stdin=DELETE_HOOK).returncode == 0
    assert not (work / "d" / "pre-commit").exists()
    behind_before = written_behind(work, target)
    check_links(work, target)
    undone = tether(work, "undo")
    assert undone.returncode == 1 and why in undone.stderr and "symlink" in undone.stderr
    assert "Traceback" not in undone.stderr and len(undone.stderr.strip().splitlines()) == 1
    assert written_behind(work, target) == behind_before  # no pre-commit hook, no temporary file


def test_redo_writes_nothing_through_a_folder_a_check_made_a_link(work, link):
    target, why = link
    (work / "d" / "pre-commit").unlink()
    assert tether(work, "apply", "-", stdin=CREATE_HOOK).returncode == 0
    assert tether(work, "undo").returncode == 0 and not (work / "d" / "pre-commit").exists()
    behind_before = written_behind(work, target)
    check_links(work, target)
    redone = tether(work, "redo")
    assert redone.returncode == 1 and why in redone.stderr and "Traceback" not in redone.stderr
    assert written_behind(work, target) == behind_before
    assert [e["applied"] for e in json.loads(tether(work, "log", "--changes", "--json").stdout)] == [False]


def test_a_folder_swapped_for_a_link_while_an_apply_writes_gets_nothing_and_neither_does_the_rest(work, link):
    """The swap happens after the paths were planned and checked: the write itself refuses it."""
    target, _ = link
    behind_before = written_behind(work, target)
    with pytest.raises(PathRefused, match="symlink"):
        write_files(
            work,
            [("app.py", b"value = 1\n", None), ("d/pre-commit", b"#!/bin/sh\nexit 0\n", 0o755)],
            guard=lambda: check_links(work, target),
        )
    assert written_behind(work, target) == behind_before
    assert (work / "app.py").read_text() == "value = 0\n" and not list(work.rglob("*tether-tmp"))


def test_a_link_planted_at_the_file_itself_while_it_is_written_is_neither_followed_nor_replaced(work, tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")

    def plant():
        (work / "app.py").unlink()
        (work / "app.py").symlink_to(precious)

    with pytest.raises(PathRefused, match="symlink"):
        write_files(work, [("app.py", b"value = 1\n", None)], guard=plant)
    assert precious.read_text() == "precious\n" and (work / "app.py").is_symlink()


def test_undo_names_a_link_a_check_put_at_the_changed_file_itself(work, tmp_path):
    """The link leads to the very bytes the change left, yet it is a link: undo says so and
    leaves what it points to alone."""
    assert tether(work, "apply", "-", stdin=EDIT_APP).returncode == 0
    same = tmp_path / "same.py"
    same.write_text("value = 1\n")
    (work / "app.py").unlink()
    (work / "app.py").symlink_to(same)
    undone = tether(work, "undo")
    assert undone.returncode == 1 and "app.py" in undone.stderr and "symlink" in undone.stderr and "outside" in undone.stderr
    assert same.read_text() == "value = 1\n" and (work / "app.py").is_symlink()


def test_recovery_after_a_crash_does_not_follow_a_link_made_since(work):
    """An apply killed with its journal committed; before the next command, a check moves d/
    into .git and leaves a link in its place. Recovery refuses to finish through it, says what
    to do, and once the link is gone the workspace opens again."""
    reply = "d/pre-commit\n<<<<<<< SEARCH\necho hooked\n=======\necho changed\n>>>>>>> REPLACE\n"
    assert tether(work, "apply", "-", stdin=reply, crash="commit").returncode == -9
    shutil.rmtree(work / ".git" / "hooks")
    os.rename(work / "d", work / ".git" / "hooks")  # the temporary file travels with it
    os.symlink(".git/hooks", work / "d")
    blocked = tether(work, "log", "--changes")
    assert blocked.returncode == 1 and "symlink" in blocked.stderr and "Traceback" not in blocked.stderr
    assert (work / ".git" / "hooks" / "pre-commit").read_text() == HOOK  # not finished through the link
    os.unlink(work / "d")
    assert tether(work, "log", "--changes").returncode == 0


KILLED_WHILE_RECORDING = """
import os, signal, sys
from tether.autonomy.history import change, checkpoints
checkpoints.Checkpoints.record = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
change.apply_change(sys.argv[1], sys.stdin.read(), "killed while recording")
"""


@pytest.mark.slow
def test_an_apply_killed_as_its_change_is_recorded_is_still_undoable(work):
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_RECORDING, str(work)], input=EDIT_APP, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    log = json.loads(tether(work, "log", "--changes", "--json").stdout)
    assert (work / "app.py").read_text() == "value = 1\n" and [e["applied"] for e in log] == [True]
    assert tether(work, "undo").returncode == 0 and (work / "app.py").read_text() == "value = 0\n"


@pytest.mark.slow
def test_a_crashed_apply_recovered_by_a_proposal_alone_is_still_undoable(work):
    """A proposal (as MCP makes one) is the first thing to open the workspace after the crash:
    it finishes the change and records it, so undo still takes it back."""
    from tether.autonomy.edits import propose
    from tether.autonomy.history.checkpoints import Checkpoints

    assert tether(work, "apply", "-", stdin=EDIT_APP, crash="commit").returncode == -9
    propose(work, "d/notes.md\n<<<<<<< SEARCH\nnotes\n=======\nmore notes\n>>>>>>> REPLACE\n")
    assert (work / "app.py").read_text() == "value = 1\n" and [e["applied"] for e in Checkpoints(work).log()] == [True]
    Checkpoints(work).undo()
    assert (work / "app.py").read_text() == "value = 0\n"
