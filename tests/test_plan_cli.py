"""`tether plan` then `tether do --plan FILE`, run as a user runs them (each in a process of its
own, the scripted model named in the user's config): the plan file written where the output
says, a person's edit to it taken, each step carried out as its own run, and every bad input one
clear line."""

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from tests.conftest import make_tree, user_config
from tether.autonomy.history.checkpoints import Checkpoints
from tether.shapes import SHAPES

TETHER = [sys.executable, "-m", "tether.cli"]
PLAN = json.dumps(
    {
        "steps": [
            {"title": "Round the total to cents", "files": ["shop/cart.py"], "check": "true"},
            {"title": "Add a discount", "files": ["shop/discount.py"], "check": "review"},
            {"title": "Say so in the README", "files": ["README.md"], "check": "review"},
        ]
    }
)
FIX = (
    "shop/cart.py\n```python\n<<<<<<< SEARCH\n        return sum(self.items)\n=======\n"
    "        return round(sum(self.items), 2)\n>>>>>>> REPLACE\n```\n"
)
README = "README.md\n```markdown\n<<<<<<< SEARCH\n# Shop\n=======\n# Shop\n\nTotals are rounded to cents.\n>>>>>>> REPLACE\n```\n"


def run(cwd, *args):
    return subprocess.run(
        [*TETHER, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ}, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def shop(isolated):
    root = make_tree(
        isolated / "shop",
        {
            "shop/__init__.py": "",
            "shop/cart.py": "class Cart:\n    def total(self):\n        return sum(self.items)\n",
            "README.md": "# Shop\n",
        },
    )
    user_config(
        f'[providers.p]\nkind = "scripted"\noptions = {{ replies = [{json.dumps(PLAN)}] }}\n'
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = [{json.dumps(FIX)}, {json.dumps(README)}, "DONE"] }}\n'
        '[providers.e]\nkind = "scripted"\noptions = { replies = ["I would rather not."] }\n'
        '[routes.default]\nmodels = ["s/m"]\n[routes.planner]\nmodels = ["p/m"]\n[verify]\nsandbox = "off"\n'
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_plan_writes_the_file_it_names_and_do_carries_out_the_edited_plan(shop):
    before = {p: p.read_bytes() for p in shop.rglob("*") if p.is_file() and ".git" not in p.parts}
    shown = run(shop, "plan", "round the cart's total and say so", "-m", "planner")
    assert shown.returncode == 0, shown.stderr
    assert "wrote .tether/plan.md" in shown.stderr and "tether do --plan .tether/plan.md" in shown.stderr
    assert "1. todo Round the total to cents · shop/cart.py · check: true" in shown.stdout
    assert {p: p.read_bytes() for p in shop.rglob("*") if p.is_file() and ".git" not in p.parts and ".tether" not in p.parts} == before
    plan = shop / ".tether" / "plan.md"
    plan.write_text(plan.read_text().replace("Add a discount [todo]", "Add a discount [skipped]"))  # the person's edit

    done = run(shop, "do", "--plan", ".tether/plan.md", "--level", "auto", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    jsonschema.validate(data, SHAPES["do --plan"])
    assert data["status"] == "done" and data["changed"] == ["shop/cart.py", "README.md"]
    assert [s["status"] for s in data["plan"]["steps"]] == ["done", "skipped", "done"]
    assert "round(sum(self.items), 2)" in (shop / "shop/cart.py").read_text() and not (shop / "shop/discount.py").exists()
    assert "[done]" in plan.read_text() and "Add a discount [skipped]" in plan.read_text()
    assert [h["files"] for h in Checkpoints(shop).log()] == [["shop/cart.py"], ["README.md"]]  # each step its own change
    runs = json.loads(run(shop, "log", "--json").stdout)
    assert [r["command"] for r in runs] == ["plan", "do", "do"]

    again = run(shop, "do", "--plan", ".tether/plan.md", "--level", "auto")
    assert again.returncode == 0 and "every step of the plan is done already" in again.stderr
    listed = run(shop, "log").stdout  # each step's request on one line: its title, the details for the model only
    assert "    plan step 3/3: Say so in the README" in listed and "Files:" not in listed and "This is step" not in listed
    undone = run(shop, "undo")
    assert undone.stdout == "undid “tether do: plan step 3/3: Say so in the README”: README.md\n", undone.stderr


def test_plan_json_has_its_documented_shape_and_an_output_file(shop):
    done = run(shop, "plan", "round the total", "-m", "planner", "-o", "mine.md", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    jsonschema.validate(data, SHAPES["plan"])
    assert data["file"] == str(shop / "mine.md") and (shop / "mine.md").read_text() == data["text"]
    assert [s["title"] for s in data["steps"]][0] == "Round the total to cents" and data["steps"][1]["check"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (("plan", "round it", "-m", "e/m"), "wrote no plan steps"),
        (("plan", "round it", "--edit"), "--edit opens $EDITOR and asks a question: it needs a terminal"),
        (("do", "--plan", "missing.md"), "missing.md: cannot read the plan"),
        (("do", "--plan", "README.md"), "README.md has no steps"),
        (("do",), "give `tether do` an instruction"),
    ],
)
def test_every_bad_input_is_one_clear_line(shop, args, message):
    done = run(shop, *args)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert not (shop / ".tether" / "plan.md").exists()
