"""Plan, then do, in Chromium: the Plan button makes a plan the person edits in the page, Approve
and run carries it out step by step with a review of each step at `approve`, the page showing
which step goes and how each stands, and the plan file saying so afterwards."""

import json

import pytest

from tests.web.test_ui import browser, open_ui, serve, workspace  # noqa: F401
from tether.autonomy.agent.plan import load
from tether.autonomy.history import runlog
from tether.store import Store, default_path

PLAN = json.dumps(
    {
        "steps": [
            {"title": "Upper-case a.txt", "files": ["a.txt"], "check": "review"},
            {"title": "Upper-case b.txt", "files": ["b.txt"], "check": "review"},
            {"title": "Upper-case c.txt", "files": ["c.txt"], "check": "review"},
        ]
    }
)


def edit(name: str) -> str:
    return f"{name}.txt\n```\n<<<<<<< SEARCH\n{name} is small\n=======\n{name.upper()} IS BIG\n>>>>>>> REPLACE\n```\n"


@pytest.fixture
def three(workspace):  # noqa: F811
    for name in "abc":
        (workspace / f"{name}.txt").write_text(f"{name} is small\n")
    return workspace


def states(page) -> list[str]:
    return [t.strip() for t in page.locator("#plan-steps li .state").all_text_contents()]


def test_a_plan_made_edited_and_run_in_the_page_stops_at_the_rejected_step(three, browser):  # noqa: F811
    door, server = serve(three, [PLAN, edit("a"), "DONE", edit("b"), "DONE", "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        page.fill("textarea[name=instruction]", "upper-case the three files")
        page.check("input[name=level][value=approve]")
        page.click("#make-plan")
        page.wait_for_url("**/plan/p*")
        text = page.locator("#plan-text")
        text.wait_for()
        assert "## 1. Upper-case a.txt [todo]" in text.input_value() and not (three / ".tether").exists()  # planning wrote nothing
        text.fill(text.input_value().replace("Upper-case a.txt [todo]", "Upper-case a.txt, every letter [todo]"))  # the person's edit
        page.click("#run-plan")
        page.wait_for_url("**/runs/r*")

        page.wait_for_selector("#hunk-0[data-decision=null]")  # step 1's review
        assert states(page) == ["running", "todo", "todo"]
        assert page.get_attribute("#plan-steps [aria-current=step]", "data-n") == "1"
        page.keyboard.press("y")
        page.wait_for_selector("#plan-steps li[data-n='2'][aria-current=step]")
        page.wait_for_selector("#hunk-0[data-decision=null]")  # step 2's review
        assert states(page)[0] == "done"
        page.keyboard.press("n")
        page.wait_for_selector("#final")
        assert page.text_content("#final") == "unchanged", page.text_content("#result")  # its change rejected, nothing changed
        assert states(page) == ["done", "failed", "todo"]
        assert [(three / f"{n}.txt").read_text() for n in "abc"] == ["A IS BIG\n", "b is small\n", "c is small\n"]
        saved = load(three / ".tether" / "plan.md")  # step 3 still todo, editable; the person's words kept
        assert [s.status for s in saved.steps] == ["done", "failed", "todo"] and saved.steps[0].title == "Upper-case a.txt, every letter"
        commands = [r["command"] for r in runlog.runs(Store(default_path()), str(three))]
        assert commands == ["plan", "do", "do"]
        page.click("#edit-plan")  # back to the plan file, to edit it and run it again
        page.wait_for_url("**/plan/p*")
        again = page.locator("#plan-text").input_value()
        assert "## 1. Upper-case a.txt, every letter [done]" in again and "## 2. Upper-case b.txt [failed]" in again
        assert "## 3. Upper-case c.txt [todo]" in again and page.is_visible("#run-plan")
        assert errors == []
    finally:
        server.shutdown()


def test_an_edit_that_leaves_no_step_comes_back_with_why(three, browser):  # noqa: F811
    door, server = serve(three, [PLAN])
    try:
        page, errors = open_ui(browser, door, server)
        page.fill("textarea[name=instruction]", "upper-case the three files")
        page.click("#make-plan")
        page.locator("#plan-text").wait_for()
        page.fill("#plan-text", "# Plan: nothing\n\nI removed every step.\n")
        page.click("#run-plan")
        page.wait_for_selector("[role=alert]")
        assert "has no steps" in page.text_content("[role=alert]") and "I removed every step." in page.input_value("#plan-text")
        assert not (three / ".tether").exists() and [e for e in errors if "status of 400" not in e] == []  # the page's own 400
    finally:
        server.shutdown()
