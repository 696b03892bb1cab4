"""The Ledger page as a person reads it, measured in Debian's chromium: a chart of a size with axes
and units, per day, per model and per key; stopped, failed and refused calls told apart; and each
budget a bar of what is used and what is left."""

from tests.conftest import user_config
from tests.web.test_ui import EDIT, browser, open_ui, start_run, toml, workspace  # noqa: F401 - the fixtures
from tether.llm.meter import Attempt
from tether.llm.router import Grid
from tether.llm.types import Usage
from tether.serving import Server
from tether.web import create_app

HEAVY = {"text": EDIT, "usage": {"input_tokens": 19_000, "output_tokens": 500}}  # 19,500 tokens of a 20,000 a day budget


def serve(root, replies, project: str = ""):
    """tests.web.test_ui's server, with the project's tether.toml and the grid at hand."""
    if project:
        (root / "tether.toml").write_text(project)
    user_config(
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = {toml(replies)} }}\n'
        '[routes.default]\nmodels = ["s/m"]\n[verify]\nsandbox = "off"\n'
    )
    grid = Grid.from_config(None, start=root)
    door = create_app(grid, root, "127.0.0.1", 0)
    server = Server(door, "127.0.0.1", 0)
    door.port = server.server_address[1]
    server.start()
    return grid, door, server


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def record(grid, model="s/m", key=None, cost=None, outcome="ok", tokens=(100, 50)):
    grid.ledger.record(Attempt("c", 1, None, model.partition("/")[0], model, Usage(*tokens), cost, 5.0, None, outcome, key=key))


def test_the_chart_has_axes_with_units_is_a_chart_high_and_leaves_the_table_on_screen(workspace, browser):
    grid, door, server = serve(workspace, [EDIT])
    try:
        page, errors = open_ui(browser, door, server)
        start_run(page, "upper-case three lines", level="auto")
        page.wait_for_selector("#final")
        page.click("nav >> text=Ledger")
        chart = box(page, "#chart")
        assert chart["height"] <= 220 and chart["width"] <= page.viewport_size["width"]
        assert page.locator("#chart rect").count() == 1  # one day with calls: one bar, the other days of the month at 0
        assert page.locator("#chart text.unit").all_text_contents() == ["tokens", "day"]  # the scripted model has no price
        ticks = page.locator("#chart text.tick").all_text_contents()
        assert ticks[0] == "0" and len(ticks) >= 3 and all(t[0].isdigit() for t in ticks)
        assert "Spend per day, in tokens" in page.locator("figcaption").inner_text()
        header = page.locator("table.ledger-totals tr >> nth=0").locator("th").all_inner_texts()
        assert header[:5] == ["day", "ok", "failed", "stopped", "refused"]
        first_row = box(page, "table.ledger-totals tr >> nth=1")
        assert first_row["y"] + first_row["height"] <= page.viewport_size["height"]  # the chart never pushes the table off screen
        bar = box(page, "#chart rect")
        top_tick, zero_tick = box(page, "#chart line.grid >> nth=-1"), box(page, "#chart line.grid >> nth=0")
        assert zero_tick["y"] - top_tick["y"] >= bar["height"] > 0  # the bar stands on the axis, under its top tick

        page.click("nav.ledger-by >> text=per model")
        page.wait_for_url("**/ledger?by=model")
        assert page.locator("#chart text.label").all_text_contents() == ["s/m"]
        assert page.locator("table.ledger-totals tr >> nth=1").locator("td").first.inner_text() == "s/m"
        page.click("nav.ledger-by >> text=per key")
        assert page.locator("#chart text.label").all_text_contents() == ["(direct)"]  # a call from the UI came with no gateway key
        assert box(page, "#chart")["height"] <= 220
        assert errors == []
    finally:
        server.shutdown()


def test_per_key_bars_are_in_proportion_to_what_each_key_spent_in_usd(workspace, browser):
    grid, door, server = serve(workspace, [])
    try:
        record(grid, "s/m", key="team-a", cost=0.02)
        record(grid, "s/m", key="team-b", cost=0.005)
        record(grid, "s/other", key=None, cost=None)  # unpriced: not drawn in USD, but said
        page, _ = open_ui(browser, door, server)
        page.goto(f"{server.origin}/ledger?by=key")
        assert page.locator("#chart text.label").all_text_contents() == ["team-a", "team-b", "(direct)"]  # most spent first
        a, b = (box(page, f"#chart rect >> nth={n}") for n in (0, 1))
        assert abs(a["height"] / b["height"] - 4) < 0.05 and abs((a["y"] + a["height"]) - (b["y"] + b["height"])) < 0.5
        assert page.locator("#chart text.unit").first.text_content() == "USD"
        assert "$0.02" in page.locator("#chart text.tick").all_text_contents()
        assert "1 call of a model with no price not in USD" in page.locator("figcaption").inner_text()
    finally:
        server.shutdown()


