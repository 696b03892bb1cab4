"""The leash over other programs' tools (MCP servers): each `mcp:SERVER:TOOL` a tool of its own,
with its own level defaults, rules that name it by glob, and deny winning as always."""

import pytest

from tests.conftest import user_config
from tether import config
from tether.autonomy.agent.tools import external_target
from tether.autonomy.guard.leash import Leash, Rule
from tether.errors import ConfigError

CALL = ("mcp:github:create_issue", '{"title": "x"}')


@pytest.mark.parametrize("level, verdict", [("ask", "deny"), ("suggest", "deny"), ("approve", "ask"), ("auto", "ask"), ("agent", "ask")])
def test_no_level_calls_another_programs_tool_unasked(tmp_path, level, verdict):
    decision = Leash(tmp_path, level).check(*CALL)
    assert decision.verdict == verdict and "mcp:github:create_issue" in decision.reason


@pytest.mark.parametrize("tool", ["mcp", "mcp:*", "mcp:github:*", "mcp:github:create_issue", "mcp:*:create_*"])
def test_an_allow_rule_that_names_the_tool_lets_auto_call_it_but_approve_still_asks(tmp_path, tool):
    rules = (Rule(tool, "*", "allow"),)
    assert Leash(tmp_path, "auto", rules=rules).check(*CALL).verdict == "allow"
    assert Leash(tmp_path, "approve", rules=rules).check(*CALL).verdict == "ask"
    assert Leash(tmp_path, "suggest", rules=rules).check(*CALL).verdict == "deny"


def test_a_star_allow_written_for_tethers_tools_does_not_cover_mcp_but_a_star_deny_does(tmp_path):
    assert Leash(tmp_path, "auto", rules=(Rule("*", "*", "allow"),)).check(*CALL).verdict == "ask"
    assert Leash(tmp_path, "auto", rules=(Rule("mcp", "*", "allow"), Rule("*", "*", "deny"))).check(*CALL).verdict == "deny"


def test_rules_match_the_calls_arguments_and_deny_wins(tmp_path):
    rules = (
        Rule("mcp:github:*", "*", "allow"),
        Rule("mcp:github:*", "*delete*", "deny"),
        Rule("mcp:github:create_issue", "*urgent*", "ask"),
    )
    leash = Leash(tmp_path, "agent", rules=rules)
    assert leash.check("mcp:github:list_issues", "{}").verdict == "allow"
    assert leash.check("mcp:github:repo", '{"action": "delete"}').verdict == "deny"
    assert leash.check("mcp:github:create_issue", '{"title": "urgent"}').verdict == "ask"
    assert leash.check("mcp:gitlab:list_issues", "{}").verdict == "ask"  # another server: no rule of github's


@pytest.mark.parametrize(
    "args",
    [
        {"_": "A" * 600, "action": "delete", "id": 7},  # padding past what was checked
        {"_": "A" * 100_000, "action": "delete"},
        {"action": "DELETE"},  # a change of case
        {"action": "Delete", "id": 7},
        {"batch": [{"id": 1}, {"action": "deLete"}]},
    ],
)
def test_a_deny_over_the_arguments_sees_them_whole_however_padded_and_whatever_the_case(tmp_path, args):
    rules = (Rule("mcp:evil:*", "*", "allow"), Rule("mcp:evil:*", "*delete*", "deny"))
    decision = Leash(tmp_path, "auto", rules=rules).check("mcp:evil:issues", external_target(args))
    assert decision.verdict == "deny" and decision.rule == str(rules[1])


def test_an_allow_over_the_arguments_still_allows_what_no_deny_names(tmp_path):
    rules = (Rule("mcp:evil:*", "*", "allow"), Rule("mcp:evil:*", "*delete*", "deny"))
    assert Leash(tmp_path, "auto", rules=rules).check("mcp:evil:issues", external_target({"_": "A" * 600, "action": "list"})).allowed


def test_mcp_rules_are_read_from_the_config_and_a_bad_tool_is_one_clear_line(tmp_path):
    user_config('[leash]\nlevel = "auto"\nrules = [{ tool = "mcp:github:*", pattern = "*", action = "allow" }]\n')
    assert Leash.from_config(tmp_path, config.load(start=tmp_path)).check(*CALL).verdict == "allow"
    path = user_config('[leash]\nrules = [{ tool = "mcp:github", action = "allow" }]\n')
    with pytest.raises(ConfigError, match=rf"^{path}: \[leash\] rule 1 needs tool \(.*mcp:SERVER:TOOL\)"):
        Leash.from_config(tmp_path, config.load(start=tmp_path))


def test_a_projects_rules_may_deny_mcp_tools_but_not_allow_them(tmp_path):
    user_config('[leash]\nlevel = "auto"\n')
    (tmp_path / "tether.toml").write_text(
        '[leash]\nrules = [{ tool = "mcp", action = "allow" }, { tool = "mcp:github:*", pattern = "*", action = "deny" }]\n'
    )
    leash = Leash.from_config(tmp_path, config.load(start=tmp_path))
    assert leash.check(*CALL).verdict == "deny" and leash.check("mcp:db:query", "{}").verdict == "ask"
