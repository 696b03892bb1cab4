"""A hook's refusal in the web app, in Chromium: the run's live steps say which hook refused what
and why, and the run's replay page shows the same decision."""

import sys

from tests.web.test_ui import EDIT, ORIGINAL, browser, open_ui, serve, start_run, toml, workspace  # noqa: F401
from tether.autonomy.history import runlog
from tether.store import Store, default_path


def test_a_hooks_refusal_shows_in_the_live_steps_and_on_the_replay_page(workspace, browser, tmp_path):  # noqa: F811
    hook = tmp_path / "frozen.py"
    hook.write_text("import json, sys\nevent = json.load(sys.stdin)\nprint(event['target'] + ' is frozen', file=sys.stderr)\nsys.exit(2)\n")
    hooks = (
        f'[[hooks]]\nevent = "before_tool"\nmatch = {{ tool = "write" }}\ncommand = {toml([sys.executable, str(hook)])}\nname = "frozen"\n'
    )
    door, server = serve(workspace, [EDIT, "DONE", "DONE"], hooks)  # the sandbox as it comes: hooks run in it
    try:
        page, errors = open_ui(browser, door, server)
        start_run(page, "upper-case three lines", level="auto")
        page.wait_for_selector("#final")
        assert page.text_content("#final") == "refused"
        assert page.locator("#steps li", has_text="hook frozen refused before_tool write notes.txt: notes.txt is frozen").count() == 1
        assert (workspace / "notes.txt").read_text() == ORIGINAL

        (run,) = runlog.runs(Store(default_path()), str(workspace))
        page.goto(f"{server.origin}/replay/{run['id']}")
        step = page.locator("li.step-decision", has_text="hook frozen")
        assert step.count() == 1 and "write notes.txt: refused by hook frozen — notes.txt is frozen" in " ".join(step.inner_text().split())

        page.goto(f"{server.origin}/mcp")  # the page of the other programs a run meets lists the hooks in force
        listed = " ".join(page.locator("#hooks ~ .table-wrap").inner_text().split())
        assert "before_tool tool=write frozen:" in listed and str(hook) in listed and "10 s" in listed
        assert errors == []
    finally:
        server.shutdown()
