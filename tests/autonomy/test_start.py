"""A run started from options: what the person asked wins, the layered config decides the rest,
and a bad option is one clear error before any model is called."""

import math

import pytest

from tests.conftest import make_tree
from tether.autonomy.agent.start import RunOptions, default_level, prepare
from tether.errors import TetherError

BROKEN = "def add(a, b):\n    return a - b\n"
FIX = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"
CONFIG = {
    "routes": {"default": {"models": ["s/m"]}},
    "leash": {"level": "auto", "budget": {"steps": 7}},
    "verify": {"commands": ["true"], "sandbox": "off"},
}


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {"calc.py": BROKEN})


def test_options_left_empty_take_the_configs_leash_and_checks(make_grid, work):
    grid = make_grid(CONFIG, s=[FIX])
    plan = prepare(RunOptions("make add add", work), grid).to_dict()
    assert (plan["level"], plan["checks"], plan["limits"]["steps"], plan["model"]) == ("auto", ["true"], 7, "default")
    assert plan["edit_format"] in ("whole", "search-replace") and default_level(grid.config, work) == "auto"


def test_what_the_person_asked_wins_over_the_config(make_grid, work):
    grid = make_grid(CONFIG, s=[FIX])
    options = RunOptions("make add add", work, level="suggest", checks=(), max_steps=2, max_usd=0.5, edit_format="whole")
    plan = prepare(options, grid).to_dict()
    assert (plan["level"], plan["checks"], plan["limits"]["steps"], plan["limits"]["usd"], plan["edit_format"]) == (
        "suggest",
        [],
        2,
        0.5,
        "whole",
    )


def test_a_prepared_run_runs_once_as_one_undoable_change(make_grid, work):
    grid = make_grid(CONFIG, s=[FIX])
    events = []
    result = prepare(
        RunOptions("make add add", work, edit_format="search-replace"), grid, on_event=lambda kind, **_: events.append(kind)
    ).run()
    assert result.status == "done" and result.changed == ["calc.py"] and "return a + b" in (work / "calc.py").read_text()
    assert "diff" in events and len(grid.provider("s").requests) == 1


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"instruction": "  "}, "say what the agent should do"),
        ({"max_usd": 0}, "max usd must be a number > 0"),
        ({"max_seconds": math.nan}, "max seconds must be a number > 0"),
        ({"max_steps": 1.5}, "max steps must be a whole number > 0"),
        ({"max_tokens": True}, "max tokens must be a whole number > 0"),
        ({"candidates": 0}, "candidates must be a whole number of 1 or more"),
    ],
)
def test_a_bad_option_is_one_clear_error(work, bad, message):
    with pytest.raises(TetherError, match=message):
        RunOptions(**{"instruction": "x", "root": work, **bad})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"model": "nope/x"}, "nope"),
        ({"escalate": "nope/x"}, "nope"),
        ({"level": "reckless"}, "unknown autonomy level"),
        ({"edit_format": "xml"}, "unknown edit format"),
    ],
)
def test_a_run_that_cannot_start_calls_no_model(make_grid, work, options, message):
    grid = make_grid(CONFIG, s=[FIX])
    with pytest.raises(TetherError, match=message):
        prepare(RunOptions("make add add", work, **options), grid)
    assert grid.provider("s").requests == []


def test_options_from_a_forms_text_fields(work):
    options = RunOptions.from_fields(
        work,
        {
            "instruction": " fix it ",
            "level": "auto",
            "model": "",
            "checks": "pytest -q\n\n ruff check \n",
            "max_steps": "4",
            "max_seconds": " ",
            "until_green": "on",
            "csrf": "t",
        },
    )
    assert (options.instruction, options.level, options.model, options.checks) == ("fix it", "auto", "default", ("pytest -q", "ruff check"))
    assert (options.max_steps, options.max_seconds, options.until_green, options.paths) == (4, None, True, ())
    assert RunOptions.from_fields(work, {"instruction": "x"}).checks is None  # empty: the config's checks
    with pytest.raises(TetherError, match=r"max steps must be a whole number \(got 'ten'\)"):
        RunOptions.from_fields(work, {"instruction": "x", "max_steps": "ten"})
    with pytest.raises(TetherError, match="max seconds must be a number > 0"):
        RunOptions.from_fields(work, {"instruction": "x", "max_seconds": "inf"})
