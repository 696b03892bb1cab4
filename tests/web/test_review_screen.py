"""The review screen as a person reads it, in Debian's chromium: code coloured, the changed word
marked, a file list that keeps count, folded context that unfolds, a one-hunk accept that shows
what it did and that u takes back byte for byte, and a run log that holds what was rejected."""

import subprocess

from tests.web.test_ui import browser, open_ui, serve  # noqa: F401 - the fixtures
from tether.autonomy.history import runlog
from tether.store import Store

CODE = 'def area(w, h):\n    """The area."""\n    return w * h + 1\n' + "".join(f"v{n} = {n}\n" for n in range(60))
LOOKS = "<img src=x onerror=alert(1)>"


def block(path: str, old: str, new: str) -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n```\n"


def make(isolated, files: dict[str, str]):
    root = isolated / "ws"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def start(page, instruction="fix it"):
    page.fill("textarea[name=instruction]", instruction)
    page.check("input[name=level][value=approve]")
    page.click("#start button[type=submit]")
    page.wait_for_url("**/runs/r*")


def colour_of(page, selector):
    return page.locator(selector).first.evaluate("e => getComputedStyle(e).color")


def test_code_is_coloured_the_changed_word_marked_and_file_text_never_markup(isolated, browser):
    root = make(isolated, {"geo.py": CODE.replace("v5 = 5", f"v5 = '{LOOKS}'")})
    door, server = serve(root, [block("geo.py", "    return w * h + 1\n", "    return w * h + 2\n"), "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        start(page)
        page.wait_for_selector("#hunk-0")
        removed, added = page.locator("#hunk-0 .row.del"), page.locator("#hunk-0 .row.add")
        assert removed.locator("mark").all_inner_texts() == ["1"] and added.locator("mark").all_inner_texts() == ["2"]
        assert removed.locator("i.k").inner_text() == "return"
        assert colour_of(page, "#hunk-0 .row.del i.k") != colour_of(page, "#hunk-0 .row.del")  # on screen, not only in the DOM
        assert page.locator("#hunk-0 .row.ctx i.s").first.inner_text() == '"""The area."""'
        page.click("#hunk-0 button.fold >> text=below")  # the rest of the file, where the markup-looking line is
        page.wait_for_selector("#hunk-0 .unfolded")
        assert LOOKS in page.locator("#hunk-0 .unfolded").inner_text()
        assert page.locator("#hunk-0 img").count() == 0 and errors == []
    finally:
        server.shutdown()


def test_the_file_list_counts_and_jumps_and_folded_context_unfolds_with_its_numbers(isolated, browser):
    root = make(isolated, {"a.py": CODE, "b.py": CODE})
    edit = (
        block("a.py", "v2 = 2\n", "v2 = 20\n")
        + block("a.py", "v50 = 50\n", "v50 = 500\n")
        + block("b.py", "v9 = 9\n", "v9 = 90\nv9b = 91\n")
    )
    door, server = serve(root, [edit, "DONE"])
    try:
        page, _ = open_ui(browser, door, server)
        start(page)
        page.wait_for_selector("#hunk-2")
        rows = [r.locator("td").all_inner_texts() for r in page.locator("#files tr").all()]
        assert rows == [["a.py", "+2", "−2", "0 of 2 decided"], ["b.py", "+2", "−1", "0 of 1 decided"]]
        page.keyboard.press("y")
        page.wait_for_selector("#files tr >> nth=0 >> text=1 of 2 decided")
        page.click("#files >> text=b.py")
        assert page.locator("#hunk-2").get_attribute("class") == "hunk-box current"
        fold = page.locator("#hunk-1 button.fold >> text=above")
        assert fold.inner_text().startswith("⋯ 41 unchanged lines above")  # lines 10 to 50 of a.py lie between its two hunks
        fold.click()
        page.wait_for_selector("#hunk-1 .unfolded")
        numbers = page.locator("#hunk-1 .unfolded .row >> nth=0").get_attribute("data-o")
        assert numbers == "10" and page.locator("#hunk-1 .unfolded .row").count() == 41
        assert page.locator("#hunk-1 button.fold >> text=above").count() == 0  # all of it shown: the button goes
    finally:
        server.shutdown()


def test_a_one_hunk_accept_shows_what_it_did_and_u_takes_it_back(isolated, browser):
    root = make(isolated, {"geo.py": CODE})
    door, server = serve(root, [block("geo.py", "    return w * h + 1\n", "    return w * h\n"), "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        start(page)
        page.wait_for_selector("#hunk-0")
        page.keyboard.press("y")
        page.wait_for_selector("#final")
        assert (root / "geo.py").read_text() == CODE.replace(" + 1\n", "\n", 1)
        assert page.locator("#reviewed").is_visible() and page.locator("#hunk-0").is_visible()  # the review stays on screen
        assert page.locator("#reviewed").inner_text().startswith("Applied 1 of 1 hunk.")
        page.keyboard.press("u")
        page.wait_for_selector("#reviewed >> text=undone")
        assert (root / "geo.py").read_bytes() == CODE.encode()  # byte for byte
        page.keyboard.press("z")  # a second press has nothing more to take back, and says nothing wrong
        assert page.locator("#reviewed").inner_text().startswith("undone: this run's change to geo.py") and errors == []
    finally:
        server.shutdown()


def test_the_run_log_holds_what_was_rejected_and_what_the_person_wrote(isolated, browser):
    root = make(isolated, {"a.py": CODE})
    edit = block("a.py", "v2 = 2\n", "v2 = 20\n") + block("a.py", "v50 = 50\n", "v50 = 500\n")
    door, server = serve(root, [edit, "DONE"])
    try:
        page, _ = open_ui(browser, door, server)
        start(page)
        page.wait_for_selector("#hunk-1")
        page.keyboard.press("n")
        page.wait_for_selector("#hunk-0[data-stored=false]")
        page.keyboard.press("e")
        page.fill("#hunk-editor", "v50 = 'mine'\n")
        page.click("#save-edit")
        page.wait_for_selector("#final")
        assert "v50 = 'mine'" in (root / "a.py").read_text() and "v2 = 2\n" in (root / "a.py").read_text()
        store = Store()
        run, steps = runlog.replay(store, runlog.runs(store, chats=False)[0]["id"])
        review = next(s for s in steps if s["kind"] == "decision" and s.get("tool") == "review")
        assert review["taken"] == [False, True]
        assert "-v2 = 2\n+v2 = 20\n" in review["rejected"][0] and "+v50 = 'mine'\n" in review["edited"][0]
        applied = next(s for s in steps if s["kind"] == "diff" and s.get("applied"))
        assert "+v50 = 'mine'" in applied["diff"] and "v2 = 20" not in applied["diff"]  # what was written, not what the model proposed
        page.goto(f"{server.origin}/replay/{run['id']}")
        assert "1 of 2 hunks taken" in page.inner_text("main") and page.locator(".step-decision pre.diff >> text=+v2 = 20").count() == 1
    finally:
        server.shutdown()


def test_a_mouse_reviews_too_and_a_stray_key_on_the_level_never_raises_it(isolated, browser):
    root = make(isolated, {"a.py": CODE})
    edit = block("a.py", "v2 = 2\n", "v2 = 20\n") + block("a.py", "v50 = 50\n", "v50 = 500\n")
    door, server = serve(root, [edit, "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        start(page)
        page.wait_for_selector("#hunk-1")
        assert page.inner_text("#status").startswith("waiting for your review: 2 hunks")
        page.focus("#level")
        page.keyboard.press("a")  # meant for the review: accept the file; the select would have picked "agent" or "auto"
        page.wait_for_selector("#final")
        assert page.input_value("#level") == "approve" and "level →" not in page.inner_text("#steps")
        assert "v2 = 20" in (root / "a.py").read_text() and "v50 = 500" in (root / "a.py").read_text()
        assert page.locator("#hunk-0 .state-tag").evaluate("e => getComputedStyle(e, '::after').content") == '"accepted"'
        page.keyboard.press("?")
        assert page.is_visible("#keys")
        page.keyboard.press("Escape")
        assert not page.is_visible("#keys") and errors == []
    finally:
        server.shutdown()


def test_buttons_accept_reject_and_edit_and_an_edit_can_be_cancelled(isolated, browser):
    root = make(isolated, {"a.py": CODE})
    edit = block("a.py", "v2 = 2\n", "v2 = 20\n") + block("a.py", "v50 = 50\n", "v50 = 500\n")
    door, server = serve(root, [edit, "DONE"])
    try:
        page, _ = open_ui(browser, door, server)
        start(page)
        page.wait_for_selector("#hunk-1")
        page.click("#hunk-0 button[data-act=e]")
        page.keyboard.press("Escape")  # changed my mind: nothing decided
        assert page.locator("#hunk-editor").count() == 0 and page.get_attribute("#hunk-0", "data-decision") == "null"
        page.click("#hunk-0 button[data-act=e]")
        page.fill("#hunk-editor", "v2 = 'two'\nv2b = 'more'\n")
        page.click("#save-edit")
        page.wait_for_selector("#files tr >> text=+3")  # the file's count follows the person's text (was +2)
        page.click("#hunk-1 button[data-act=n]")
        page.wait_for_selector("#final")
        text = (root / "a.py").read_text()
        assert "v2 = 'two'\nv2b = 'more'\n" in text and "v50 = 50\n" in text
    finally:
        server.shutdown()


def test_an_answer_cut_short_keeps_what_it_had_written(isolated, browser):
    root = make(isolated, {"notes.txt": "line 1\nline 2\nline 3\n"})
    reply = '{"claims": [ {"text": "Line two says hello", "cite": [1]}, {"text": "Line three says bye", "cite": [1]} ]}'
    cut = {"text": reply, "fail_after": 10}  # the first claim is written, then the stream breaks
    door, server = serve(root, [cut] * 4)  # every try is cut: the question fails
    try:
        page, _ = open_ui(browser, door, server)
        page.goto(f"{server.origin}/ask")
        page.fill("input[name=question]", "What do the lines say?")
        page.click("text=Ask >> nth=-1")
        page.wait_for_selector("#final")
        assert page.inner_text("#final") == "error"
        assert page.locator("#written li").all_inner_texts() == ["Line two says hello"]  # what streamed before the cut
    finally:
        server.shutdown()


def test_secrets_a_review_would_show_are_redacted_and_a_csharp_file_reviews(isolated, browser):
    env = "DEBUG=1\nDB_PASSWORD=hunter2-very-secret\nANTHROPIC_API_KEY=sk-ant-api03-" + "x" * 40 + "\n"
    root = make(isolated, {".env": env, "Program.cs": "class P {\n    static void Main() { }\n}\n"})
    edit = block(".env", "DEBUG=1\n", "DEBUG=0\n") + block(
        "Program.cs", "    static void Main() { }\n", "    static void Main() { return; }\n"
    )
    door, server = serve(root, [edit, "DONE"])
    try:
        page, _ = open_ui(browser, door, server)
        start(page)
        page.wait_for_selector("#hunk-1")
        shown = page.inner_text("main")
        assert "hunter2" not in shown and "sk-ant-api03" not in shown and "DEBUG=0" in shown
        assert page.locator("#hunk-1 .row.add i.k").first.inner_text() == "static"  # C#'s lexer keeps its rules per instance
    finally:
        server.shutdown()


def test_undo_from_an_older_run_never_takes_back_a_later_runs_change(isolated, browser):
    root = make(isolated, {"a.py": CODE})
    door, server = serve(root, [block("a.py", "v2 = 2\n", "v2 = 20\n"), block("a.py", "v3 = 3\n", "v3 = 30\n")])
    try:
        page, _ = open_ui(browser, door, server)
        for _ in range(2):  # the same words twice: two runs, two changes
            page.goto(f"{server.origin}/runs")
            page.fill("textarea[name=instruction]", "fix it")
            page.check("input[name=level][value=auto]")
            page.click("#start button[type=submit]")
            page.wait_for_selector("#final")
        first = page.url.rsplit("/", 1)[0] + "/r1"
        csrf = page.get_attribute("meta[name=csrf]", "content")
        refused = page.request.post(f"{first}/undo", headers={"x-csrf-token": csrf, "content-type": "application/json"}, data="{}")
        assert refused.status == 409 and "not the last one applied" in refused.json()["error"]
        assert "v2 = 20" in (root / "a.py").read_text() and "v3 = 30" in (root / "a.py").read_text()  # both changes stay
    finally:
        server.shutdown()