def test_a_stopped_run_counts_as_stopped_and_a_refused_call_as_refused_not_failed(workspace, browser):
    grid, door, server = serve(workspace, [{"text": EDIT, "delay": 600}])
    try:
        record(grid, "s/m", outcome="refused", tokens=(0, 0))
        record(grid, "s/m", outcome="error")
        page, _ = open_ui(browser, door, server)
        start_run(page, "think for ten minutes", level="auto")
        page.wait_for_selector("text=waiting for its first token")
        page.click("#stop")
        page.wait_for_selector("#final")
        page.goto(f"{server.origin}/ledger?by=model")
        headers = page.locator("table.ledger-totals tr >> nth=0").locator("th").all_inner_texts()
        cells = dict(zip(headers, page.locator("table.ledger-totals tr >> nth=1").locator("td").all_inner_texts(), strict=True))
        assert (cells["model"], cells["ok"], cells["failed"], cells["stopped"], cells["refused"]) == ("s/m", "0", "1", "1", "1")
        kinds = page.locator("table.attempts tr[class]").evaluate_all("rows => rows.map(r => r.className)")
        assert kinds == ["stopped", "failed", "refused"]  # newest first: the Stop, the error, the budget's no
        assert page.locator("table.attempts tr.stopped td >> nth=3").inner_text() == "stopped (cancelled)"
    finally:
        server.shutdown()


def test_each_budget_is_a_bar_of_what_is_used_and_left_and_a_refusal_is_counted(workspace, browser):
    project = "[budget]\ntokens_per_day = 20000\ntokens_per_month = 78000\n"  # a project may set a limit: it narrows
    grid, door, server = serve(workspace, [HEAVY, EDIT], project=project)
    try:
        page, _ = open_ui(browser, door, server)
        start_run(page, "upper-case three lines", level="auto")
        page.wait_for_selector("#final")
        page.click("nav >> text=Ledger")
        budgets = page.locator("ul.budgets > li")
        assert budgets.locator(".budget-text").all_inner_texts() == [
            "19,500 of 20,000 tokens used · 500 left",
            "19,500 of 78,000 tokens used · 58,500 left",
        ]
        assert budgets.locator(".scope").all_inner_texts() == ["overall, today", "overall, this month"]
        for n, share in ((0, 19_500 / 20_000), (1, 19_500 / 78_000)):
            track, used = (box(page, f"ul.budgets > li >> nth={n} >> rect.{part}") for part in ("track", "used"))
            assert abs(used["width"] / track["width"] - share) < 0.01
        page.click("nav >> text=Runs")
        start_run(page, "and again", level="auto")  # its first call would pass the day's budget: refused before it is sent
        page.wait_for_selector("#final")
        page.goto(f"{server.origin}/ledger?by=model")
        headers = page.locator("table.ledger-totals tr >> nth=0").locator("th").all_inner_texts()
        cells = dict(zip(headers, page.locator("table.ledger-totals tr >> nth=1").locator("td").all_inner_texts(), strict=True))
        assert (cells["ok"], cells["failed"], cells["refused"]) == ("1", "0", "1")
        assert page.locator("table.attempts tr >> nth=1").get_attribute("class") == "refused"
    finally:
        server.shutdown()


def test_an_exhausted_budget_says_so_and_what_the_ledger_holds_is_shown_as_text(workspace, browser):
    grid, door, server = serve(workspace, [], project="[budget]\ntokens_per_day = 100\n")
    try:
        hostile = '<img src=x onerror="window.pwned=1">'
        record(grid, f"s/{hostile}", key=hostile, tokens=(100, 50), outcome="error")
        page, _ = open_ui(browser, door, server)
        page.goto(f"{server.origin}/ledger?by=key")
        assert page.locator("ul.budgets .budget-text").inner_text() == "150 of 100 tokens used · over by 50"
        assert "over budget" in page.locator("ul.budgets > li").inner_text()
        track, used = box(page, "ul.budgets rect.track"), box(page, "ul.budgets rect.used")
        assert track["width"] - 1.5 <= used["width"] <= track["width"]  # full, never longer than the limit (the track has a 1 px edge)
        assert page.locator("table.attempts tr >> nth=1 >> td >> nth=0").inner_text() == f"s/{hostile}"
        assert page.locator("#chart g.bar >> nth=0 >> title").text_content() == f"{hostile}: 150 tokens (1 call)"
        assert page.evaluate("window.pwned") is None and page.locator("img").count() == 0
    finally:
        server.shutdown()
