"""Secrets never leave for a model or land in tether's storage: one redaction for prompts, the
run log, the search index and error texts; the data dir is its owner's alone."""

import json
import sqlite3
import stat
import subprocess
import sys

import pytest

from tests.conftest import make_tree, user_config
from tether import Grid, config
from tether.autonomy.agent.loop import Agent
from tether.autonomy.answers.ask import ask
from tether.autonomy.edits import apply_text
from tether.autonomy.guard.leash import Leash
from tether.autonomy.guard.verify import VerifySettings
from tether.context.index import Index
from tether.errors import ProviderError

AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


@pytest.fixture
def repo(tmp_path):
    return make_tree(
        tmp_path / "repo",
        {".env": f"AWS_ACCESS_KEY_ID={AWS}\nGITHUB_TOKEN={GITHUB}\n", "app.py": "import os\n\nKEY = os.environ['AWS_ACCESS_KEY_ID']\n"},
    )


def everything_stored(tmp_path) -> str:
    """Every byte under the data dir, as text."""
    data = tmp_path / "data"
    return "".join(p.read_bytes().decode("latin-1") for p in data.rglob("*") if p.is_file())


def test_ask_sends_and_stores_no_secret(make_grid, repo, tmp_path):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["The key is read from the environment [app.py:3-3]."])
    list(ask(grid, repo, "What is in .env? Print AKIAIOSFODNN7EXAMPLE back to me"))
    sent = json.dumps([r.messages for r in grid.provider("s").requests])
    assert ".env" in sent and "[REDACTED:aws-access-key]" in sent
    assert AWS not in sent and GITHUB not in sent
    grid.ledger.flush()
    assert AWS not in everything_stored(tmp_path) and GITHUB not in everything_stored(tmp_path)


def test_do_sends_and_logs_no_secret(make_grid, repo, tmp_path):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=['TOOL read_file {"path": ".env"}', "DONE"])
    Agent(grid, repo, Leash(repo, "suggest"), verify=VerifySettings(()), edit_format="search-replace").run("look at .env")
    sent = json.dumps([r.messages for r in grid.provider("s").requests])
    assert AWS not in sent and GITHUB not in sent and "[REDACTED:github-token]" in sent
    grid.ledger.flush()
    assert AWS not in everything_stored(tmp_path) and GITHUB not in everything_stored(tmp_path)


def test_the_search_index_stores_no_secret(repo, tmp_path):
    index = Index(repo, embeddings=False)
    index.update()
    hits = index.search("AWS_ACCESS_KEY_ID", k=5, mode="bm25")
    assert hits and all(AWS not in h.snippet for h in hits)
    rows = sqlite3.connect(index.path).execute("SELECT text FROM chunks").fetchall()
    assert rows and not any(AWS in r[0] or GITHUB in r[0] for r in rows)


def test_a_whole_file_reply_cannot_overwrite_a_hidden_secret_with_its_marker(repo):
    reply = ".env\n```\nAWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]\nGITHUB_TOKEN=[REDACTED:github-token]\nDEBUG=1\n```\n"
    report = apply_text(repo, reply, formats=("whole",))
    assert not report.applied and "marker" in report.feedback()
    assert AWS in (repo / ".env").read_text()


def test_an_error_body_that_echoes_the_key_is_scrubbed(upstream, tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_KEY", "zz-private-key-123456789")
    raw = {"providers": {"echo": {"kind": "openai", "base_url": upstream.url + "/v1", "api_key_env": "ECHO_KEY"}}}
    grid = Grid(config.from_dict(raw))
    with pytest.raises(ProviderError) as caught:
        grid.complete("echo/fault-echo-auth", "hi")
    assert "zz-private-key-123456789" not in str(caught.value) and "REDACTED" in str(caught.value)
    grid.ledger.flush()
    assert not any("zz-private" in (r["error"] or "") for r in grid.store.query("SELECT error FROM ledger"))
    grid.close()
    user_config(f'[providers.echo]\nkind = "openai"\nbase_url = "{upstream.url}/v1"\napi_key_env = "ECHO_KEY"\n')
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", "chat", "-m", "echo/fault-echo-auth", "hi"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode != 0 and "zz-private-key-123456789" not in done.stderr + done.stdout and done.stderr.count("\n") == 1


def test_the_data_dir_is_private(make_grid, tmp_path):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["hello"])
    grid.complete("default", "hi")
    grid.ledger.flush()
    data = config.data_dir()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for p in data.rglob("*"):
        if p.is_file():
            assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p
