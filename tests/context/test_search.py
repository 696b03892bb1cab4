"""Search over a small real repository: BM25, both real embedders, fusion, incremental updates."""

import pytest

from tests.conftest import make_tree
from tether.context.chunks import chunk_file
from tether.context.index import Index, terms
from tether.errors import TetherError

REPO = {
    "billing/invoice.py": '@dataclass\nclass Invoice:\n    """A bill sent to a customer."""\n    total: float\n\n\ndef send_invoice(invoice, email):\n    """Email the invoice to the customer."""\n    mailer.deliver(email, render(invoice))\n',
    "net/retry.py": 'def retry_with_backoff(fn, attempts=3):\n    """Call fn again after failures, waiting twice as long each time."""\n    for n in range(attempts):\n        try:\n            return fn()\n        except IOError:\n            time.sleep(2 ** n)\n',
    "auth/tokens.py": 'def parseAuthHeader(header):\n    """Read the bearer token from an Authorization header."""\n    return header.removeprefix("Bearer ")\n',
    "docs/guide.md": "# Guide\n\nInstall with pip.\n\n# Deploying\n\nRun the server behind nginx and set the port.\n",
}


def test_chunks_follow_definitions_and_keep_decorators():
    body = "".join(f"    x{i} = {i}\n" for i in range(30))
    text = f"import os\n\n@decorate\ndef first():\n{body}\n\ndef second():\n{body}"
    chunks = chunk_file("m.py", text)
    assert [(c.name, c.start, c.end) for c in chunks] == [("first", 1, 34), ("second", 37, 67)]
    assert chunks[0].text.splitlines()[2] == "@decorate"
    small = chunk_file("billing/invoice.py", REPO["billing/invoice.py"])
    assert [(c.name, c.start, c.end) for c in small] == [("Invoice, send_invoice", 1, 9)]  # small neighbours join
    prose = chunk_file("docs/guide.md", REPO["docs/guide.md"])
    assert [c.text.splitlines()[0] for c in prose] == ["# Guide", "# Deploying"]


def test_terms_split_identifiers():
    assert terms("parseAuthHeader get_user_by_id HTTPServer") == (
        "parseauthheader parse auth header get_user_by_id get user by id httpserver http server"
    )


@pytest.fixture(scope="module", params=["static", "e5"])
def index(tmp_path_factory, request):
    root = make_tree(tmp_path_factory.mktemp("repo"), REPO)
    ix = Index(root, path=tmp_path_factory.mktemp("ix") / "index.db", embedder=request.param)
    ix.update()
    yield ix
    ix.close()


def test_bm25_finds_split_identifiers(index):
    assert index.search("auth header", k=1, mode="bm25")[0].where == "auth/tokens.py:1-3"


def test_embeddings_find_meaning_without_shared_words(index):
    hits = index.search("wait longer between repeated attempts after an error", k=1, mode="vector")
    assert hits[0].path == "net/retry.py"


def test_hybrid_fuses_both_and_reports_ranges(index):
    hits = index.search("send an invoice by email", k=3)
    assert hits[0].where == "billing/invoice.py:1-9" and "send_invoice" in hits[0].name
    assert set(hits[0].found_by) == {"bm25", "vector"} and hits[0].snippet.startswith("@dataclass")


def test_update_touches_only_changed_files(tmp_path):
    root = make_tree(tmp_path / "repo", REPO)
    ix = Index(root, path=tmp_path / "index.db")
    first = ix.update()
    assert (first.files, first.changed) == (4, 4)
    assert ix.update().changed == 0
    (root / "net" / "retry.py").write_text('def circuit_breaker():\n    """Stop calling a failing service."""\n')
    (root / "docs" / "guide.md").unlink()
    again = ix.update()
    assert (again.changed, again.removed) == (1, 1)
    assert ix.search("circuit breaker", k=1, mode="bm25")[0].path == "net/retry.py"
    assert all(h.path != "docs/guide.md" for h in ix.search("deploying nginx", k=5))
    assert not any(h.name == "retry_with_backoff" for h in ix.search("retry backoff", k=5, mode="bm25"))


def test_an_unchanged_file_is_not_read_again_and_a_same_size_edit_is_still_seen(tmp_path, monkeypatch):
    import os
    import time
    from pathlib import Path

    root = make_tree(tmp_path / "repo", REPO)
    old = time.time() - 60
    for f in root.rglob("*.*"):
        os.utime(f, (old, old))
    ix = Index(root, path=tmp_path / "index.db", embeddings=False)
    ix.update()
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self.name) or real(self))
    assert ix.update().changed == 0 and reads == []  # size and mtime as when hashed: not read
    target = root / "net" / "retry.py"
    text = target.read_text()
    target.write_text(text.replace("backoff", "BACKOFF"))  # the same size, written just now
    assert ix.update().changed == 1 and reads == ["retry.py"]


