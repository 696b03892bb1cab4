"""A face whose extra is not installed says so in one line: what needs it and the pip command,
a non-zero exit and no traceback; and the core commands never import an extra's packages."""

import json
import signal
import subprocess
import sys

import pytest

from tests.conftest import user_config
from tether.errors import MissingExtra, ModelNotAvailable, need_extra

# What each extra installs, as the modules a face imports (pyproject.toml's [project.optional-dependencies]).
EXTRAS = {"web": ["uvicorn", "starlette", "jinja2"], "mcp": ["mcp"], "postgres": ["psycopg"], "local": ["llama_cpp"]}


def tether(monkeypatch, capsys, *args, missing=()):
    """Run the command line in this process with `missing` modules uninstallable; (exit code, stderr)."""
    from tether.llm.providers import local

    for module in missing:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails as if it were not installed
    monkeypatch.setattr(local, "_loaded", {})  # a model an earlier test loaded in this process is not there in a new one
    monkeypatch.setattr(sys, "argv", ["tether", *args])
    before = signal.getsignal(signal.SIGTERM)
    from tether.cli import main

    try:
        with pytest.raises(SystemExit) as ended:
            main()
    finally:
        signal.signal(signal.SIGTERM, before)
    return ended.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "args, missing, line",
    [
        (
            ["ui", "--no-browser", "--port", "0"],
            ["starlette"],
            "the web app needs tether[web]: pip install 'tether[web]' (in a checkout: make install)",
        ),
        (["mcp"], ["mcp"], "the MCP server needs tether[mcp]: pip install 'tether[mcp]' (in a checkout: make install)"),
        (
            ["mcp", "--http", "--port", "0"],
            ["mcp"],
            "the MCP server needs tether[mcp]: pip install 'tether[mcp]' (in a checkout: make install)",
        ),
        (["gateway", "--port", "0"], ["uvicorn"], "the gateway needs tether[web]: pip install 'tether[web]' (in a checkout: make install)"),
        (
            ["db", "up"],
            ["psycopg"],
            "a PostgreSQL ledger (`tether db up`) needs tether[postgres]: pip install 'tether[postgres]' (in a checkout: make install)",
        ),
        (
            ["chat", "-m", "local/smollm2-135m", "hello"],
            ["llama_cpp"],
            "local/smollm2-135m needs tether[local]: pip install 'tether[local]' (in a checkout: make install)",
        ),
    ],
)
def test_a_face_without_its_extra_says_which_extra_in_one_line(monkeypatch, capsys, args, missing, line):
    code, err = tether(monkeypatch, capsys, *args, missing=missing)
    assert code == 1
    assert err == f"error: {line}\n"


def test_a_postgres_ledger_without_psycopg_says_so_in_one_line(monkeypatch, capsys):
    user_config('[ledger]\nurl = "postgresql:///tether?host=/nowhere"\n')
    code, err = tether(monkeypatch, capsys, "ledger", missing=["psycopg"])
    assert (code, err) == (
        1,
        "error: a PostgreSQL ledger needs tether[postgres]: pip install 'tether[postgres]' (in a checkout: make install)\n",
    )


def test_under_json_the_missing_extra_is_a_json_error(monkeypatch, capsys):
    code, err = tether(monkeypatch, capsys, "ui", "--json", missing=["jinja2"])
    assert code == 1
    assert json.loads(err) == {
        "error": "the web app needs tether[web]: pip install 'tether[web]' (in a checkout: make install)",
        "kind": "MissingExtra",
        "exit": 1,
    }


def test_the_models_table_shows_the_extra_a_local_model_needs(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["tether", "models"])
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    from tether.cli import app

    monkeypatch.setenv("COLUMNS", "250")
    app(["models"], standalone_mode=False)
    shown = capsys.readouterr().out
    assert (
        "a local model needs tether[local]: pip install 'tether[local]' (in a checkout: make install)" in shown
    )  # the brackets are not taken for markup


def test_a_dependency_missing_inside_an_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "tests_fake_extra", None)
    monkeypatch.setitem(sys.modules, "json", None)
    with pytest.raises(MissingExtra, match=r"^the thing needs tether\[x\]: pip install 'tether\[x\]' \(in a checkout: make install\)$"):
        need_extra("x", "the thing", "tests_fake_extra")
    with pytest.raises(ModelNotAvailable, match=r"^a model needs tether\[local\] \(jsonschema cannot import json\)"):
        monkeypatch.delitem(sys.modules, "jsonschema", raising=False)
        for name in [m for m in sys.modules if m.startswith("jsonschema.")]:
            monkeypatch.delitem(sys.modules, name)
        need_extra("local", "a model", "jsonschema", error=ModelNotAvailable)


def test_the_core_commands_import_no_extra(isolated):
    """`pip install tether` without extras: `tether --help` lists every command and a core one runs,
    with every extra's modules uninstallable."""
    blocked = [m for modules in EXTRAS.values() for m in modules] + ["httptools", "uvloop"]
    (isolated / "proj").mkdir()
    (isolated / "proj" / "a.py").write_text("def f():\n    return 1\n")
    script = (
        "import sys\n"
        f"for m in {blocked!r}:\n    sys.modules[m] = None\n"
        "from tether.cli import main\n"
        "sys.argv = ['tether', *sys.argv[1:]]\n"
        "main()\n"
    )
    for args, expect in ([["--help"], "ui"], [["digest", "proj"], "def f"]):
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert expect in done.stdout
