"""Paths are judged as real paths: no symlink leads a write into any .git, out of the workspace
or past a deny rule, and tether's own config is never the agent's to write."""

import os
import subprocess

import pytest

from tests.conftest import make_tree
from tether.autonomy.edits import apply_text
from tether.autonomy.guard.leash import Leash, Rule
from tether.autonomy.history.change import apply_change


def create(path, text="x\n"):
    return f"{path}\n<<<<<<< SEARCH\n=======\n{text}>>>>>>> REPLACE\n"


@pytest.fixture
def repo(tmp_path):
    root = make_tree(
        tmp_path / "ws", {"src/app.py": "x = 1\n", "migrations/001.sql": "create table t;\n", "vendor/lib/.git/config": "[core]\n"}
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    os.symlink(".git", root / "g")
    os.symlink(".git/hooks", root / "hooks")
    os.symlink("../migrations", root / "src" / "mig")
    return root


@pytest.mark.parametrize(
    "path", ["g/config", "hooks/pre-commit", "vendor/lib/.git/config", "src/../.git/config", ".GIT/config", "./.git/HEAD"]
)
def test_no_link_or_spelling_reaches_a_git_folder(repo, path):
    config_before = (repo / ".git" / "config").read_bytes()
    report = apply_text(repo, create(path, "[core]\n\tfsmonitor = touch /tmp/pwned\n"))
    assert not report.applied
    assert (repo / ".git" / "config").read_bytes() == config_before and not (repo / ".git" / "hooks" / "pre-commit").exists()
    for level in ("approve", "auto", "agent"):
        assert Leash(repo, level, rules=(Rule("*", "*", "allow"),)).check("write", path).verdict == "deny"


def test_rules_see_the_real_path_behind_a_link(repo):
    leash = Leash(repo, "agent", rules=(Rule("write", "migrations/**", "deny"),))
    decision = leash.check("write", "src/mig/002.sql")
    assert decision.verdict == "deny" and "migrations/**" in decision.rule


def test_the_record_keeps_the_real_path(repo, tmp_path):
    from tether.store import Store

    store = Store(tmp_path / "t.db")
    Leash(repo, "agent", store=store).check("write", "src/mig/002.sql")
    assert [r["target"] for r in store.query("SELECT target FROM decisions")] == ["migrations/002.sql"]


@pytest.mark.parametrize("path", ["tether.toml", "sub/tether.toml", ".tetherignore", "src/.tetherignore"])
def test_tethers_own_config_is_never_the_agents_to_write(repo, path):
    assert not apply_text(repo, create(path, '[leash]\nlevel = "agent"\n')).applied
    assert not (repo / path).exists()
    assert Leash(repo, "agent", rules=(Rule("*", "*", "allow"),)).check("write", path).verdict == "deny"


def test_tethers_data_inside_the_workspace_is_protected(repo, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(repo / "state"))
    apply_change(repo, "src/app.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n")
    assert (repo / "state" / "tether").is_dir()
    assert Leash(repo, "agent").check("write", "state/tether/tether.db").verdict == "deny"


def test_a_link_swapped_in_after_planning_is_caught_before_writing(repo):
    from tether.autonomy.edits import propose

    report, plan = propose(repo, "src/app.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n")
    assert report.applied
    (repo / "src" / "app.py").unlink()
    os.symlink("../.git/config", repo / "src" / "app.py")
    from tether.errors import TetherError

    with pytest.raises(TetherError):
        plan.commit()
    assert b"x = 2" not in (repo / ".git" / "config").read_bytes()


def test_the_file_a_tether_toml_links_to_is_tethers_config_too(tmp_path):
    from tether.autonomy.edits.workspace import protected

    root = tmp_path / "w"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "settings.toml").write_text("[leash]\n")
    (root / "conf" / "ignore.txt").write_text("secret/\n")
    (root / "conf" / "other.toml").write_text("")
    (root / "tether.toml").symlink_to("conf/settings.toml")
    (root / ".tetherignore").symlink_to(root / "conf" / "ignore.txt")
    assert "links to it" in protected(root, "conf/settings.toml") and "links to it" in protected(root, "conf/ignore.txt")
    assert protected(root, "conf/other.toml") is None
    leash = Leash(root, "agent")
    assert leash.check("write", "conf/settings.toml").verdict == "deny"
