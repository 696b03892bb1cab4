"""`tether wiki`: pages chosen from the code, claims kept only when their citations check out,
citations that follow moved code, pages written again only when their cited lines change, and a
killed build that resumes."""

import json
import subprocess

import pytest

from tests.conftest import make_tree
from tether.autonomy.answers.wiki import Wiki
from tether.errors import BadRequest

FILES = {
    "src/shop/cart.py": "class Cart:\n    def __init__(self):\n        self.items = []\n\n    def add(self, price):\n        self.items.append(price)\n\n"
    "    def total(self):\n        return round(sum(self.items), 2)\n",
    "src/shop/pay/card.py": "from shop.cart import Cart\n\n\ndef charge(cart: Cart, number: str) -> bool:\n    return cart.total() > 0 and len(number) == 16\n",
    "src/shop/pay/refund.py": "from shop.pay.card import charge\n\n\ndef refund(cart):\n    return not charge(cart, '')\n",
    "src/shop/ship.py": "from shop.cart import Cart\n\n\ndef ship(cart: Cart) -> str:\n    return 'shipped' if cart.items else 'empty'\n",
    "tests/test_cart.py": "from shop.cart import Cart\n\n\ndef test_total():\n    assert Cart().total() == 0\n",
}


def reply(*claims) -> str:
    return json.dumps({"claims": [{"text": t, "snippets": ids} for t, ids in claims]})


GOOD = reply(("`Cart` keeps the prices in `items`", ["S1"]), ("`total` rounds the sum", ["S1"]), ("`Basket` holds discounts", ["S1"]))


@pytest.fixture
def repo(tmp_path):
    root = make_tree(tmp_path / "repo", FILES)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def wiki(make_grid, repo, replies):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=replies)
    return Wiki(grid, repo), grid.provider("s")


def test_parts_come_from_the_code_not_the_tests(make_grid, repo):
    w, _ = wiki(make_grid, repo, [])
    parts, _ = w.parts()
    assert sorted(p.title for p in parts) == ["cart", "pay", "ship"]
    assert set(next(p for p in parts if p.title == "pay").files) == {"src/shop/pay/card.py", "src/shop/pay/refund.py"}


def test_only_verified_claims_are_kept_each_with_a_hash_of_its_lines(make_grid, repo, tmp_path):
    w, provider = wiki(make_grid, repo, [GOOD] * 3)
    report = w.build()
    assert len(report.written) == 3 and report.kept == []
    cart = next(p for p in report.pages if p.title == "cart")
    assert [c["text"] for c in cart.claims] == ["`Cart` keeps the prices in `items`", "`total` rounds the sum"] and cart.dropped == 1
    cite = cart.claims[1]["citations"][0]
    assert cite["path"] == "src/shop/cart.py" and (cite["start"], cite["end"]) == (8, 8) and len(cite["hash"]) == 12
    assert any("What does the cart part" in r.messages[1]["content"] for r in provider.requests)
    files = w.save(tmp_path / "out", report)
    page = (tmp_path / "out" / "cart.md").read_text()
    assert "[src/shop/cart.py:8-8](src/shop/cart.py#L8-L8)" in page and "Basket" not in page
    overview = (tmp_path / "out" / "index.md").read_text()
    assert "```mermaid" in overview and "pay --> cart" in overview.replace("_", "-") and files[0] == "index.md"


def test_moved_code_moves_the_citation_and_changed_code_asks_again_only_for_its_claims(make_grid, repo):
    w, provider = wiki(make_grid, repo, [GOOD] * 3)
    w.build()
    asked = len(provider.requests)
    cart = repo / "src/shop/cart.py"
    cart.write_text('"""The cart."""\n\n' + cart.read_text())  # two lines above everything cited
    provider.replies += [GOOD] * 3
    report = w.build()
    assert len(provider.requests) == asked and report.written == []  # nothing asked of the model
    moved = next(p for p in report.pages if p.title == "cart").claims[1]["citations"][0]
    assert (moved["start"], moved["end"]) == (10, 10)
    cart.write_text(cart.read_text().replace("round(sum(self.items), 2)", "sum(self.items)"))
    report = w.build()
    assert report.written == ["cart"] and len(provider.requests) == asked + 1
    # only the claim whose lines changed (the class's) was asked for again, from the definition those lines are in
    assert [c["text"] for c in next(p for p in report.pages if p.title == "cart").claims] == [
        "`total` rounds the sum",
        "`Cart` keeps the prices in `items`",
    ]
    again = provider.requests[-1].messages[1]["content"]
    assert again.count("source=") == 1 and 'source="S1 src/shop/cart.py:3-11"' in again


def test_a_build_stopped_midway_resumes_where_it_stopped(make_grid, repo):
    w, provider = wiki(make_grid, repo, [GOOD, BadRequest("the provider went away")])
    with pytest.raises(BadRequest):
        w.build()
    assert len(w.pages()) == 1
    provider.replies += [GOOD, GOOD]
    report = w.build()
    assert len(report.kept) == 1 and len(report.written) == 2


def test_a_repository_without_code_is_one_clear_error(make_grid, tmp_path):
    w, _ = wiki(make_grid, make_tree(tmp_path / "docs", {"README.md": "# Hi\n"}), [])
    with pytest.raises(Exception, match="no source code"):
        w.build()


def test_a_module_and_its_stub_are_two_pages_and_typing_tests_are_no_part(make_grid, repo):
    make_tree(
        repo, {"src/shop/ship.pyi": "def ship(cart) -> str: ...\n", "typing_tests/check.py": "from shop.ship import ship\nship(None)\n"}
    )
    w, _ = wiki(make_grid, repo, [])
    parts, _ = w.parts()
    slugs = [p.slug for p in parts]
    assert len(slugs) == len(set(slugs)) and {"ship-py", "ship-pyi"} <= set(slugs)
    assert not any("typing" in f for p in parts for f in p.files)


def test_a_cited_line_with_a_twin_follows_its_neighbours_and_an_edit_is_not_taken_for_a_move(make_grid, repo):
    from tether.autonomy.answers.wiki import _around, _hash

    body = [
        "class Cart:",
        "    def add(self, price):",
        "        self.items.append(price)",
        "",
        "    def total(self):",
        "        return sum(self.items)",
        "",
        "",
        "class Basket:",
        "    def add(self, price):",
        "        self.items.append(price)",
    ]
    path = repo / "src/shop/twins.py"
    path.write_text("\n".join(body) + "\n")
    w, _ = wiki(make_grid, repo, [])
    claim = (
        lambda: {
            "text": "`add` appends to `items`",
            "citations": [  # noqa: E731
                {"path": "src/shop/twins.py", "start": 3, "end": 3, "hash": _hash(body[2:3]), "around": _around(body, 3, 3, 2)}
            ],
        }
    )
    path.write_text("\n".join(['"""Carts."""', "", "import os", "", ""] + body) + "\n")  # everything five lines down
    moved = claim()
    assert w._follow(moved, {}) and moved["citations"][0]["start"] == 8  # Cart's line, not Basket's twin at 16
    edited = body[:2] + ["        self.items.append(price)  # edited"] + body[3:]
    path.write_text("\n".join(edited) + "\n")
    assert not w._follow(claim(), {})  # Cart's line changed: asked again, never pinned on Basket's twin
