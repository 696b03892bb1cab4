"""`tether llms-txt`: docs written for these tests in Markdown, reStructuredText and HTML, and every
output checked by a parser of the llms.txt spec written here (H1, blockquote, H2 sections of links)."""

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import make_tree
from tether.context import tokens
from tether.context.llmstxt import build

DOCS = {
    "index.md": "---\ntitle: Kettle\n---\n\nKettle boils water on time. It has a timer.\n\nRead [the guide](guide/start.rst), "
    "[the API](api.html#make), [a missing page](gone.md) and [the site](https://example.org/x).\n",
    "guide/start.rst": "Getting started\n===============\n\nInstall with ``pip install kettle``, then call :func:`kettle.boil`.\n\n"
    ".. code-block:: python\n\n   import kettle\n   kettle.boil(seconds=90)\n\n.. autoclass:: kettle.Kettle\n\n"
    ".. versionadded:: 2.0\n   The ``timer`` flag.\n\n.. toctree::\n\n   tuning\n\nBack to `the API <../api.html>`_.\n",
    "guide/tuning.md": "# Tuning\n\n!!! note\n    Admonitions are not summaries.\n\nTune the heat with `kettle.heat(level)`.\n",
    "api.html": "<html><head><title>API - Kettle</title><script>track()</script></head><body><nav>Home | API</nav>"
    "<main><h1 id='make'>API</h1><p>The <code>boil</code> function heats the water.</p>"
    "<pre><code class='language-python'>boil(seconds=90)</code></pre><p><a href='index.html'>home</a></p></main>"
    "<footer>(c) nobody</footer></body></html>",
    "CHANGELOG.md": "# Changelog\n\n## 2.0\n\nA timer.\n",
    "_templates/layout.html": "<html>{{ body }}</html>",
    "notes.txt": "not a page",
}


def parse_llms_txt(text: str) -> dict:
    """The llms.txt spec, strictly: an H1 first; then an optional blockquote; free Markdown without
    headings; then H2 sections holding only `- [name](url)` or `- [name](url): notes` items."""
    lines = text.splitlines()
    assert lines and re.fullmatch(r"# \S.*", lines[0]), "the first line must be the H1 title"
    found = {"title": lines[0][2:], "summary": None, "sections": {}}
    rest = lines[1:]
    body = [x for x in rest if x.strip()]
    if body and body[0].startswith("> "):
        found["summary"] = body[0][2:]
    section = None
    for line in rest:
        if line.startswith("## "):
            section = line[3:]
            assert section not in found["sections"], f"section {section} twice"
            found["sections"][section] = []
        elif line.startswith("#"):
            raise AssertionError(f"only H2 headings may follow the H1: {line}")
        elif section is not None and line.strip():
            m = re.fullmatch(r"- \[([^\]]+)\]\(([^)\s]+)\)(?:: (.+))?", line)
            assert m, f"not a link item: {line!r}"
            found["sections"][section].append({"name": m[1], "url": m[2], "notes": m[3]})
    return found


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tether", "llms-txt", *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def docs(tmp_path):
    return make_tree(tmp_path / "docs", DOCS)


