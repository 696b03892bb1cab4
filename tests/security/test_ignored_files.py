"""What the ignore files leave out (.gitignore, .tetherignore) no model and no page reads: not by
naming it to a tool, not through a symlink a cloned repository ships, not as a cited line."""

import os

import pytest

from tether.autonomy.ask import file_lines
from tether.autonomy.edits.workspace import PathRefused
from tether.autonomy.tools import read_lines
from tether.context.walk import walk
from tests.conftest import make_tree


@pytest.fixture
def repo(tmp_path):
    root = make_tree(tmp_path / "r", {".gitignore": "private/\n", ".tetherignore": "secret_module.py\n",
                                      "private/hidden.py": "TOKEN = 'gitignored-5521'\n", "secret_module.py": "X = 'tetherignored-6677'\n",
                                      "pkg/ok.py": "Y = 1\n"})
    os.symlink("../private/hidden.py", root / "pkg" / "hidden_link.py")
    return root


def test_a_symlink_to_an_ignored_file_is_left_out_of_the_walk(repo):
    found = walk(repo)
    assert "pkg/hidden_link.py" not in [f.path for f in found.files] and ("pkg/hidden_link.py", "symlink to an ignored path") in found.skipped


@pytest.mark.parametrize("path", ["private/hidden.py", "secret_module.py", "pkg/hidden_link.py", "./private/../private/hidden.py"])
def test_tools_and_citations_do_not_read_what_the_ignore_files_leave_out(repo, path):
    with pytest.raises(PathRefused, match="left out by .gitignore or .tetherignore|`..` leads outside"):
        read_lines(repo, path)
    assert file_lines(repo, path) is None
    assert read_lines(repo, "pkg/ok.py")["text"] == "Y = 1"
