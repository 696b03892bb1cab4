import os
import sys

import pytest

from tests.upstream import Upstream
from tether import config
from tether.config import ProviderConfig
from tether.llm.providers.scripted import ScriptedProvider
from tether.llm.router import Grid
from tether.store import Store

KEY_VARS = [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
    "DEEPSEEK_API_KEY",
    "TETHER_GATEWAY_TOKEN",
]
MODELS_DIR = os.environ.get("TETHER_MODELS_DIR") or str(config.models_dir())  # shared: weights are big
# pytest as the tests' checks run it on a workspace: without the plugins this venv brings for
# tether's own tests (hypothesis's alone takes 0.6 s to load), which no checked workspace uses.
PYTEST_ARGS = (
    sys.executable,
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:anyio",
    "-p",
    "no:xdist",
    "-p",
    "no:xdist.looponfail",
)
PYTEST = " ".join(PYTEST_ARGS)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own data and config dirs and no API keys; model weights stay shared."""
    monkeypatch.setenv("TETHER_MODELS_DIR", MODELS_DIR)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def upstream():
    with Upstream(hang=1.5) as server:
        yield server


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def make_grid(tmp_path):
    """A Grid over a config dict, with scripted providers injected by name; sleeps are recorded."""
    grids = []

    def make(raw: dict | None = None, **scripts) -> Grid:
        raw = dict(raw or {})
        providers = raw.setdefault("providers", {})
        for name in scripts:
            providers.setdefault(name, {"kind": "scripted"})
        injected = {name: ScriptedProvider(ProviderConfig(name, "scripted"), replies) for name, replies in scripts.items()}
        grid = Grid(config.from_dict(raw), Store(tmp_path / "data" / "tether.db"), providers=injected, sleep=Sleeps())
        grids.append(grid)
        return grid

    yield make
    for grid in grids:
        grid.close()
        grid.store.close()


def user_config(text: str):
    """Write the user's own config ($XDG_CONFIG_HOME/tether/config.toml): where providers, routes
    onto them and the sandbox's settings belong (a project's tether.toml may only narrow)."""
    from pathlib import Path

    path = Path(os.environ["XDG_CONFIG_HOME"]) / "tether" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_tree(root, files: dict):
    """Write `files` ({relative path: text or bytes}) under `root`; returns root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def ledger_rows(grid: Grid) -> list[dict]:
    grid.ledger.flush()
    return [dict(r) for r in grid.store.query("SELECT * FROM ledger ORDER BY id")]
