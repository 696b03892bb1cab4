"""The gateway as an attacker or a careless client meets it: every bad request is a 400 in
OpenAI's error shape on a connection that stays usable, a stalled body is cut off, a burst of
clients is served without a reset, and a bad port is one line."""

import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tether.llm import gateway as gateway_mod
from tether.llm.gateway import GatewayServer

TOKEN = "tok-hardening"


@pytest.fixture
def gateway(make_grid, upstream):
    grid = make_grid({"providers": {"up": {"kind": "openai", "base_url": upstream.url + "/v1"}}})
    server = GatewayServer(grid, TOKEN, port=0)
    server.start()
    yield server
    server.shutdown()
    server.server_close()


def raw(server, data: bytes, timeout: float = 30) -> bytes:
    """Send bytes on a fresh connection; what came back before the server closed or went quiet."""
    with socket.create_connection(server.server_address[:2], timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                piece = s.recv(65536)
            except socket.timeout:
                break
            if not piece:
                break
            out += piece
            if b"\r\n\r\n" in out and _complete(out):
                break
    return out


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def post(server, body, token=TOKEN):
    return httpx.post(
        server.url + "/chat/completions",
        content=body if isinstance(body, bytes) else json.dumps(body),
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"model": "up/ok", "messages": [{"role": "user", "content": "x"}], "max_tokens": "abc"}, "max_tokens"),
        ({"model": "up/ok", "messages": [{"role": "user", "content": "x"}], "response_format": "json"}, "response_format"),
        ({"model": "up/ok", "messages": [{"role": "user", "content": "x"}], "temperature": 9}, "temperature"),
        ({"model": "up/ok", "messages": "hello"}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "up/ok", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ],
)
def test_bad_fields_are_400_in_openais_shape(gateway, body, field):
    r = post(gateway, body)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error" and field in r.json()["error"]["message"]


def test_a_401_with_a_body_leaves_the_connection_usable(gateway):
    with httpx.Client(timeout=30) as client:  # one keep-alive connection
        body = json.dumps({"model": "up/ok", "messages": [{"role": "user", "content": "hi"}]})
        first = client.post(gateway.url + "/chat/completions", content=body, headers={"authorization": "Bearer wrong"})
        second = client.post(gateway.url + "/chat/completions", content=body, headers={"authorization": f"Bearer {TOKEN}"})
    assert first.status_code == 401 and second.status_code == 200 and second.json()["choices"][0]["message"]["content"] == "ok: hi"


def test_a_negative_content_length_is_refused_not_hung(gateway):
    reply = raw(
        gateway,
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + TOKEN.encode() + b"\r\ncontent-length: -1\r\n\r\n{}",
    )
    assert reply.startswith(b"HTTP/1.1 400")


def test_a_stalled_body_is_cut_off(gateway, monkeypatch):
    monkeypatch.setattr(gateway_mod, "READ_TIMEOUT", 0.2)
    reply = raw(
        gateway,
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer "
        + TOKEN.encode()
        + b'\r\ncontent-length: 1000\r\n\r\n{"model":',
    )
    assert reply.startswith(b"HTTP/1.1 400") and b"did not arrive" in reply


@pytest.mark.slow  # 256 requests through a real gateway server to the fake upstream
def test_a_burst_of_clients_is_served_without_a_reset(gateway):
    body = {"model": "up/ok", "messages": [{"role": "user", "content": "burst"}]}
    with ThreadPoolExecutor(128) as pool:
        results = list(pool.map(lambda _: post(gateway, body).status_code, range(256)))
    assert results == [200] * 256


def test_a_bad_port_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tether.cli", "gateway", "--port", "99999"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "99999" in done.stderr and "Traceback" not in done.stderr
