"""A run stopped in the browser goes on from its page in the log: Resume, in Chromium."""

import pytest

from tests.web.test_ui import EDIT, FIRST, ORIGINAL, SECOND, THIRD, browser, open_ui, serve, start_run, workspace  # noqa: F401
from tether.autonomy.history import runlog
from tether.store import Store, default_path


def _store() -> Store:
    """The server's database, as `tether log` opens it."""
    return Store(default_path())


def _stopped(page, workspace) -> dict:
    """A run started at auto and stopped while the model thinks; its row in the run log."""
    start_run(page, "upper-case three lines", level="auto")
    page.wait_for_selector("text=waiting for its first token")
    page.click("#stop")
    page.wait_for_selector("#final")
    assert page.text_content("#final") == "stopped"
    (stopped,) = runlog.runs(_store(), str(workspace))
    return stopped


def test_resume_on_a_stopped_runs_page_goes_on_to_done(workspace, browser):  # noqa: F811
    door, server = serve(workspace, [{"text": EDIT, "delay": 600}, EDIT, "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        stopped = _stopped(page, workspace)

        page.click("#to-resume")  # the stopped run's live page leads to its Resume
        page.wait_for_url(f"**/replay/{stopped['id']}*")
        page.fill("#resume input[name=max_steps]", "5")
        page.click("#resume button[type=submit]")
        page.wait_for_url("**/runs/r*")
        page.wait_for_selector("#final")
        assert page.text_content("#final") == "done"
        assert (workspace / "notes.txt").read_text() == ORIGINAL.replace(FIRST, FIRST.upper()).replace(SECOND, SECOND.upper()).replace(
            THIRD, THIRD.upper()
        )
        (run,) = runlog.runs(_store(), str(workspace))  # the same run went on: one row, done
        assert run["id"] == stopped["id"] and run["status"] == "done" and run["steps"] == 2

        page.goto(f"{server.origin}/replay/{run['id']}")
        assert page.locator("#resume").count() == 0  # a finished run offers nothing to resume
        assert page.locator("text=resumed at level auto").count() == 1
        assert errors == []
    finally:
        server.shutdown()


@pytest.mark.parametrize("steps", ["0", "many"])
def test_a_bad_limit_on_resume_is_one_clear_error(workspace, browser, steps):  # noqa: F811
    door, server = serve(workspace, [{"text": EDIT, "delay": 600}])
    try:
        page, _ = open_ui(browser, door, server)
        stopped = _stopped(page, workspace)
        page.goto(f"{server.origin}/replay/{stopped['id']}")
        page.fill("#resume input[name=max_steps]", steps)
        page.click("#resume button[type=submit]")
        assert "max steps must be" in page.text_content("#main .error") and page.locator("#resume").count() == 1  # said beside Resume
        assert (workspace / "notes.txt").read_text() == ORIGINAL
    finally:
        server.shutdown()
