"""The command line as a user runs it: a real process, real config files, real servers."""

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import user_config

TETHER = [sys.executable, "-m", "tether.cli"]


def run(*args, stdin=None, env=None, cwd=None):
    return subprocess.run(
        [*TETHER, *args], input=stdin, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=120
    )


@pytest.fixture
def project(isolated, upstream):
    user_config(f"""
[providers.up]
kind = "openai"
base_url = "{upstream.url}/v1"
timeout = 0.5

[routes.default]
models = ["up/fault-500", "up/ok-model"]
retries = 0

[models."up/ok-model"]
input_per_mtok = 1.0
output_per_mtok = 2.0
""")
    return isolated


def test_chat_streams_the_reply_and_reports_cost(project):
    done = run("chat", "hello there")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok: hello there\n"
    assert "up/ok-model" in done.stderr and "$0.000020" in done.stderr


def test_chat_json_and_stdin(project):
    done = run("chat", "--json", stdin="from stdin")
    data = json.loads(done.stdout)
    assert data["text"] == "ok: from stdin" and data["model"] == "up/ok-model" and data["attempts"] == 2
    assert data["usage"] == {"input_tokens": 10, "output_tokens": 5, "estimated": False, "cached_tokens": 0}


def test_ledger_totals_every_attempt(project):
    run("chat", "one")
    run("chat", "two")
    data = json.loads(run("ledger", "--by", "model", "--json").stdout)
    totals = {t["key"]: t for t in data["totals"]}
    assert totals["up/fault-500"]["failed"] == 2 and totals["up/ok-model"]["ok"] == 2
    assert totals["up/ok-model"]["cost_usd"] == pytest.approx(2 * 0.00002)
    table = run("ledger", "--by", "model").stdout
    assert "up/ok-model" in table and "$0.000040" in table


def test_models_json_shows_what_is_usable(project):
    data = json.loads(run("models", "--json").stdout)
    rows = {m["model"]: m for m in data["models"]}
    assert rows["up/ok-model"]["usable"] is True
    assert rows["openai/gpt-4.1-mini"]["usable"] is False and rows["openai/gpt-4.1-mini"]["missing"] == "set OPENAI_API_KEY"
    assert data["routes"]["default"] == ["up/fault-500", "up/ok-model"]


