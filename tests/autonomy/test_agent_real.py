"""The agent end to end with the real embedded model on a small repository: at level agent, a
request for a new function with a test ends with the tests passing and one change to undo."""

import subprocess
import sys

import pytest

from tests.conftest import make_tree
from tether.autonomy.agent.loop import Agent
from tether.autonomy.guard.leash import Leash
from tether.autonomy.guard.untrusted import Fence
from tether.autonomy.guard.verify import VerifySettings
from tether.autonomy.history.checkpoints import Checkpoints

pytestmark = pytest.mark.slow

WORDS = 'def word_count(text):\n    """How many words the text has."""\n    return len(text.split())\n'
TESTS = (
    'from textkit.words import slugify, word_count\n\n\ndef test_word_count():\n    assert word_count("a b  c") == 3\n\n\n'
    'def test_slugify():\n    assert slugify("Hello Big World") == "hello-big-world"\n'
)


def test_agent_adds_the_function_the_failing_test_asks_for(tmp_path):
    from tether.llm.providers.local import unload_all
    from tether.llm.router import Grid

    unload_all()  # a model reused across tests answers from a prefix it read for another prompt
    repo = make_tree(tmp_path / "repo", {"textkit/__init__.py": "", "textkit/words.py": WORDS, "tests/test_words.py": TESTS})
    grid = Grid.from_config()
    settings = VerifySettings.from_config(grid.config, repo)
    assert settings.commands and "pytest" in settings.commands[0]  # found by itself: the repo has tests/
    agent = Agent(
        grid, repo, Leash(repo, "agent", paths=("textkit/**",)), model="local/qwen2.5-coder-1.5b", verify=settings, stop_when_green=True
    )
    agent.fence = Fence("7e57f3ce")  # a fixed nonce: the same prompt, so the seeded first reply is the same every run
    result = agent.run(
        "Add a function slugify(text) to textkit/words.py that lower-cases the text and joins its words with "
        "hyphens. tests/test_words.py already tests it."
    )
    assert result.status == "done", result.reason
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert "word_count" in (repo / "textkit/words.py").read_text() and (repo / "tests/test_words.py").read_text() == TESTS
    history = Checkpoints(repo).log()
    assert len(history) == 1 and "textkit/words.py" in history[0]["files"]
    Checkpoints(repo).undo()
    assert (repo / "textkit/words.py").read_text() == WORDS and (repo / "textkit/__init__.py").read_text() == ""


def test_with_one_writable_file_every_reply_is_an_edit_of_it(tmp_path):
    """The grammar at work on the real model: while the checks fail, each reply is that file's edit
    (no prose, no tool line, no rewrite of the tests), so none is malformed."""
    from tether.autonomy.agent.loop import MALFORMED
    from tether.autonomy.history import runlog
    from tether.llm.providers.local import unload_all
    from tether.llm.router import Grid

    unload_all()
    repo = make_tree(tmp_path / "repo", {"textkit/__init__.py": "", "textkit/words.py": WORDS, "tests/test_words.py": TESTS})
    grid = Grid.from_config()
    agent = Agent(
        grid,
        repo,
        Leash(repo, "agent", paths=("textkit/words.py",)),
        model="local/qwen2.5-coder-1.5b",
        verify=VerifySettings.from_config(grid.config, repo),
        stop_when_green=True,
        edit_format="whole",
    )
    agent.fence = Fence("7e57f3ce")
    result = agent.run(
        "Add a function slugify(text) that lower-cases the text and joins its words with hyphens; tests/test_words.py tests it."
    )
    _, steps = runlog.replay(grid.store, result.id)
    replies = [s for s in steps if s["kind"] == "reply"]
    assert replies and all(r["constrained"] for r in replies)
    # what the model read from its KV cache is told per reply and in the run's total; a fresh load holds nothing
    assert replies[0]["cached_tokens"] == 0 and all(r["cached_tokens"] < r["input_tokens"] for r in replies)
    assert result.cached_tokens == sum(r["cached_tokens"] for r in replies)
    assert result.to_dict()["usage"]["cached_tokens"] == result.cached_tokens
    for r in replies:  # whether the code is right is the model's part; that it is an edit of the file, the grammar's
        edits = agent.format.parse(r["text"])
        assert [e.path for e in edits] == ["textkit/words.py"] or r["output_tokens"] >= agent.output_tokens, r["text"]
    assert not any(s.get("text") == MALFORMED for s in steps)
    assert (repo / "tests/test_words.py").read_text() == TESTS
    assert result.status in ("done", "stuck", "failing", "budget"), result.reason


def test_ask_answers_offline_and_marks_every_claim(tmp_path):
    import json
    import os

    repo = make_tree(tmp_path / "repo", {"textkit/__init__.py": "", "textkit/words.py": WORDS})
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", "ask", "What does word_count return?", "-m", "local/smollm2-135m", "--json"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["answer"].strip() and answer["model"] == "local/smollm2-135m"
    for claim in answer["claims"]:  # whatever the small model wrote, each claim is checked, none taken on trust
        assert claim["verified"] == (bool(claim["citations"]) and not claim["problems"])
    steps = json.loads(
        subprocess.run(
            [sys.executable, "-m", "tether.cli", "log", answer["run"], "--json"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=60,
        ).stdout
    )["steps"]
    reply = json.loads(next(s["text"] for s in steps if s["kind"] == "reply"))  # the grammar holds even a 135M model to the shape
    assert isinstance(reply["claims"], list) and all(set(c) == {"text", "snippets"} for c in reply["claims"])
    assert all(c["citations"] and c["citations"][0]["path"] == "textkit/words.py" for c in answer["claims"] if c["verified"])
