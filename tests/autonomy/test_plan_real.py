"""A plan made by the real embedded model (qwen2.5-coder-1.5b, the default) for a tiny repository:
what a person reading it would check — steps, each naming a file that is there or one to create."""

import re

import pytest

from tests.conftest import make_tree
from tether.autonomy.agent.plan import make_plan, parse

pytestmark = pytest.mark.slow

CALC = 'def add(a, b):\n    """The sum of a and b."""\n    return a + b\n'
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def test_the_embedded_model_plans_steps_that_name_real_or_new_files(tmp_path):
    from tether.llm.providers.local import unload_all
    from tether.llm.router import Grid

    unload_all()  # a model reused across tests answers from a prefix it read for another prompt
    repo = make_tree(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TESTS})
    before = {p: p.read_bytes() for p in repo.rglob("*")}
    grid = Grid.from_config()
    plan = make_plan(grid, repo, "Add a function subtract(a, b) to calc.py, with a test in test_calc.py.", "local/qwen2.5-coder-1.5b")
    assert 1 <= len(plan.steps) <= 5
    for step in plan.steps:
        assert step.title.strip()
        assert step.files, step
        assert all((repo / f).is_file() or re.fullmatch(r"[\w./-]+\.\w+", f) for f in step.files), step.files
    named = {f for s in plan.steps for f in s.files}
    assert named & {"calc.py", "test_calc.py"}, named  # it plans the change where the code is
    assert parse(plan.render()).steps == plan.steps  # the file a person edits holds what the model said
    assert {p: p.read_bytes() for p in repo.rglob("*")} == before
