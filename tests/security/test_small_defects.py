"""The smaller holes found by trying tether as a careless user: each one, as it would be met."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import make_tree, user_config
from tether.autonomy.agent.loop import Agent
from tether.autonomy.guard.leash import Leash, RunBudget
from tether.autonomy.guard.verify import VerifySettings
from tether.errors import ConfigError

TETHER = [sys.executable, "-m", "tether.cli"]
PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"


def run(cwd, *args, stdin=None):
    return subprocess.run([*TETHER, *args], cwd=cwd, capture_output=True, text=True, input=stdin)


def scripted_project(root, replies, leash=""):
    """A workspace with the project config `leash`, where the user's config routes `default` to a
    scripted model replaying `replies`."""
    options = "{ replies = [" + ", ".join(json.dumps(r) for r in replies) + "] }"  # JSON strings are TOML strings
    user_config(f'[providers.s]\nkind = "scripted"\noptions = {options}\n[routes.default]\nmodels = ["s/m"]\n')
    make_tree(
        root,
        {
            "tether.toml": leash,
            "calc.py": "def add(a, b):\n    return a - b\n",
            "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        },
    )
    return root


def test_a_usd_limit_refuses_an_unpriced_model_before_any_call(make_grid, tmp_path):
    work = make_tree(tmp_path / "w", {"a.py": "x = 1\n"})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["DONE"])
    result = Agent(grid, work, Leash(work, "auto", budget=RunBudget(usd=0.5)), verify=VerifySettings(())).run("change x")
    assert result.status == "budget" and "no known price" in result.reason and grid.provider("s").requests == []


def test_the_time_limit_stops_a_call_in_flight(make_grid, tmp_path):
    work = make_tree(tmp_path / "w", {"a.py": "x = 1\n"})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[{"text": "late", "delay": 30}])
    result = Agent(grid, work, Leash(work, "auto", budget=RunBudget(seconds=0.3)), verify=VerifySettings(())).run("change x")
    assert result.status == "budget" and "seconds" in result.reason


def test_do_fails_when_the_model_talks_while_the_checks_fail(tmp_path):
    work = scripted_project(tmp_path / "w", ["I think it is fine.", "Really, it is fine."])
    done = run(work, "do", "fix add", "--level", "auto", "--verify", PYTEST, "--json")
    assert done.returncode == 1 and json.loads(done.stdout)["status"] == "failing"


def test_do_is_not_done_when_every_action_was_refused(tmp_path):
    reply = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
    leash = '[leash]\nlevel = "auto"\n[[leash.rules]]\ntool = "write"\npattern = "calc.py"\naction = "deny"\n'
    work = scripted_project(tmp_path / "w", [reply, "DONE", "DONE"], leash)
    assert run(work, "trust").returncode == 0  # the project's level auto widens the leash: the person trusts it
    done = run(work, "do", "fix add", "--json")
    assert done.returncode == 1 and json.loads(done.stdout)["status"] == "refused"


def test_markup_in_untrusted_text_is_shown_as_it_is(tmp_path):
    work = scripted_project(tmp_path / "w", ["[/INST] the answer is [bold]no[/bold]"])
    asked = run(work, "do", "[/INST] what is [id]?", "--level", "ask")
    assert asked.returncode == 0, asked.stderr
    assert "[/INST] the answer is [bold]no[/bold]" in asked.stdout
    listing = run(work, "log")
    assert listing.returncode == 0 and "[/INST] what is [id]?" in listing.stdout
    failed = run(work, "apply", "-", stdin="app/(shop)/[id]/page.tsx\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")
    assert "app/(shop)/[id]/page.tsx" in failed.stderr
    assert "[leash]" in run(work, "do", "--help").stdout


def test_the_workspace_config_governs_a_run_started_from_a_parent_folder(tmp_path):
    leash = '[leash]\nlevel = "suggest"\n'
    reply = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
    work = scripted_project(tmp_path / "parent" / "w", [reply], leash)
    done = run(tmp_path / "parent", "do", "fix add", "--path", "w", "--json")
    assert json.loads(done.stdout)["status"] == "proposed"  # the workspace's leash, not the default approve
    assert "a - b" in (work / "calc.py").read_text()


def test_undo_from_a_subfolder_acts_on_the_project(tmp_path):
    work = make_tree(tmp_path / "w", {"tether.toml": "", "src/pkg/m.py": "x = 1\n"})
    assert run(work, "apply", "-", stdin="src/pkg/m.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n").returncode == 0
    assert run(work / "src" / "pkg", "undo").returncode == 0
    assert (work / "src" / "pkg" / "m.py").read_text() == "x = 1\n"


def test_digest_leaves_out_its_own_output_and_stays_inside_the_source(tmp_path):
    work = make_tree(tmp_path / "w", {"a.py": "print('unique line')\n"})
    for _ in range(2):
        assert run(work, "digest", ".", "-o", "repo.txt").returncode == 0
    assert (work / "repo.txt").read_text().count("unique line") == 1
    escaped = run(work, "digest", ".", "--subdir", "../..")
    assert escaped.returncode == 1 and "outside the source" in escaped.stderr


def test_racing_processes_migrate_a_fresh_data_dir_once(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "fresh")}
    code = "import tether.llm.router, tether.autonomy.memory, tether.autonomy.answers.wiki; from tether.store import Store; Store().close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True) for _ in range(8)
    ]  # every owner's tables
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors


def test_a_leash_budget_of_zero_or_nan_is_refused(tmp_path):
    import tomllib

    from tether import config

    for text in ("[leash.budget]\nseconds = 0\n", "[leash.budget]\nusd = nan\n", "[leash]\nmax_files = 0\n"):
        cfg = config.from_dict(tomllib.loads(text))
        with pytest.raises(ConfigError):
            Leash.from_config(tmp_path, cfg)


def test_do_at_suggest_prints_its_diff_once_and_counts_steps_in_words(tmp_path):
    reply = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
    work = scripted_project(tmp_path / "w", [reply])
    done = run(work, "do", "fix add", "--level", "suggest")
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).count("+    return a + b") == 1
    assert "1 step ·" in done.stderr and "1 steps" not in done.stderr


def test_log_last_is_the_last_run_not_a_chat(tmp_path):
    work = scripted_project(tmp_path / "w", ["an answer", "a chat reply"])
    assert run(work, "do", "what does add do?", "--level", "ask").returncode == 0
    assert run(work, "chat", "hello").returncode == 0
    last = run(work, "log", "last", "--json")
    assert json.loads(last.stdout)["run"]["command"] == "do"


def test_a_chat_is_logged_with_its_status_and_continued_with_its_own_model(tmp_path):
    user_config('[providers.s]\nkind = "scripted"\noptions = { replies = ["first reply"] }\n')
    work = make_tree(tmp_path / "w", {"a.py": ""})
    assert run(work, "chat", "-m", "s/m", "hi").returncode == 0
    [chat] = json.loads(run(work, "log", "--json").stdout)
    assert (chat["status"], chat["steps"], chat["model"]) == ("answered", 1, "s/m") and chat["output_tokens"] > 0
    user_config('[providers.s]\nkind = "scripted"\noptions = { replies = [] }\n')  # the model fails from now on
    again = run(work, "chat", "-c", "and more?")  # not the default route: the chat's own model
    assert again.returncode == 1 and "continuing chat" in again.stderr and "s/m" in again.stderr
    [chat] = json.loads(run(work, "log", "--json").stdout)
    assert chat["status"] == "failed" and "no more replies" in chat["reason"]
