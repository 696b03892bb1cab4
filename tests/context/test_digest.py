import json
import os
import subprocess

import pytest

from tests.conftest import make_tree
from tether.context import digest, tokens
from tether.errors import TetherError


def git(root, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path):
    return make_tree(
        tmp_path / "proj",
        {
            "README.md": "# Demo\nUse `make`.\n",
            "src/app.py": 'import os\n\n\ndef main():\n    """Run it."""\n    return os.getcwd()\n',
            "src/util.py": "def helper(x):\n    return x * 2\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "settings.py": 'DATABASE_URL = "postgresql://scott:tiger@localhost/db"\n',
        },
    )


def test_counts_every_file_exactly_and_redacts_in_place(project):
    d = digest(project)
    by_path = {f.path: f for f in d.files}
    assert sorted(by_path) == ["README.md", "logo.png", "settings.py", "src/app.py", "src/util.py"]
    for f in d.files:
        assert f.tokens == (0 if f.binary else tokens.count(f.text))
    assert d.total_tokens == sum(f.tokens for f in d.files)
    assert "tiger" not in by_path["settings.py"].text and d.redactions == {"url-password": 1}
    assert by_path["logo.png"].binary


def test_text_render_has_tree_with_tokens_and_every_file(project):
    d = digest(project)
    out = d.render("text")
    assert f"proj/ ({d.total_tokens:,} tokens)" in out
    assert "  src/ (" in out and "logo.png (binary)" in out
    for f in d.files:
        assert f"FILE: {f.path}" in out
        if f.text:
            assert f.text in out


def test_markdown_fences_survive_backticks_in_files(project):
    make_tree(project, {"doc.md": "```python\nprint(1)\n```\n"})
    out = digest(project).render("markdown")
    assert "````md\n```python\nprint(1)\n```\n````" in out


def test_xml_is_well_formed_and_json_parses(project):
    import xml.dom.minidom

    make_tree(project, {"weird.py": "if a < b and c > d & e:\n    pass\n"})
    d = digest(project)
    dom = xml.dom.minidom.parseString(d.render("xml"))
    files = {n.getAttribute("path"): n.firstChild.data for n in dom.getElementsByTagName("file")}
    assert files["weird.py"] == "if a < b and c > d & e:\n    pass\n"
    data = json.loads(d.render("json"))
    assert data["total_tokens"] == d.total_tokens and {f["path"] for f in data["files"]} == {f.path for f in d.files}


def test_parts_each_fit_the_budget_and_lose_nothing(project):
    make_tree(project, {f"mod{i}.py": f"def f{i}(x):\n    return x + {i}\n" * 30 for i in range(12)})
    big = "".join(f"line_{i} = {i} * 2\n" for i in range(900))
    make_tree(project, {"big.py": big})
    make_tree(project, {"esc.py": "if a < b and c > d & e:\n    pass\n" * 40})
    d = digest(project)
    budget = 2000
    for fmt in ("markdown", "xml"):
        assert all(tokens.count(part) <= budget for part in d.parts(fmt, budget)), fmt
    parts = d.parts("text", budget)
    assert len(parts) > 2
    for part in parts:
        assert tokens.count(part) <= budget
    joined = "".join(parts)
    for f in d.files:
        if f.path != "big.py" and f.text:
            assert sum(p.count(f.text) for p in parts) == 1  # never cut: wholly inside one part
    assert all(f"line_{i} = {i} * 2\n" in joined for i in range(900))  # cut, since alone it is over budget
    with pytest.raises(TetherError, match="smaller than the digest's header"):
        d.parts("text", 20)


def test_compress_keeps_signatures_and_docstrings(project):
    d = digest(project, compress=True)
    app = next(f for f in d.files if f.path == "src/app.py")
    assert app.compressed and app.text == 'import os\n\n\ndef main():\n    """Run it."""\n    ...\n'
    assert next(f for f in d.files if f.path == "README.md").text == "# Demo\nUse `make`.\n"


def test_bad_inputs_are_reported_not_fatal(tmp_path):
    root = make_tree(tmp_path / "r", {"ok.py": "x = 1\n", "latin.txt": b"caf\xe9 cr\xe8me\n"})
    os.mkfifo(root / "pipe")
    os.symlink(root, root / "loop")
    with open(root / "huge.log", "wb") as f:
        f.truncate(2 * 1024**3)
    d = digest(root)
    assert [f.path for f in d.files] == ["latin.txt", "ok.py"]
    latin = d.files[0]
    assert latin.lossy and latin.text == "caf\ufffd cr\ufffdme\n"
    skipped = dict(d.skipped)
    assert skipped["pipe"] == "not a regular file" and skipped["loop/"] == "symlink loop"
    assert skipped["huge.log"].startswith("over")
    assert d.summary()["lossy_files"] == ["latin.txt"]


def test_a_folder_that_is_not_a_repo_has_no_history(project):
    d = digest(project, order="changes", git_log=3, git_diff=True)
    assert d.sections == {"git log": "(not a git repository)", "git diff": "(not a git repository)"}


def test_empty_folder_and_missing_path(tmp_path):
    (tmp_path / "empty").mkdir()
    d = digest(tmp_path / "empty")
    assert d.files == [] and d.total_tokens == 0 and "empty/ (0 tokens)" in d.render()
    with pytest.raises(TetherError, match="no such file or folder"):
        digest(tmp_path / "missing")


def test_git_history_orders_and_sections(project):
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "first")
    for n in range(3):
        (project / "src" / "util.py").write_text(f"def helper(x):\n    return x * {n + 3}\n")
        git(project, "commit", "-qam", f"tweak {n}")
    (project / "README.md").write_text("# Demo\nchanged\n")
    d = digest(project, order="changes", git_log=2, git_diff=True)
    assert d.files[-1].path == "src/util.py"  # the most changed comes last, nearest the question
    assert "tweak 2" in d.sections["git log"] and "tweak 0" not in d.sections["git log"]
    assert "+changed" in d.sections["git diff"]
    assert d.total_tokens == sum(f.tokens for f in d.files) + sum(d.section_tokens.values())
    (project / ".tetherignore").write_text("src/util.py\n")  # tracked, yet kept from tether: its diff too
    (project / "src" / "util.py").write_text("SECRET = 'tetherignored-6678'\n")
    d = digest(project, order="changes", git_log=2, git_diff=True)
    assert "+changed" in d.sections["git diff"] and "6678" not in d.sections["git diff"]


def test_git_url_at_a_tag_a_branch_and_a_commit(project, tmp_path):
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-qm", "one")
    git(project, "tag", "v1")
    first = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    (project / "src" / "new.py").write_text("NEW = 1\n")
    git(project, "add", ".")
    git(project, "commit", "-qm", "two")
    url = f"file://{project}"
    paths = lambda d: {f.path for f in d.files}  # noqa: E731
    assert "src/new.py" in paths(digest(url, ref="main"))
    assert "src/new.py" not in paths(digest(url, ref="v1"))
    assert "src/new.py" not in paths(digest(url, ref=first))
    assert paths(digest(url, ref="main", subdir="src")) == {"app.py", "new.py", "util.py"}
    with pytest.raises(TetherError, match="cannot fetch"):
        digest(url, ref="no-such-branch")