@pytest.mark.parametrize(
    "args, toml, message",
    [
        (["chat", "-m", "openai/gpt-4.1-mini", "hi"], None, "OPENAI_API_KEY is not set"),
        (["chat", "-m", "gpt4", "hi"], None, "unknown model or route 'gpt4'"),
        (["chat", "hi"], "[routes.default\n", "not valid TOML"),
        (["chat", "hi"], '[providers.x]\nkind="soap"\n', "kind must be one of"),
        (["ledger", "--by", "colour"], None, "--by must be one of"),
        (["models", "--pull", "llama-70b"], None, "no local model 'llama-70b'"),
    ],
)
def test_bad_input_is_one_line_and_no_traceback(isolated, args, toml, message):
    if toml:
        user_config(toml)
    done = run(*args)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_gateway_serves_openai_clients_with_a_token(project):
    proc = subprocess.Popen([*TETHER, "gateway", "--port", "0", "--json", "--token", "tok-1"], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(_read_json(proc.stdout))
        assert info["url"].startswith("http://127.0.0.1:")
        assert httpx.get(info["url"] + "/models").status_code == 401
        r = httpx.post(
            info["url"] + "/chat/completions",
            headers={"authorization": "Bearer tok-1"},
            json={"model": "default", "messages": [{"role": "user", "content": "via gateway"}]},
        )
        assert r.json()["choices"][0]["message"]["content"] == "ok: via gateway"
    finally:
        proc.terminate()
        proc.wait(10)


def _read_json(stream) -> str:
    lines, deadline = [], time.time() + 30
    while time.time() < deadline:
        lines.append(stream.readline())
        try:
            json.loads("".join(lines))
            return "".join(lines)
        except json.JSONDecodeError:
            continue
    raise AssertionError("the gateway printed no JSON")


def test_digest_writes_parts_and_reports_on_stderr(isolated):
    (isolated / "proj").mkdir()
    for i in range(20):
        (isolated / "proj" / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 40)
    done = run("digest", "proj", "--max-tokens", "3000", "-o", "out.txt")
    assert done.returncode == 0, done.stderr
    parts = sorted(isolated.glob("out-*.txt"))
    assert len(parts) >= 3 and "20 files" in done.stderr and "out-1.txt" in done.stderr
    data = json.loads(run("digest", "proj", "--json").stdout)
    assert len(data["files"]) == 20 and data["total_tokens"] == sum(f["tokens"] for f in data["files"])


def test_digest_bad_input_is_one_line(isolated):
    for args, message in (
        (["digest", "nowhere"], "no such file or folder"),
        (["digest", ".", "-f", "yaml"], "unknown format 'yaml'"),
        (["digest", ".", "--encoding", "p50k"], "unknown encoding 'p50k'"),
    ):
        done = run(*args)
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_chat_with_nothing_to_ask_says_so(project):
    done = run("chat", stdin="")
    assert done.returncode == 1 and "nothing to ask" in done.stderr


def test_search_answers_with_ranges_and_says_what_is_not_embedded(isolated):
    (isolated / "repo").mkdir()
    (isolated / "repo" / "auth.py").write_text('def parseAuthHeader(header):\n    """Read the bearer token."""\n    return header[7:]\n')
    (isolated / "repo" / "math.py").write_text("def add(a, b):\n    return a + b\n")
    data = json.loads(run("search", "auth header", "--path", "repo", "--embed-seconds", "0", "--json").stdout)
    assert data["results"][0]["path"] == "auth.py" and data["results"][0]["start"] == 1
    assert data["index"]["not_embedded"] == data["index"]["chunks"] == 2
    text = run("search", "auth header", "--path", "repo", "--embed-seconds", "0")
    assert "auth.py:1-3" in text.stdout and "not embedded yet" in text.stderr


def test_version_and_python_dash_m(isolated):
    import tether

    for argv in ([*TETHER, "--version"], [sys.executable, "-m", "tether", "--version"]):
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.strip() == f"tether {tether.__version__}"


def test_errors_under_json_are_json_on_stderr(isolated):
    done = subprocess.run([*TETHER, "chat", "-m", "nope/x", "hi", "--json"], capture_output=True, text=True)
    error = json.loads(done.stderr)
    assert done.returncode == 1 and error["kind"] == "UnknownModel" and "nope" in error["error"] and error["exit"] == 1


def test_chat_has_a_default_output_cap_and_says_when_a_reply_hit_it(project):
    done = run("chat", "-m", "up/long", "tell me everything", "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["usage"]["output_tokens"] == 2048 and reply["finish_reason"] == "length"
    shown = run("chat", "-m", "up/long", "--max-tokens", "20", "tell me everything")
    assert shown.returncode == 0 and "cut at 20 tokens" in shown.stderr and "--max-tokens" in shown.stderr


def test_a_mistyped_command_gets_one_suggestion(isolated):
    done = run("aks", "hi")
    assert done.returncode == 2 and done.stderr.count("Did you mean 'ask'?") == 1


def test_sigterm_ends_a_run_as_ctrl_c_does_never_left_running(isolated, tmp_path):
    """`timeout`, a closed terminal or a supervisor sends SIGTERM: the run is recorded as
    interrupted and the workspace put back, as for Ctrl-C. The check announces it has started by
    writing a file, and the signal is sent then (events, not timing)."""
    import signal

    user_config(
        '[providers.s]\nkind = "scripted"\noptions = { replies = ["calc.py\\n```python\\n<<<<<<< SEARCH\\nX = 1\\n=======\\nX = 2\\n'
        '>>>>>>> REPLACE\\n```\\n"] }\n[routes.default]\nmodels = ["s/m"]\n[verify]\nsandbox = "off"\n'
    )
    root = tmp_path / "w"
    root.mkdir()
    (root / "calc.py").write_text("X = 1\n")
    (root / "slow.py").write_text("import pathlib, time\npathlib.Path('started.txt').write_text('yes')\ntime.sleep(600)\n")
    proc = subprocess.Popen(
        [*TETHER, "do", "make X two", "--level", "auto", "--verify", f"{sys.executable} slow.py", "-C", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not (root / "started.txt").exists() and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    logged = json.loads(run("log", "last", "--json", "-C", str(root)).stdout)
    assert logged["run"]["status"] == "interrupted"
    assert (root / "calc.py").read_text() == "X = 1\n" and not (root / "started.txt").exists()
