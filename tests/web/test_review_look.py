"""What a person sees, measured on screen in Debian's chromium (issue 40's first defects): a diff
is one row a line, side by side keeps context as context, the keys' help and Stop stay in view,
the timeline says where the workspace is, and the ledger's chart is the size of a chart."""

from tests.web.test_ui import EDIT, browser, open_ui, serve, start_run, workspace  # noqa: F401 - the fixtures


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_the_timeline_marks_where_the_workspace_is_and_its_diff_is_one_row_a_line(workspace, browser):
    door, server = serve(workspace, [EDIT])
    try:
        page, errors = open_ui(browser, door, server)
        start_run(page, "upper-case three lines", level="auto")
        page.wait_for_selector("#final")
        page.click("nav >> text=Timeline")
        assert page.locator("#change-1 .tag").inner_text() == "the workspace is here"
        assert page.locator("#change-1 button").count() == 0  # no button that would do nothing
        page.click("#change-1 summary")
        first, second = (box(page, f"#change-1 pre.diff span >> nth={n}") for n in (0, 1))
        assert 0 < second["y"] - first["y"] <= first["height"] * 1.2  # the next line is the next row, not two down
        page.click("text=Undo every change")
        page.wait_for_selector("text=the workspace is at change 0")
        assert page.locator("#change-1 button").inner_text() == "Redo up to here"
        assert errors == []
    finally:
        server.shutdown()


def test_the_ledger_chart_leaves_the_tables_on_screen(workspace, browser):
    door, server = serve(workspace, [EDIT])
    try:
        page, _ = open_ui(browser, door, server)
        start_run(page, "upper-case three lines", level="auto")
        page.wait_for_selector("#final")
        page.click("nav >> text=Ledger")
        assert page.locator("#chart rect").count() == 1
        assert box(page, "#chart")["height"] <= 200
        assert box(page, "h2 >> text=By day")["y"] < page.viewport_size["height"]  # one day of data once drew a bar 3,000 px tall
    finally:
        server.shutdown()


def test_a_long_task_keeps_stop_in_view(workspace, browser):
    door, server = serve(workspace, [{"text": EDIT, "delay": 600}])
    try:
        page, _ = open_ui(browser, door, server)
        start_run(page, "make it so " * 1000, level="auto")
        page.wait_for_selector("text=waiting for its first token")
        stop = box(page, "#stop")
        assert stop["y"] + stop["height"] <= page.viewport_size["height"]  # a 10,000-character heading once pushed it 5,500 px down
        page.click("#stop")
        page.wait_for_selector("#final")
        assert page.text_content("#final") == "stopped"
    finally:
        server.shutdown()