def test_llms_txt_follows_the_spec_and_links_every_page_to_a_twin(docs, tmp_path):
    done = run(docs, "-o", tmp_path / "out", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    out = tmp_path / "out"
    spec = parse_llms_txt((out / "llms.txt").read_text())
    assert spec["title"] == "Kettle" and spec["summary"] == "Kettle boils water on time."
    assert list(spec["sections"]) == ["Docs", "Guide", "Optional"]
    links = [item for items in spec["sections"].values() for item in items]
    assert [x["name"] for x in links] == ["Kettle", "API", "Getting started", "Tuning", "Changelog"]
    assert all((out / x["url"]).is_file() for x in links)
    assert links[3]["notes"].startswith("Tune the heat with kettle.heat(level).")  # the admonition is not the summary
    by_source = {p["source"]: p for p in report["pages"]}
    assert set(by_source) == {"index.md", "guide/start.rst", "guide/tuning.md", "api.html", "CHANGELOG.md"}
    assert all(f"({p['tokens']:,} tokens)" in (out / "llms.txt").read_text() for p in report["pages"])
    assert report["total_tokens"] == sum(tokens.count((out / p["twin"]).read_text()) for p in report["pages"])
    assert report["broken_links"] == [{"page": "index.md", "link": "gone.md"}]


def test_the_twins_are_clean_markdown_with_links_to_each_other(docs, tmp_path):
    site = build(docs, out=tmp_path / "out")
    site.save(tmp_path / "out", docs)
    start = (tmp_path / "out" / "guide/start.md").read_text()
    assert start.startswith("# Getting started\n")
    assert "`pip install kettle`" in start and "`kettle.boil`" in start  # roles Sphinx adds keep their text
    assert "```python\nimport kettle\nkettle.boil(seconds=90)\n```" in start
    assert "`kettle.Kettle`" in start and "New in version 2.0: The `timer` flag." in start
    assert "[the API](../api.md)" in start and "toctree" not in start and "tuning" not in start.split("New in")[1]
    api = (tmp_path / "out" / "api.md").read_text()
    assert api.startswith("# API\n") and "```python\nboil(seconds=90)\n```" in api and "[home](index.md)" in api
    assert "track()" not in api and "Home | API" not in api and "nobody" not in api
    index = (tmp_path / "out" / "index.md").read_text()
    assert "[the guide](guide/start.md)" in index and "(api.md#make)" in index and "(https://example.org/x)" in index


def test_llms_full_holds_every_page_and_splits_under_max_tokens(docs, tmp_path):
    for n in range(12):
        make_tree(docs, {f"ref/page{n}.md": f"# Page {n}\n\n" + "".join(f"Line {i} of page {n} about kettles.\n\n" for i in range(80))})
    whole = build(docs).full
    assert len(whole) == 1 and all(f"Line 79 of page {n} " in whole[0] for n in range(12))
    done = run(docs, "-o", tmp_path / "out", "--max-tokens", 2000)
    assert done.returncode == 0, done.stderr
    parts = sorted((tmp_path / "out").glob("llms-full-*.txt"))
    assert len(parts) > 3 and not (tmp_path / "out" / "llms-full.txt").exists()
    assert all(tokens.count(p.read_text()) <= 2000 for p in parts)
    joined = "".join(p.read_text() for p in parts)
    assert all(f"Line {i} of page {n} " in joined for n in range(12) for i in (0, 79))
    run(docs, "-o", tmp_path / "out")  # unsplit again: the old parts go
    assert [p.name for p in (tmp_path / "out").glob("llms-full*.txt")] == ["llms-full.txt"]


def test_writing_into_the_docs_folder_keeps_markdown_sources_as_their_own_twins(docs):
    before = (docs / "index.md").read_text()
    assert run(docs, "-o", docs).returncode == 0
    assert (docs / "index.md").read_text() == before and (docs / "guide/start.md").is_file()
    parse_llms_txt((docs / "llms.txt").read_text())
    again = run(docs, "-o", docs, "--json")  # the twins of .rst and .html pages are not taken for pages the second time
    assert sorted(p["source"] for p in json.loads(again.stdout)["pages"]) == [
        "CHANGELOG.md",
        "api.html",
        "guide/start.rst",
        "guide/tuning.md",
        "index.md",
    ]


def test_strict_fails_on_a_broken_link_and_bad_input_is_one_clear_line(docs, tmp_path):
    done = run(docs, "-o", tmp_path / "out", "--strict")
    assert done.returncode == 1 and "broken link in index.md: gone.md" in done.stderr
    missing = run(tmp_path / "nowhere", "-o", tmp_path / "out")
    assert missing.returncode != 0 and "not a folder" in missing.stderr and "Traceback" not in missing.stderr
    empty = run(make_tree(tmp_path / "empty", {"a.txt": "x"}), "-o", tmp_path / "out")
    assert empty.returncode != 0 and "no Markdown, reStructuredText or HTML pages" in empty.stderr


def test_the_site_name_comes_from_the_generator_config_without_running_it(tmp_path):
    docs = make_tree(
        tmp_path / "proj",
        {
            "mkdocs.yml": "site_name: Teapot\nsite_description: Tea, brewed.\n",
            "docs/index.md": "# Home\n\nHi.\n",
            "docs/conf.py": "raise SystemExit('never run')\n",
        },
    )
    site = build(docs / "docs")
    assert (site.title, site.summary) == ("Teapot", "Tea, brewed.")
    assert parse_llms_txt(site.text)["title"] == "Teapot"


def test_markup_in_titles_cannot_break_the_index(tmp_path):
    docs = make_tree(tmp_path / "d", {"index.md": "# A [tricky](x) title ]\n\nLine one\nline two.\n", "b.md": "# B\n\n## Not a section\n"})
    spec = parse_llms_txt(build(docs).text)
    assert [x["name"] for x in spec["sections"]["Docs"]] == ["A tricky title )", "B"]
