"""The grid's cost next to the network, measured against its peers in one run.

  * per-call overhead over a raw httpx POST, for tether's Grid, the openai SDK and litellm,
    all against one fake OpenAI-compatible server on 127.0.0.1 (its own process, TCP_NODELAY);
  * the gateway hop (a client through `tether gateway` vs straight to the server);
  * import time of `tether`, `from tether import Grid`, openai and litellm;
  * the local model's time to first token on a second turn that shares a 1,500-token prefix.

litellm is installed from PyPI into benchmarks/.venv-litellm (created on first run).
Usage: python benchmarks/grid.py [--n 2000] [--local-model qwen2.5-coder-1.5b | --no-local]
Writes benchmarks/results/grid.md (the newest run on top, earlier runs as history rows)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _peers import python_peer  # noqa: E402
from _results import record  # noqa: E402

LITELLM = "litellm==1.110.2"
BODY = {"model": "ok-bench", "messages": [{"role": "user", "content": "benchmark prompt"}], "max_tokens": 16}

# Runs inside the peer venv: raw httpx and litellm against the same server, in one process.
PEER_CLIENT = r"""
import json, sys, time, statistics
url, n = sys.argv[1], int(sys.argv[2])
import httpx
def p50s(*fns, rounds=20):
    for fn in fns:
        for _ in range(n // 10): fn()
    xs = [[] for _ in fns]
    for _ in range(rounds):
        for fn, out in zip(fns, xs):
            for _ in range(n // rounds):
                t = time.perf_counter_ns(); fn(); out.append((time.perf_counter_ns() - t) / 1e6)
    return [statistics.median(x) for x in xs]
body = json.loads(sys.argv[3])
client = httpx.Client()
import litellm
litellm.telemetry = False
msgs = body["messages"]
router = litellm.Router(model_list=[{"model_name": "r", "litellm_params": {"model": "openai/ok-bench", "api_base": url + "/v1", "api_key": "x"}}])
raw, lite, rout = p50s(
    lambda: json.loads(client.post(url + "/v1/chat/completions", content=json.dumps(body), headers={"content-type": "application/json", "authorization": "Bearer x"}).content)["choices"][0]["message"]["content"],
    lambda: litellm.completion(model="openai/ok-bench", messages=msgs, api_base=url + "/v1", api_key="x", max_tokens=16).choices[0].message.content,
    lambda: router.completion(model="r", messages=msgs, max_tokens=16).choices[0].message.content)
print(json.dumps({"raw": raw, "litellm": lite, "router": rout}))
"""


def p50(fn, n: int) -> float:
    return interleaved_p50([fn], n)[0]


def interleaved_p50(fns: list, n: int, rounds: int = 20) -> list[float]:
    """Median latency of each function, measured in alternating blocks so that drift in the
    machine's speed falls on all alike, while any background work a client leaves (tether's
    ledger writer) lands inside that client's own block."""
    for fn in fns:
        for _ in range(max(10, n // 10)):
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    block = max(1, n // rounds)
    for _ in range(rounds):
        for fn, out in zip(fns, samples, strict=False):
            for _ in range(block):
                t = time.perf_counter_ns()
                fn()
                out.append((time.perf_counter_ns() - t) / 1e6)
    return [statistics.median(s) for s in samples]


def start(cmd: list[str], env=None, cwd=None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
    return proc, proc.stdout.readline().strip()


def import_time(python: str, statement: str, runs: int = 7) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = [float(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(runs)]
    return statistics.median(times) * 1000


def client_overhead(url: str, n: int, peer_python: str) -> list[tuple]:
    import httpx
    import openai

    from tether import config
    from tether.llm.router import Grid
    from tether.store import Store

    client = httpx.Client()
    headers = {"content-type": "application/json", "authorization": "Bearer x"}
    sdk = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config.from_dict(
            {
                "providers": {"up": {"kind": "openai", "base_url": url + "/v1"}},
                "routes": {"bench": {"models": ["up/ok-bench", "local/smollm2-135m"]}},
            }
        )
        grid = Grid(cfg, Store(Path(tmp) / "ledger.db"))
        msgs = BODY["messages"]
        raw, direct, routed, oai = interleaved_p50(
            [
                lambda: json.loads(client.post(url + "/v1/chat/completions", content=json.dumps(BODY), headers=headers).content)["choices"][
                    0
                ]["message"]["content"],
                lambda: grid.complete("up/ok-bench", msgs, max_tokens=16).text,
                lambda: grid.complete("bench", msgs, max_tokens=16).text,
                lambda: sdk.chat.completions.create(**BODY).choices[0].message.content,
            ],
            n,
        )
        grid.close()
        rows = grid.store.query("SELECT COUNT(*) FROM ledger")[0][0]
    peer = json.loads(
        subprocess.run([peer_python, "-c", PEER_CLIENT, url, str(n), json.dumps(BODY)], capture_output=True, text=True, check=True).stdout
    )
    return [
        ("raw httpx POST (baseline)", raw, 0.0, "—"),
        ("tether Grid.complete, provider/model", direct, direct - raw, f"ledger row per call ({rows} rows)"),
        ("tether Grid.complete, 2-model route", routed, routed - raw, "route + breaker + ledger"),
        ("openai SDK 3.57", oai, oai - raw, "no ledger"),
        ("litellm.completion", peer["litellm"], peer["litellm"] - peer["raw"], f"vs raw httpx in its own process ({peer['raw']:.3f} ms)"),
        ("litellm Router.completion", peer["router"], peer["router"] - peer["raw"], "same"),
    ]


def gateway_hop(url: str, n: int) -> tuple[float, float]:
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "tether.toml").write_text(f'[providers.up]\nkind = "openai"\nbase_url = "{url}/v1"\n')
        env = {**os.environ, "XDG_DATA_HOME": tmp}
        proc, line = start([sys.executable, "-m", "tether.cli", "gateway", "--port", "0", "--json", "--token", "bench"], env=env, cwd=tmp)
        while not line.rstrip().endswith("}"):
            line += proc.stdout.readline()
        gw = json.loads(line)["url"]
        try:
            client = httpx.Client()
            body = {**BODY, "model": "up/ok-bench"}
            direct, via = interleaved_p50(
                [
                    lambda: client.post(url + "/v1/chat/completions", json=BODY).json(),
                    lambda: client.post(gw + "/chat/completions", json=body, headers={"authorization": "Bearer bench"}).json(),
                ],
                n,
            )
            burst = gateway_burst(gw, body)
        finally:
            proc.terminate()
            proc.wait(10)
    return direct, via, burst


def gateway_burst(gw: str, body: dict, clients: int = 256) -> tuple[int, int, float]:
    """`clients` connections opened at once, one request each: (answered 200, failed, median ms)."""
    import statistics
    import threading

    import httpx

    start_line = threading.Barrier(clients)
    timings, failed = [], []

    def one() -> None:
        start_line.wait()
        started = time.perf_counter()
        try:
            r = httpx.post(gw + "/chat/completions", json=body, headers={"authorization": "Bearer bench"}, timeout=60)
            r.raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
        except httpx.HTTPError as e:
            failed.append(type(e).__name__)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(timings), len(failed), statistics.median(timings) if timings else float("nan")


def local_prefix_reuse(model: str) -> tuple[float, float, int]:
    from tether import config
    from tether.llm.router import Grid
    from tether.store import Store

    source = "".join(p.read_text() for p in sorted((ROOT / "src" / "tether").rglob("*.py")))
    with tempfile.TemporaryDirectory() as tmp:
        grid = Grid(config.from_dict({}), Store(Path(tmp) / "ledger.db"))
        grid.complete(f"local/{model}", "hi", max_tokens=1)  # load the weights outside the measurement
        from tether.llm.providers import local

        [llm] = [m for (name, _), (m, _) in local._loaded.items() if name == model]
        prefix = llm.detokenize(llm.tokenize(source.encode())[:1500]).decode(errors="ignore")
        history = [{"role": "system", "content": "You review this code:\n" + prefix}, {"role": "user", "content": "Name one class in it."}]
        first = [x for x in grid.stream(f"local/{model}", history, max_tokens=8, temperature=0)][-1]
        history += [{"role": "assistant", "content": first.text}, {"role": "user", "content": "Name another."}]
        second = [x for x in grid.stream(f"local/{model}", history, max_tokens=8, temperature=0)][-1]
        grid.close()
    return first.ttft_ms, second.ttft_ms, first.usage.input_tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--local-model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--no-local", action="store_true")
    args = parser.parse_args()
    peer_python = str(python_peer("litellm", LITELLM) / "python")
    server, url = start([sys.executable, str(ROOT / "tests" / "upstream.py")])
    try:
        overhead = client_overhead(url, args.n, peer_python)
        direct, via, (answered, failed, burst_ms) = gateway_hop(url, args.n)
    finally:
        server.terminate()
    imports = [
        ("import tether", import_time(sys.executable, "import tether")),
        ("from tether import Grid", import_time(sys.executable, "from tether import Grid")),
        ("import openai", import_time(sys.executable, "import openai")),
        ("import litellm", import_time(peer_python, "import litellm", runs=3)),
    ]
    local = None if args.no_local else local_prefix_reuse(args.local_model)

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    lines = [
        "# Grid benchmark",
        "",
        f"`python benchmarks/grid.py --n {args.n}` on {time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "Fake OpenAI-compatible server on 127.0.0.1 in its own process (TCP_NODELAY); p50 of each client's full call.",
        "",
        "## Per-call overhead over a raw httpx POST",
        "",
        "| client | p50 ms | added over raw httpx, ms | note |",
        "|---|---:|---:|---|",
        *[f"| {name} | {p:.3f} | {added:+.3f} | {note} |" for name, p, added, note in overhead],
        "",
        f"A litellm.completion call takes {overhead[4][1] / overhead[1][1]:.1f}x as long as a Grid.complete call end to end;"
        f" litellm adds {overhead[4][2]:.3f} ms to the wire time, tether {overhead[1][2]:.3f} ms (metering included).",
        "",
        "## Gateway hop",
        "",
        "| path | p50 ms |",
        "|---|---:|",
        f"| client → server | {direct:.3f} |",
        f"| client → tether gateway → server | {via:.3f} |",
        f"| **hop added** | **{via - direct:.3f}** |",
        "",
        f"A burst of {answered + failed} clients connecting at once (one request each, no keep-alive): **{answered} answered,"
        f" {failed} failed** (resets or errors); median {burst_ms:.0f} ms a request on {os.cpu_count()} cores."
        " The gateway runs on uvicorn (httptools, uvloop) with a listen backlog of 2048.",
        "",
        "## Import time (median of fresh processes)",
        "",
        "| statement | ms |",
        "|---|---:|",
        *[f"| `{s}` | {ms:.1f} |" for s, ms in imports],
        "",
        f"`import litellm` takes {imports[3][1] / imports[1][1]:.0f}x as long as `from tether import Grid`, which loads the whole"
        f" grid; `import tether` alone is lazy ({imports[0][1]:.1f} ms).",
    ]
    if local:
        t1, t2, tokens = local
        lines += [
            "",
            f"## Local model: second turn sharing a prefix (local/{args.local_model})",
            "",
            "| turn | prompt tokens | time to first token, ms |",
            "|---|---:|---:|",
            f"| first (cold prefix) | {tokens} | {t1:.0f} |",
            f"| second (shared prefix reused) | {tokens}+ | {t2:.0f} |",
            "",
            f"The second turn's first token comes **{t1 / t2:.1f}x** sooner.",
        ]
    text = "\n".join(lines) + "\n"
    record(
        "grid",
        text,
        {
            "added ms, Grid / litellm": f"{overhead[1][2]:+.3f} / {overhead[4][2]:+.3f}",
            "gateway hop ms": f"{via - direct:.3f}",
            "burst": f"{answered} of {answered + failed} answered",
            "import litellm / Grid": f"{imports[3][1] / imports[1][1]:.0f}x",
        }
        | ({"second turn's first token": f"{local[0] / local[1]:.1f}x sooner"} if local else {}),
        setting=f"{cpu}, {os.cpu_count()} cores, n {args.n}",
    )
    print(text)


if __name__ == "__main__":
    main()
