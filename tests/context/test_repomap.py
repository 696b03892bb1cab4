from tests.conftest import make_tree
from tether.context import tokens
from tether.context.repomap import repo_map
from tether.context.symbols import extract

LANGS = {
    "a.py": (
        "class Store:\n    def save(self):\n        def local():\n            pass\n",
        {("Store", "class", 1), ("save", "function", 2)},
    ),
    "a.ts": (
        "export class View { render(x: number): string { return '' } }\nconst route = (a) => a\ninterface Props { id: number }\n",
        {("View", "class", 1), ("render", "method", 1), ("route", "variable", 2), ("Props", "interface", 3)},
    ),
    "a.js": ("function boot() {}\nclass App { start() {} }\n", {("boot", "function", 1), ("App", "class", 2), ("start", "method", 2)}),
    "a.go": (
        "package x\ntype Server struct{}\nfunc (s *Server) Serve() error { return nil }\nfunc New() *Server { return nil }\n",
        {("Server", "type", 2), ("Serve", "method", 3), ("New", "function", 4)},
    ),
    "a.rs": (
        "struct Point;\ntrait Shape { fn area(&self) -> f64; }\nfn main() {}\n",
        {("Point", "struct", 1), ("Shape", "trait", 2), ("area", "function", 2), ("main", "function", 3)},
    ),
    "A.java": (
        "class Account { Account() {} void deposit(int n) {} }\n",
        {("Account", "class", 1), ("Account", "constructor", 1), ("deposit", "method", 1)},
    ),
    "a.c": ("struct node { int v; };\nint sum(int a, int b) { return a + b; }\n", {("node", "struct", 1), ("sum", "function", 2)}),
    "a.cpp": (
        "namespace geo { class Circle { }; }\ndouble area(double r) { return r; }\n",
        {("geo", "namespace", 1), ("Circle", "class", 1), ("area", "function", 2)},
    ),
}


def test_definitions_in_every_supported_language():
    for path, (text, expected) in LANGS.items():
        found = {(d.name, d.kind, d.line) for d in extract(path, text).definitions}
        assert found == expected, path


def test_unknown_language_has_no_symbols():
    assert extract("notes.txt", "class A: pass") is None


def test_the_most_used_code_ranks_first_and_the_map_fits_its_budget(tmp_path):
    make_tree(
        tmp_path,
        {
            "core/engine.py": "class Engine:\n    def run(self):\n        pass\n\nclass Unused:\n    pass\n",
            "app.py": "from core.engine import Engine\n\ndef main():\n    Engine().run()\n",
            "cli.py": "from core.engine import Engine\n\ndef cli():\n    Engine().run()\n    Engine()\n",
            "tools/helper.py": "def tidy():\n    pass\n",
        },
    )
    m = repo_map(tmp_path, max_tokens=1000)
    ranked = sorted(m.file_ranks, key=lambda p: -m.file_ranks[p])
    assert ranked[0] == "core/engine.py"
    assert [s.name for s in m.shown][0] == "Engine"
    assert m.text.startswith("core/engine.py:\n     1│ class Engine:")
    small = repo_map(tmp_path, max_tokens=15)
    assert 0 < small.tokens <= 15 and tokens.count(small.text) == small.tokens
    assert len(small.shown) < len(m.shown)


def test_focus_pulls_a_file_and_a_symbol_up(tmp_path):
    make_tree(
        tmp_path,
        {
            "core.py": "class Core:\n    pass\n",
            "a.py": "from core import Core\nCore()\n",
            "b.py": "from core import Core\nCore()\n",
            "billing/invoice.py": "class Invoice:\n    pass\n",
        },
    )
    first = lambda m: m.shown[0].name  # noqa: E731
    assert first(repo_map(tmp_path, max_tokens=20)) == "Core"
    assert first(repo_map(tmp_path, max_tokens=20, focus=["billing/"])) == "Invoice"
    assert first(repo_map(tmp_path, max_tokens=20, focus=["Invoice"])) == "Invoice"


def test_an_outline_keeps_each_definition_line_and_leaves_out_the_bodies():
    from tether.context.symbols import outline

    text = "import re\n\nLIMIT = 3\n\n@cache\ndef f(a, b):\n    return a + b\n\n\nclass Shelf:\n    def put(self, x):\n        self.x = x\n"
    assert outline("shelf.py", text) == "def f(a, b):\n    ...\nclass Shelf:\n    def put(self, x):\n        ...\n"
    assert outline("notes.txt", "def f(): pass\n") is None and outline("empty.py", "x = 1\n") is None


def test_a_stub_is_definitions_with_empty_bodies_and_nothing_else():
    from tether.context.symbols import is_stub

    stub = 'import math\n\n\nclass Shelf:\n    """A shelf."""\n    def put(self, x):\n        ...\n\n\ndef f(a):\n    raise NotImplementedError\n'
    assert is_stub("shelf.py", stub) and is_stub("f.py", "def f():\n    pass\n")
    assert not is_stub("shelf.py", stub + "\n\ndef g():\n    return 1\n")  # code of its own
    assert not is_stub("shelf.py", "LIMIT = 3\n\n\ndef f():\n    pass\n") and not is_stub("x.py", "import os\n")
    assert not is_stub("shelf.js", "function f() {}\n") and not is_stub("bad.py", "def f(:\n")
    assert not is_stub("deep.py", "x = " + "-" * 300_000 + "1\n") and not is_stub("deep.py", "def f():\n    return " + "(" * 200_000)


def test_the_identifiers_a_request_names_are_found_in_its_words():
    from tether.context.symbols import named_in

    assert named_in("Add a read-only property `area` to the Region class.") == ["area", "Region"]
    assert named_in("How does Console.print decide the width, and what does cell_len() do?") == ["Console.print", "cell_len"]
    assert named_in("Why is getItem slow in `pkg.mod.Thing`?") == ["getItem", "pkg.mod.Thing"]
    assert named_in("Make the pager easier to configure. Then test it.") == []  # a sentence's first word is no name
