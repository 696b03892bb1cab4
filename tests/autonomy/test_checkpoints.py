"""Undo and redo restore exact bytes, in any folder, without touching the user's own git."""

import stat
import subprocess

import pytest

from tests.conftest import make_tree
from tether.autonomy.history.change import apply_change
from tether.autonomy.history.checkpoints import Checkpoints
from tether.errors import TetherError

REPLY = """app.py
<<<<<<< SEARCH
x = 1
=======
x = 2
>>>>>>> REPLACE

```diff
--- /dev/null
+++ b/created.py
@@ -0,0 +1 @@
+NEW = True
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-bye = 1
```
"""


@pytest.fixture
def work(tmp_path):
    root = make_tree(
        tmp_path / "w",
        {
            "app.py": "x = 1\r\ny = 2\r\n",
            "gone.py": "bye = 1\n",
            "blob.bin": b"\x00\x01\xff" * 100,
            "node_modules/dep/index.js": "ignored\n",
        },
    )
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    return root


def snapshot(root):
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def test_undo_and_redo_restore_exact_bytes(work):
    before = snapshot(work)
    report, change = apply_change(work, REPLY, "three edits")
    assert report.applied and sorted(change.files) == ["app.py", "created.py", "gone.py"]
    after = snapshot(work)
    assert after["app.py"][0] == b"x = 2\r\ny = 2\r\n" and "gone.py" not in after and "created.py" in after
    cp = Checkpoints(work)
    cp.undo()
    assert snapshot(work) == before  # created file removed, deleted file back, CRLF, binary and mode intact
    cp.redo()
    assert snapshot(work) == after
    assert [e["applied"] for e in cp.log()] == [True]
    cp.undo()
    assert cp.log()[0]["applied"] is False
    with pytest.raises(TetherError, match="nothing to undo"):
        cp.undo()


def test_a_new_change_after_undo_drops_the_redo(work):
    apply_change(work, REPLY, "first")
    cp = Checkpoints(work)
    cp.undo()
    apply_change(work, "app.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 9\n>>>>>>> REPLACE\n", "second")
    assert [e["message"] for e in cp.log()] == ["second"]
    with pytest.raises(TetherError, match="nothing to redo"):
        cp.redo()


def test_the_users_git_repository_is_untouched(work):
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run(
        ["git", "-c", "user.name=u", "-c", "user.email=u@u", "commit", "-q", "--allow-empty", "-m", "mine"], cwd=work, check=True
    )
    git_files = sorted(p.as_posix() for p in (work / ".git").rglob("*"))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout
    apply_change(work, REPLY, "edit")
    Checkpoints(work).undo()
    assert sorted(p.as_posix() for p in (work / ".git").rglob("*")) == git_files
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout == head


def test_undo_refuses_to_overwrite_a_hand_edit_made_after_the_change_and_names_the_file(work):
    apply_change(work, REPLY, "edit")
    (work / "app.py").write_text("edited by hand\n")
    with pytest.raises(TetherError, match=r"cannot undo .*app\.py changed since"):
        Checkpoints(work).undo()
    assert (work / "app.py").read_text() == "edited by hand\n" and (work / "created.py").exists()
    assert [e["applied"] for e in Checkpoints(work).log()] == [True]  # still undoable once the edit is dealt with


def test_undo_keeps_files_a_person_created_and_edited_after_the_change(work):
    apply_change(work, "app.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n", "edit")
    (work / "mine.py").write_text("my new work\n")
    (work / "gone.py").write_text("my later edit\n")
    Checkpoints(work).undo()
    assert (work / "app.py").read_bytes() == b"x = 1\r\ny = 2\r\n"
    assert (work / "mine.py").read_text() == "my new work\n" and (work / "gone.py").read_text() == "my later edit\n"


def test_redo_refuses_when_a_file_changed_after_the_undo(work):
    apply_change(work, REPLY, "edit")
    cp = Checkpoints(work)
    cp.undo()
    (work / "created.py").write_text("a person's file of the same name\n")
    with pytest.raises(TetherError, match=r"cannot redo .*created\.py"):
        cp.redo()
    assert (work / "created.py").read_text() == "a person's file of the same name\n"


