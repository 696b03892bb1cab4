"""`tether ask`: citations are checked after generation, and a claim whose citation fails is
marked unverified — with the scripted model, and through the command line."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import make_tree, user_config
from tether.autonomy.answers.ask import ask, check

CART = """class Cart:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)

    def total(self):
        return round(sum(i.price for i in self.items), 2)
"""

ANSWER = """The `Cart` class keeps its items in a list [shop/cart.py:1-3].
`total` rounds the sum of the prices to cents [shop/cart.py:8-9].
Items are added with `remove` [shop/cart.py:5-6].
The cart is saved to a database [shop/db.py:1-4].
It has a discount feature [shop/cart.py:40-45].
Carts are simple objects that anyone can use."""


@pytest.fixture
def repo(tmp_path):
    return make_tree(tmp_path / "repo", {"shop/cart.py": CART, "README.md": "# Shop\n"})


def test_each_claim_is_checked_against_the_lines_it_cites(repo):
    claims = check(repo, ANSWER)
    verdicts = [(c.verified, c.problems) for c in claims]
    assert verdicts[0] == (True, []) and verdicts[1] == (True, [])
    assert verdicts[2] == (False, ["`remove` is not in the cited lines"])
    assert verdicts[3] == (False, ["shop/db.py is not a file in the workspace"])
    assert verdicts[4] == (False, ["shop/cart.py has 9 lines; 40-45 is not among them"])
    assert verdicts[5] == (False, ["no citation"])


def test_citations_in_prose_are_checked_too(repo):
    claims = check(repo, "The `total` method is defined in `shop/cart.py` on line 8. It calls `round` at shop/cart.py lines 9 to 9.")
    assert [(c.verified, str(c.citations[0])) for c in claims] == [(True, "shop/cart.py:8-8"), (True, "shop/cart.py:9-9")]


def test_citations_cannot_point_outside_the_workspace(repo, tmp_path):
    (tmp_path / "secret.py").write_text("x = 1\n" * 5)
    claim = check(repo, "The secret is kept in a variable `x` [../secret.py:1-2].")[0]
    assert not claim.verified and "not a file in the workspace" in claim.problems[0]


def test_ask_streams_the_answer_then_checks_it(make_grid, repo):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[ANSWER])
    items = list(ask(grid, repo, "How does the cart compute its total?"))
    answer = items[-1]  # a provider that ignores the schema answers in cited prose: still checked
    assert items[:-1] == [] and answer.verified == 2 and len(answer.claims) == 6
    request = grid.provider("s").requests[0]
    shown = request.messages[1]["content"]
    assert 'source="S1 shop/cart.py:1-9">' in shown and "\n    def total(self):\n" in shown  # a snippet has an id and a range,
    assert "8|" not in shown  # and its lines come bare: numbering each one cost a third of the prompt, and the model cites ids
    assert request.schema["properties"]["claims"]["items"]["properties"]["snippets"]["items"]["enum"][0] == "S1"
    runs = grid.store.query("SELECT command, status, reason FROM runs")
    assert tuple(runs[0]) == ("ask", "answered", "2 of 6 claims verified")


def test_questions_open_with_the_same_system_prompt_so_a_prompt_cache_serves_it(make_grid, repo):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[ANSWER, ANSWER])
    list(ask(grid, repo, "How does the cart compute its total?"))
    list(ask(grid, repo, "Where are items added?"))
    first, second = (r.messages[0]["content"] for r in grid.provider("s").requests)
    assert first == second and "<data-" in first  # the fence's nonce lasts: the same bytes, question after question


def test_snippet_ids_become_citations_narrowed_to_the_claims_lines(make_grid, repo):
    reply = json.dumps(
        {
            "claims": [
                {"text": "`total` rounds the sum of the prices", "snippets": ["S1"]},
                {"text": "Items are appended by `add`", "snippets": ["S1", "S9"]},  # S9 was never shown: dropped
                {"text": "Items are taken out with `remove`", "snippets": ["S1"]},
                {"text": "Carts are saved to a database", "snippets": []},
            ]
        }
    )
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[reply])
    items = list(ask(grid, repo, "How does `Cart` compute its `total`?"))
    answer = items[-1]
    assert items[:-1] == [
        "- `total` rounds the sum of the prices\n",
        "- Items are appended by `add`\n",
        "- Items are taken out with `remove`\n",
        "- Carts are saved to a database\n",
    ]  # each as it was written
    got = [([str(c) for c in claim.citations], claim.verified) for claim in answer.claims]
    assert got == [(["shop/cart.py:8-8"], True), (["shop/cart.py:5-5"], True), (["shop/cart.py:1-9"], False), ([], False)]
    assert answer.text.splitlines()[0] == "- `total` rounds the sum of the prices [shop/cart.py:8-8]"


def test_ask_and_do_and_log_from_the_command_line(repo):
    answer = json.dumps(ANSWER)
    fix = json.dumps(
        "shop/cart.py\n```python\n<<<<<<< SEARCH\n        return round(sum(i.price for i in self.items), 2)\n=======\n"
        "        return round(sum(i.price * i.count for i in self.items), 2)\n>>>>>>> REPLACE\n```\n"
    )
    user_config(
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = [{answer}] }}\n'
        f'[providers.t]\nkind = "scripted"\noptions = {{ replies = [{fix}, "DONE"] }}\n'
    )
    env = {**os.environ}

    def tether(*args):
        return subprocess.run([sys.executable, "-m", "tether.cli", *args], capture_output=True, text=True, cwd=repo, env=env, timeout=120)

    asked = tether("ask", "How is the total computed?", "-m", "s/m", "--json")
    assert asked.returncode == 0, asked.stderr
    data = json.loads(asked.stdout)
    assert [c["verified"] for c in data["claims"]] == [True, True, False, False, False, False]
    assert data["claims"][2]["problems"] == ["`remove` is not in the cited lines"]

    plain = tether("ask", "How is the total computed?", "-m", "s/m")
    assert "- unverified Items are added with `remove`" in plain.stdout  # each claim with its state and cited lines
    done = tether("do", "count items", "-m", "t/m", "--level", "auto", "--verify", "true", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "done" and result["changed"] == ["shop/cart.py"] and "i.count" in (repo / "shop/cart.py").read_text()

    listed = json.loads(tether("log", "--json").stdout)
    assert [r["command"] for r in listed] == ["ask", "ask", "do"]
    replayed = tether("log", result["run"][:-2])  # a unique start of the id is enough
    assert replayed.returncode == 0 and "i.price * i.count" in replayed.stdout and "done" in replayed.stdout
    assert tether("undo").returncode == 0 and (repo / "shop/cart.py").read_text() == CART


def test_a_reply_cut_short_keeps_its_whole_claims(make_grid, repo):
    cut = '{"claims": [{"text": "`total` rounds the sum", "snippets": ["S1"]}, {"text": "and then the model ran out of tok'
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[cut])
    answer = list(ask(grid, repo, "How is the total computed?"))[-1]
    assert [(c.text, c.verified) for c in answer.claims] == [("`total` rounds the sum", True)]


def test_a_claim_citing_the_wrong_snippet_is_cited_where_its_code_is(make_grid, repo):
    (repo / "shop/tax.py").write_text("VAT_RATE = 0.2\n\n\ndef with_vat(amount):\n    return amount * (1 + VAT_RATE)\n")
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["{}"])
    list(ask(grid, repo, "How is `with_vat` applied to the `total`?"))
    prompt = grid.provider("s").requests[0].messages[1]["content"]
    cart = next(line.split('source="')[1].split()[0] for line in prompt.splitlines() if 'source="' in line and "shop/cart.py" in line)
    reply = json.dumps({"claims": [{"text": "`with_vat` multiplies by one plus `VAT_RATE`", "snippets": [cart]}]})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[reply])
    claim = list(ask(grid, repo, "How is `with_vat` applied to the `total`?"))[-1].claims[0]
    assert claim.verified and [str(c) for c in claim.citations][-1] == "shop/tax.py:1-5"


def test_a_claim_cut_at_the_length_bound_keeps_only_whole_sentences_and_names():
    from tether.autonomy.answers.ask import MAX_CLAIM, _whole

    cut = ("`Session` keeps cookies across requests. It holds adapters such as `HTTPAdapter` and `PreparedReq" + "x" * 300)[:MAX_CLAIM]
    assert _whole(cut) == "`Session` keeps cookies across requests."
    words = ("a claim with many words and a `name` that goes on " * 10)[:MAX_CLAIM]
    assert _whole(words).endswith(" …") and _whole(words).count("`") % 2 == 0
    assert _whole("short and whole") == "short and whole"


def test_a_claim_may_name_the_module_and_package_it_cites_and_repeats_count_once(tmp_path):
    import json

    from tether.autonomy.answers.ask import Snippet, cited

    root = tmp_path / "r"
    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "utils.py").write_text("def slug(text):\n    return text.lower()\n")
    shown = {"S1": Snippet("S1", "src/shop/utils.py", 1, ["def slug(text):\n", "    return text.lower()\n"])}
    same = {"text": "The `utils` module of `shop` defines `slug`", "snippets": ["S1"]}
    claims = cited(root, json.dumps({"claims": [same, same, {"text": "`utils` defines `ghost`", "snippets": ["S1"]}]}), shown)
    assert [(c.text, c.verified) for c in claims] == [(same["text"], True), ("`utils` defines `ghost`", False)]


def test_a_claim_may_name_the_class_its_cited_lines_stand_in_and_the_project(tmp_path):
    import json

    from tether.autonomy.answers.ask import Snippet, cited

    root = tmp_path / "shop"
    root.mkdir()
    body = [
        "class Cart:\n",
        "    def __init__(self):\n",
        "        self.items = []\n",
        "\n",
        "    def add(self, price):\n",
        "        if price > 0:\n",
        "            self.items.append(price)\n",
    ]
    (root / "cart.py").write_text("".join(body))
    shown = {"S1": Snippet("S1", "cart.py", 5, body[4:])}
    ok = {"text": "`add` of `Cart` in `shop` keeps positive prices in `items`", "snippets": ["S1"]}
    other = {"text": "`Basket` keeps positive prices in `items`", "snippets": ["S1"]}
    claims = cited(root, json.dumps({"claims": [ok, other]}), shown)
    assert [c.verified for c in claims] == [True, False]  # the lines stand in class Cart; no Basket encloses them
    assert claims[0].citations[0].start == 5  # narrowed to the lines that hold `add` and `items`


def test_each_sentence_of_a_claim_stands_or_falls_alone(tmp_path):
    import json

    from tether.autonomy.answers.ask import Snippet, cited

    root = tmp_path / "r"
    root.mkdir()
    (root / "v.py").write_text("def and_(*validators):\n    return _AndValidator(validators)\n")
    shown = {"S1": Snippet("S1", "v.py", 1, ["def and_(*validators):\n", "    return _AndValidator(validators)\n"])}
    text = "The `and_` function combines validators (e.g. `instance_of` ones). Wow. The `_NotValidator` class inverts one."
    claims = cited(root, json.dumps({"claims": [{"text": text, "snippets": ["S1"]}]}), shown)
    assert [(c.text, c.verified) for c in claims] == [
        ("The `and_` function combines validators (e.g. `instance_of` ones). Wow.", False),  # `instance_of` is not there
        ("The `_NotValidator` class inverts one.", False),
    ]
    claims = cited(
        root,
        json.dumps({"claims": [{"text": "`and_` builds an `_AndValidator`. `_NotValidator` inverts one of them.", "snippets": ["S1"]}]}),
        shown,
    )
    assert [(c.text, c.verified) for c in claims] == [
        ("`and_` builds an `_AndValidator`.", True),
        ("`_NotValidator` inverts one of them.", False),
    ]


def test_a_private_name_written_without_its_underscore_is_named_as_the_code_spells_it(tmp_path):
    import json

    from tether.autonomy.answers.ask import Snippet, cited

    root = tmp_path / "r"
    root.mkdir()
    body = ["class _AnnotationExtractor:\n", "    def get_first_param_type(self):\n", "        return None\n"]
    (root / "a.py").write_text("".join(body))
    shown = {"S1": Snippet("S1", "a.py", 1, body)}
    said = [
        {"text": "The `AnnotationExtractor` class reads annotations; `AnnotationExtractor()` takes a callable.", "snippets": ["S1"]},
        {"text": "The `Extractor` class reads annotations.", "snippets": ["S1"]},
    ]
    claims = cited(root, json.dumps({"claims": said}), shown)
    assert [(c.text, c.verified) for c in claims] == [
        ("The `_AnnotationExtractor` class reads annotations; `_AnnotationExtractor()` takes a callable.", True),
        ("The `Extractor` class reads annotations.", False),
    ]  # no snippet holds `_Extractor` either


def test_a_compound_name_in_the_wrong_case_is_named_as_the_code_spells_it_and_a_one_word_name_is_not(tmp_path):
    import json

    from tether.autonomy.answers.ask import Snippet, cited

    root = tmp_path / "r"
    root.mkdir()
    body = ["class RequestsCookieJar:\n", "    session = None\n"]
    (root / "c.py").write_text("".join(body))
    shown = {"S1": Snippet("S1", "c.py", 1, body)}
    said = [
        {"text": "The `requestsCookieJar` class keeps cookies.", "snippets": ["S1"]},
        {"text": "The `Session` class keeps cookies.", "snippets": ["S1"]},
    ]
    claims = cited(root, json.dumps({"claims": said}), shown)
    assert [(c.text, c.verified) for c in claims] == [
        ("The `RequestsCookieJar` class keeps cookies.", True),
        ("The `Session` class keeps cookies.", False),
    ]


def test_a_name_defined_further_down_a_cited_file_is_cited_where_it_is_defined(tmp_path):
    import json

    from tether.autonomy.answers.ask import Snippet, cited

    root = tmp_path / "r"
    root.mkdir()
    lines = ["def get(url):\n", "    return request('get', url)\n", "\n", "\n", "def head(url):\n", "    return request('head', url)\n"]
    (root / "api.py").write_text("".join(lines))
    shown = {"S1": Snippet("S1", "api.py", 1, lines[:2])}
    said = [
        {"text": "The `get` and `head` functions send requests.", "snippets": ["S1"]},
        {"text": "The `get` and `delete` functions send requests.", "snippets": ["S1"]},
    ]
    claims = cited(root, json.dumps({"claims": said}), shown)
    assert [c.verified for c in claims] == [True, False]  # there is no `delete` in api.py
    assert [str(c) for c in claims[0].citations] == ["api.py:1-2", "api.py:5-5"]


def test_when_no_code_is_shown_a_claim_that_names_code_is_unverified_not_a_crash(make_grid, tmp_path):
    """A repository with nothing to show (or a budget no snippet fits): the model may still claim
    things; each comes back unverified, and the answer is given."""
    reply = json.dumps({"claims": [{"text": "`echo` writes bytes to stdout", "snippets": []}]})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[reply])
    root = make_tree(tmp_path / "empty", {"README.md": "nothing here\n"})
    answer = list(ask(grid, root, "What does `echo` do?", budget=1))[-1]
    assert [(c.verified, c.problems) for c in answer.claims] == [(False, ["no citation"])]
    assert "(no code matched the question)" in grid.provider("s").requests[0].messages[1]["content"]


def test_a_context_budget_below_one_token_is_one_clear_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tether.cli", "ask", "what?", "-C", str(tmp_path), "--context-tokens", "-5"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 2 and "--context-tokens" in done.stderr and "Traceback" not in done.stderr


EVOLVE = '''def assoc(inst, **changes):
    """Copy `inst` and apply `changes`. Deprecated: use evolve() instead, which copies the instance."""
    new = copy.copy(inst)  # unlike evolve, no __init__ runs
    return new


def evolve(inst, **changes):
    cls = inst.__class__
    return cls(**changes)


def other(inst):
    return evolve(inst)
'''


def test_a_name_in_a_docstring_or_comment_does_not_verify_a_claim_about_it(tmp_path):
    root = make_tree(tmp_path / "repo", {"attrs_like.py": EVOLVE})
    wrong, defined, used = check(
        root,
        "`evolve` copies the original instance [attrs_like.py:1-4].\n"
        "`evolve` calls the class with the changes [attrs_like.py:7-9].\n"
        "`other` goes through `evolve` [attrs_like.py:12-13].",
    )
    assert wrong.state == "unverified" and "`evolve` is not in the cited lines" in wrong.problems
    assert defined.state == "verified" and used.state == "verified"
    assert defined.shown[0] == "attrs_like.py:7  def evolve(inst, **changes):"


def test_a_claim_that_names_no_code_is_unchecked_never_verified(tmp_path):
    root = make_tree(tmp_path / "repo", {"attrs_like.py": EVOLVE})
    [claim] = check(root, "The library makes a new object from the old one [attrs_like.py:7-9].")
    assert (claim.verified, claim.state) == (False, "unchecked") and claim.to_dict()["state"] == "unchecked"


def test_a_dotted_name_is_code_to_check_and_a_dot_folder_is_a_path(tmp_path):
    """`Region.area` or `os.path` must stand in the cited lines (they were taken for file names and
    left unchecked); `.github/…` and `.env` citations keep their leading dot."""
    root = make_tree(
        tmp_path / "r", {"pkg/console.py": "def render():\n    return 1\n", ".github/workflows/ci.yml": "on: push\njobs: {}\n"}
    )
    [false] = check(root, "The `Region.area` method deletes the database [pkg/console.py:1-2].")
    assert false.state == "unverified"
    [ci] = check(root, "The workflow runs `on` push [.github/workflows/ci.yml:1-1].")
    assert ci.citations[0].path == ".github/workflows/ci.yml" and not ci.citations[0].problem
    (root / ".env").write_text("DEBUG=1\n")
    [env] = check(root, "Debugging is on by `DEBUG` [.env:1-1].")
    assert env.citations[0].path == ".env" and not env.citations[0].problem
