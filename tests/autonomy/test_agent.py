"""The agent loop with the scripted provider: what each level lets happen, the verify loop, the
candidates, the stops (stuck, budget, Ctrl-C), and the record of a run."""

import pytest

from tests.conftest import PYTEST, ledger_rows, make_tree
from tether.autonomy.agent.loop import Agent
from tether.autonomy.edits.formats import FORMATS
from tether.autonomy.guard.leash import Leash, RunBudget
from tether.autonomy.guard.verify import VerifySettings
from tether.autonomy.history import runlog
from tether.autonomy.history.checkpoints import Checkpoints
from tether.context import tokens

BROKEN = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
FIX = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"
WRONG = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a * b\n>>>>>>> REPLACE\n```\n"
FIX_WRONG = FIX.replace("a - b", "a * b")  # the fix, once WRONG is in


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {"calc.py": BROKEN, "test_calc.py": TEST})


def agent(make_grid, work, replies, level="auto", person=None, verify=(PYTEST,), env=(), candidates=3, **leash_opts):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[*replies, "DONE"])  # the model ends when it is done
    leash = Leash(work, level, **leash_opts)
    return Agent(
        grid,
        work,
        leash,
        verify=VerifySettings(tuple(verify), timeout=60, env=env),
        person=person,
        edit_format="search-replace",
        candidates=candidates,
    )


def requests(a):
    return a.grid.provider("s").requests


def test_auto_fixes_the_code_checks_it_and_leaves_one_undoable_change(make_grid, work):
    a = agent(make_grid, work, [FIX])
    result = a.run("make add add")
    assert result.status == "done" and result.changed == ["calc.py"]
    assert "return a + b" in (work / "calc.py").read_text() and result.checks[0].ok
    assert "+    return a + b" in result.diff
    history = Checkpoints(work).log()
    assert len(history) == 1 and history[0]["files"] == ["calc.py"]
    Checkpoints(work).undo()
    assert (work / "calc.py").read_text() == BROKEN


def test_at_auto_a_change_whose_checks_pass_ends_the_run_without_another_call(make_grid, work):
    a = agent(make_grid, work, [FIX])
    assert a.run("make add add").status == "done" and len(requests(a)) == 1
    Checkpoints(work).undo()
    a = agent(make_grid, work, [WRONG, FIX_WRONG], level="agent", candidates=1)  # agent keeps the conversation: the model says DONE
    assert a.run("make add add").status == "done" and len(requests(a)) == 3


def test_a_request_that_names_a_symbol_sees_its_file_and_not_the_whole_workspace(make_grid, tmp_path):
    files = {f"pkg/mod{n}.py": f'"""Module {n}."""\n\n\ndef helper_{n}(value):\n    return value + {n}\n' * 40 for n in range(30)}
    files["pkg/region.py"] = "from typing import NamedTuple\n\n\nclass Region(NamedTuple):\n    x: int\n    width: int\n"
    root = make_tree(tmp_path / "big", files)
    a = agent(make_grid, root, [], verify=())
    a.run("Add a read-only property `area` to the Region class.")
    user = requests(a)[0].messages[1]["content"]
    assert 'source="pkg/region.py"' in user and "class Region(NamedTuple)" in user
    assert "def helper_3(value)" not in user and tokens.count(user) < 600  # only a short map beside it, no search hits


def test_the_first_prompt_shows_the_failing_checks_and_fences_the_files(make_grid, work):
    a = agent(make_grid, work, [FIX])
    a.run("make add add")
    user = requests(a)[0].messages[1]["content"]
    tag = a.fence.tag
    assert f'<{tag} source="calc.py">' in user and "assert -1 == 5" in user
    assert tag in requests(a)[0].messages[0]["content"]  # the system prompt says what the fence means


def test_failing_checks_go_back_to_the_model(make_grid, work):
    a = agent(make_grid, work, [WRONG, FIX_WRONG])
    result = a.run("make add add")
    assert result.status == "done" and "return a + b" in (work / "calc.py").read_text()
    feedback = requests(a)[1].messages[-1]["content"]
    assert "These checks fail" in feedback and "assert 6 == 5" in feedback


def test_agent_level_samples_candidates_and_keeps_the_one_the_tests_prefer(make_grid, work):
    a = agent(make_grid, work, [WRONG, FIX], level="agent")
    result = a.run("make add add")
    assert result.status == "done" and "return a + b" in (work / "calc.py").read_text()
    assert "The checks pass" in requests(a)[2].messages[-1]["content"]
    assert requests(a)[1].temperature == 0.7 and requests(a)[1].messages == requests(a)[0].messages  # the same turn again
    assert len(Checkpoints(work).log()) == 1


def test_by_default_a_change_that_gains_nothing_goes_on_in_the_conversation(make_grid, work):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[WRONG, FIX_WRONG, "DONE"])
    a = Agent(grid, work, Leash(work, "agent"), verify=VerifySettings((PYTEST,), timeout=60), edit_format="search-replace")
    assert a.run("make add add").status == "done"
    first, second = requests(a)[:2]
    assert second.messages[: len(first.messages)] == first.messages and "assert 6 == 5" in second.messages[-1]["content"]


def test_two_changes_in_a_row_that_gain_nothing_stop_the_run_as_stuck(make_grid, work):
    floor = "calc.py\n```python\n<<<<<<< SEARCH\n    return a * b\n=======\n    return a // b\n>>>>>>> REPLACE\n```\n"
    a = agent(make_grid, work, [WRONG, floor, FIX.replace("a - b", "a // b")])
    result = a.run("make add add")
    assert result.status == "stuck" and "gained nothing" in result.reason
    assert len(requests(a)) == 2 and "return a // b" in (work / "calc.py").read_text()