def test_undo_keeps_a_private_files_mode(work):
    (work / "secret_conf.py").write_text("x = 1\n")
    (work / "secret_conf.py").chmod(0o600)
    apply_change(work, "secret_conf.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n", "edit")
    assert stat.S_IMODE((work / "secret_conf.py").stat().st_mode) == 0o600
    Checkpoints(work).undo()
    assert (work / "secret_conf.py").read_text() == "x = 1\n" and stat.S_IMODE((work / "secret_conf.py").stat().st_mode) == 0o600


def test_checkpoints_hold_only_the_files_a_change_touched_and_only_their_owner_reads_them(work, tmp_path):
    (work / ".env").write_text("CLOUD_KEY=AKIAABCDEFGHIJKLMNOP\n")
    (work / "big.bin").write_bytes(b"\0" * 5_000_000)
    apply_change(work, "app.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n", "edit")
    cp = Checkpoints(work)
    stored = cp._git("log", "--all", "--format=", "--name-only")
    assert set(stored.split()) == {"app.py"}
    data = tmp_path / "data" / "tether"
    loose = [p for p in data.rglob("*") if p.is_file()]
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert loose and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in loose), [
        (p, oct(p.stat().st_mode)) for p in loose if p.stat().st_mode & 0o077
    ]


def test_a_failed_apply_records_nothing(work):
    report, change = apply_change(work, "app.py\n<<<<<<< SEARCH\nnot there\n=======\nx\n>>>>>>> REPLACE\n")
    assert not report.applied and change is None and Checkpoints(work).log() == []


def test_undo_from_the_command_line(work):
    import json
    import sys

    run = lambda *a, **kw: subprocess.run([sys.executable, "-m", "tether.cli", *a], capture_output=True, text=True, cwd=work, **kw)  # noqa: E731
    done = run("apply", "-", "--message", "cli change", input=REPLY)
    assert done.returncode == 0, done.stderr
    assert "+x = 2" in done.stdout and (work / "created.py").exists()
    assert json.loads(run("log", "--changes", "--json").stdout)[0]["message"] == "cli change"
    assert run("undo").returncode == 0 and not (work / "created.py").exists() and (work / "gone.py").exists()
    assert run("redo").returncode == 0 and (work / "created.py").exists()
    failed = run("apply", "-", input="app.py\n<<<<<<< SEARCH\nnope nope nope\n=======\nx\n>>>>>>> REPLACE\n")
    assert failed.returncode == 1 and "not in the file" in failed.stderr


def test_only_a_file_holding_exactly_what_the_last_change_left_counts_as_left_by_it(work, tmp_path):
    """What a rerun shows in outline: a file a model wrote that no one touched since — not one a
    person edited, swapped for a link to the same bytes, or that an undo put back."""
    apply_change(work, REPLY, "three edits")
    cp = Checkpoints(work)
    assert cp.left_by_last("app.py") and cp.left_by_last("created.py") and not cp.left_by_last("run.sh")
    elsewhere = tmp_path / "same.py"
    elsewhere.write_bytes((work / "app.py").read_bytes())
    (work / "app.py").unlink()
    (work / "app.py").symlink_to(elsewhere)
    assert not cp.left_by_last("app.py")
    (work / "created.py").write_text("NEW = False\n")
    assert not cp.left_by_last("created.py")
    (work / "created.py").write_text("NEW = True\n")
    (work / "app.py").unlink()
    (work / "app.py").write_bytes(elsewhere.read_bytes())
    cp.undo()
    assert not cp.left_by_last("app.py") and not cp.left_by_last("created.py")


def edit(path, old, new):
    return f"{path}\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n"


