"""`tether ui` in a real browser (Debian's chromium driven by Playwright) and at its door (httpx):
review by keys with the bytes on disk checked, Stop, restore, citations, the ledger chart, and
the defences (one-time token, Host, Origin, CSRF, CSP, escaping)."""

import html
import json
import re
import shutil
import subprocess

import httpx
import pytest

from tests.conftest import user_config
from tether.llm.router import Grid
from tether.serving import Server
from tether.web import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ORIGINAL = "".join(f"line {n}\n" for n in range(1, 31))
FIRST, SECOND, THIRD = "line 2\n", "line 15\n", "line 28\n"
EDIT = "".join(f"notes.txt\n```\n<<<<<<< SEARCH\n{old}=======\n{old.upper()}>>>>>>> REPLACE\n```\n" for old in (FIRST, SECOND, THIRD))
ANSWER = "Line two says hello (notes.txt:2-3)."


def toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(toml(v) for v in value) + "]" if isinstance(value, list) else json.dumps(value)


def serve(root, replies, rest='[verify]\nsandbox = "off"\n'):
    """`tether ui` on 127.0.0.1 over a scripted model; `rest`: the user config's other tables."""
    user_config(f'[providers.s]\nkind = "scripted"\noptions = {{ replies = {toml(replies)} }}\n[routes.default]\nmodels = ["s/m"]\n' + rest)
    grid = Grid.from_config(None, start=root)
    door = create_app(grid, root, "127.0.0.1", 0)
    server = Server(door, "127.0.0.1", 0)
    door.port = server.server_address[1]
    server.start()
    return door, server


@pytest.fixture
def workspace(isolated):
    root = isolated / "ws"
    root.mkdir()
    (root / "notes.txt").write_text(ORIGINAL)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `make test` installs it (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def open_ui(browser, door, server):
    page = browser.new_page()
    page.set_default_timeout(30_000)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server.origin}/?token={door.token}")
    return page, errors


def start_run(page, instruction, level="approve"):
    page.fill("textarea[name=instruction]", instruction)
    page.check(f"input[name=level][value={level}]")
    page.click("#start button[type=submit]")
    page.wait_for_url("**/runs/r*")