def test_a_change_that_makes_progress_goes_on_in_the_conversation_not_in_more_samples(make_grid, work):
    make_tree(
        work, {"calc.py": "def add(a, b):\n    return None\n", "test_calc.py": TEST + "\n\ndef test_zero():\n    assert add(0, 0) == 0\n"}
    )
    halfway = "calc.py\n```python\n<<<<<<< SEARCH\n    return None\n=======\n    return a * b\n>>>>>>> REPLACE\n```\n"
    a = agent(make_grid, work, [halfway, FIX_WRONG], level="agent")
    assert a.run("make add add").status == "done" and "return a + b" in (work / "calc.py").read_text()
    second = requests(a)[1]
    assert second.temperature is None and "1 failed, 1 passed" in second.messages[-1]["content"]  # told, not resampled


def test_when_no_candidate_passes_the_best_one_stays(make_grid, work, tmp_path):
    make_tree(work, {"test_calc.py": TEST + "\n\ndef test_zero():\n    assert add(0, 0) == 0\n"})
    worse = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return 7\n>>>>>>> REPLACE\n```\n"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[worse, WRONG, "DONE", "DONE"])
    a = Agent(grid, work, Leash(work, "agent"), verify=VerifySettings((PYTEST,), timeout=60), candidates=2, edit_format="search-replace")
    result = a.run("make add add")
    assert "return a * b" in (work / "calc.py").read_text()  # passes test_zero; `return 7` passes neither
    assert result.status == "failing"


@pytest.mark.parametrize("level", ["ask", "suggest", "approve"])
def test_levels_below_auto_never_write_without_a_person(make_grid, work, level):
    a = agent(make_grid, work, [FIX, "DONE", "DONE", "The answer."], level=level)
    result = a.run("make add add")
    assert (work / "calc.py").read_text() == BROKEN and result.changed == []
    if level == "suggest":
        assert result.status == "proposed" and "+    return a + b" in result.answer


class Person:
    def __init__(self, answers=(), takes=None):
        self.answers, self.takes, self.asked = list(answers), takes, []

    def confirm(self, question):
        self.asked.append(question)
        return self.answers.pop(0) if self.answers else False

    def review(self, hunks):
        self.asked.append([h.text() for h in hunks])
        return self.takes(hunks) if self.takes else [True] * len(hunks)


def test_approve_applies_only_the_hunks_the_person_takes(make_grid, work):
    make_tree(work, {"calc.py": BROKEN + "\n" * 8 + "def sub(a, b):\n    return a + b\n"})
    both = (
        FIX
        + "\ncalc.py\n```python\n<<<<<<< SEARCH\ndef sub(a, b):\n    return a + b\n=======\ndef sub(a, b):\n    return a - b  # changed\n>>>>>>> REPLACE\n```\n"
    )
    person = Person(takes=lambda hunks: [True, False])
    a = agent(make_grid, work, [both], level="approve", person=person)
    result = a.run("fix both")
    text = (work / "calc.py").read_text()
    assert "return a + b\n" in text.split("def sub")[0] and "# changed" not in text
    assert result.status == "done" and len(person.asked[0]) == 2


def test_a_person_who_quits_stops_the_run(make_grid, work):
    a = agent(make_grid, work, [FIX], level="approve", person=Person(takes=lambda hunks: None))
    assert a.run("fix").status == "stopped" and (work / "calc.py").read_text() == BROKEN


