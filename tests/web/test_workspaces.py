"""`tether ui`'s workspace switcher (issue 40's door): the header lists the recent workspaces with
each one's trust state, a keyboard opens another, and everything after it works on that root only;
a path the browser made up, or a switch while a run goes, is refused with one clear message."""

import subprocess

import pytest

from tests.web.test_ui import EDIT, browser, open_ui, serve, start_run  # noqa: F401 - the fixtures
from tether import trust, workspaces

UNTRUSTED = "[mcp]\nwrite = true\n"  # a key a project may not set until trusted: the banner names it


@pytest.fixture
def roots(isolated):
    """Three workspaces: alpha (no tether.toml), beta (an untrusted one), gamma (a trusted one)."""
    made = {}
    for name, toml in (("alpha", None), ("beta", UNTRUSTED), ("gamma", '[leash]\nlevel = "approve"\n')):
        root = isolated / name
        root.mkdir()
        (root / f"{name}.txt").write_text(f"the {name} file\n")
        if toml:
            (root / "tether.toml").write_text(toml)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        made[name] = root.resolve()
    trust.trust(made["gamma"] / "tether.toml")
    for name in ("gamma", "beta", "alpha"):  # as `tether ui` started in each would record them: alpha the latest
        workspaces.remember(made[name])
    return made


def switch_by_keyboard(page, steps=1):
    """Focus the workspace list, move down `steps` options, tab to its button and press Enter."""
    page.focus("#workspace-path")
    for _ in range(steps):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_the_header_lists_the_recent_workspaces_with_their_trust_and_a_keyboard_switches(roots, browser):
    door, server = serve(roots["alpha"], ["DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        assert page.text_content("#root") == str(roots["alpha"])
        assert page.text_content("#root-trust") == "no tether.toml"
        options = page.locator("#workspace-path option").all_inner_texts()
        assert options == [
            f"{roots['alpha']} · no tether.toml · open now",
            f"{roots['beta']} · config not trusted",
            f"{roots['gamma']} · trusted config",
        ]
        page.goto(f"{server.origin}/file?path=alpha.txt")
        assert "the alpha file" in page.text_content("main")
        switch_by_keyboard(page)
        page.wait_for_url("**/runs")
        assert page.text_content("#root") == str(roots["beta"])
        assert page.text_content("#root-trust") == "config not trusted"
        assert "mcp.write" in page.text_content("#trust")  # opened with its narrowed config, and the banner says so
        assert page.locator("#workspace-path option[selected]").inner_text().startswith(str(roots["beta"]))
        page.click("nav >> text=Context")
        main = page.text_content("main")
        assert "beta.txt" in main and "alpha.txt" not in main
        page.goto(f"{server.origin}/file?path=beta.txt")
        assert "the beta file" in page.text_content("main")
        assert errors == []
        assert page.goto(f"{server.origin}/file?path=alpha.txt").status == 400  # alpha's files are not beta's
        assert workspaces.read()[0][0] == str(roots["beta"])  # the one opened is the most recent now
    finally:
        server.shutdown()


def test_a_path_not_in_the_recent_list_is_refused(roots, isolated, browser):
    other = isolated / "elsewhere"
    other.mkdir()
    (other / "secret.txt").write_text("not for this server\n")
    door, server = serve(roots["alpha"], ["DONE"])
    try:
        page, _ = open_ui(browser, door, server)
        csrf = page.get_attribute("meta[name=csrf]", "content")
        for path in (str(other), "/", f"{roots['beta']}/../elsewhere"):
            answer = page.request.post(f"{server.origin}/workspace", form={"csrf": csrf, "path": path})
            assert answer.status == 403
            assert "is not one of the recent workspaces" in answer.json()["error"]
        assert page.request.post(f"{server.origin}/workspace", form={"path": str(roots["beta"])}).status == 403  # no CSRF token
        page.goto(f"{server.origin}/runs")
        assert page.text_content("#root") == str(roots["alpha"])
        assert str(other) not in page.text_content("#workspace-path")
    finally:
        server.shutdown()


def test_a_switch_while_a_run_goes_is_refused_and_the_old_runs_stay_with_their_workspace(roots, browser):
    door, server = serve(roots["alpha"], [{"text": EDIT, "delay": 600}])
    try:
        page, _ = open_ui(browser, door, server)
        start_run(page, "think for ten minutes", level="auto")
        page.wait_for_selector("text=waiting for its first token")
        switch_by_keyboard(page)
        page.wait_for_selector("p.error")
        assert "r1 is still going" in page.text_content("p.error")
        assert page.text_content("#root") == str(roots["alpha"])
        page.goto(f"{server.origin}/runs/r1")
        page.click("#stop")
        page.wait_for_selector("#final")
        page.goto(f"{server.origin}/runs")
        assert "think for ten minutes" in page.text_content("main")
        switch_by_keyboard(page)
        page.wait_for_url("**/runs")
        assert page.text_content("#root") == str(roots["beta"])
        assert "think for ten minutes" not in page.text_content("main")  # alpha's run is not beta's
        assert page.goto(f"{server.origin}/runs/r1").status == 400
    finally:
        server.shutdown()
