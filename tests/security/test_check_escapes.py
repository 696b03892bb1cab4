"""What a check does to get around the sandbox's eyes is seen, refused or put back: moving a
protected folder, changing a mode only, writing in place with the time put back, writing past the
longest path, hiding behind an unreadable folder, a tree too deep to recurse, a fifo or a socket,
unmounting what is read-only, or reading a credential file of the home folder."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from tests.conftest import make_tree
from tests.security.test_check_writes import BROKEN, FIX, PYTEST, TEST
from tether.autonomy.agent.loop import Agent
from tether.autonomy.edits.workspace import TextFile
from tether.autonomy.guard import sandbox, survey
from tether.autonomy.guard.leash import Leash
from tether.autonomy.guard.verify import VerifySettings, run_command
from tether.autonomy.history.checkpoints import Checkpoints
from tether.context import digest
from tether.errors import TetherError

pytestmark = pytest.mark.skipif(sandbox.bubblewrap() is None, reason="needs bubblewrap (make installs it)")


@pytest.fixture(autouse=True)
def deep_trees_go(tmp_path):
    """pytest's own clean-up recurses (Python 3.11) and dies on the deep trees these tests make: they go with `rm -rf`."""
    yield
    subprocess.run(["rm", "-rf", str(tmp_path / "work"), str(tmp_path / "w")], check=False)


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {"calc.py": BROKEN, "test_calc.py": TEST, "data.txt": "data\n"})


def run(make_grid, work, check: str):
    """An auto run that fixes calc.py, with `check` (a script) as its second check."""
    make_tree(work, {"check.py": check})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[FIX, "DONE"])
    verify = VerifySettings((PYTEST, f"{sys.executable} check.py"), timeout=60)
    agent = Agent(grid, work, Leash(work, "auto"), verify=verify, edit_format="search-replace")
    return agent, agent.run("make add add")


def output(result) -> str:
    return "\n".join(c.output for c in result.checks)


PROTECTED = {".git": None, ".venv": {"pyvenv.cfg": "home = /usr/bin\n"}, "node_modules": {"dep.js": "x\n"}, "tether.toml": "[leash]\n"}


@pytest.mark.parametrize("moved", ["outer", "outer/sub"])
@pytest.mark.parametrize("name", sorted(PROTECTED))
def test_a_check_cannot_move_the_folder_that_holds_a_protected_path_and_tether_never_deletes_it(make_grid, work, name, moved):
    inner = work / "outer" / "sub"
    make_tree(inner, {"s.txt": "s\n"})
    spec = PROTECTED[name]
    if spec is None:
        subprocess.run(["git", "init", "-q"], cwd=inner, check=True)
    elif isinstance(spec, str):
        make_tree(inner, {name: spec})
    else:
        make_tree(inner / name, spec)
    check = f"import os\ntry:\n    os.rename({moved!r}, {moved + '2'!r})\nexcept OSError as e:\n    print('refused', e)\n"
    _, result = run(make_grid, work, check)
    assert (inner / name).exists() and (inner / "s.txt").read_text() == "s\n", output(result)
    assert "refused" in output(result) and "tether removed" not in output(result)
    if name == ".git":
        assert subprocess.run(["git", "-C", str(inner), "status"], capture_output=True).returncode == 0


def test_a_protected_folder_that_moved_is_named_as_moved_and_never_removed(tmp_path):
    work = make_tree(tmp_path / "w", {"sub/s.txt": "s\n"})
    subprocess.run(["git", "init", "-q"], cwd=work / "sub", check=True)
    before = survey.survey(work)
    os.rename(work / "sub", work / "sub2")  # as a check would, where the sandbox let it
    after = survey.survey(work)
    notes = survey.tidy(work, before, after, confined=True)
    assert (work / "sub2/.git/HEAD").exists()
    assert any("sub2/.git" in line and "moved" in line for line in notes) and not any("removed" in line for line in notes)


def test_a_mode_a_check_changes_is_put_back_and_named(make_grid, work):
    os.chmod(work / "data.txt", 0o644)
    _, result = run(make_grid, work, "import os\nos.chmod('data.txt', 0o4777)\n")
    assert stat.S_IMODE(os.stat(work / "data.txt").st_mode) == 0o644
    assert "data.txt" in output(result) and "mode" in output(result)