def test_commands_outside_the_leash_are_refused_and_the_model_is_told(make_grid, work):
    a = agent(make_grid, work, ['TOOL run_command {"command": "touch pwned"}', FIX], commands=("pytest*",))
    result = a.run("fix")
    assert not (work / "pwned").exists() and result.status == "done"
    told = requests(a)[1].messages[-1]["content"]
    assert "Refused by the leash" in told and "touch pwned" in told


def test_allowed_commands_see_only_the_allowed_environment(make_grid, work, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:hunter2@db")  # a secret whose name says nothing
    monkeypatch.setenv("PLAIN_SETTING", "visible")
    a = agent(make_grid, work, ['TOOL run_command {"command": "env"}', FIX], commands=("env",), env=("PLAIN_SETTING",))
    a.run("fix")
    output = requests(a)[1].messages[-1]["content"]
    assert (
        "PLAIN_SETTING=visible" in output
        and "s3cret" not in output
        and "hunter2" not in output
        and "tether-run-" in output.split("HOME=")[1].split()[0]
    )


def test_writes_outside_the_paths_or_the_workspace_are_refused(make_grid, work, tmp_path):
    escape = "../outside.py\n```python\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n```\n"
    tests_edit = "test_calc.py\n```python\n<<<<<<< SEARCH\n    assert add(2, 3) == 5\n=======\n    assert True\n>>>>>>> REPLACE\n```\n"
    a = agent(make_grid, work, [escape, tests_edit, FIX], paths=("calc.py",))
    result = a.run("fix")
    assert not (tmp_path / "outside.py").exists() and (work / "test_calc.py").read_text() == TEST
    assert result.status == "done"


WRONG_FILE = "calc.py\n```python\ndef add(a, b):\n    return a * b\n```\n"
FIXED_FILE = "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"


STALE = "calc.py\n```python\n<<<<<<< SEARCH\n    return a / b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"


def test_a_repeated_failing_edit_is_sampled_afresh_from_the_opening_prompt(make_grid, work):
    a = agent(make_grid, work, [WRONG, WRONG, STALE, FIX])
    result = a.run("fix")
    assert result.status == "done" and "return a + b" in (work / "calc.py").read_text()
    fresh = requests(a)[2:4]
    assert [(r.temperature, r.seed) for r in fresh] == [(1.0, 1), (1.0, 2)]
    for r in fresh:  # the opening prompt and how the checks failed, never the failed reply to copy
        assert len(r.messages) == 2 and r.messages[0] == requests(a)[0].messages[0]
        assert r.messages[1]["content"].startswith(requests(a)[0].messages[1]["content"])
        assert "assert 6 == 5" in r.messages[1]["content"] and "a * b" not in r.messages[1]["content"]
    assert len(requests(a)) == 4 and "checks pass" in result.reason  # the fresh sample's passing change ends the run at level auto


def test_writing_the_failing_file_out_unchanged_counts_as_a_repeat(make_grid, work):
    same = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a - b\n>>>>>>> REPLACE\n```\n"
    a = agent(make_grid, work, [same, FIX])
    assert a.run("fix").status == "done"
    assert requests(a)[1].temperature == 1.0 and len(requests(a)[1].messages) == 2


def test_by_default_writing_the_failed_change_again_ends_the_run(make_grid, work):
    """One candidate (the CLI's default): no fresh samples after a copy; the run stops where it
    stood, and a run started again begins from the file's outline."""
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[WRONG_FILE, WRONG_FILE, FIXED_FILE])
    a = Agent(
        grid,
        work,
        Leash(work, "agent", paths=("calc.py",)),
        verify=VerifySettings((PYTEST,), timeout=60),
        edit_format="whole",
        stop_when_green=True,
    )
    result = a.run("make add add")
    assert result.status == "stuck" and "again" in result.reason
    assert len(grid.provider("s").requests) == 2 and "return a * b" in (work / "calc.py").read_text()


SMALL = {"models": {"s/m": {"edit_format": "whole"}}}  # the user marks the model small, as the catalogue marks the embedded ones
RAISES = FIX.replace("a + b", "a + c")  # NameError: an exception the change raised, not a wrong answer


def small_agent(make_grid, work, replies, person=None, escalate=None):
    routes = {"default": {"models": ["s/m"], **({"escalate": "big/m"} if escalate else {})}}
    grid = make_grid({**SMALL, "routes": routes}, s=replies, **({"big": escalate} if escalate else {}))
    return Agent(
        grid, work, Leash(work, "agent"), verify=VerifySettings((PYTEST,), timeout=60), edit_format="search-replace", person=person
    )


def test_a_small_model_whose_change_gives_wrong_answers_gets_no_second_turn(make_grid, work):
    a = small_agent(make_grid, work, [WRONG, FIX_WRONG])
    result = a.run("make add add")
    assert result.status == "failing" and "wrong answers" in result.reason and "again" in result.reason
    assert len(requests(a)) == 1 and "return a * b" in (work / "calc.py").read_text()  # the change stays, to undo or build on


def test_a_small_model_whose_change_raises_is_shown_the_error(make_grid, work):
    a = small_agent(make_grid, work, [RAISES, FIX.replace("a - b", "a + c"), "DONE"])
    result = a.run("make add add")
    assert result.status == "done" and "return a + b" in (work / "calc.py").read_text()
    assert "NameError" in requests(a)[1].messages[-1]["content"]


def test_after_wrong_answers_a_person_may_let_the_small_model_go_on(make_grid, work):
    person = Person(answers=[True])
    a = small_agent(make_grid, work, [WRONG, FIX_WRONG, "DONE"], person=person)
    assert a.run("make add add").status == "done" and "wrong answers" in person.asked[0]


def test_after_wrong_answers_the_run_goes_on_with_the_model_it_escalates_to(make_grid, work):
    a = small_agent(make_grid, work, [WRONG], escalate=[FIX_WRONG, "DONE"])
    result = a.run("make add add")
    assert result.status == "done" and "return a + b" in (work / "calc.py").read_text()
    assert len(a.grid.provider("big").requests) == 2  # the fix, then DONE


def test_a_repeat_after_fresh_samples_that_did_no_better_stops_the_run(make_grid, work):
    a = agent(make_grid, work, [WRONG, WRONG, WRONG, STALE, FIX])
    result = a.run("fix")
    assert result.status == "stuck" and "fresh sample" in result.reason
    assert "return a * b" in (work / "calc.py").read_text() and len(requests(a)) == 4  # where it stood; FIX never asked for


def test_a_fresh_round_that_gained_earns_the_run_another(make_grid, tmp_path):
    two = make_tree(
        tmp_path / "two",
        {
            "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n",
            "test_calc.py": "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
            "def test_mul():\n    assert mul(2, 3) == 6\n",
        },
    )
    flip = FIX.replace("a + b", "b - a")  # add still wrong: no progress
    fix_mul = "calc.py\n```python\n<<<<<<< SEARCH\n    return a + b\n=======\n    return a * b\n>>>>>>> REPLACE\n```\n"
    # the first round's best fixes add (one test more), the model then repeats that; the second round fixes both
    a = agent(make_grid, two, [flip, flip, FIX, STALE, FIX, fix_mul + FIX])
    result = a.run("fix")
    assert result.status == "done" and "return a * b" in (two / "calc.py").read_text()
    assert [r.temperature for r in requests(a)] == [None, None, 1.0, 1.0, None, 1.0]


def test_below_auto_the_same_failing_edit_twice_stops_the_run(make_grid, work):
    a = agent(make_grid, work, [STALE, STALE, STALE, FIX], level="approve", person=Person())
    result = a.run("fix")
    assert result.status == "stuck" and "twice" in result.reason and (work / "calc.py").read_text() == BROKEN
    assert {r.temperature for r in requests(a)} == {None} and "same edit before" in requests(a)[2].messages[-1]["content"]


def test_a_person_can_let_a_stuck_run_go_on(make_grid, work):
    person = Person(answers=[True])
    a = agent(make_grid, work, [STALE, STALE, STALE, STALE, FIX], person=person)
    assert a.run("fix").status == "done" and "repeating itself" in person.asked[0]


def test_the_step_limit_stops_the_run(make_grid, work):
    a = agent(
        make_grid, work, ['TOOL read_file {"path": "calc.py"}', 'TOOL read_file {"path": "test_calc.py"}', FIX], budget=RunBudget(steps=2)
    )
    result = a.run("fix")
    assert result.status == "budget" and "used its 2 steps" in result.reason and (work / "calc.py").read_text() == BROKEN
    assert result.steps == 2 and len(requests(a)) == 2


def test_the_token_limit_stops_the_run(make_grid, work):
    a = agent(
        make_grid,
        work,
        [{"text": 'TOOL read_file {"path": "calc.py"}', "usage": {"input_tokens": 900, "output_tokens": 200}}, FIX],
        budget=RunBudget(tokens=1000),
    )
    assert a.run("fix").status == "budget"


def test_a_reply_cut_off_counts_what_it_read_and_wrote(make_grid, work):
    from tether.errors import ProviderTimeout
    from tether.llm.types import Usage

    cut = ProviderTimeout("s/m: generation passed the 30s timeout")
    cut.usage = Usage(1200, 40, cached_tokens=1000)
    grid = make_grid(
        {"routes": {"default": {"models": ["s/m"], "retries": 0}}},
        s=[{"text": 'TOOL read_file {"path": "calc.py"}', "usage": {"input_tokens": 900, "output_tokens": 20}}, cut],
    )
    a = Agent(grid, work, Leash(work, "auto"), verify=VerifySettings((PYTEST,), timeout=60))
    result = a.run("fix")
    assert result.status == "error" and (result.input_tokens, result.output_tokens, result.cached_tokens) == (2100, 60, 1000)
    assert [row["input_tokens"] for row in ledger_rows(grid)] == [900, 1200]
    assert any("cut off after reading 1200 prompt tokens" in s.get("text", "") for s in runlog.replay(grid.store, result.id)[1])


def test_ctrl_c_leaves_the_workspace_at_the_last_checkpoint(make_grid, work):
    a = agent(make_grid, work, [WRONG, KeyboardInterrupt()])
    result = a.run("fix")
    assert result.status == "interrupted"
    assert "return a * b" in (work / "calc.py").read_text()  # the applied change is kept, and undoable
    Checkpoints(work).undo()
    assert (work / "calc.py").read_text() == BROKEN


def test_every_step_is_recorded_and_replayable(make_grid, work):
    a = agent(make_grid, work, ['TOOL run_command {"command": "rm -rf ."}', WRONG, FIX_WRONG])
    result = a.run("fix")
    run, steps = runlog.replay(a.grid.store, result.id)
    assert run["status"] == "done" and run["changed"] == ["calc.py"] and run["steps"] == 3
    kinds = [s["kind"] for s in steps]
    assert kinds[:2] == ["start", "verify"] and kinds[-1] == "end" and {"prompt", "reply", "decision", "diff"} <= set(kinds)
    refused = [s for s in steps if s["kind"] == "decision" and s.get("tool") == "run_command"]
    assert refused[0]["allowed"] is False and refused[0]["target"] == "rm -rf ."
    decisions = a.grid.store.query("SELECT tool, verdict FROM decisions WHERE run_id = ?", (result.id,))
    assert ("run", "ask") in [tuple(d) for d in decisions]
    assert runlog.runs(a.grid.store, str(work))[-1]["id"] == result.id


def test_a_failing_provider_ends_the_run_with_its_error(make_grid, work):
    from tether.errors import BadRequest

    a = agent(make_grid, work, [BadRequest("the model is gone")])
    result = a.run("fix")
    assert result.status == "error" and "gone" in result.reason


def test_whole_file_replies_from_small_models(make_grid, work):
    grid = make_grid(
        {"routes": {"default": {"models": ["s/m"]}}}, s=["calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n", "DONE"]
    )
    a = Agent(grid, work, Leash(work, "auto"), verify=VerifySettings((PYTEST,), timeout=60), edit_format="whole")
    assert a.run("fix").status == "done" and (work / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert "calc.py" in grid.provider("s").requests[0].messages[0]["content"]  # the example names a real file


def test_a_whole_file_without_its_path_goes_to_the_one_file_the_run_may_write(make_grid, work):
    bare = "```python\ndef add(a, b):\n    return a + b\n```\n\nThe `add` function now adds."
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[bare, "DONE"])
    a = Agent(grid, work, Leash(work, "agent", paths=("calc.py",)), verify=VerifySettings((PYTEST,), timeout=60), edit_format="whole")
    a.stop_when_green = True
    result = a.run("make add add")
    assert result.status == "done" and (work / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    system, user = (m["content"] for m in grid.provider("s").requests[0].messages)
    # the reply can only be the edit (a grammar): the format is asked for once, at the prompt's end (issue 42: +8 tests of 215)
    assert "e.g. for" not in system and user.endswith(FORMATS["whole"].ask)


def test_with_one_writable_file_and_failing_checks_the_reply_is_constrained_to_its_edit(make_grid, work):
    """Only while the checks fail: a reply after they pass may say DONE again (or use a tool)."""
    grid = make_grid(
        {"routes": {"default": {"models": ["s/m"]}}}, s=["calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n", "DONE added"]
    )
    a = Agent(grid, work, Leash(work, "agent", paths=("calc.py",)), verify=VerifySettings((PYTEST,), timeout=60), edit_format="whole")
    result = a.run("make add add")
    assert result.status == "done"
    first, second = grid.provider("s").requests
    assert first.grammar.startswith('root ::= "calc.py\\n```"') and second.grammar is None
    assert "TOOL" not in first.messages[0]["content"] and "REMEMBER" not in first.messages[0]["content"]
    _, steps = runlog.replay(grid.store, result.id)
    assert [s["constrained"] for s in steps if s["kind"] == "reply"] == [True, False]


def test_without_checks_or_with_several_writable_files_replies_are_free(make_grid, work):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["DONE", "DONE"])
    Agent(grid, work, Leash(work, "agent", paths=("calc.py",)), edit_format="whole").run("look")
    Agent(grid, work, Leash(work, "agent"), verify=VerifySettings((PYTEST,), timeout=60), edit_format="whole").run("look")
    requests = grid.provider("s").requests
    assert len(requests) >= 2 and {r.grammar for r in requests} == {None}
    assert "TOOL read_file" in requests[-1].messages[0]["content"]