def test_embedding_can_be_spread_over_several_updates(tmp_path):
    root = make_tree(tmp_path / "repo", REPO)
    ix = Index(root, path=tmp_path / "index.db")
    first = ix.update(embed_seconds=0)
    assert first.pending == first.chunks > 0
    assert ix.search("auth header", k=1)[0].path == "auth/tokens.py"  # keywords work before any embedding
    assert ix.search("wait longer between repeated attempts", k=1, mode="vector") == []
    done = ix.update()
    assert done.pending == 0 and done.changed == 0
    assert ix.search("wait longer between repeated attempts after an error", k=1, mode="vector")[0].path == "net/retry.py"


def test_bad_input(tmp_path):
    with pytest.raises(TetherError, match="the workspace is not a folder"):
        Index(tmp_path / "missing")
    ix = Index(tmp_path, path=tmp_path / "i.db", embeddings=False)
    ix.update()
    assert ix.search("anything") == []
    with pytest.raises(TetherError, match="--mode must be"):
        ix.search("x", mode="magic")


def test_another_embedder_re_embeds_every_chunk(tmp_path):
    root = make_tree(tmp_path / "repo", REPO)
    Index(root, path=tmp_path / "index.db", embedder="static").update()
    ix = Index(root, path=tmp_path / "index.db", embedder="e5")  # vectors of another space cannot be compared
    assert ix.db.execute("SELECT COUNT(*) FROM chunks WHERE vector IS NOT NULL").fetchone()[0] == 0
    report = ix.update()
    assert report.changed == 0 and report.pending == 0
    assert ix.search("wait longer between repeated attempts after an error", k=1, mode="vector")[0].path == "net/retry.py"


def test_the_embedder_comes_from_the_workspace_config(tmp_path):
    from tether.errors import ConfigError

    root = make_tree(tmp_path / "repo", {**REPO, "tether.toml": '[search]\nembedder = "e5"\n'})
    assert Index(root, path=tmp_path / "a.db").embedder_name == "e5"
    (root / "tether.toml").write_text('[search]\nembedder = "word2vec"\n')
    with pytest.raises(ConfigError, match="search.embedder must be one of static, e5"):
        Index(root, path=tmp_path / "b.db")
    (root / "tether.toml").write_text('search = "e5"\n')  # not a table
    with pytest.raises(ConfigError, match=r"tether.toml: \[search\] must be a table"):
        Index(root, path=tmp_path / "c.db")


def test_static_weights_are_checked_by_sha256(monkeypatch):
    from tether.context import embedders

    monkeypatch.setitem(embedders._STATIC_FILES, "weights/l2_supercat_256.safetensors", "0" * 64)
    with pytest.raises(TetherError, match="sha256 mismatch"):
        embedders.Static()


def test_an_index_path_outside_the_data_dir_keeps_its_folders_mode(tmp_path):
    import stat

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o1777)  # like /tmp: `--db /tmp/x.db` once made /tmp 0700, and other users' programs failed
    Index(tmp_path, path=shared / "x.db", embeddings=False).close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_definitions_find_where_a_name_is_defined_not_where_it_is_used(tmp_path):
    body = "".join(f"        x{i} = {i}\n" for i in range(40))
    root = make_tree(
        tmp_path / "repo",
        {
            **REPO,
            "shop/cart.py": f"class Cart:\n    def invoke(self):\n{body}\n    def total(self):\n{body}",
            "shop/uses.py": "from billing.invoice import send_invoice\nsend_invoice(1, 2)\n",
            "tests/test_cart.py": f"def invoke():\n{body}",
        },
    )
    ix = Index(root, path=tmp_path / "index.db", embeddings=False)
    ix.update()
    assert [h.path for h in ix.definitions("send_invoice")] == ["billing/invoice.py"]
    assert [(h.path, h.name) for h in ix.definitions("Cart.invoke")] == [("shop/cart.py", "Cart.invoke")]
    assert [h.path for h in ix.definitions("invoke")] == ["shop/cart.py", "tests/test_cart.py"]  # the code before its tests
    assert ix.definitions("Cart.nothing") == [] and ix.definitions("deliver") == []


def test_drawn_markup_lock_files_and_one_line_data_stay_out_of_the_index(tmp_path):
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><text>send the invoice to the customer by email</text>'
        + "<path d='M0 0'/>" * 50
        + "</svg>\n"
    )
    blob = "customer invoice email " * 400 + "\n"  # one long line: minified or encoded, not prose
    root = make_tree(
        tmp_path / "repo",
        {**REPO, "docs/images/flow.svg": svg, "data/dump.txt": blob, "package-lock.json": '{"invoice": "email the customer"}\n'},
    )
    ix = Index(root, path=tmp_path / "index.db", embeddings=False)
    ix.update()
    hits = ix.search("how is the invoice emailed to the customer", k=10)
    assert hits and hits[0].path == "billing/invoice.py"
    assert {h.path for h in hits} & {"docs/images/flow.svg", "data/dump.txt", "package-lock.json"} == set()
