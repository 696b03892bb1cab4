"""A person never waits blind: with the real embedded model, a run shows its prompt being read
(how far, of how much) before the first token and the text as it is written, and Stop lands while
the prompt is still being read. The phases are driven by the run's own events, never by timing."""

import contextlib

import pytest

from tests.conftest import ledger_rows, make_tree
from tether.autonomy.agent.loop import Agent
from tether.autonomy.agent.progress import CallProgress
from tether.autonomy.agent.result import Status
from tether.autonomy.guard.leash import Leash
from tether.autonomy.guard.verify import VerifySettings
from tether.cli.terminal import progress_line
from tether.llm.router import Grid

MODEL = "local/smollm2-135m"


@pytest.fixture
def repo(tmp_path):
    return make_tree(tmp_path / "repo", {"calc.py": "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(40))})


@contextlib.contextmanager
def web_app(repo):
    """`tether ui` over `repo` on 127.0.0.1 with a cold model, and a client past its door."""
    import httpx

    from tether.llm.providers.local import unload_all
    from tether.serving import Server
    from tether.web import create_app

    unload_all()
    door = create_app(Grid.from_config(), repo, "127.0.0.1", 0)
    server = Server(door, "127.0.0.1", 0)
    door.port = server.server_address[1]
    server.start()
    try:
        with httpx.Client(base_url=server.origin, timeout=120) as c:
            c.get(f"/?token={door.token}")
            yield c, door
    finally:
        server.shutdown()


def run_with(repo, on_event):
    from tether.llm.providers.local import unload_all

    unload_all()  # a cold model: the whole prompt is read
    grid = Grid.from_config()
    events = []
    agent = Agent(
        grid,
        repo,
        Leash(repo, "suggest"),
        model=MODEL,
        verify=VerifySettings(()),
        on_event=lambda kind, **data: (events.append((kind, data)), on_event(agent, kind, data)),
    )
    return agent.run("Add a function f40 like the others to calc.py"), events, grid


@pytest.mark.slow
def test_a_run_shows_its_prompt_being_read_before_the_first_token_then_the_text(repo):
    result, events, _ = run_with(repo, lambda agent, kind, data: None)
    kinds = [k for k, _ in events]
    loading = [i for i, (k, d) in enumerate(events) if k == "status" and str(d.get("doing", "")).startswith("loading local/")]
    assert loading and loading[0] < kinds.index("reading")  # a cold model says it is loading before it reads
    assert "reading" in kinds and "writing" in kinds and kinds.index("reading") < kinds.index("writing") < kinds.index("reply")
    reads = [d for k, d in events if k == "reading"]
    assert len(reads) > 2 and [d["read"] for d in reads] == sorted(d["read"] for d in reads) and reads[-1]["read"] == reads[-1]["total"]
    assert all(d["left"] is not None and d["elapsed"] >= 0 for d in reads)
    assert "reading the prompt" in progress_line("reading", reads[0]) and "%" in progress_line("reading", reads[0])


@pytest.mark.slow
def test_stop_lands_while_the_prompt_is_being_read(repo):
    def stop_at_first_slice(agent, kind, data):
        if kind == "reading":
            agent.stop()

    result, events, grid = run_with(repo, stop_at_first_slice)
    assert result.status == Status.STOPPED
    reads = [d for k, d in events if k == "reading"]
    assert len(reads) == 1 and reads[0]["read"] < reads[0]["total"]  # it stopped after one slice of the prompt
    assert "writing" not in [k for k, _ in events]
    assert [r["outcome"] for r in ledger_rows(grid)] == ["cancelled"]


def test_writing_events_come_a_few_a_second_with_the_text_so_far():
    from tether.autonomy.guard.leash import Spent

    seen, now = [], [100.0]
    progress = CallProgress(lambda kind, **data: seen.append(data), Spent(), clock=lambda: now[0])
    for piece in ["def ", "f40", "(x):"] * 40:
        progress("writing", text=piece)
        now[0] += 0.0625  # 16 tokens a second
    assert len(seen) == 30 and seen[0]["written"] == 1 and seen[0]["text"] == "def "  # the first at once, then one per 0.25 s
    assert seen[-1]["text"].endswith("def f40(x):") and len(seen[-1]["text"]) <= 200
    assert progress_line("writing", seen[-1]).startswith("step 0 · 0 tokens")


@pytest.mark.slow
def test_the_web_app_shows_the_prompt_being_read_and_stops_while_it_is(repo):
    import json

    with web_app(repo) as (c, door):
        csrf = {"x-csrf-token": door.csrf}
        started = c.post("/runs", data={"instruction": "Add f40 to calc.py", "level": "suggest", "model": MODEL, "csrf": door.csrf})
        key = started.headers["location"].rsplit("/", 1)[1]
        assert 'data-started="' in c.get(f"/runs/{key}").text  # the page counts from the server's start, through reloads
        kinds = []
        with c.stream("GET", f"/runs/{key}/events") as events:
            for line in events.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                kinds.append(event["kind"])
                if event["kind"] == "reading" and kinds.count("reading") == 1:
                    assert event["read"] < event["total"] and event["elapsed"] >= 0
                    assert c.post(f"/runs/{key}/stop", headers=csrf).status_code == 200
                if event["kind"] == "end":
                    assert event["status"] == "stopped"
                    break
        assert "writing" not in kinds and "reply" not in kinds


def test_stop_while_a_check_runs_kills_it_and_puts_the_workspace_back(tmp_path, make_grid):
    """The check announces itself by writing a file and then runs for ten minutes; the person
    presses Stop once it has started: the check's process group is killed, the run ends stopped,
    and the model's change and the check's file are both undone."""
    import sys

    root = make_tree(
        tmp_path / "w",
        {"calc.py": "X = 1\n", "slow_check.py": "import pathlib, time\npathlib.Path('started.txt').write_text('yes')\ntime.sleep(600)\n"},
    )
    reply = "calc.py\n```python\n<<<<<<< SEARCH\nX = 1\n=======\nX = 2\n>>>>>>> REPLACE\n```\n"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[reply, "DONE"])

    def stop_once_the_check_has_started(kind, **data):
        if kind == "status" and str(data.get("doing", "")).startswith("running"):
            import threading

            def watch():
                while not (root / "started.txt").exists():
                    threading.Event().wait(0.02)
                agent.stop()

            threading.Thread(target=watch, daemon=True).start()

    agent = Agent(
        grid,
        root,
        Leash(root, "auto"),
        verify=VerifySettings((f"{sys.executable} slow_check.py",), timeout=600, sandbox="off"),
        on_event=stop_once_the_check_has_started,
        edit_format="search-replace",
    )
    result = agent.run("make X two")
    assert result.status == Status.STOPPED
    assert (root / "calc.py").read_text() == "X = 1\n" and not (root / "started.txt").exists()


def test_the_terminal_line_counts_the_seconds_on_between_events():
    from tether.cli.terminal import Ticking

    line = Ticking("status", {"step": 1, "tokens": 0, "cost": 0.0, "elapsed": 5.0, "doing": "loading local/m"})
    line.at -= 3  # three seconds since the event came
    assert "8s · loading local/m" in line.__rich__()


@pytest.mark.slow
def test_a_question_in_the_web_app_shows_the_prompt_being_read_and_stops_while_it_is(repo, monkeypatch):
    """Ask is no longer a blocking form: the question's page streams the prompt being read, and
    Stop lands while it is. The worker is held at the first slice until the Stop arrives, so the
    phase is fixed by events, not by how fast the machine reads."""
    import json

    from tether.web.runs import WebAsk

    shown = WebAsk.event

    def held(self, kind, **data):
        shown(self, kind, **data)
        if kind == "reading" and data["read"] < data["total"]:
            assert self.cancel.wait(120), "the Stop never reached the question"

    monkeypatch.setattr(WebAsk, "event", held)
    with web_app(repo) as (c, door):
        asked = c.post("/ask", data={"question": "What does f7 return?", "model": MODEL, "csrf": door.csrf})
        key = asked.headers["location"].rsplit("/", 1)[1]
        assert 'id="stop"' in c.get(f"/ask/{key}").text
        kinds = []
        with c.stream("GET", f"/runs/{key}/events") as events:
            for line in events.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    kinds.append(event["kind"])
                    if event["kind"] == "reading" and kinds.count("reading") == 1:
                        assert c.post(f"/runs/{key}/stop", headers={"x-csrf-token": door.csrf}).status_code == 200
                    if event["kind"] == "end":
                        assert event["status"] == "stopped"
                        break
        assert "reading" in kinds and "writing" not in kinds and "claim" not in kinds
        assert "stopped" in c.get(f"/ask/{key}").text


@pytest.mark.slow
def test_the_terminal_shows_the_prompt_being_read_and_ctrl_c_stops_it_there(tmp_path):
    """`tether do` on a terminal (a pty): the live line says how far the prompt is read before any
    token is written, and Ctrl-C sent when it first says so ends the run there, interrupted, with
    no reply recorded. The prompt is long enough to take several slices, and the signal is sent on
    the line's first sight of reading, so it lands while the prompt is read however loaded the machine."""
    import json
    import os
    import pty
    import signal
    import subprocess
    import sys

    root = make_tree(tmp_path / "big", {"calc.py": "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(150))})
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "do", "Add f150 like the others to calc.py", "--level", "suggest", "-m", MODEL, "-C", str(root)],
        stdin=child,
        stdout=child,
        stderr=child,
        env={**os.environ, "COLUMNS": "200"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # as in a terminal, even when the suite runs in the background
    os.close(child)
    seen = b""
    try:
        while b"reading the prompt" not in seen:
            chunk = os.read(main, 4096)
            assert chunk, seen.decode(errors="replace")
            seen += chunk
        proc.send_signal(signal.SIGINT)
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            seen += chunk
        proc.wait(120)
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
    logged = subprocess.run([sys.executable, "-m", "tether", "log", "last", "--json", "-C", str(root)], capture_output=True, text=True)
    run = json.loads(logged.stdout)
    assert run["run"]["status"] == "interrupted", logged.stdout[:500]
    assert not [s for s in run["steps"] if s["kind"] == "reply"]


def test_a_hosted_model_says_it_was_sent_the_question_then_streams_what_it_writes(make_grid, tmp_path):
    """A provider that reports nothing itself (hosted, here scripted) still moves every face:
    `sent` before its first token, then each piece written."""
    import json

    from tether.autonomy.answers.ask import ask

    root = make_tree(tmp_path / "r", {"calc.py": "def add(a, b):\n    return a + b\n"})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[json.dumps({"claims": [{"text": "`add` adds", "snippets": ["S1"]}]})])
    events = []
    list(ask(grid, root, "What does add do?", on_event=lambda kind, **data: events.append((kind, data.get("doing", "")))))
    assert events[0] == ("status", "sent to s/m; waiting for its first token") and events[1][0] == "writing"
