"""What the ignore files leave out (.gitignore, .tetherignore) no model and no page reads: not by
naming it to a tool, not through a symlink a cloned repository ships, not as a cited line."""

import os

import pytest

from tests.conftest import make_tree
from tether.autonomy.agent.tools import read_lines
from tether.autonomy.answers.ask import file_lines
from tether.autonomy.edits.workspace import PathRefused
from tether.context.walk import walk


@pytest.fixture
def repo(tmp_path):
    root = make_tree(
        tmp_path / "r",
        {
            ".gitignore": "private/\n",
            ".tetherignore": "secret_module.py\n",
            "private/hidden.py": "TOKEN = 'gitignored-5521'\n",
            "secret_module.py": "X = 'tetherignored-6677'\n",
            "pkg/ok.py": "Y = 1\n",
        },
    )
    os.symlink("../private/hidden.py", root / "pkg" / "hidden_link.py")
    return root


def test_a_symlink_to_an_ignored_file_is_left_out_of_the_walk(repo):
    found = walk(repo)
    assert (
        "pkg/hidden_link.py" not in [f.path for f in found.files] and ("pkg/hidden_link.py", "symlink to an ignored path") in found.skipped
    )


@pytest.mark.parametrize("path", ["private/hidden.py", "secret_module.py", "pkg/hidden_link.py", "./private/../private/hidden.py"])
def test_tools_and_citations_do_not_read_what_the_ignore_files_leave_out(repo, path):
    with pytest.raises(PathRefused, match="left out by .gitignore or .tetherignore|`..` leads outside"):
        read_lines(repo, path)
    assert file_lines(repo, path) is None
    assert read_lines(repo, "pkg/ok.py")["text"] == "Y = 1"


def test_an_edit_neither_reads_nor_changes_what_is_ignored_and_its_hint_is_redacted(repo):
    from tether.autonomy.edits import propose

    (repo / "pkg" / "settings.env").write_text("API_KEY=sk-live-abcdef1234567890SECRET\nDEBUG=1\n")
    whole = "private/hidden.py\n```python\nTOKEN = 'mine'\n```\n"
    report, _ = propose(repo, whole, ("whole",))
    assert not report.applied and "left out by .gitignore" in report.blocks[0].error and "5521" not in str(report.to_dict())
    near = "pkg/settings.env\n```\n<<<<<<< SEARCH\nAPI_KEY=sk-live-abcdef1234567890SECRE\nDEBUG=2\n=======\nDEBUG=3\n>>>>>>> REPLACE\n```\n"
    report, _ = propose(repo, near, ("search-replace",))
    assert not report.applied and "SECRET" not in report.feedback() and "API_KEY" in report.feedback()


def test_an_mcp_proposal_shows_a_redacted_diff(repo):
    from tether.mcp.server import Tools

    (repo / ".env").write_text("API_KEY=sk-live-abcdef1234567890SECRET\nDEBUG=1\n")
    tools = Tools(None, repo, False, 20_000)
    try:
        shown = tools.propose_edit(".env\n```\n<<<<<<< SEARCH\nDEBUG=1\n=======\nDEBUG=0\n>>>>>>> REPLACE\n```\n")
    finally:
        tools.close()
    assert shown["proposal"] and "+DEBUG=0" in shown["diff"] and "sk-live" not in str(shown)


def test_a_workspace_inside_a_repository_keeps_the_repositorys_ignore_rules(tmp_path):
    import subprocess

    top = make_tree(tmp_path / "top", {".gitignore": "private/\n", "pkg/private/deep.py": "S = 'subroot-3131'\n", "pkg/ok.py": "Y = 1\n"})
    subprocess.run(["git", "init", "-q", str(top)], check=True)
    assert [f.path for f in walk(top / "pkg").files] == ["ok.py"]
    with pytest.raises(PathRefused, match="left out"):
        read_lines(top / "pkg", "private/deep.py")
