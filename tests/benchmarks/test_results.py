"""benchmarks/_results.py: one results file per benchmark, the newest run on top, older runs as history rows."""

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("bench_results", Path(__file__).resolve().parents[2] / "benchmarks" / "_results.py")
results = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(results)


def test_the_newest_run_is_on_top_and_the_one_before_is_the_first_history_row(tmp_path):
    results.record(
        "demo", "# Demo\n\nfirst report\n", {"passed": "1 of 2"}, "aaa1111", setting="2 cores", date="2026-01-01", folder=tmp_path
    )
    results.record("demo", "# Demo\n\nsecond report\n", {"passed": "2 of 2"}, "bbb2222", date="2026-01-02", folder=tmp_path)
    path = results.record(
        "demo", "# Demo\n\nthird report\n", {"passed": "2 of 2"}, "ccc3333", run="demo_fast", date="2026-01-03", folder=tmp_path
    )

    assert [p.name for p in tmp_path.iterdir()] == ["demo.md"]  # a variant name adds no file
    text = path.read_text()
    top, rows = results.split(text)
    assert text.startswith("# Demo\n") and "third report" in top and "demo_fast" in top
    assert "first report" not in text and "second report" not in text  # older full reports live in git, not here
    assert len(rows) == 2
    assert "2026-01-02" in rows[0] and "bbb2222" in rows[0] and "passed: 2 of 2" in rows[0]
    assert "2026-01-01" in rows[1] and "aaa1111" in rows[1] and "2 cores" in rows[1] and "passed: 1 of 2" in rows[1]


def test_a_resumed_run_replaces_its_own_report(tmp_path):
    results.record("demo", "# Demo\n\nrun A\n", {}, "aaa1111", run="a", folder=tmp_path)
    results.record("demo", "# Demo\n\nrun B, half\n", {}, "bbb2222", run="b", folder=tmp_path)
    path = results.record("demo", "# Demo\n\nrun B, whole\n", {}, "bbb2222", run="b", resumed=True, folder=tmp_path)
    top, rows = results.split(path.read_text())
    assert "run B, whole" in top and "half" not in path.read_text()
    assert len(rows) == 1 and "aaa1111" in rows[0]
