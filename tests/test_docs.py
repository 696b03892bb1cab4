"""The docs hold: every `sh` example runs as written in the small shop project the docs describe,
every `toml` example is a config tether accepts, and docs/llms.txt is what `tether llms-txt docs
-o docs` writes today."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from tests.conftest import make_tree, user_config
from tether import config
from tether.autonomy.guard.hooks import Hooks
from tether.autonomy.guard.leash import Leash
from tether.autonomy.guard.verify import VerifySettings
from tether.context.llmstxt import build
from tether.mcp import settings
from tether.mcp.servers import specs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
SERVERS = {"ui", "gateway"}  # they serve until stopped: the test starts them, reads the address, stops them
FIX = (
    "shop/cart.py\n```python\n<<<<<<< SEARCH\n        return sum(self.items)\n=======\n"
    "        return round(sum(self.items), 2)\n>>>>>>> REPLACE\n```\n"
)

PLAN = json.dumps({"steps": [{"title": "Round Cart.total to two decimals", "files": ["shop/cart.py"], "check": "python -m pytest -q"}]})


def blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), re.M | re.S)


def commands(page: Path) -> list[str]:
    return [line.split("  #")[0].strip() for block in blocks(page, "sh") for line in block.splitlines() if "tether " in line.split("#")[0]]


@pytest.fixture
def shop(isolated):
    root = make_tree(
        isolated / "shop",
        {
            "shop/__init__.py": "",
            "shop/cart.py": "class Cart:\n    def __init__(self, items=()):\n        self.items = list(items)\n\n"
            "    def total(self):\n        return sum(self.items)\n",
            "tests/test_cart.py": "from shop.cart import Cart\n\n\ndef test_total():\n    assert Cart([1, 2]).total() == 3\n",
            "reply.txt": FIX,
            "error.log": "Traceback (most recent call last):\nZeroDivisionError: division by zero\n",
            "docs/index.md": "# Shop\n\nA shop whose cart sums its items.\n",
            "tether.toml": "[leash]\nmax_files = 5\n",
        },
    )
    user_config(
        '[providers.s]\nkind = "scripted"\n'
        f'options = {{ replies = [{json.dumps(FIX)}, "DONE", "DONE", "DONE"] }}\n[routes.default]\nmodels = ["s/m"]\n'
        '[routes.fast]\nmodels = ["s/m"]\n[models."s/m"]\ninput_per_mtok = 0.1\noutput_per_mtok = 0.2\n'
        # docs/mcp.md's `tether mcp servers` lists a real server: tether's own, over stdio
        '[mcp.servers.shop]\ncommand = "tether"\nargs = ["mcp"]\nenv = { XDG_DATA_HOME = "${XDG_DATA_HOME}", XDG_CONFIG_HOME = "${XDG_CONFIG_HOME}" }\n'
        f'[providers.p]\nkind = "scripted"\noptions = {{ replies = [{json.dumps(PLAN)}] }}\n[routes.planner]\nmodels = ["p/m"]\n'  # docs/plan.md
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_the_docs_have_runnable_examples():
    assert sum(len(commands(p)) for p in PAGES) > 30
    assert {c.split()[1] for p in PAGES for c in commands(p)} >= {
        "chat",
        "models",
        "ledger",
        "gateway",
        "digest",
        "map",
        "search",
        "llms-txt",
        "apply",
        "undo",
        "redo",
        "log",
        "ask",
        "do",
        "ui",
        "mcp",
    }


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if commands(p)], ids=lambda p: p.name)
def test_every_command_example_runs_as_written(shop, page):
    pg = tempfile.mkdtemp(dir="/tmp", prefix="tether-docs-pg-")  # `tether db up` gets a cluster of its own, stopped after
    os.chmod(pg, 0o755)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "TETHER_PG_DIR": pg + "/pg"}
    try:
        run_examples(shop, page, env)
    finally:
        subprocess.run(["tether", "db", "down"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(pg, ignore_errors=True)


def run_examples(shop, page, env):
    for line in commands(page):
        if "://" in line.split("--base-url")[0] or re.search(r"-m \S+/", line):  # a URL or a hosted model: needs the network
            continue
        words = line.split()
        if words[1] in SERVERS or (words[1] == "mcp" and "--http" in words):
            proc = subprocess.Popen(
                f"{line} --port 0 --json",
                shell=True,
                cwd=shop,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            try:
                printed = "".join(iter(proc.stdout.readline, "}\n")) + "}"
                assert json.loads(printed)["url"].startswith("http://127.0.0.1:"), (line, proc.stderr.read())
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(10)
            continue
        done = subprocess.run(line, shell=True, cwd=shop, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        outcome = words[1] == "do" and done.returncode == 1 and "error:" not in done.stderr  # the scripted model's edit was in already
        assert done.returncode == 0 or outcome, f"{page.name}: `{line}` failed:\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "toml")], ids=lambda p: p.name)
def test_every_config_example_is_accepted(page, tmp_path):
    for block in blocks(page, "toml"):
        cfg = config.from_dict(tomllib.loads(block))
        if "leash" in cfg.extra:
            Leash.from_config(tmp_path, cfg)
        if "verify" in cfg.extra:
            VerifySettings.from_config(cfg, tmp_path)
        if "mcp" in cfg.extra:
            settings(cfg, tmp_path)
            specs(cfg)  # [mcp.servers]
        if "hooks" in cfg.extra:
            Hooks.from_config(cfg, tmp_path)


def test_llms_txt_of_the_docs_is_current():
    site = build(DOCS, out=DOCS)
    assert (DOCS / "llms.txt").read_text() == site.text, "docs/llms.txt is stale: run `tether llms-txt docs -o docs`"
    assert (DOCS / "llms-full.txt").read_text() == site.full[0], "docs/llms-full.txt is stale: run `tether llms-txt docs -o docs`"
    assert not site.broken, site.broken
