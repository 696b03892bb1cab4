"""The MCP servers of the user's config in the web app, in chromium: the Start form names them,
/mcp lists their tools, and a run started from the page asks before calling one and shows the call."""

import json
import sys

from tests.conftest import user_config
from tests.mcp.test_client import FAKE
from tests.web.test_ui import browser, open_ui, start_run, toml, workspace  # noqa: F401 - fixtures
from tether.llm.router import Grid
from tether.serving import Server
from tether.web import create_app


def serve(root, replies):
    user_config(
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = {toml(replies)} }}\n'
        '[routes.default]\nmodels = ["s/m"]\n[verify]\nsandbox = "off"\n'
        f'[mcp.servers.evil]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(FAKE)}, "hostile"]\n'
        '[mcp.servers.gone]\ncommand = "no-such-program-here"\n'
    )
    door = create_app(Grid.from_config(None, start=root), root, "127.0.0.1", 0)
    server = Server(door, "127.0.0.1", 0)
    door.port = server.server_address[1]
    server.start()
    return door, server


def test_the_start_form_names_the_servers_and_their_page_lists_the_tools(workspace, browser):  # noqa: F811
    door, server = serve(workspace, ["DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        assert "Tools of other programs: evil, gone" in page.text_content("#mcp-tools")
        page.click("#mcp-tools a")
        page.wait_for_selector("#server-evil")
        assert "mcp:evil:count" in page.text_content("#server-evil") and "started" in page.text_content("#server-evil")
        assert "failed" in page.text_content("#server-gone") and "no such program" in page.text_content("#server-gone")
        assert errors == []
    finally:
        server.shutdown()


def test_a_run_from_the_page_asks_before_an_mcp_call_and_shows_it(workspace, browser):  # noqa: F811
    door, server = serve(workspace, ['TOOL mcp:evil:count {"word": "deploy"}', "DONE", "DONE"])
    try:
        page, errors = open_ui(browser, door, server)
        start_run(page, "count the letters of deploy", level="approve")
        page.wait_for_selector("#yes")
        assert 'mcp:evil:count: {"word": "deploy"}' in page.text_content("#question")
        page.click("#yes")
        page.wait_for_selector("#final")
        assert 'mcp:evil:count {"word": "deploy"}' in page.text_content("#steps")
        page.goto(f"{server.origin}/runs")
        page.click("table.runs a[href^='/replay/']")  # the run's log: the call with its arguments and result
        page.wait_for_selector("ol.steps")
        logged = page.text_content("ol.steps")
        assert '"name": "mcp:evil:count"' in logged and '\\"letters\\": 6' in logged
        assert errors == []
    finally:
        server.shutdown()
