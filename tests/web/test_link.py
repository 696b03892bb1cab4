"""`tether ui --link`: a second browser (or a lost URL) gets a fresh one-time sign-in link from the
running server, no restart; only the user who started the server can ask for one."""

import json

import httpx
from typer.testing import CliRunner

from tests.web.test_ui import serve, workspace  # noqa: F401 - the fixture
from tether.cli import app
from tether.web.links import announce


def test_a_fresh_link_signs_in_a_second_browser_and_only_with_the_servers_secret(workspace, tmp_path):
    door, server = serve(workspace, [])
    note = announce(workspace, server.origin, door.admin)
    try:
        first = httpx.get(f"{server.origin}/?token={door.token}")
        assert first.status_code == 303  # the printed URL, used by the first browser
        assert oct(note.stat().st_mode & 0o777) == "0o600"

        done = CliRunner().invoke(app, ["ui", "--link", "-C", str(workspace), "--json"])
        assert done.exit_code == 0, done.output
        url = json.loads(done.stdout)["url"]
        second = httpx.get(url)
        assert second.status_code == 303 and "tether_ui=" in second.headers["set-cookie"]  # a second browser is in
        assert httpx.get(url).status_code == 401  # once

        stolen = httpx.post(f"{server.origin}/door/link", headers={"x-tether-admin": "guess"})
        assert stolen.status_code == 401 and not door.token  # no new token for a guess

        nowhere = tmp_path / "elsewhere"
        nowhere.mkdir()
        refused = CliRunner().invoke(app, ["ui", "--link", "-C", str(nowhere)])
        assert refused.exit_code == 1 and "no tether ui is running" in str(refused.exception)
    finally:
        server.shutdown()
        note.unlink(missing_ok=True)