def test_a_bare_whole_file_cannot_reach_git_through_a_sole_writable_symlink(make_grid, work):
    import os

    (work / ".git").mkdir()
    (work / ".git" / "config").write_text("[core]\n")
    os.symlink(".git/config", work / "conf.py")  # the only file --allow names is a link into .git
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["```python\n[core]\n\thooksPath = /tmp/evil\n```\n", "DONE", "DONE"])
    a = Agent(grid, work, Leash(work, "agent", paths=("conf.py",)), verify=VerifySettings((PYTEST,), timeout=60), edit_format="whole")
    result = a.run("set the hooks path")
    assert (work / ".git" / "config").read_text() == "[core]\n" and result.changed == []


def test_until_green_a_run_whose_checks_already_pass_asks_no_model(make_grid, work):
    (work / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    a = agent(make_grid, work, [FIX])
    a.stop_when_green = True
    result = a.run("make add add")
    assert result.status == "done" and "already pass" in result.reason and requests(a) == [] and result.changed == []


@pytest.mark.parametrize("draws", [True, False])
def test_a_pass_that_may_be_luck_must_hold_twice(make_grid, work, draws):
    # the test passes on its second run only (it counts its runs in a file), as a random key may pass once
    counted = (
        "import pathlib\n\n\ndef test_add():\n    runs = pathlib.Path('runs')\n    n = len(runs.read_text()) if runs.exists() else 0\n"
        "    runs.write_text('x' * (n + 1))\n    assert n == 1\n"
    )
    make_tree(work, {"calc.py": ("import random\n\n" if draws else "") + BROKEN, "test_calc.py": counted})
    a = agent(make_grid, work, [FIX, "DONE"])  # told the checks fail, the model says it is done, twice
    a.stop_when_green = True
    result = a.run("make add add")
    assert len((work / "runs").read_text()) == (3 if draws else 2)
    assert (result.status, result.checks[0].ok) == (("failing", False) if draws else ("done", True))


def test_the_model_sees_the_first_failures_and_the_count_not_every_report(make_grid, work):
    many = "".join(f"\n\ndef test_add_{n}():\n    assert add({n}, 1) == {n + 1}\n" for n in range(12))
    make_tree(work, {"test_calc.py": TEST + many})
    a = agent(make_grid, work, [WRONG, FIX_WRONG])
    a.run("make add add")
    first = requests(a)[0].messages[1]["content"].split("Now they fail like this")[1]
    feedback = requests(a)[1].messages[-1]["content"]
    for shown in (first, feedback):  # one report a turn, its command named once (the fence's label)
        assert "12 more failure(s) like these" in shown and "13 failed" in shown and "test_add_11" not in shown
        assert shown.count(PYTEST) == 1 and f"$ {PYTEST}" not in shown
    assert "assert -1 == 5" in first and "assert 6 == 5" in feedback


def test_a_long_file_the_run_may_not_write_is_shown_by_its_head(make_grid, work):
    many = "".join(f"\n\ndef test_add_{n}():\n    assert add({n}, 1) == {n + 1}\n" for n in range(80))
    make_tree(work, {"test_calc.py": TEST + many})
    a = agent(make_grid, work, [FIX], paths=("calc.py",))
    a.run("make add add")
    user = requests(a)[0].messages[1]["content"]
    shown = user.split('source="test_calc.py"')[1].split("</")[0]
    assert "def test_add():" in shown and "test_add_79" not in shown and "more lines; read_file test_calc.py start=" in shown
    assert "test_calc.py (read-only)" in shown and "    return a - b" in user  # the file it may change is whole


def test_a_second_try_shares_all_but_the_file_it_may_change_with_the_first(make_grid, work):
    """The request comes before the file the run may change: a later run whose file changed keeps the
    system prompt, the other files and the request as the model's cached prefix."""
    first = agent(make_grid, work, [WRONG], paths=("calc.py",))
    first.run("make add add")
    second = agent(make_grid, work, [FIX_WRONG], paths=("calc.py",))
    second.run("make add add")
    before, after = (requests(a)[0].messages[1]["content"] for a in (first, second))
    shared = next(n for n, (x, y) in enumerate(zip(before, after, strict=False)) if x != y)
    assert "make add add" in before[:shared] and 'source="test_calc.py"' in before[:shared]
    assert before.index("make add add") < before.index('source="calc.py"') < before.index("Now they fail like this")


def test_malformed_and_truncated_replies_end_the_run_cleanly_and_are_counted(make_grid, work):
    from tether.autonomy.agent.loop import MALFORMED

    cut = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a +"  # the reply ran out of tokens
    a = agent(make_grid, work, [cut, "You could add the numbers instead."], level="agent")
    result = a.run("make add add")
    assert result.status == "failing" and result.changed == [] and (work / "calc.py").read_text() == BROKEN  # nothing half-written
    _, steps = runlog.replay(a.grid.store, result.id)
    assert [s["text"] for s in steps if s["kind"] == "note"] == [MALFORMED, MALFORMED]


def test_in_an_empty_folder_the_example_path_is_the_file_the_request_asks_for(make_grid, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    reply = "shortener.py\n```python\ndef shorten(url):\n    return url[-6:]\n```\n"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[reply, "DONE"])
    a = Agent(grid, empty, Leash(empty, "auto"), verify=VerifySettings((), timeout=60), edit_format="whole")
    result = a.run("Write a URL shortener library in shortener.py, with pytest tests in test_shortener.py.")
    system = grid.provider("s").requests[0].messages[0]["content"]
    assert "e.g. for shortener.py" in system and "src/app.py" not in system
    assert result.changed == ["shortener.py"]


def test_fresh_whole_file_samples_see_the_failing_file_only_in_outline(make_grid, work):
    """Shown its failing file, a small model writes it out again; the fresh samples see only its definitions."""
    unchanged = f"calc.py\n```python\n{BROKEN}```\n"
    fixed = "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[unchanged, fixed])
    a = Agent(
        grid,
        work,
        Leash(work, "agent", paths=("calc.py",)),
        verify=VerifySettings((PYTEST,), timeout=60),
        edit_format="whole",
        stop_when_green=True,
        candidates=2,
    )
    assert a.run("make add add").status == "done" and (work / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    first, fresh = grid.provider("s").requests
    assert "return a - b" in first.messages[1]["content"] and "return a - b" not in fresh.messages[1]["content"]
    assert "def add(a, b):\n    ...\n" in fresh.messages[1]["content"] and "write the whole file anew" in fresh.messages[1]["content"]
    assert fresh.grammar == first.grammar and fresh.temperature == 1.0
    shown = first.messages[1]["content"]  # the file it may change comes after the tests, so a rebuilt prompt keeps them cached
    assert shown.index('source="test_calc.py"') < shown.index('source="calc.py"')


def rerun_after_a_failed_run(make_grid, work, meanwhile=lambda: None):
    """Two runs in a row on the same workspace: the first leaves a failing change, the second
    fixes it; returns the first prompt the second run sent."""
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[WRONG_FILE, "DONE", "DONE", FIXED_FILE])

    def run():
        return Agent(
            grid,
            work,
            Leash(work, "agent", paths=("calc.py",)),
            verify=VerifySettings((PYTEST,), timeout=60),
            edit_format="whole",
            stop_when_green=True,
        ).run("make add add")

    assert run().status == "failing" and "a * b" in (work / "calc.py").read_text()
    meanwhile()
    assert run().status == "done" and (work / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    return grid.provider("s").requests[3]


def test_a_run_that_starts_on_the_failing_file_the_last_run_left_sees_only_its_outline(make_grid, work):
    """Shown the failing file its last run wrote, a small model copies it (38 of 50 second tries of
    the agent benchmark began so): the run starts as a fresh sample would, from the outline."""
    second = rerun_after_a_failed_run(make_grid, work)
    user = second.messages[1]["content"]
    assert "a * b" not in user and "def add(a, b):\n    ...\n" in user and "the last run wrote it" in user
    assert second.temperature == 1.0


@pytest.mark.parametrize("meanwhile", ["a person edits it", "the run is undone"])
def test_a_failing_file_someone_touched_since_the_last_run_is_shown_in_full(make_grid, work, meanwhile):
    def touch():
        if meanwhile == "the run is undone":
            Checkpoints(work).undo()
        else:
            (work / "calc.py").write_text("def add(a, b):\n    return a * b  # mine\n")

    second = rerun_after_a_failed_run(make_grid, work, touch)
    user = second.messages[1]["content"]
    assert ("return a - b" if meanwhile == "the run is undone" else "return a * b  # mine") in user
    assert "last run wrote it" not in user and second.temperature is None


def test_fresh_samples_of_a_stub_extend_the_first_prompt_so_it_is_read_from_the_cache(make_grid, work):
    """A stub has no code to copy: the fresh samples see it as the first prompt did, and their
    prompt is the first one with the failure added (the model reads only that tail again)."""
    stub = '"""Add."""\n\n\ndef add(a, b):\n    """Return a plus b."""\n    pass\n'
    make_tree(work, {"calc.py": stub})
    fixed = "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[f"calc.py\n```python\n{stub}```\n", fixed])
    a = Agent(
        grid,
        work,
        Leash(work, "agent", paths=("calc.py",)),
        verify=VerifySettings((PYTEST,), timeout=60),
        edit_format="whole",
        stop_when_green=True,
        candidates=2,
    )
    assert a.run("make add add").status == "done"
    first, fresh = grid.provider("s").requests
    assert fresh.temperature == 1.0 and fresh.messages[0] == first.messages[0]
    assert fresh.messages[1]["content"].startswith(first.messages[1]["content"]) and "anew" not in fresh.messages[1]["content"]


def test_a_file_written_anew_from_its_outline_may_be_much_shorter(make_grid, work):
    """The guard against a whole file cut short does not refuse what was asked for: the file anew."""
    long = "def add(a, b):\n" + "    a = a + 0\n" * 12 + "    return a - b\n"
    make_tree(work, {"calc.py": long})
    fixed = "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[f"calc.py\n```python\n{long}```\n", fixed])
    a = Agent(
        grid,
        work,
        Leash(work, "agent", paths=("calc.py",)),
        verify=VerifySettings((PYTEST,), timeout=60),
        edit_format="whole",
        stop_when_green=True,
        candidates=2,
    )
    assert a.run("make add add").status == "done" and (work / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"


def test_outside_a_fresh_sample_a_whole_file_cut_short_is_still_refused(make_grid, work):
    """Only a file asked for anew may be much shorter: a reply cutting a file short in the conversation is refused."""
    long = "def add(a, b):\n" + "    a = a + 0\n" * 12 + "    return a - b\n"
    make_tree(work, {"calc.py": long})
    short = "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[short, "DONE", "DONE"])
    a = Agent(grid, work, Leash(work, "agent", paths=("calc.py",)), verify=VerifySettings((PYTEST,), timeout=60), edit_format="whole")
    a.run("make add add")
    assert (work / "calc.py").read_text() == long


def test_a_whole_file_reply_the_time_limit_would_cut_off_is_not_started(make_grid, work):
    """At the speed the first reply showed (20 tokens in at least half a second), writing a ~3,000-token
    file again takes over a minute: with 30 seconds to go, the run stops instead of being cut off."""
    big = (
        "def add(a, b):\n    return a * b\n\n\nWORDS = " + repr(" ".join(f"w{n}" for n in range(1500))) + "\n"
    )  # a few lines, ~3,000 tokens
    slow = {"text": f"calc.py\n```python\n{big}```\n", "usage": {"input_tokens": 100, "output_tokens": 20}, "delay": 0.5}
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[slow, f"calc.py\n```python\n{BROKEN.replace('-', '+')}```\n"])
    a = Agent(
        grid,
        work,
        Leash(work, "agent", paths=("calc.py",), budget=RunBudget(seconds=30)),
        verify=VerifySettings((PYTEST,), timeout=60),
        edit_format="whole",
        stop_when_green=True,
        candidates=1,
    )
    result = a.run("make add add")
    assert result.status == "budget" and "writing calc.py again takes about" in result.reason
    assert len(grid.provider("s").requests) == 1 and "return a * b" in (work / "calc.py").read_text()


def test_a_reply_that_can_finish_in_the_time_left_is_asked_for(make_grid, work):
    slow = {
        "text": f"calc.py\n```python\n{BROKEN.replace('-', '*')}```\n",
        "usage": {"input_tokens": 100, "output_tokens": 20},
        "delay": 0.5,
    }
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[slow, f"calc.py\n```python\n{BROKEN.replace('-', '+')}```\n"])
    a = Agent(
        grid,
        work,
        Leash(work, "agent", paths=("calc.py",), budget=RunBudget(seconds=600)),
        verify=VerifySettings((PYTEST,), timeout=60),
        edit_format="whole",
        stop_when_green=True,
        candidates=1,
    )
    assert a.run("make add add").status == "done" and len(grid.provider("s").requests) == 2
