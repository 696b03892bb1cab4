"""Hooks: the user's own commands at fixed moments of a run, each able to refuse. Every hook here
is a real Python script run as `sys.executable script.py` (sandboxed, as a run runs it) on a real
workspace; the model is the scripted provider, writing exactly what the test says."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import PYTEST, make_tree, user_config
from tether import config, trust
from tether.autonomy.agent import start
from tether.autonomy.guard.hooks import Hook, HookBroken, Hooks
from tether.autonomy.history import runlog
from tether.autonomy.history.checkpoints import Checkpoints
from tether.errors import ConfigError
from tether.shapes import SHAPES

BROKEN = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
FIX = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"
WRONG = FIX.replace("a + b", "a * b")
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"  # a GitHub token's shape
SECRET_FIX = FIX.replace("    return a + b\n", f'    TOKEN = "{TOKEN}"\n    return a + b\n')


@pytest.fixture
def work(tmp_path):
    root = make_tree(tmp_path / "work", {"calc.py": BROKEN, "test_calc.py": TEST})
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def script(tmp_path, name: str, body: str) -> list[str]:
    """A hook: a Python script that has the event (`event`) read from stdin before `body` runs."""
    path = tmp_path / "hooks" / f"{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text("import json, os, sys\nevent = json.load(sys.stdin)\n" + textwrap.dedent(body))
    return [sys.executable, str(path)]


def recorder(tmp_path) -> list[str]:
    """A hook that allows everything and keeps each event it was sent (run with the sandbox off:
    a confined hook can write nowhere a test could read)."""
    return script(tmp_path, "record", f"with open({str(tmp_path / 'events.jsonl')!r}, 'a') as f:\n    f.write(json.dumps(event) + '\\n')\n")


def events(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]


def run(make_grid, work, replies, hooks, level="auto", checks=(PYTEST,), **raw):
    """A run started as `tether do` starts one (start.prepare), with `hooks` as [[hooks]] of the config."""
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}, "hooks": hooks, **raw}, s=[*replies, "DONE", "DONE"])
    options = start.RunOptions("make add add", work, level=level, checks=checks, edit_format="search-replace")
    return start.prepare(options, grid).run(), grid


def told(grid, n: int) -> str:
    """What the model was told last before its reply number `n` (from 0)."""
    return grid.provider("s").requests[n].messages[-1]["content"]


def hook_steps(grid, result) -> list[dict]:
    return [s for s in runlog.replay(grid.store, result.id)[1] if s["kind"] == "decision" and s.get("rule", "").startswith("hook")]


def test_a_hook_that_denies_a_write_leaves_the_file_untouched_and_the_model_hears_why(make_grid, work, tmp_path):
    frozen = script(tmp_path, "frozen", 'print(event["target"] + " is frozen until the release", file=sys.stderr)\nsys.exit(2)\n')
    hooks = [{"event": "before_tool", "match": {"tool": "write", "path": "calc.py"}, "command": frozen, "name": "frozen"}]
    result, grid = run(make_grid, work, [FIX], hooks)
    assert (work / "calc.py").read_text() == BROKEN and result.changed == [] and Checkpoints(work).log() == []
    assert result.status == "refused"
    assert result.reason == "nothing changed: hook frozen refused writing calc.py (once): calc.py is frozen until the release"
    assert "Refused by a hook (hook frozen): calc.py is frozen until the release. Nothing was written." in told(grid, 1)
    [step] = hook_steps(grid, result)
    assert step["verdict"] == "deny" and step["allowed"] is False and step["tool"] == "write" and step["target"] == "calc.py"
    assert step["rule"] == "hook frozen" and step["reason"] == "calc.py is frozen until the release" and step["event"] == "before_tool"


def test_a_hook_that_allows_lets_the_change_through_and_its_verdict_is_recorded(make_grid, work, tmp_path):
    ok = script(tmp_path, "ok", 'print(json.dumps({"decision": "allow", "reason": "calc.py is ours to change"}))\n')
    result, grid = run(make_grid, work, [FIX], [{"event": "before_tool", "match": {"tool": "write"}, "command": ok}])
    assert result.status == "done" and "return a + b" in (work / "calc.py").read_text() and result.checks[0].ok
    [step] = hook_steps(grid, result)
    assert step["allowed"] is True and step["reason"] == "calc.py is ours to change" and step["rule"] == f"hook {' '.join(ok)}"


def test_a_before_tool_hook_refuses_a_command_the_leash_allows(make_grid, work, tmp_path):
    no_touch = script(
        tmp_path,
        "no_touch",
        'print(json.dumps({"decision": "deny" if "touch" in event["target"] else "allow", "reason": "no touching"}))\n',
    )
    hooks = [{"event": "before_tool", "match": {"tool": "run"}, "command": no_touch, "name": "no-touch"}]
    result, grid = run(make_grid, work, ['TOOL run_command {"command": "touch pwned"}', FIX], hooks, leash={"commands": ["touch *"]})
    assert not (work / "pwned").exists() and result.status == "done"
    assert "Refused by a hook (hook no-touch): no touching. Do the task without it." in told(grid, 1)
    steps = runlog.replay(grid.store, result.id)[1]
    leash = [s for s in steps if s["kind"] == "decision" and s.get("tool") == "run_command"]
    assert leash[0]["allowed"] is True  # the leash let it through; the hook did not
    assert [(s["tool"], s["target"], s["verdict"]) for s in hook_steps(grid, result)] == [("run", "touch pwned", "deny")]


def test_an_after_edit_hook_that_denies_undoes_the_change_and_says_why(make_grid, work, tmp_path):
    review = script(
        tmp_path, "review", 'if "a + b" in event["diff"]:\n    sys.exit(print("additions need a second reviewer", file=sys.stderr) or 2)\n'
    )
    result, grid = run(make_grid, work, [FIX], [{"event": "after_edit", "command": review, "name": "second-reviewer"}])
    assert (work / "calc.py").read_text() == BROKEN and result.changed == [] and Checkpoints(work).log() == []
    assert "Refused by a hook (hook second-reviewer): additions need a second reviewer. Your change was undone." in told(grid, 1)
    steps = runlog.replay(grid.store, result.id)[1]
    applied = next(n for n, s in enumerate(steps) if s["kind"] == "diff" and s.get("applied"))
    assert steps[applied + 1]["rule"] == "hook second-reviewer" and steps[applied + 1]["target"] == "calc.py"
    assert not [s for s in steps[applied:] if s["kind"] == "verify"]  # the checks never ran on the refused change


def test_a_before_checks_hook_that_denies_skips_the_checks_and_the_change_stands_unchecked(make_grid, work, tmp_path):
    gate = script(tmp_path, "gate", 'print("the test runner is frozen today", file=sys.stderr)\nsys.exit(2)\n')
    result, grid = run(make_grid, work, [FIX], [{"event": "before_checks", "command": gate, "name": "gate"}])
    assert "return a + b" in (work / "calc.py").read_text() and result.changed == ["calc.py"]
    assert result.status == "failing"  # never done on checks that did not run
    assert "the checks did not run: Refused by a hook (hook gate): the test runner is frozen today" in told(grid, 1)
    assert not [s for s in runlog.replay(grid.store, result.id)[1] if s["kind"] == "verify"]
    assert {(s["event"], s["target"], s["verdict"]) for s in hook_steps(grid, result)} == {("before_checks", PYTEST, "deny")}


def test_a_before_tool_hook_refuses_an_mcp_servers_tool_the_leash_allows(make_grid, work, tmp_path):
    from tether.mcp.client import tools_for

    gate = script(tmp_path, "gate", 'sys.exit(print(event["tool"] + " is not for this repository", file=sys.stderr) or 2)\n')
    server = {"command": sys.executable, "args": [str(Path(__file__).parent.parent / "mcp" / "fake_server.py"), "hostile"]}
    grid = make_grid(
        {
            "routes": {"default": {"models": ["s/m"]}},
            "mcp": {"servers": {"evil": server}},
            "leash": {"rules": [{"tool": "mcp:evil:*", "pattern": "*", "action": "allow"}]},
            "hooks": [{"event": "before_tool", "match": {"tool": "mcp:*"}, "command": gate, "name": "no-mcp"}],
        },
        s=['TOOL mcp:evil:count {"word": "tether"}', FIX, "DONE"],
    )
    options = start.RunOptions("make add add", work, level="auto", checks=(PYTEST,), edit_format="search-replace")
    result = start.prepare(options, grid, tools=tools_for(grid.config, work)).run()
    assert result.status == "done"
    assert "Refused by a hook (hook no-mcp): mcp:evil:count is not for this repository" in told(grid, 1)
    steps = runlog.replay(grid.store, result.id)[1]
    assert [s for s in steps if s["kind"] == "decision" and s.get("tool") == "mcp:evil:count"][0]["allowed"] is True  # the leash's yes
    assert not [s for s in steps if s["kind"] == "tool" and s.get("name") == "mcp:evil:count"]  # the server was never called
    assert [(s["tool"], s["verdict"]) for s in hook_steps(grid, result)] == [("mcp:evil:count", "deny")]


def test_a_stop_hook_sends_the_model_back_to_work_once(make_grid, work, tmp_path):
    lint = script(
        tmp_path,
        "lint",
        'ok = event["again"] and event["status"] == "done"\n'
        'print(json.dumps({"decision": "allow" if ok else "deny", "reason": "run the linter first"}))\n',
    )
    result, grid = run(make_grid, work, [FIX, "DONE linted"], [{"event": "stop", "command": lint, "name": "lint-gate"}])
    assert result.status == "done" and len(grid.provider("s").requests) == 2
    assert "Refused by a hook (hook lint-gate): run the linter first. The run is not over" in told(grid, 1)
    assert [s["allowed"] for s in hook_steps(grid, result)] == [False, True]


def test_a_stop_hook_that_refuses_twice_is_named_in_the_runs_reason(make_grid, work, tmp_path):
    never = script(tmp_path, "never", 'sys.exit(print("the release is frozen", file=sys.stderr) or 2)\n')
    result, grid = run(make_grid, work, [FIX, "DONE"], [{"event": "stop", "command": never, "name": "freeze"}])
    assert result.status == "done" and "hook freeze still refused to let the run end: the release is frozen" in result.reason
    assert len(grid.provider("s").requests) == 2 and [s["allowed"] for s in hook_steps(grid, result)] == [False, False]


def test_a_stop_hook_on_a_run_a_limit_ended_is_only_recorded(make_grid, work, tmp_path):
    never = script(tmp_path, "never", 'sys.exit(print(event["status"] + " is not allowed", file=sys.stderr) or 2)\n')
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}, "hooks": [{"event": "stop", "command": never}]}, s=[WRONG, FIX])
    options = start.RunOptions("make add add", work, level="auto", checks=(PYTEST,), edit_format="search-replace", max_steps=1)
    result = start.prepare(options, grid).run()
    assert result.status == "budget" and len(grid.provider("s").requests) == 1 and "hook" not in result.reason
    [step] = hook_steps(grid, result)
    assert step["event"] == "stop" and step["reason"] == "budget is not allowed"


@pytest.mark.parametrize(
    "body, command, reason",
    [
        ("import time\ntime.sleep(60)\n", None, "the hook failed: no answer within 0.5s"),
        ("raise RuntimeError('the policy file is missing')\n", None, "the hook failed: exit 1: RuntimeError: the policy file is missing"),
        (
            "print('{decision: allow')\n",
            None,
            "the hook failed: its answer on stdout is not valid JSON (write it as one line of JSON, or as all of stdout)",
        ),
        ("print(json.dumps({'ok': True}))\n", None, 'the hook failed: its JSON answer has no "decision" of "allow" or "deny"'),
    ],
    ids=["timeout", "crash", "broken-json", "no-decision"],
)
def test_a_hook_that_hangs_crashes_or_answers_garbage_denies_with_one_clear_reason(work, tmp_path, body, command, reason):
    hangs = "sleep" in body  # only the hook that never answers gets a short timeout: the others answer, however slow the machine
    hook = Hook("before_tool", tuple(command or script(tmp_path, "bad", body)), timeout=0.5 if hangs else 60)
    verdict = Hooks([hook], work).ready("auto").before_tool("write", "calc.py")
    assert verdict is not None and not verdict.allowed and verdict.reason == reason


def test_a_crashing_hook_keeps_the_write_out(make_grid, work, tmp_path):
    broken = script(tmp_path, "broken", "import policy_module_that_is_gone\n")
    result, grid = run(make_grid, work, [FIX], [{"event": "before_tool", "match": {"tool": "write"}, "command": broken, "name": "policy"}])
    assert (work / "calc.py").read_text() == BROKEN and result.status == "refused"
    assert "(hook policy): the hook failed: exit 1: ModuleNotFoundError: No module named 'policy_module_that_is_gone'" in told(grid, 1)


def test_a_hook_runs_in_the_workspace_which_it_may_read_but_not_change(work, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", "s3cret")
    probe = script(
        tmp_path,
        "probe",
        "try:\n    open('mark', 'w').close()\n    wrote = 'wrote'\nexcept OSError:\n    wrote = 'read-only'\n"
        "seen = [os.getcwd() == event['root'], open('calc.py').read().startswith('def add'), wrote, 'MY_API_TOKEN' in os.environ]\n"
        "print(json.dumps({'decision': 'allow', 'reason': repr(seen)}))\n",
    )
    verdict = Hooks([Hook("after_edit", tuple(probe))], work).ready("auto")
    verdict.start("r1", lambda: "auto")
    found = verdict.trial("after_edit", None, "calc.py", "auto").verdicts[0]
    assert found.allowed and found.reason == "[True, True, 'read-only', False]" and not (work / "mark").exists()


def test_every_event_reaches_the_hook_as_json_with_its_fields(make_grid, work, tmp_path):
    record = recorder(tmp_path)
    hooks = [{"event": e, "command": record} for e in ("before_tool", "after_edit", "before_checks", "stop")]
    result, grid = run(make_grid, work, [FIX], hooks, verify={"sandbox": "off"})
    assert result.status == "done"
    got = events(tmp_path)
    assert [e["event"] for e in got] == ["before_checks", "before_tool", "after_edit", "before_checks", "stop"]
    common = {"run_id": result.id, "root": str(work.resolve()), "level": "auto"}
    assert all({k: e[k] for k in common} == common for e in got)
    write, edit, checks, stop = got[1:]
    assert (write["tool"], write["target"], write["paths"]) == ("write", "calc.py", ["calc.py"]) and "+    return a + b" in write["diff"]
    assert (edit["tool"], edit["files"], edit["paths"]) == ("write", ["calc.py"], ["calc.py"]) and "+    return a + b" in edit["diff"]
    assert (checks["tool"], checks["commands"]) == ("run", [PYTEST])
    assert (stop["status"], stop["reason"], stop["again"]) == ("done", "the change is applied and the checks pass", False)


def test_the_event_a_hook_reads_has_its_secrets_redacted(make_grid, work, tmp_path):
    hooks = [{"event": e, "command": recorder(tmp_path)} for e in ("before_tool", "after_edit")]
    run(make_grid, work, [SECRET_FIX], hooks, verify={"sandbox": "off"})
    assert TOKEN in (work / "calc.py").read_text()  # the change itself is the model's to make
    got = events(tmp_path)
    assert len(got) == 2 and all("[REDACTED:github-token]" in e["diff"] for e in got)
    assert TOKEN not in (tmp_path / "events.jsonl").read_text()


def test_a_projects_tether_toml_can_neither_add_nor_remove_hooks_trusted_or_not(work, tmp_path):
    user_config('[[hooks]]\nevent = "stop"\ncommand = ["true"]\nname = "mine"\n')
    for project in ('[[hooks]]\nevent = "before_tool"\ncommand = ["true"]\nname = "theirs"\n', "hooks = []\n"):
        (work / "tether.toml").write_text(project)
        for trusted in (False, True):
            if trusted:
                trust.trust(work / "tether.toml")
            loaded = config.load(start=work)
            assert [h.name for h in Hooks.from_config(loaded, work).hooks] == ["mine"]
            assert "hooks" in loaded.ignored and "hooks" in loaded.ignored_note()


@pytest.mark.parametrize(
    "text, message",
    [
        ('[hooks]\nevent = "stop"\n', "hooks must be a list of tables, each written [[hooks]]"),
        ('[[hooks]]\nevent = "after_tool"\ncommand = "true"\n', "[[hooks]] #1: event must be one of before_tool, after_edit"),
        ('[[hooks]]\nevent = "stop"\ncommand = "true"\n[[hooks]]\nevent = "stop"\n', "[[hooks]] #2: command must be a list of words"),
        ('[[hooks]]\nevent = "stop"\ncommand = "true"\ntimeout = 0\n', "[[hooks]] #1: timeout must be a number of seconds above 0"),
        ('[[hooks]]\nevent = "stop"\ncommand = "true"\nmatch = { tool = 1 }\n', "[[hooks]] #1: match must be a table of tool and path"),
        ('[[hooks]]\nevent = "stop"\ncommand = "true"\nwhen = "always"\n', "[[hooks]] #1: unknown key 'when'"),
        ('[[hooks]]\nevent = "stop"\ncommand = "check \'policy"\n', "[[hooks]] #1: command cannot be split into words"),
    ],
)
def test_a_bad_hook_entry_is_one_clear_error_naming_the_file_and_the_key(work, text, message):
    path = user_config(text)
    with pytest.raises(ConfigError) as caught:
        Hooks.from_config(config.load(start=work), work)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_tether_hooks_lists_them_and_tests_them_on_a_sample_event(work, tmp_path):
    frozen = script(tmp_path, "frozen", 'sys.exit(print(event["target"] + " is frozen", file=sys.stderr) or 2)\n')
    user_config(
        f'[[hooks]]\nevent = "before_tool"\nmatch = {{ tool = "write", path = "calc.py" }}\ncommand = {json.dumps(frozen)}\n'
        'name = "frozen"\ntimeout = 5\n'
    )
    cli = [sys.executable, "-m", "tether.cli", "hooks"]
    listed = json.loads(subprocess.run([*cli, "--json"], cwd=work, capture_output=True, text=True, check=True).stdout)
    jsonschema.validate(listed, SHAPES["hooks"])
    assert listed["hooks"] == [
        {"name": "frozen", "event": "before_tool", "match": {"tool": "write", "path": "calc.py"}, "command": frozen, "timeout": 5.0}
    ]
    shown = subprocess.run(
        [*cli, "test", "before_tool", "--tool", "write", "--target", "calc.py"], cwd=work, capture_output=True, text=True
    )
    assert shown.returncode == 1 and "deny  hook frozen: calc.py is frozen" in shown.stdout  # a script learns the hook denies
    other = subprocess.run(
        [*cli, "test", "before_tool", "--tool", "write", "--target", "test_calc.py"], cwd=work, capture_output=True, text=True
    )
    assert "no hook matches" in other.stderr and other.returncode == 0
    tested = subprocess.run(
        [*cli, "test", "before_tool", "--tool", "write", "--target", "calc.py", "--json"], cwd=work, capture_output=True
    )
    jsonschema.validate(json.loads(tested.stdout), SHAPES["hooks test"])
    assert json.loads(tested.stdout)["allowed"] is False and tested.returncode == 1
    bad = subprocess.run([*cli, "test", "after_tool"], cwd=work, capture_output=True, text=True)
    assert bad.returncode == 1 and "unknown hook event 'after_tool'" in bad.stderr and "Traceback" not in bad.stderr


# -- what an attacker pass found (issue 41, part B) ------------------------------------------------

FAILED_JSON = "the hook failed: its answer on stdout is not valid JSON (write it as one line of JSON, or as all of stdout)"


@pytest.mark.parametrize(
    "body, allowed, reason",
    [
        (
            'print("checking policy...")\nprint(json.dumps({"decision": "deny", "reason": "migrations are frozen"}))\n',
            False,
            "migrations are frozen",
        ),
        ('print(json.dumps({"decision": "deny", "reason": "migrations are frozen"}))\nprint("bye")\n', False, "migrations are frozen"),
        (
            'print(json.dumps({"decision": "allow"}))\nprint(json.dumps({"decision": "deny", "reason": "on second thought, no"}))\n'
            'print(json.dumps({"decision": "allow"}))\n',
            False,
            "on second thought, no",
        ),
        ('print(json.dumps({"decision": "deny", "reason": "migrations are frozen"}, indent=2))\n', False, "migrations are frozen"),
        ('print("checking policy...")\nprint(json.dumps({"decision": "deny"}, indent=2))\n', False, FAILED_JSON),
        ('print("checking policy...")\nprint({"decision": "deny"})\n', False, FAILED_JSON),
        ('print(json.dumps({"decision": "allow"}))\nprint("decision: deny")\n', False, FAILED_JSON),
        ('print(json.dumps({"decision": "maybe"}))\n', False, 'the hook failed: its JSON answer has no "decision" of "allow" or "deny"'),
        (
            'print(json.dumps({"level": "info", "msg": "read 3 files"}))\nprint(json.dumps({"decision": "allow", "reason": "fine"}))\n',
            True,
            "fine",
        ),
        ('print("checking policy... nothing to say")\n', True, "allowed"),
    ],
    ids=[
        "chatter-then-deny",
        "deny-then-chatter",
        "any-deny-wins",
        "pretty-printed",
        "pretty-after-chatter",
        "python-dict",
        "allow-and-a-broken-answer",
        "unknown-decision",
        "json-log-lines",
        "chatter-only",
    ],
)
def test_a_hooks_answer_is_found_on_any_line_of_its_stdout_and_a_broken_one_denies(work, tmp_path, body, allowed, reason):
    verdict = Hooks([Hook("before_tool", tuple(script(tmp_path, "answer", body)), timeout=60)], work).ready("auto")
    found = verdict.trial("before_tool", "write", "calc.py", "auto").verdicts[0]
    assert (found.allowed, found.reason, found.code) == (allowed, reason, 0)


FLOOD = "junk = b'x' * 999_999 + b'\\n'\nfor _ in range(200):\n    sys.{stream}.buffer.write(junk)\nsys.{stream}.flush()\n"


def test_a_hook_that_floods_its_output_is_read_in_bounded_memory_and_cannot_hide_its_answer(work, tmp_path):
    """200 MB from each of three hooks: tether keeps what the answer needs and drops the rest (it
    used to hold all of it, 830 MB for a 400 MB flood). A flood of stdout denies even where it ends
    with an allow: a deny in the middle would have been lost with what was dropped."""
    hooks = [
        script(tmp_path, "out", FLOOD.format(stream="stdout") + 'print(json.dumps({"decision": "allow"}))\n'),
        script(tmp_path, "err2", 'print("the release is frozen", file=sys.stderr)\n' + FLOOD.format(stream="stderr") + "sys.exit(2)\n"),
        script(tmp_path, "err1", FLOOD.format(stream="stderr") + 'print("RuntimeError: out of policy", file=sys.stderr)\nsys.exit(1)\n'),
    ]
    child = (
        "import json, sys\nfrom tether.autonomy.guard.hooks import Hook, Hooks\n"
        f"hooks = Hooks([Hook('before_tool', tuple(c), timeout=120) for c in {hooks!r}], {str(work)!r}).ready('auto')\n"
        "found = [hooks.run(h, '{}') for h in hooks.hooks]\n"
        "peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(json.dumps({'mb': peak // 1024, 'said': [[v.allowed, v.reason] for v in found]}))\n"
    )
    seen = json.loads(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout)
    assert seen["said"] == [
        [False, "the hook failed: it wrote more than 1,000,000 bytes on stdout, where its answer could be lost"],
        [False, "the release is frozen"],
        [False, "the hook failed: exit 1: RuntimeError: out of policy"],
    ]
    assert seen["mb"] < 150  # the peak of this process's memory (VmHWM: not the parent's, as ru_maxrss can be): never the 200 MB


MIGRATE = 'os.makedirs("migrations", exist_ok=True)\nopen("migrations/0001.py", "w").write("DROP_EVERYTHING = True\\n")\n'
FROZEN_MIGRATIONS = 'sys.exit(print(event["target"] + " is frozen", file=sys.stderr) or 2)\n'


def frozen_migrations(tmp_path) -> list[dict]:
    frozen = script(tmp_path, "frozen", FROZEN_MIGRATIONS)
    return [{"event": "before_tool", "match": {"tool": "write", "path": "migrations/**"}, "command": frozen, "name": "frozen-migrations"}]


def test_a_write_hook_refuses_what_a_check_the_model_edited_writes_and_it_is_put_back(make_grid, work, tmp_path):
    (work / "check.py").write_text("import pytest, sys\nsys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'test_calc.py']))\n")
    edit_check = "check.py\n```python\n<<<<<<< SEARCH\nimport pytest, sys\n=======\nimport os, pytest, sys\n" + MIGRATE
    edit_check += ">>>>>>> REPLACE\n```\n"
    result, grid = run(make_grid, work, [FIX + "\n" + edit_check], frozen_migrations(tmp_path), checks=(f"{sys.executable} check.py",))
    assert not (work / "migrations" / "0001.py").exists() and "migrations/0001.py" not in result.changed
    assert result.status != "done" and not result.checks[0].ok  # the check's pass rested on a file the hook refused
    verify = [s for s in runlog.replay(grid.store, result.id)[1] if s["kind"] == "verify"][-1]
    assert verify["wrote"] == ["migrations/0001.py"] and verify["refused"].startswith("Refused by a hook (hook frozen-migrations)")
    assert "Refused by a hook (hook frozen-migrations): migrations/0001.py is frozen" in told(grid, 1)
    assert [(s["tool"], s["target"], s["verdict"]) for s in hook_steps(grid, result)] == [("write", "migrations/0001.py", "deny")]


def test_a_write_hook_refuses_what_a_command_the_model_ran_writes_and_puts_back_every_file_it_wrote(make_grid, work, tmp_path):
    (work / "migrations").mkdir()
    (work / "migrations" / "0001.py").write_text("OLD = 1\n")
    (work / "gen.py").write_text(
        "import os\n" + MIGRATE + 'open("migrations/0002.py", "w").write("MORE = 2\\n")\n'
    )  # the repository's own script: what it does is not the leash's to see
    tool = 'TOOL run_command {"command": "' + sys.executable + ' gen.py"}'
    result, grid = run(make_grid, work, [tool, FIX], frozen_migrations(tmp_path), leash={"commands": ["* gen.py"]})
    assert (work / "migrations" / "0001.py").read_text() == "OLD = 1\n" and not (work / "migrations" / "0002.py").exists()
    assert result.status == "done" and result.changed == ["calc.py"]
    assert "Refused by a hook (hook frozen-migrations): migrations/0001.py is frozen" in told(grid, 1)
    assert "put back" in told(grid, 1)
    assert [(s["tool"], s["target"], s["verdict"]) for s in hook_steps(grid, result)] == [("write", "migrations/0001.py", "deny")]


def test_the_write_hooks_see_what_a_command_wrote_with_its_diff(make_grid, work, tmp_path):
    (work / "gen.py").write_text('open("notes.txt", "w").write("hello from a command\\n")\n')
    hooks = [{"event": e, "command": recorder(tmp_path)} for e in ("before_tool", "after_edit")]
    tool = 'TOOL run_command {"command": "' + sys.executable + ' gen.py"}'
    result, grid = run(make_grid, work, [tool, FIX], hooks, verify={"sandbox": "off"}, leash={"commands": ["* gen.py"]})
    assert result.status == "done" and "notes.txt" in result.changed
    by_command = [e for e in events(tmp_path) if "notes.txt" in e["paths"]]
    assert [(e["event"], e["tool"], e["target"]) for e in by_command] == [
        ("before_tool", "write", "notes.txt"),
        ("after_edit", "write", "notes.txt"),
    ]
    assert all("+hello from a command" in e["diff"] for e in by_command) and by_command[1]["files"] == ["notes.txt"]


def test_a_read_hook_matches_the_real_path_behind_a_symlink_as_the_leash_does(make_grid, work, tmp_path):
    (work / "secret").mkdir()
    (work / "secret" / "key.txt").write_text("the launch code is 0000\n")
    (work / "alias").symlink_to("secret")
    guard = script(tmp_path, "guard", 'sys.exit(print(event["target"] + " is secret", file=sys.stderr) or 2)\n')
    hooks = [{"event": "before_tool", "match": {"tool": "read", "path": "secret/**"}, "command": guard, "name": "secrets"}]
    result, grid = run(make_grid, work, ['TOOL read_file {"path": "alias/key.txt"}', FIX], hooks)
    assert "launch code" not in told(grid, 1)
    assert "Refused by a hook (hook secrets): secret/key.txt is secret. Do the task without it." in told(grid, 1)
    assert [(s["tool"], s["target"], s["verdict"]) for s in hook_steps(grid, result)] == [("read", "secret/key.txt", "deny")]


# -- what a new user found (issue 41) ------------------------------------------------------------


def test_a_hook_that_refuses_the_only_change_twice_ends_the_run_refused_naming_the_hook(make_grid, work, tmp_path):
    frozen = script(tmp_path, "frozen", 'sys.exit(print("tests are frozen", file=sys.stderr) or 2)\n')
    hooks = [{"event": "before_tool", "match": {"tool": "write"}, "command": frozen, "name": "frozen-tests"}]
    result, grid = run(make_grid, work, [FIX, FIX], hooks)  # the obedient model writes its refused change again
    assert result.status == "refused" and (work / "calc.py").read_text() == BROKEN
    assert result.reason == "nothing changed: hook frozen-tests refused writing calc.py (2 times): tests are frozen"
    assert len(grid.provider("s").requests) == 2  # no model call after the second refusal
    assert runlog.replay(grid.store, result.id)[0]["reason"] == result.reason  # what `tether log` and the web page show


def test_a_hook_whose_program_cannot_start_refuses_the_run_before_any_model_call(make_grid, work, tmp_path):
    plain = tmp_path / "gate.sh"
    plain.write_text("#!/bin/sh\nexit 0\n")  # not made executable
    for command, problem in (
        ("pyhton3 check.py", "pyhton3 not found on the PATH hooks run with"),
        (str(plain), f"{plain} is not executable"),
        (str(tmp_path / "nowhere.sh"), f"{tmp_path / 'nowhere.sh'} is not a file"),
    ):
        hooks = [{"event": "stop", "command": command, "name": "lint-gate"}]
        grid = make_grid({"routes": {"default": {"models": ["s/m"]}}, "hooks": hooks}, s=["DONE"])
        with pytest.raises(HookBroken) as caught:
            start.prepare(start.RunOptions("make add add", work, level="auto", checks=(PYTEST,)), grid)
        assert str(caught.value).startswith(f"hook lint-gate cannot run: {problem}") and "fix [[hooks]] in " in str(caught.value)
        assert grid.provider("s").requests == []


def test_tether_do_with_a_mistyped_hook_says_so_in_one_line_and_calls_no_model(work, tmp_path):
    path = user_config(
        '[providers.s]\nkind = "scripted"\noptions = { replies = ["DONE"] }\n[routes.default]\nmodels = ["s/m"]\n'
        '[verify]\nsandbox = "off"\n[[hooks]]\nevent = "after_edit"\ncommand = "pyhton3 lint.py"\nname = "lint-gate"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "tether", "do", "make add add", "--level", "auto", "-C", str(work)], capture_output=True, text=True
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "hook lint-gate cannot run: pyhton3 not found on the PATH hooks run with" in done.stderr
    assert f"fix [[hooks]] in {path}" in done.stderr.replace("\n", "")


def test_a_hook_that_breaks_during_a_run_ends_it_at_once_as_an_error(make_grid, work, tmp_path):
    gate = tmp_path / "gate.sh"
    gate.write_text("#!/bin/sh\nexit 0\n")
    gate.chmod(0o755)
    grid = make_grid(
        {"routes": {"default": {"models": ["s/m"]}}, "hooks": [{"event": "before_tool", "command": str(gate), "name": "gate"}]},
        s=[FIX, FIX, "DONE", "DONE"],
    )
    prepared = start.prepare(start.RunOptions("make add add", work, level="auto", checks=(PYTEST,), edit_format="search-replace"), grid)
    gate.unlink()  # gone between the start and its first use
    result = prepared.run()
    assert result.status == "error" and result.reason.startswith(f"hook gate cannot run: {gate} is not a file")
    assert len(grid.provider("s").requests) == 1 and (work / "calc.py").read_text() == BROKEN


def test_tether_hooks_test_shows_a_hook_that_cannot_run_as_a_denial(work):
    trial = Hooks([Hook("before_tool", ("no-such-hook-program", "--check"), name="policy")], work).trial("before_tool", "write", "calc.py")
    [verdict] = trial.verdicts
    assert not trial.allowed and verdict.reason.startswith("the hook cannot run: no-such-hook-program not found on the PATH hooks run with")