def test_review_by_keys_writes_exactly_the_decided_hunks(workspace, browser):
    door, server = serve(workspace, [EDIT, "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        start_run(page, "upper-case three lines")
        page.wait_for_selector("#hunk-2")
        page.keyboard.press("y")  # hunk 1: taken
        page.wait_for_selector("#hunk-0[data-decision=true]")
        page.keyboard.press("n")  # hunk 2: rejected
        page.wait_for_selector("#hunk-1[data-decision=false]")
        page.keyboard.press("e")  # hunk 3: edited by hand, then taken
        page.fill("#hunk-editor", "line 28, edited\n")
        page.click("#save-edit")
        page.wait_for_selector("#final")
        assert page.text_content("#final") == "done"
        expected = ORIGINAL.replace(FIRST, FIRST.upper()).replace(THIRD, "line 28, edited\n")
        assert (workspace / "notes.txt").read_text() == expected
        assert errors == []
    finally:
        server.shutdown()


def test_undo_a_decision_and_the_keys_help(workspace, browser):
    door, server = serve(workspace, [EDIT, "DONE"])
    try:
        page, _ = open_ui(browser, door, server)
        start_run(page, "upper-case three lines")
        page.wait_for_selector("#hunk-2")
        page.keyboard.press("?")
        assert page.is_visible("#keys")
        page.keyboard.press("n")
        page.wait_for_selector("#hunk-0[data-decision=false]")
        page.keyboard.press("u")  # changed my mind
        page.wait_for_selector("#hunk-0[data-decision=null]")
        page.keyboard.press("a")  # every hunk of the file
        page.wait_for_selector("#final")
        assert (workspace / "notes.txt").read_text() == ORIGINAL.replace(FIRST, FIRST.upper()).replace(SECOND, SECOND.upper()).replace(
            THIRD, THIRD.upper()
        )
    finally:
        server.shutdown()


def test_stop_ends_a_run_in_the_middle_of_a_generation(workspace, browser):
    door, server = serve(workspace, [{"text": EDIT, "delay": 600}])
    try:
        page, _ = open_ui(browser, door, server)
        start_run(page, "think for ten minutes", level="auto")
        page.wait_for_selector("text=waiting for its first token")  # the request is out; the model holds it
        page.click("#stop")
        page.wait_for_selector("#final")
        assert page.text_content("#final") == "stopped"
        assert (workspace / "notes.txt").read_text() == ORIGINAL
    finally:
        server.shutdown()


def test_timeline_restores_and_ask_opens_a_citation_and_the_ledger_charts(workspace, browser):
    door, server = serve(workspace, [EDIT, ANSWER])  # at level auto the applied change ends the run: no DONE is asked for
    try:
        page, _ = open_ui(browser, door, server)
        start_run(page, "upper-case three lines", level="auto")
        page.wait_for_selector("#final")
        assert (workspace / "notes.txt").read_text() != ORIGINAL
        page.click("nav >> text=Timeline")
        page.click("text=Undo every change")
        page.wait_for_selector("text=the workspace is at change 0")
        assert (workspace / "notes.txt").read_text() == ORIGINAL
        page.click("nav >> text=Ask")
        page.fill("input[name=question]", "What does line two say?")
        page.click("text=Ask >> nth=-1")
        page.wait_for_selector("#final")  # the question runs like a run, then the page shows the checked answer
        assert page.locator(".claims .state").all_text_contents() == ["unchecked"]  # it names no code: no line can confirm it
        assert page.locator("pre.cited-lines").inner_text() == "notes.txt:2  line 2\nnotes.txt:3  line 3"  # beside the claim
        assert page.locator("pre.cited-lines").is_visible()
        page.click("a.cite")
        page.wait_for_url("**/file?path=notes.txt*")
        assert page.locator(".cited").all_text_contents() == ["line 2", "line 3"]
        page.click("nav >> text=Ledger")
        assert page.locator("#chart rect").count() >= 1
    finally:
        server.shutdown()


def test_memory_keeps_a_note_only_on_a_persons_yes(workspace, browser):
    remember = EDIT + "\nREMEMBER: notes.txt is numbered line by line\nREMEMBER: upper case is for headings\n"
    door, server = serve(workspace, [remember, "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        start_run(page, "upper-case three lines", level="auto")
        page.wait_for_selector("#final")
        page.click("nav >> text=Memory")
        assert page.locator(".note-text").all_text_contents() == ["notes.txt is numbered line by line", "upper case is for headings"]
        assert not (workspace / ".tether").exists()
        page.locator("#note-1 >> text=Keep").click()
        page.wait_for_selector("text=kept in .tether/memory.md")
        page.locator("#note-2 >> text=Drop").click()
        page.wait_for_selector("text=nothing waits for a decision")
        kept = (workspace / ".tether" / "memory.md").read_text()
        assert "notes.txt is numbered line by line" in kept and "upper case" not in kept and not errors
    finally:
        server.shutdown()


# -- the door, without a browser ---------------------------------------------------------------


def test_the_door(workspace):
    (workspace / "evil.py").write_text("<script>alert(1)</script>\n")
    door, server = serve(workspace, ["x"])
    try:
        base = server.origin
        assert httpx.get(f"{base}/runs").status_code == 401
        signed = httpx.get(f"{base}/?token={door.token}")
        assert (
            signed.status_code == 303 and "HttpOnly" in signed.headers["set-cookie"] and "SameSite=Strict" in signed.headers["set-cookie"]
        )
        assert httpx.get(f"{base}/?token={signed.request.url.params['token']}").status_code == 401  # the token works once
        c = httpx.Client(base_url=base, cookies=signed.cookies)
        page = c.get("/runs")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        assert c.get("/runs", headers={"host": "evil.example:80"}).status_code == 400  # DNS rebinding
        csrf = page.text.split('name="csrf" content="')[1].split('"')[0]
        assert c.post("/runs", data={"instruction": "x", "csrf": csrf}, headers={"origin": "http://evil.example"}).status_code == 403
        for route in ("/runs", "/timeline/restore", "/ask", "/runs/r1/stop", "/runs/r1/decide", "/runs/r1/unfold", "/runs/r1/undo"):
            assert c.post(route, data={"instruction": "x"}).status_code == 403, route  # no CSRF token, no change
        shown = c.get("/file", params={"path": "evil.py"}).text
        assert "<script>alert" not in shown and "<script>alert(1)</script>" in html.unescape(
            re.sub(r"<[^>]*>", "", shown)
        )  # coloured, as text
        (workspace / "link").symlink_to(workspace / ".git")  # a link into .git is .git
        (workspace / "out").symlink_to("/etc")  # and a link out of the workspace is outside it
        for escape in ("../../etc/passwd", ".git/config", "/etc/passwd", "link/config", "out/passwd"):
            assert c.get("/file", params={"path": escape}).status_code == 400
        bad = c.post("/runs", data={"instruction": "x", "csrf": csrf, "level": "reckless"}, headers={"accept": "text/html"})
        assert bad.status_code == 400 and "unknown autonomy level" in bad.text
    finally:
        server.shutdown()


def test_two_tabs_deciding_the_same_hunk(workspace):
    door, server = serve(workspace, [EDIT, "DONE"])
    try:
        c = httpx.Client(base_url=server.origin, follow_redirects=False)
        c.get(f"/?token={door.token}")
        csrf = c.get("/runs").text.split('name="csrf" content="')[1].split('"')[0]
        assert c.post("/runs", data={"instruction": "x", "level": "approve", "csrf": csrf}).status_code == 303
        with c.stream("GET", "/runs/r1/events") as events:
            question = next(json.loads(line[6:]) for line in events.iter_lines() if line.startswith("data: ") and '"question"' in line)
        h = {"x-csrf-token": csrf}
        assert c.post("/runs/r1/decide", json={"id": question["id"], "hunk": 0, "taken": True}, headers=h).status_code == 200
        again = c.post("/runs/r1/decide", json={"id": question["id"], "hunk": 0, "taken": False}, headers=h)
        assert again.status_code == 409 and "already decided" in again.json()["error"]
        assert c.post("/runs/r1/decide", json={"id": question["id"], "hunk": 9, "taken": True}, headers=h).status_code == 400
        assert c.post("/runs/r1/decide", json={"id": question["id"], "hunk": 1, "taken": "yes"}, headers=h).status_code == 400
        c.post("/runs/r1/stop", headers=h)
    finally:
        server.shutdown()


@pytest.mark.slow
def test_a_real_embedded_model_run_through_the_browser(workspace, browser):
    """The default offline path end to end: the page starts a run on the embedded model and shows
    its answer and what it cost."""
    door, server = serve(workspace, ["unused"])
    try:
        page, errors = open_ui(browser, door, server)
        page.set_default_timeout(300_000)
        page.fill("input[name=model_other]", "local/smollm2-135m")
        start_run(page, "What is on the second line of notes.txt?", level="ask")
        page.wait_for_selector("#final")
        assert page.text_content("#final") in ("answered", "unchanged", "done")
        assert page.locator(".step-reply").count() >= 1 and "local/smollm2-135m" in page.text_content("#steps")
        assert (workspace / "notes.txt").read_text() == ORIGINAL and errors == []
    finally:
        server.shutdown()


def test_the_wiki_page_shows_checked_claims_that_open_their_lines(workspace, browser):
    from tether.autonomy.answers.wiki import Wiki

    (workspace / "pkg").mkdir()
    (workspace / "pkg" / "notes.py").write_text("def line_two():\n    return 'hello'\n")
    (workspace / "pkg" / "other.py").write_text("from pkg.notes import line_two\n\n\ndef shout():\n    return line_two().upper()\n")
    claims = json.dumps(
        {"claims": [{"text": "`line_two` returns hello", "snippets": ["S1"]}, {"text": "`ghost` haunts", "snippets": ["S1"]}]}
    )
    door, server = serve(workspace, [claims, claims, claims])
    try:
        Wiki(Grid.from_config(None, start=workspace), workspace).build()  # as `tether wiki build` would, beside the server
        page, errors = open_ui(browser, door, server)
        page.click("nav >> text=Wiki")
        page.click(".wiki-pages >> text=notes")
        assert page.locator(".claims li").all_text_contents()[0].startswith("`line_two` returns hello")
        assert "ghost" not in page.content() and "1 claim(s) dropped" in page.content()
        page.click("a.cite")
        page.wait_for_url("**/file?path=pkg/notes.py*")
        assert page.locator(".cited").count() >= 1 and not errors
    finally:
        server.shutdown()
