"""Every command's --json, run as a user runs it, against the one documented shape
(`tether.shapes`); and chat as people use it from a shell: piped text, continued chats."""

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from tests.conftest import user_config
from tether.shapes import SHAPES

TETHER = [sys.executable, "-m", "tether.cli"]
FIX = (
    "shop/cart.py\n```python\n<<<<<<< SEARCH\n        return sum(self.items)\n=======\n"
    "        return round(sum(self.items), 2)\n>>>>>>> REPLACE\n```\n"
)
ANSWER = "The total is the sum of the items (shop/cart.py:2-3)."


def run(cwd, *args, stdin=None):
    done = subprocess.run([*TETHER, *args], input=stdin, capture_output=True, text=True, cwd=cwd, env={**os.environ}, timeout=120)
    return done


@pytest.fixture
def repo(isolated):
    root = isolated / "repo"
    (root / "shop").mkdir(parents=True)
    (root / "shop/cart.py").write_text("class Cart:\n    def total(self):\n        return sum(self.items)\n")
    user_config(
        '[providers.s]\nkind = "scripted"\n'
        f'options = {{ replies = [{json.dumps(ANSWER)}, "second answer"] }}\n'
        f'[providers.t]\nkind = "scripted"\noptions = {{ replies = [{json.dumps(FIX)}, "DONE", "DONE"] }}\n'
        '[routes.default]\nmodels = ["s/m"]\n'
    )
    (root / "tether.toml").write_text("[leash]\nmax_files = 5\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def check(name: str, done: subprocess.CompletedProcess):
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    jsonschema.validate(data, SHAPES[name])
    return data


@pytest.mark.slow  # every command in a process of its own, end to end
def test_every_command_prints_its_documented_shape(repo):
    check("chat", run(repo, "chat", "hi", "--json"))
    check("models", run(repo, "models", "--json"))
    check("ledger", run(repo, "ledger", "--rows", "3", "--json"))
    assert check("digest", run(repo, "digest", ".", "--json"))["file_count"] == 2
    check("map", run(repo, "map", ".", "--json"))
    check("search", run(repo, "search", "total", "--no-embeddings", "--json"))
    applied = check("apply", run(repo, "apply", "-", "--json", stdin=FIX))
    assert applied["changed"] == ["shop/cart.py"]
    assert check("undo", run(repo, "undo", "--json"))["files"] == ["shop/cart.py"]
    check("redo", run(repo, "redo", "--json"))
    check("undo", run(repo, "undo", "--json"))
    check("log --changes", run(repo, "log", "--changes", "--json"))
    check("ask", run(repo, "ask", "How is the total computed?", "--json"))
    done = check("do", run(repo, "do", "round the total", "-m", "t/m", "--level", "auto", "--verify", "true", "--json"))
    assert done["status"] == "done"
    runs = check("log", run(repo, "log", "--json"))
    assert [r["command"] for r in runs] == ["chat", "ask", "do"]
    check("log RUN", run(repo, "log", done["run"], "--json"))
    (repo / "docs").mkdir()
    (repo / "docs" / "index.md").write_text("# Shop\n\nA shop.\n")
    assert check("llms-txt", run(repo, "llms-txt", "docs", "-o", "site", "--json"))["written"] == ["llms.txt", "index.md", "llms-full.txt"]
    check("mcp --describe", run(repo, "mcp", "--describe", "--json"))
    check("memory", run(repo, "memory", "--json"))
    check("keys create", run(repo, "keys", "create", "team-a", "--usd-per-day", "2", "--json"))
    check("keys", run(repo, "keys", "list", "--json"))
    check("keys revoke", run(repo, "keys", "revoke", "team-a", "--json"))
    check("db", run(repo, "db", "status", "--json"))
    assert check("config", run(repo, "config", "--json"))["project"] == {"path": str(repo / "tether.toml"), "trusted": False}
    assert check("trust", run(repo, "trust", "--json"))["trusted"] is True
    planned = check("wiki --dry-run", run(repo, "wiki", "build", "--dry-run", "--json"))
    assert [p["action"] for p in planned["pages"]] == ["write"] and planned["prompt_tokens"] > 0
    assert check("wiki", run(repo, "wiki", "build", "-o", "wiki", "--json"))["files"][:2] == ["index.md", "cart.md"]
    replanned = check("wiki --dry-run", run(repo, "wiki", "build", "--dry-run", "--json"))
    assert [p["action"] for p in replanned["pages"]] == ["keep"] and replanned["prompt_tokens"] == 0


def test_errors_under_json_are_json_on_stderr(repo):
    done = run(repo, "chat", "-m", "nope/x", "hi", "--json")
    assert done.returncode == 1 and done.stdout == ""
    jsonschema.validate(json.loads(done.stderr), SHAPES["error"])


def test_a_usage_error_under_json_is_json_too(repo):
    done = run(repo, "models", "--bogus", "--json")
    assert done.returncode == 2 and done.stdout == ""
    error = json.loads(done.stderr)
    jsonschema.validate(error, SHAPES["error"])
    assert "--bogus" in error["error"] and "Usage" not in done.stderr


def test_gateway_prints_its_address_as_documented(repo):
    proc = subprocess.Popen(
        [*TETHER, "gateway", "--port", "0", "--json"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = []
        while not lines or lines[-1] != "}\n":
            lines.append(proc.stdout.readline())
            assert lines[-1], proc.stderr.read()
        jsonschema.validate(json.loads("".join(lines)), SHAPES["gateway"])
    finally:
        proc.kill()
        proc.wait()


def test_piped_text_goes_with_the_prompt_and_a_chat_continues(repo):
    first = check("chat", run(repo, "chat", "summarise this", "--json", stdin="line one\nline two\n"))
    assert first["text"] == ANSWER
    again = check("chat", run(repo, "chat", "-c", "and then?", "--json"))
    assert again["conversation"] == first["conversation"]
    fresh = check("chat", run(repo, "chat", "and then?", "--json"))
    assert again["usage"]["input_tokens"] > fresh["usage"]["input_tokens"] + 10  # the earlier turns were sent along
    steps = json.loads(run(repo, "log", first["conversation"], "--json").stdout)["steps"]
    prompts = [s["user"] for s in steps if s["kind"] == "prompt"]
    assert prompts == ["line one\nline two\n\nsummarise this", "and then?"]
    assert [s["text"] for s in steps if s["kind"] == "reply"] == [ANSWER, ANSWER]  # each process replays its script from the start
    missing = run(repo, "chat", "--cid", "nosuch", "hi")
    assert missing.returncode == 1 and "no single chat matches 'nosuch'" in missing.stderr


def test_do_writes_only_what_allow_names_and_takes_the_edit_format(repo):
    done = run(repo, "do", "round the total", "-m", "t/m", "--level", "auto", "--verify", "true", "--allow", "docs/**", "--json")
    refused = json.loads(done.stdout)
    jsonschema.validate(refused, SHAPES["do"])
    assert done.returncode == 1 and refused["status"] == "refused" and "sum(self.items)\n" in (repo / "shop/cart.py").read_text()
    wrong = run(repo, "do", "x", "-m", "t/m", "--edit-format", "xml")
    assert wrong.returncode == 1 and "unknown edit format 'xml'" in wrong.stderr
