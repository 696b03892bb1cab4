"""The leash rule by rule: levels, limits, config rules, budgets, and the record of decisions."""

import os

import pytest

from tether import config
from tether.autonomy.guard.leash import Leash, Rule
from tether.errors import ConfigError, TetherError
from tether.store import Store


@pytest.fixture
def root(tmp_path):
    (tmp_path / "src").mkdir()
    return tmp_path


def verdicts(leash, *actions):
    return [leash.check(tool, target).verdict for tool, target in actions]


ACTIONS = [("read", "src/a.py"), ("propose", "src/a.py"), ("write", "src/a.py"), ("run", "pytest -q")]


@pytest.mark.parametrize(
    "level, expected",
    [
        ("ask", ["allow", "deny", "deny", "deny"]),
        ("suggest", ["allow", "allow", "deny", "deny"]),
        ("approve", ["allow", "allow", "ask", "ask"]),
        ("auto", ["allow", "allow", "allow", "allow"]),
        ("agent", ["allow", "allow", "allow", "allow"]),
    ],
)
def test_the_slider(root, level, expected):
    leash = Leash(root, level, paths=("src/**",), commands=("pytest*",))
    assert verdicts(leash, *ACTIONS) == expected


def test_auto_asks_outside_its_paths_and_commands(root):
    leash = Leash(root, "auto", paths=("src/**",), commands=("pytest*",))
    assert verdicts(leash, ("write", "setup.py"), ("run", "make deploy")) == ["ask", "ask"]


@pytest.mark.parametrize(
    "command", ["pytest -q; rm -rf /", "pytest && curl http://x", "pytest | sh", "pytest > /etc/x", "pytest $(curl x)", "pytest `id`"]
)
def test_chained_or_redirected_commands_always_need_a_yes(root, command):
    leash = Leash(root, "agent", commands=("pytest*",), rules=(Rule("run", "pytest*", "allow"),))
    assert leash.check("run", command).verdict == "ask"


@pytest.mark.parametrize("path", ["../x.py", "/etc/passwd", ".git/config", "src/../../x"])
def test_paths_outside_the_workspace_are_denied_at_every_level(root, path):
    for level in ("approve", "auto", "agent"):
        assert Leash(root, level, rules=(Rule("*", "*", "allow"),)).check("write", path).verdict == "deny"


def test_symlink_out_of_the_workspace_is_denied(root, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    os.symlink(outside, root / "src" / "link")
    assert Leash(root, "agent").check("write", "src/link/x.py").verdict == "deny"


def test_deny_wins_then_ask_then_allow(root):
    rules = (
        Rule("write", "src/secret/*", "deny"),
        Rule("write", "src/*", "allow"),
        Rule("write", "src/review/*", "ask"),
        Rule("run", "make*", "allow"),
    )
    leash = Leash(root, "auto", paths=("docs/**",), rules=rules)
    assert leash.check("write", "src/secret/key.py").rule == "rule deny write 'src/secret/*'"
    assert verdicts(
        leash,
        ("write", "src/secret/key.py"),
        ("write", "src/review/x.py"),
        ("write", "src/ok.py"),
        ("run", "make test"),
        ("write", "other.py"),
    ) == ["deny", "ask", "allow", "allow", "ask"]


def test_config_rules_never_lift_a_level_that_applies_nothing(root):
    leash = Leash(root, "suggest", rules=(Rule("*", "*", "allow"),))
    assert verdicts(leash, ("write", "src/a.py"), ("run", "pytest")) == ["deny", "deny"]


def test_approve_asks_even_where_a_rule_allows(root):
    assert Leash(root, "approve", rules=(Rule("write", "*", "allow"),)).check("write", "src/a.py").verdict == "ask"


def test_change_size_limits(root):
    leash = Leash(root, "auto", max_files=2, max_lines=10)
    assert leash.check_change({"src/a.py": 3, "src/b.py": 4}).verdict == "allow"
    assert leash.check_change({"src/a.py": 1, "src/b.py": 1, "src/c.py": 1}).rule == "limit max_files"
    assert leash.check_change({"src/a.py": 11}).rule == "limit max_lines"


def test_budget(root):
    from tether.autonomy.guard.leash import RunBudget

    leash = Leash(root, "agent", budget=RunBudget(usd=0.5, tokens=1000, steps=3))
    assert leash.charge(usd=0.2, input_tokens=400, steps=1).allowed
    assert leash.charge(usd=0.2, input_tokens=400, steps=1).allowed
    stop = leash.charge(usd=0.2, input_tokens=100, steps=1)
    assert not stop.allowed and stop.rule == "budget usd"


def test_from_config_and_bad_config(root):
    cfg = config.from_dict(
        {
            "leash": {
                "level": "auto",
                "paths": ["src/**"],
                "commands": ["pytest*"],
                "max_lines": 50,
                "budget": {"steps": 4},
                "rules": [{"tool": "write", "pattern": "src/gen/*", "action": "deny"}],
            }
        }
    )
    leash = Leash.from_config(root, cfg)
    assert (leash.level, leash.max_lines, leash.budget.steps) == ("auto", 50, 4)
    assert leash.check("write", "src/gen/x.py").verdict == "deny"
    assert Leash.from_config(root, cfg, level="suggest").level == "suggest"
    for bad, message in (
        ({"levle": "auto"}, "unknown key 'levle'"),
        ({"rules": [{"tool": "fly", "action": "allow"}]}, "rule 1 needs"),
        ({"budget": {"euros": 3}}, "budget takes"),
        ({"paths": "src"}, "paths must be a list"),
    ):
        with pytest.raises(ConfigError, match=message):
            Leash.from_config(root, config.from_dict({"leash": bad}))
    with pytest.raises(TetherError, match="unknown autonomy level 'yolo'"):
        Leash(root, "yolo")


def test_every_decision_is_recorded_with_its_rule(root, isolated):
    store = Store()
    leash = Leash(root, "auto", paths=("src/**",), rules=(Rule("write", "src/locked.py", "deny"),), store=store, run_id="run-1")
    leash.check("write", "src/locked.py")
    leash.check("write", "src/free.py")
    rows = [tuple(r) for r in store.query("SELECT run_id, tool, target, verdict, rule FROM decisions ORDER BY id")]
    assert rows == [
        ("run-1", "write", "src/locked.py", "deny", "rule deny write 'src/locked.py'"),
        ("run-1", "write", "src/free.py", "allow", "level auto paths"),
    ]


def test_a_runs_checks_are_allowed_as_written_never_as_globs(tmp_path):
    """A check comes from a project's tether.toml or a plan's step: it may run as written, and
    widens the commands the model may run by nothing else (`python3 *` is not a licence)."""
    leash = Leash(tmp_path, "auto").for_run(("python3 *", "pytest -q"), None, "")
    assert leash.check("run", "pytest   -q").allowed and leash.check("run", "python3 *").allowed
    refused = leash.check("run", "python3 -c 'import os'")
    assert refused.verdict == "ask" and "not among the commands" in refused.reason
