"""What a person reads when a plan's step fails, and what the model is shown of tether's own files
(issue 41, a new user's findings): a failed step names its check and the check's first failure
line (redacted), says its change is kept, and a second run that changes nothing says so and where
the failing change is; a step's request is one line in every list; `.tether/plan.md` is never
shown to the model, readable by it or written by it as anything but tether's plan file."""

import sys

import pytest

from tests.conftest import make_tree
from tether.autonomy.agent import planrun
from tether.autonomy.agent.judge import Judge
from tether.autonomy.agent.plan import Plan, Step, load
from tether.autonomy.agent.result import Stop
from tether.autonomy.agent.start import RunOptions
from tether.autonomy.edits.workspace import PathRefused, protected, readable
from tether.autonomy.guard.verify import CommandResult
from tether.autonomy.history import runlog
from tether.autonomy.history.checkpoints import Checkpoints
from tether.context.walk import walk

PY = sys.executable
CONFIG = {"routes": {"default": {"models": ["s/m"]}}, "verify": {"sandbox": "off"}}
SECRET = "sk-proj-" + "Q7vX2kLmN9pR4tYw8zB3cD6fG1hJ5aS0eU"


def edit(path: str, old: str, new: str) -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n```\n"


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {"a.py": "A = 1\n", "b.py": f"B = 1\nKEY = '{SECRET}'\n"})


def plan() -> Plan:
    check_b = f"{PY} -c 'import b; assert b.B == 2, (b.B, b.KEY)'"
    return Plan(
        "make A and B two",
        [
            Step("Make A two", ["a.py"], f"{PY} -c 'import a; assert a.A == 2'"),
            Step("Make B two", ["b.py"], check_b, detail="Only the constant; ZEBRA-NOTE."),
        ],
    )


def carry(make_grid, work, the_plan, replies):
    grid = make_grid(CONFIG, s=replies)
    opts = RunOptions(the_plan.task, work, level="auto", checks=(), edit_format="search-replace")
    return planrun.prepare(the_plan, work / ".tether" / "plan.md", opts, grid).run(), grid


def test_a_failed_step_names_its_check_and_first_failure_and_says_its_change_is_kept(make_grid, work):
    result, _ = carry(make_grid, work, plan(), [edit("a.py", "A = 1", "A = 2"), edit("b.py", "B = 1", "B = 3"), "DONE", "DONE", "DONE"])
    assert result.status == "failing", result.reason
    said = "check `" + PY + " -c 'import b; assert b.B == 2, (b.B, b.KEY)'` failed: AssertionError: (3, '[REDACTED"
    kept = "its change is kept for you to look at: `tether undo` takes it back"
    assert said in result.reason and kept in result.reason and SECRET not in result.reason
    step = result.to_dict()["plan"]["steps"][1]  # --json, the web page's steps
    assert said in step["reason"] and kept in step["reason"]
    text = (work / ".tether" / "plan.md").read_text()  # the plan file's failed: line
    failed = next(line for line in text.splitlines() if line.startswith("failed: "))
    assert said in failed and kept in failed and SECRET not in text
    assert (work / "b.py").read_text().startswith("B = 3\n")  # kept, as it says


def test_a_second_run_that_changes_nothing_says_so_and_where_the_failing_change_is(make_grid, work):
    path = work / ".tether" / "plan.md"
    carry(make_grid, work, plan(), [edit("a.py", "A = 1", "A = 2"), edit("b.py", "B = 1", "B = 3"), "DONE", "DONE", "DONE"])
    again, _ = carry(make_grid, work, load(path), [edit("b.py", "B = 3", "B = 3")])  # the small model writes the file out as it is
    assert again.status == "stuck" and again.changed == []
    assert "the model changed nothing: it wrote the files as they already are" in again.reason
    assert "wrote a failed change again" not in again.reason
    assert "the failing change of this step's earlier run is still in place: `tether undo` takes it back" in again.reason
    Checkpoints(work).undo()  # as it says
    third, _ = carry(make_grid, work, load(path), [edit("b.py", "B = 1", "B = 2")])
    assert third.status == "done" and (work / "b.py").read_text().startswith("B = 2\n")


def test_a_small_models_wrong_answers_name_it_as_the_model():
    checks = [CommandResult("python -m pytest -q", 1, "E       assert 3 == 4\nFAILED t.py::x - assert 3 == 4\n", 0.1)]
    with pytest.raises(Stop) as stop:
        Judge(lambda question: False).rethink(checks, "default", True)
    assert "which the model (default) rarely fixes" in stop.value.reason and "which default" not in stop.value.reason


def test_a_steps_request_is_one_line_in_the_run_list_and_the_undo_history(make_grid, work):
    result, grid = carry(make_grid, work, plan(), [edit("a.py", "A = 1", "A = 2"), edit("b.py", "B = 1", "B = 2")])
    assert result.status == "done"
    runs = runlog.runs(grid.store, str(work))
    assert [r["title"] for r in runs] == ["plan step 1/2: Make A two", "plan step 2/2: Make B two"]
    assert [h["message"] for h in Checkpoints(work).log()] == [
        "tether do: plan step 1/2: Make A two",
        "tether do: plan step 2/2: Make B two",
    ]
    asked = grid.provider("s").requests[1].messages[-1]["content"]  # the details still go to the model
    assert "Files: b.py" in asked and "ZEBRA-NOTE" in asked and "step 2 of 2" in asked
    assert runlog.headline("one\ntwo") == "one" and runlog.headline("  \n" + "x" * 120, 100) == "x" * 99 + "…"


def test_the_plan_file_is_never_shown_to_the_model_nor_readable_nor_writable_as_memory(make_grid, work):
    make_tree(work, {".tether/memory.md": "Use tabs.\n", ".tether/old/notes.txt": "x\n"})
    carry(make_grid, work, plan(), [edit("a.py", "A = 1", "A = 2"), "DONE"])  # step 1 done: the plan file is there now
    files = [f.path for f in walk(work).files]
    assert ".tether/memory.md" in files and not [f for f in files if f.startswith(".tether/") and f != ".tether/memory.md"]
    for path in (".tether/plan.md", ".tether/old/notes.txt", ".tether/old"):
        with pytest.raises(PathRefused, match="tether's own file"):
            readable(work, path)
    assert readable(work, ".tether/memory.md")[1] == ".tether/memory.md"
    assert "tether's plan file" in protected(work, ".tether/plan.md") and "memory" not in protected(work, ".tether/plan.md")
    assert "memory" in protected(work, ".tether/memory.md")


def test_a_step_run_shows_the_model_no_plan_file_and_refuses_its_read_and_write(make_grid, work):
    tries = [
        'TOOL read_file {"path": ".tether/plan.md"}',
        edit(".tether/plan.md", "Only the constant; ZEBRA-NOTE.", "Only the constant; ZEBRA-DONE."),
        edit("a.py", "A = 1", "A = 2"),
        "DONE",
    ]
    the_plan = plan()
    the_plan.save(work / ".tether" / "plan.md")
    result, grid = carry(make_grid, work, Plan(the_plan.task, the_plan.steps[:1] + [Step("Make B two", status="skipped")]), tries)
    opening = grid.provider("s").requests[0].messages
    assert not any(".tether/plan.md" in m["content"] or "ZEBRA-NOTE" in m["content"] for m in opening)
    said = "\n".join(m["content"] for r in grid.provider("s").requests[1:3] for m in r.messages[-1:])
    assert "tether's own file" in said and "tether's plan file" in said and "memory" not in said
    assert result.status == "done" and [s.status for s in load(work / ".tether" / "plan.md").steps] == ["done", "skipped"]