def test_a_same_size_write_with_its_time_put_back_is_seen_and_undone(make_grid, work):
    check = (
        "import os\nst = os.stat('data.txt')\nopen('data.txt', 'w').write('EVIL\\n')\n"
        "os.utime('data.txt', ns=(st.st_atime_ns, st.st_mtime_ns))\n"
    )
    _, result = run(make_grid, work, check)
    assert "data.txt" in result.changed and "+EVIL" in result.diff
    Checkpoints(work).undo()
    assert (work / "data.txt").read_text() == "data\n"


DEEP_WRITES = """import os
for n in range({depth}):
    os.mkdir({name!r} * {width}) if not os.path.isdir({name!r} * {width}) else None
    os.chdir({name!r} * {width})
open("payload.py", "w").write("import os\\n")
os.makedirs(".git/hooks", exist_ok=True)
open(".git/hooks/pre-commit", "w").write("#!/bin/sh\\n")
open("tether.toml", "w").write("[leash]\\n")
"""


@pytest.mark.parametrize("depth, width", [(18, 250), (3000, 1)])
def test_what_a_check_writes_past_the_longest_path_is_removed_and_named(make_grid, work, depth, width):
    _, result = run(make_grid, work, DEEP_WRITES.format(depth=depth, name="x", width=width))
    assert result.status.value == "done", result.reason
    found = subprocess.run(
        ["find", str(work), "-name", "payload.py", "-o", "-name", "pre-commit", "-o", "-name", "tether.toml"],
        capture_output=True,
        text=True,
    )
    assert found.stdout == "" and found.returncode == 0
    assert "too long" in output(result)


def test_a_very_deep_tree_crashes_neither_the_survey_nor_digest(tmp_path):
    work = make_tree(tmp_path / "w", {"a.py": "x = 1\n"})
    deep = work / "/".join(["d"] * 1100)
    subprocess.run(["mkdir", "-p", str(deep)], check=True)
    (deep / "leaf.txt").write_text("deep\n")
    seen = survey.survey(work)
    assert "/".join(["d"] * 1100) + "/leaf.txt" in seen.files and seen.complete
    made = digest(work)
    assert [f.path for f in made.files] == ["a.py"]
    assert any("deeper than" in reason for _, reason in made.skipped)


