"""The web app's request bodies, as a careless or hostile client sends them to the real server: a
body over its route's cap is refused (413) before it is read, and a malformed field is one 400
line (or the 401/403 it always was), never a 500."""

import socket

import httpx
import pytest

from tests.web.test_ui import serve, workspace  # noqa: F401 - workspace: the fixture
from tether.web.security import COOKIE, MAX_BODY

CHUNK = 64 * 1024


@pytest.fixture
def app(workspace):  # noqa: F811
    door, server = serve(workspace, ["DONE"])
    yield door, server
    server.shutdown()


@pytest.fixture
def client(app):
    door, server = app
    with httpx.Client(base_url=server.origin, follow_redirects=False, timeout=30) as c:
        c.get(f"/?token={door.token}")  # signed in: the session cookie
        yield c


def send(app, head: str, parts: list[bytes]) -> bytes:
    """A POST's head and `parts` of its body on a fresh connection, never the rest of the body;
    the reply, read until the server closes or goes quiet."""
    door, server = app
    host, port = server.server_address[:2]
    head = f"{head}\r\nhost: {host}:{port}\r\ncookie: {COOKIE}={door.session}\r\ncontent-type: application/json\r\n\r\n"
    reply = b""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head.encode())
        for part in parts:
            s.sendall(part)
        try:
            while piece := s.recv(65536):
                reply += piece
        except (socket.timeout, ConnectionResetError):
            pass
    return reply


def test_a_body_declared_over_the_cap_is_refused_before_it_is_read(app):
    reply = send(app, f"POST /timeline/restore HTTP/1.1\r\ncontent-length: {100 * MAX_BODY}", [b'{"csrf": '])
    assert reply.startswith(b"HTTP/1.1 413") and str(MAX_BODY).encode() in reply


def test_a_chunked_body_is_refused_as_soon_as_it_grows_past_the_cap(app):
    chunks = [b"%x\r\n%s\r\n" % (CHUNK, b" " * CHUNK)] * (MAX_BODY // CHUNK) + [b"1\r\n \r\n"]  # one byte over, never ended
    reply = send(app, "POST /runs/r1/stop HTTP/1.1\r\ntransfer-encoding: chunked", chunks)
    assert reply.startswith(b"HTTP/1.1 413")


def test_an_edited_hunk_may_be_longer_than_the_cap_but_not_endless(app, client):
    csrf = {"x-csrf-token": app[0].csrf}
    long_hunk = client.post("/runs/r9/decide", json={"id": 1, "hunk": 0, "taken": True, "new": "x" * 2 * MAX_BODY}, headers=csrf)
    assert long_hunk.status_code == 400 and "r9" in long_hunk.json()["error"]  # read, and answered: there is no run r9
    reply = send(app, f"POST /runs/r9/decide HTTP/1.1\r\ncontent-length: {100 * MAX_BODY}", [b"{"])
    assert reply.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    "body",
    [
        b'{"csrf": 123}',
        b'{"csrf": ["a", "b"]}',
        b'{"csrf": "CSRF", "number": 1e999}',
        b'{"csrf": "CSRF", "number": 0, "note": {"nested": "object"}}',
        b'{"csrf": "CSRF", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["number csrf", "list csrf", "huge number", "object field", "deep nesting"],
)
def test_malformed_json_fields_are_one_400_line(app, client, body):
    r = client.post("/timeline/restore", content=body.replace(b"CSRF", app[0].csrf.encode()), headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] and "\n" not in r.json()["error"]


def test_a_form_that_is_not_utf8_is_a_400(app, client):
    body = f"csrf={app[0].csrf}&number=0&note=".encode() + b"\xff\xfe"
    r = client.post("/timeline/restore", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]


def test_tokens_that_are_not_ascii_are_refused_not_a_500(app, client):
    door, server = app
    assert (
        client.post(
            "/timeline/restore", content=b"csrf=%C3%A9&number=0", headers={"content-type": "application/x-www-form-urlencoded"}
        ).status_code
        == 403
    )
    assert httpx.get(f"{server.origin}/?token=%C3%A9").status_code == 401
    assert httpx.get(f"{server.origin}/runs", headers={"cookie": f"{COOKIE}=\xe9".encode("latin-1")}).status_code == 401


def test_a_bad_last_event_id_is_a_400(app, client):
    started = client.post("/runs", data={"instruction": "x", "level": "approve", "csrf": app[0].csrf})
    assert started.status_code == 303
    r = client.get(started.headers["location"] + "/events", headers={"last-event-id": "not-a-number"})
    assert r.status_code == 400 and "after must be a whole number" in r.text


def test_a_confirm_whose_yes_is_not_a_boolean_is_a_400_not_a_yes(app, client):
    r = client.post("/runs/r9/confirm", json={"id": 1, "yes": "false"}, headers={"x-csrf-token": app[0].csrf})
    assert r.status_code == 400 and "yes must be true or false" in r.json()["error"]


def test_the_file_page_shows_an_env_file_as_every_face_does(app, client, workspace):  # noqa: F811
    (workspace / ".env").write_text("DB_PASSWORD=hunter2-very-secret\nDEBUG=1\n")
    page = client.get("/file", params={"path": ".env"})
    assert page.status_code == 200 and "DB_PASSWORD" in page.text and "DEBUG" in page.text
    assert "hunter2-very-secret" not in page.text