@pytest.fixture
def three(work):
    """Three changes: app.py twice (the second also creates notes.md), then gone.py deleted.
    Returns the workspace's snapshot at each point, 0 (before every change) to 3."""
    points = [snapshot(work)]
    for reply, message in (
        (edit("app.py", "x = 1", "x = 2"), "first"),
        (edit("app.py", "x = 2", "x = 3") + "\n```diff\n--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1 @@\n+notes\n```\n", "second"),
        ("```diff\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye = 1\n```\n", "third"),
    ):
        report, _ = apply_change(work, reply, message)
        assert report.applied, report.feedback()
        points.append(snapshot(work))
    return points


def test_restoring_to_an_earlier_point_puts_every_file_back_as_it_was_then(work, three):
    cp = Checkpoints(work)
    moved = cp.restore_to(1)
    assert snapshot(work) == three[1]  # notes.md gone again, gone.py back, app.py as the first change left it
    assert [c.message for c in moved.undone] == ["third", "second"] and moved.redone == [] and moved.point == 1
    assert sorted(moved.files) == ["app.py", "gone.py", "notes.md"]
    assert [e["applied"] for e in cp.log()] == [True, False, False]
    assert cp.restore_to(0).to_dict()["undone"][0]["message"] == "first" and snapshot(work) == three[0]


def test_a_restore_is_undone_and_redone_as_the_rest_of_the_history(work, three):
    cp = Checkpoints(work)
    cp.restore_to(0)
    assert cp.redo().message == "first" and snapshot(work) == three[1]  # redo goes on from the point restored to
    moved = cp.restore_to(3)
    assert [c.message for c in moved.redone] == ["second", "third"] and snapshot(work) == three[3]
    assert cp.undo().message == "third" and snapshot(work) == three[2]
    assert [c.message for c in cp.restore_to(3).redone] == ["third"] and snapshot(work) == three[3]
    with pytest.raises(TetherError, match="nothing to redo"):
        cp.redo()
    assert cp.restore_to(3).files == [] and snapshot(work) == three[3]  # already there: nothing moves
    with pytest.raises(TetherError, match="no change 4"):
        cp.restore_to(4)


def test_a_restore_refuses_as_a_whole_where_a_person_edited_a_file_and_touches_nothing(work, three):
    (work / "notes.md").write_text("my notes\n")
    cp = Checkpoints(work)
    with pytest.raises(TetherError, match=r"cannot undo “second”: notes\.md changed since"):
        cp.restore_to(0)
    assert snapshot(work) == {**three[3], "notes.md": (b"my notes\n", three[3]["notes.md"][1])}  # gone.py not brought back either
    assert [e["applied"] for e in cp.log()] == [True, True, True]


def test_a_restore_refuses_where_a_file_was_edited_between_two_of_its_changes(work):
    apply_change(work, edit("app.py", "x = 1", "x = 2"), "first")
    (work / "app.py").write_bytes(b"x = 2\r\ny = 5\r\n")  # a person's edit, kept in the next change's before
    apply_change(work, edit("app.py", "x = 2", "x = 3"), "second")
    cp = Checkpoints(work)
    with pytest.raises(TetherError, match=r"app\.py was changed between “first” and “second”"):
        cp.restore_to(0)
    assert (work / "app.py").read_bytes() == b"x = 3\r\ny = 5\r\n" and [e["applied"] for e in cp.log()] == [True, True]
    cp.restore_to(1)
    assert (work / "app.py").read_bytes() == b"x = 2\r\ny = 5\r\n"  # the person's edit, as the second change found it


@pytest.mark.parametrize("point", ["commit", "rename:app.py", "rename:notes.md", "recorded"])
def test_a_restore_cut_short_is_finished_by_the_next_open_and_the_history_agrees(work, three, monkeypatch, point):
    from tether.autonomy.edits import journal

    class Killed(BaseException):
        pass

    def crash(name):
        if name == point:
            raise Killed

    with monkeypatch.context() as m, pytest.raises(Killed):
        m.setattr(journal, "_crash_point", crash)
        Checkpoints(work).restore_to(1)
    cp = Checkpoints(work)  # opening recovers: the journal was in its commit phase, so the restore is finished
    assert snapshot(work) == three[1] and [e["applied"] for e in cp.log()] == [True, False, False]
    assert cp.redo().message == "second" and snapshot(work) == three[2]
