import os

import pytest

from tests.conftest import make_tree
from tether.context.walk import walk
from tether.errors import TetherError


def paths(w):
    return [f.path for f in w.files]


def reasons(w):
    return dict(w.skipped)


def test_nested_gitignore_and_tetherignore(tmp_path):
    make_tree(
        tmp_path,
        {
            ".gitignore": "*.log\n/secret.txt\n",
            "app.py": "x",
            "debug.log": "x",
            "secret.txt": "x",
            "pkg/.gitignore": "generated/\n!keep.log\n",
            "pkg/mod.py": "x",
            "pkg/keep.log": "x",
            "pkg/generated/out.py": "x",
            "pkg/sub/secret.txt": "x",
            ".tetherignore": "notes/\n",
            "notes/todo.md": "x",
        },
    )
    w = walk(tmp_path)
    assert paths(w) == [".gitignore", ".tetherignore", "app.py", "pkg/.gitignore", "pkg/keep.log", "pkg/mod.py", "pkg/sub/secret.txt"]
    r = reasons(w)
    assert r["debug.log"] == r["secret.txt"] == r["pkg/generated/"] == r["notes/"] == "gitignored"


def test_builtin_list_drops_artefacts_and_vendored_code_but_keeps_docs(tmp_path):
    make_tree(
        tmp_path,
        {
            "node_modules/x/index.js": "x",
            "__pycache__/a.pyc": "x",
            "build/lib/a.py": "x",
            "dist/a.whl": "x",
            "doc/build/index.rst": "the docs",
            "docs/_build/html/index.html": "x",
            "src/app.min.js": "x",
            "package-lock.json": "{}",
            "go.mod": "module x",
            "vendor/dep/dep.go": "x",
            "src/app.js": "x",
        },
    )
    w = walk(tmp_path)
    assert "doc/build/index.rst" in paths(w) and "src/app.js" in paths(w)
    r = reasons(w)
    assert r["node_modules/"] == "build or cache folder" and r["build/"] == "build output"
    assert r["vendor/"] == "vendored dependencies" and r["package-lock.json"] == "lock file"
    assert r["src/app.min.js"] == "compiled or minified" and r["docs/_build/"] == "build or cache folder"


def test_include_and_exclude_globs(tmp_path):
    make_tree(tmp_path, {"a.py": "x", "b.md": "x", "tests/test_a.py": "x", "tests/data.json": "x"})
    assert paths(walk(tmp_path, include=["*.py"])) == ["a.py", "tests/test_a.py"]
    assert paths(walk(tmp_path, exclude=["tests/"])) == ["a.py", "b.md"]


def test_symlinks_inside_are_followed_outside_and_loops_are_not(tmp_path):
    outside = tmp_path / "outside"
    make_tree(outside, {"secret.py": "x"})
    root = make_tree(tmp_path / "root", {"real/a.py": "x"})
    os.symlink(root / "real" / "a.py", root / "alias.py")
    os.symlink(outside, root / "escape")
    os.symlink(root / "real", root / "real" / "loop")
    w = walk(root)
    assert paths(w) == ["alias.py", "real/a.py"]
    r = reasons(w)
    assert r["escape/"] == "symlink outside the root" and r["real/loop/"] == "symlink loop"


def test_a_symlink_into_git_is_never_context(tmp_path):
    from tether.context import digest

    root = make_tree(tmp_path / "repo", {"app.py": "x = 1\n", ".git/config": "[remote]\n  token = hunter2\n", "vendor/.git/HEAD": "ref\n"})
    os.symlink(root / ".git" / "config", root / "settings.cfg")
    os.symlink(root / "vendor" / ".git", root / "meta")
    w = walk(root)
    assert paths(w) == ["app.py"] and reasons(w)["settings.cfg"] == reasons(w)["meta/"] == "symlink into .git"
    assert "hunter2" not in digest(root).render("markdown")


def test_large_and_binary_files(tmp_path):
    make_tree(tmp_path, {"small.py": "x", "logo.png": b"\x89PNG\x00"})
    with open(tmp_path / "huge.txt", "wb") as f:
        f.truncate(2 * 1024**3)  # a sparse 2 GB file: never read
    w = walk(tmp_path)
    assert reasons(w)["huge.txt"] == "over 1,000,000 bytes"
    assert [(f.path, f.binary) for f in w.files] == [("logo.png", True), ("small.py", False)]


def test_missing_path_and_file_instead_of_folder(tmp_path):
    with pytest.raises(TetherError, match="no such file or folder"):
        walk(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(TetherError, match="not a folder"):
        walk(tmp_path / "f.txt")


def test_empty_folder(tmp_path):
    w = walk(tmp_path)
    assert w.files == [] and w.skipped == []