def finishes(call, fifos: list[Path], guard: float = 300):
    """`call()`'s result; a hang on a broken tether (a read of one of `fifos`) fails the test. The
    guard is a limit on a hang, never a measure of speed."""
    done = {}

    def work():
        try:
            done["result"] = call()
        except Exception as e:  # raised again here, in the test
            done["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(guard)
    if thread.is_alive():
        for fifo in fifos:  # let the stuck reader go
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(60)
        pytest.fail(f"tether hung on a fifo: {', '.join(map(str, fifos))}")
    if "error" in done:
        raise done["error"]
    return done["result"]


def test_a_fifo_a_check_makes_neither_hangs_the_run_nor_stays(make_grid, work):
    check = "import os\nos.path.exists('pipe.txt') or os.mkfifo('pipe.txt')\n"
    _, result = finishes(lambda: run(make_grid, work, check), [work / "pipe.txt"])
    assert result.status.value == "done", result.reason
    assert not os.path.lexists(work / "pipe.txt") and "pipe.txt" in output(result)


def test_a_fifo_in_the_repository_is_never_opened_to_be_read(work):
    os.mkfifo(work / ".gitignore")
    os.mkfifo(work / "notes.md")
    made = finishes(lambda: digest(work), [work / ".gitignore", work / "notes.md"])
    assert "notes.md" not in [f.path for f in made.files] and "calc.py" in [f.path for f in made.files]
    with pytest.raises(TetherError, match="not a regular file"):
        finishes(lambda: TextFile.read(work / "notes.md"), [work / "notes.md"])


def test_a_socket_a_check_leaves_does_not_break_the_run_and_is_removed(make_grid, work):
    check = "import os, socket\nos.path.exists('sock') or socket.socket(socket.AF_UNIX).bind('sock')\n"
    _, result = run(make_grid, work, check)
    assert result.status.value == "done", result.reason
    assert not os.path.lexists(work / "sock") and "sock" in output(result)


UMOUNT = """import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for path in ("node_modules", {secret!r}):
    print(path, libc.umount2(path.encode(), 2), os.strerror(ctypes.get_errno()))
try:
    open("node_modules/evil.js", "w").write("pwned")
except OSError as e:
    print("refused", e)
try:
    print("read", open({secret!r}).read())
except OSError as e:
    print("hidden", e)
"""


def test_a_check_run_as_root_cannot_unmount_what_is_read_only_or_hidden(tmp_path, monkeypatch):
    home = make_tree(tmp_path / "home", {".aws/credentials": "SECRET-aws\n"})
    monkeypatch.setenv("HOME", str(home))
    work = make_tree(tmp_path / "w", {"node_modules/dep.js": "x\n", "check.py": UMOUNT.format(secret=str(home / ".aws"))})
    result = run_command(f"{sys.executable} check.py", work, VerifySettings(timeout=60))
    assert result.ok, result.output
    assert not (work / "node_modules/evil.js").exists() and "SECRET" not in result.output


CREDENTIAL_FILES = (
    ".pgpass",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".cache/huggingface/token",
    ".config/git/credentials",
    ".vault-token",
    ".terraform.d/credentials.tfrc.json",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".env",
    ".config/hub",
    ".config/op/config",
    ".password-store/bank.gpg",
    ".local/share/keyrings/login.keyring",
)
READ_ALL = "import sys\nfor path in sys.argv[1:]:\n    try:\n        print(path, open(path).read())\n    except OSError as e:\n        print(path, 'hidden', e)\n"


def test_the_credential_files_of_the_home_folder_are_hidden_from_checks(tmp_path, monkeypatch):
    home = make_tree(tmp_path / "home", {rel: f"SECRET-{n}\n" for n, rel in enumerate(CREDENTIAL_FILES)})
    monkeypatch.setenv("HOME", str(home))
    work = make_tree(tmp_path / "w", {"check.py": READ_ALL})
    paths = " ".join(str(home / rel) for rel in CREDENTIAL_FILES)
    result = run_command(f"{sys.executable} check.py {paths}", work, VerifySettings(timeout=60))
    assert result.ok and "SECRET" not in result.output, result.output


AS_USER = """import json, sys
from pathlib import Path
from tether.autonomy.history.trail import Trail
from tether.autonomy.guard.verify import VerifySettings, run_command
from tether.autonomy.guard.watch import Watch

root = Path(sys.argv[1])
result = run_command(sys.argv[2], root, VerifySettings(timeout=60), True, Watch(Trail(root, "r1")))
print(json.dumps({"wrote": result.wrote, "output": result.output}))
"""
HIDE = (
    "import os; os.makedirs('d/.git/hooks'); open('d/payload.py', 'w').write('x'); open('d/tether.toml', 'w').write('x');"
    " open('kept/inside.txt', 'w').write('x'); os.chmod('d', 0); os.chmod('kept', 0)"
)


@pytest.fixture
def ordinary():
    """A folder an ordinary user owns, how to run a command as that user (this one, or nobody
    under root), and a python that user can start in the sandbox (the check needs only its standard library)."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to run as an ordinary user")
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="tether-user-"))
    if prefix:
        os.chmod(folder, 0o755)
        os.chown(folder, 65534, 65534)
    confined = [*prefix, sandbox.bubblewrap(), "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-all", "--"]
    python = next(
        (
            p
            for p in (sys.executable, "/usr/bin/python3")
            if subprocess.run([*confined, p, "-c", "pass"], capture_output=True).returncode == 0
        ),
        None,
    )
    if python is None:
        pytest.skip("no python that an ordinary user can start in the sandbox")
    yield folder, prefix, python
    subprocess.run(["chmod", "-R", "u+rwx", str(folder)], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def test_what_a_check_hides_in_a_folder_it_makes_unreadable_is_seen_and_a_folder_tether_cannot_read_is_named(ordinary):
    folder, prefix, python = ordinary
    script = folder / "as_user.py"
    script.write_text(AS_USER)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
    }
    work = folder / "w"
    subprocess.run(
        [*prefix, "sh", "-c", "mkdir -p w/kept w/locked && echo s > w/locked/secret.txt && chmod 0 w/locked"], cwd=folder, check=True
    )
    done = subprocess.run(
        [*prefix, sys.executable, str(script), str(work), f'{python} -c "{HIDE}"'],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert {"d/payload.py", "kept/inside.txt"} <= set(seen["wrote"]), seen
    assert not os.path.lexists(work / "d/.git") and not os.path.lexists(work / "d/tether.toml")
    assert stat.S_IMODE(os.stat(work / "kept").st_mode) == 0o755  # the mode it had before the check
    assert "locked" in seen["output"] and "could not look" in seen["output"]