def test_the_keys_help_opens_in_view_and_side_by_side_keeps_context_as_context(workspace, browser):
    door, server = serve(workspace, [EDIT, "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        start_run(page, "upper-case three lines")
        page.wait_for_selector("#hunk-2")
        page.keyboard.press("?")
        keys = box(page, "#keys")
        assert page.is_visible("#keys") and 0 <= keys["y"] and keys["y"] + keys["height"] <= page.viewport_size["height"]
        page.keyboard.press("?")
        page.click("#show-keys")  # the same list for a mouse
        assert page.is_visible("#keys") and page.get_attribute("#show-keys", "aria-expanded") == "true"
        page.click("#show-keys")
        assert not page.is_visible("#keys")
        page.keyboard.press("s")
        left, right = page.locator("#hunk-0 .side .diff").all()
        assert left.locator(".row.del").all_inner_texts() == ["line 2"] and right.locator(".row.add").all_inner_texts() == ["LINE 2"]
        assert left.locator(".row.ctx").first.inner_text() == "line 1" == right.locator(".row.ctx").first.inner_text()  # context both sides
        assert left.locator(".row.add").count() == 0 and right.locator(".row.del").count() == 0
        assert errors == []
    finally:
        server.shutdown()


def test_a_bad_start_keeps_the_form_and_a_second_run_links_to_the_first(workspace, browser):
    door, server = serve(workspace, [{"text": EDIT, "delay": 600}])
    try:
        page, _ = open_ui(browser, door, server)
        models = page.locator("select[name=model] option").all_inner_texts()
        assert models[0] == "default" and "s/m" in models  # the routes, then the models that can answer now
        page.fill("textarea[name=instruction]", "upper-case three lines")
        page.fill("input[name=max_steps]", "0")
        page.click("#start button[type=submit]")
        assert page.locator("p.error").inner_text() == "max steps must be a whole number > 0 (got 0)"
        assert page.input_value("textarea[name=instruction]") == "upper-case three lines"  # nothing typed is lost
        assert page.input_value("input[name=max_steps]") == "0"
        page.fill("input[name=max_steps]", "")
        page.check("input[name=level][value=auto]")
        page.click("#start button[type=submit]")
        page.wait_for_url("**/runs/r1")
        page.wait_for_selector("text=waiting for its first token")
        page.click("nav >> text=Runs")
        page.fill("textarea[name=instruction]", "another one")
        page.click("#start button[type=submit]")
        assert "already going" in page.locator("p.error").inner_text()
        page.click("p.error >> text=go to it")
        page.wait_for_url("**/runs/r1")
        page.click("#stop")
        page.wait_for_selector("#final")
        page.click("nav >> text=Ledger")
        page.click("nav.ledger-by >> text=per model")
        row = page.locator("table >> nth=0").locator("tr >> nth=1").locator("td").all_inner_texts()
        assert row[:4] == ["s/m", "0", "0", "1"]  # model, ok, failed, stopped: a Stop is not a failure
    finally:
        server.shutdown()


def test_a_file_shows_one_row_a_line(workspace, browser):
    door, server = serve(workspace, [])
    try:
        page, _ = open_ui(browser, door, server)
        page.goto(f"{server.origin}/file?path=notes.txt")
        first, second = box(page, "#L1"), box(page, "#L2")
        assert 0 < second["y"] - first["y"] <= first["height"] * 1.2 and first["height"] < 30
        assert page.locator("#L1").evaluate("e => getComputedStyle(e, '::before').content") == '"1"'  # numbered on its own row
    finally:
        server.shutdown()


def test_a_finished_run_links_to_its_timeline_and_the_run_list_shows_cost_time_and_changes(workspace, browser):
    door, server = serve(workspace, [EDIT])
    try:
        page, _ = open_ui(browser, door, server)
        start_run(page, "upper-case three lines", level="auto")
        page.wait_for_selector("#final")
        page.click("#to-timeline")
        page.wait_for_url("**/timeline")
        assert page.locator("#change-1 .tag").is_visible()
        page.click("nav >> text=Runs")
        headers = page.locator("table.runs tr >> nth=0").locator("th").all_inner_texts()
        cells = dict(zip(headers, page.locator("table.runs tr >> nth=1").locator("td").all_inner_texts(), strict=True))
        assert (
            cells["status"] == "done" and cells["changed"] == "notes.txt" and cells["cost"] == "unknown"
        )  # the scripted model has no price: not $0
        assert cells["time"].endswith(" s")
    finally:
        server.shutdown()


def test_the_digest_lists_each_file_with_its_tokens_and_opens_it(workspace, browser):
    door, server = serve(workspace, [])
    try:
        page, _ = open_ui(browser, door, server)
        page.click("nav >> text=Context")
        row = page.locator("table.files tr", has_text="notes.txt").locator("td").all_inner_texts()
        assert row[0] == "notes.txt" and int(row[1].replace(",", "")) > 30
        page.click("table.files >> text=notes.txt")
        page.wait_for_url("**/file?path=notes.txt")
        assert page.locator("#L1").inner_text() == "line 1"  # the number is drawn beside it, not copied with it
    finally:
        server.shutdown()
