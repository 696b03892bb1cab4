"""The team gateway under load and faults: several gateways on one PostgreSQL ledger.

    python benchmarks/team.py [--gateways 3] [--clients 32] [--requests 3000] [--check]

A throwaway PostgreSQL cluster (tether's own, on a Unix socket), the fake upstream of
tests/upstream.py in its own process (the route's first model fails at random — 500, 429, reset,
hang, malformed, cut — and fails over to a good one), N gateway processes started as a user
starts them (`tether gateway`), one virtual key whose token budget runs out about half-way, and
C client threads sending R requests round-robin over the live gateways (a client whose gateway
is gone moves to the next, as a load balancer's health check would make it). A third of the way
in, one gateway is killed with SIGKILL; two thirds of the way in, PostgreSQL is restarted.

Checked afterwards, from the ledger: every 200 a client received has its `ok` row (matched by the
call id the gateway returns), no call has two, the key's settled spend is within its budget,
and no hold is left but the killed gateway's (which its lease releases). Then the gateway hop
alone: sequential requests to a fault-free model with the key, straight to the upstream and
through one gateway on SQLite and one on PostgreSQL, p50 difference. Results go to
results/team.md (the newest run on top, earlier runs as history rows), beside LiteLLM proxy's published figures. `--check` runs the load and fault part
only, prints its JSON and exits 1 when a row was lost or doubled or the budget was passed (the
test suite runs it small: tests/llm/test_team_load.py)."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import record  # noqa: E402

from tether.config import Budget  # noqa: E402
from tether.llm.keys import Keys  # noqa: E402
from tether.llm.pg import PgStore  # noqa: E402
from tether.llm.pgcluster import Cluster  # noqa: E402

TABLE = HERE / "results" / "team.md"
ADMIN = "bench-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = "team.toml"


def write_config(work: Path, upstream: str, ledger: str | None) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (
        work / CONFIG
    ).write_text(  # the operator's own config, named with --config: a project's tether.toml may not set providers or the ledger
        f'[providers.flaky]\nkind = "openai"\nbase_url = "{upstream}/v1"\ntimeout = 1.0\n'
        f'[providers.good]\nkind = "openai"\nbase_url = "{upstream}/v1"\ntimeout = 5.0\n'
        '[routes.default]\nmodels = ["flaky/fault-chaos", "good/ok-backup"]\nretries = 0\n'
        '[routes.clean]\nmodels = ["good/ok-clean"]\n'
        '[models."flaky/fault-chaos"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n'
        '[models."good/ok-backup"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n'
        '[models."good/ok-clean"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n' + (f'[ledger]\nurl = "{ledger}"\n' if ledger else "")
    )


def start_gateway(work: Path, env: dict) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "--config", CONFIG, "gateway", "--port", "0", "--token", ADMIN, "--json"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed = "".join(iter(proc.stdout.readline, "}\n")) + "}"
    return proc, json.loads(printed)["url"]


def ask(client: httpx.Client, url: str, key: str, model: str = "default") -> tuple[int, float, str]:
    started = time.perf_counter()
    r = client.post(
        url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
        json={"model": model, "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 16},
    )
    call = r.json().get("tether", {}).get("call", "") if r.status_code == 200 else ""
    return r.status_code, (time.perf_counter() - started) * 1000, call


def load(args, folder: Path, env: dict, upstream: str) -> dict:
    cluster = Cluster(folder / "pg", port=5497)
    cluster.up()
    work = folder / "team"
    write_config(work, upstream, cluster.url)
    store = PgStore(cluster.url)
    probe, probe_url = start_gateway(work, env)
    probe_key = Keys(store).create("probe")[1]
    with httpx.Client() as c:  # one clean call through a key tells what a call spends
        _, _, call = ask(c, probe_url, probe_key, "clean")
    probe.send_signal(signal.SIGINT)
    probe.wait(30)
    per_call = store.query("SELECT input_tokens + output_tokens AS t FROM ledger WHERE call_id = ?", (call,))[0]["t"]
    budget = per_call * args.requests // 2
    key = Keys(store).create("team", Budget(tokens_per_day=budget))[1]
    gateways = [start_gateway(work, env) for _ in range(args.gateways)]
    live = [True] * len(gateways)
    results: list[tuple[int, float, str, int, str]] = []
    lock = threading.Lock()
    issued = itertools.count()
    events: list[str] = []
    started = time.perf_counter()

    def client(n: int) -> None:
        with httpx.Client() as c:
            turn = n
            while (i := next(issued)) < args.requests:
                if i == args.requests // 3 and live[-1]:
                    os.kill(gateways[-1][0].pid, signal.SIGKILL)
                    events.append(f"request {i}: gateway {len(gateways)} killed with SIGKILL")
                if i == 2 * args.requests // 3:
                    threading.Thread(target=restart, args=(i,)).start()
                for _ in range(len(gateways)):
                    turn += 1
                    g = turn % len(gateways)
                    if not live[g]:
                        continue
                    try:
                        status, ms, call = ask(c, gateways[g][1], key)
                        with lock:
                            results.append((status, ms, call, g, ""))
                        break
                    except httpx.TransportError as e:  # that gateway is gone: the balancer takes it out
                        live[g] = False
                        with lock:
                            results.append((0, 0.0, "", g, type(e).__name__))

    def restart(i: int) -> None:
        t = time.perf_counter()
        cluster.down()
        cluster.up()
        events.append(f"request {i}: PostgreSQL restarted ({time.perf_counter() - t:.1f} s down)")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    for proc, _ in gateways:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc, _ in gateways:
        proc.wait(60)
    rows = store.query("SELECT call_id, outcome, input_tokens + output_tokens AS t FROM ledger WHERE key = 'team'")
    ok_rows: dict[str, int] = {}
    for r in rows:
        if r["outcome"] == "ok":
            ok_rows[r["call_id"]] = ok_rows.get(r["call_id"], 0) + 1
    answered = [r for r in results if r[0] == 200]
    got = {r[2] for r in answered}
    spent = sum(r["t"] for r in rows)
    holds = store.query("SELECT COUNT(*) AS n FROM reservations WHERE key = 'team'")[0]["n"]
    latencies = sorted(r[1] for r in answered)
    cluster.down("immediate")
    return {
        "requests": len([r for r in results if r[0]]),
        "answered": len(answered),
        "refused_budget": sum(1 for r in results if r[0] == 429),
        "other_errors": sum(1 for r in results if r[0] not in (0, 200, 429)),
        "gateway_gone": sum(1 for r in results if r[0] == 0),
        "lost_rows": len(got - set(ok_rows)),
        "doubled": sum(1 for n in ok_rows.values() if n > 1),
        "rows_without_response": len(set(ok_rows) - got),
        "statuses": {str(k): sum(1 for r in results if r[0] == k) for k in sorted({r[0] for r in results})},
        "budget": budget,
        "spent": spent,
        "holds_left": holds,
        "wall": wall,
        "rps": len(answered) / wall,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1],
        "events": events,
        "slowest_error_ms": max((r[1] for r in results if r[0] not in (0, 200)), default=0.0),
    }


def hop(folder: Path, env: dict, upstream: str, n: int = 400) -> dict:
    """p50 of a clean call straight to the upstream, and through a gateway on SQLite and on PostgreSQL."""
    cluster = Cluster(folder / "pg-hop", port=5496)
    cluster.up()
    found = {}
    with httpx.Client() as c:
        direct = []
        for _ in range(n):
            t = time.perf_counter()
            c.post(
                upstream + "/v1/chat/completions", json={"model": "ok-clean", "messages": [{"role": "user", "content": "hi"}]}, timeout=30
            )
            direct.append((time.perf_counter() - t) * 1000)
        found["direct"] = statistics.median(direct)
        for name, ledger in (("sqlite", None), ("postgresql", cluster.url)):
            work = folder / f"hop-{name}"
            write_config(work, upstream, ledger)
            data = dict(env, XDG_DATA_HOME=str(folder / f"data-{name}"))
            proc, url = start_gateway(work, data)
            store = PgStore(ledger) if ledger else None
            if store is None:
                from tether.store import Store

                store = Store(Path(data["XDG_DATA_HOME"]) / "tether" / "tether.db")
            key = Keys(store).create("hop", Budget(tokens_per_day=10**9))[1]  # the team path: key lookup and a budget hold per call
            found[name] = statistics.median([ask(c, url, key, "clean")[1] for _ in range(n)])
            if name == "sqlite":  # the admin token: no key, no budget, only the ledger row
                found["admin"] = statistics.median([ask(c, url, ADMIN, "clean")[1] for _ in range(n)])
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
        found["litellm"] = litellm_hop(c, folder, upstream, n)
    cluster.down("immediate")
    return found


def litellm_hop(client: httpx.Client, folder: Path, upstream: str, n: int) -> float | None:
    """LiteLLM proxy 1.60.0 (the newest whose proxy installs from this registry) on the same
    upstream, with its master key and no database (its keys and budgets need PostgreSQL + Prisma)."""
    sys.path.insert(0, str(HERE))
    from _peers import python_peer

    bin_dir = python_peer("litellm-proxy", "litellm[proxy]==1.60.0")
    (folder / "litellm.yaml").write_text(
        f"model_list:\n  - model_name: clean\n    litellm_params:\n      model: openai/ok-clean\n"
        f"      api_base: {upstream}/v1\n      api_key: x\ngeneral_settings:\n  master_key: sk-bench\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [str(bin_dir / "litellm"), "--config", str(folder / "litellm.yaml"), "--host", "127.0.0.1", "--port", str(port)],
        env=dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # it takes a while to start
            try:
                if ask(client, url, "sk-bench", "clean")[0] == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            return None
        return statistics.median([ask(client, url, "sk-bench", "clean")[1] for _ in range(n)])
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateways", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--check", action="store_true", help="the load and fault run only: its JSON, exit 1 on a broken invariant")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="tether-team-"))
    os.chmod(folder, 0o755)
    env = dict(os.environ, XDG_DATA_HOME=str(folder / "data"), PYTHONPATH=str(ROOT / "src"))
    port = free_port()
    upstream_proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "upstream.py"), str(port)], stdout=subprocess.PIPE, text=True)
    upstream = upstream_proc.stdout.readline().strip()
    try:
        result = load(args, folder, env, upstream)
        print(json.dumps(result, indent=1), flush=True)
        if args.check:
            sys.exit(0 if result["lost_rows"] == result["doubled"] == 0 and result["spent"] <= result["budget"] else 1)
        hops = hop(folder, env, upstream)
        print(hops, flush=True)
    finally:
        upstream_proc.terminate()
        shutil.rmtree(folder, ignore_errors=True)
    r = result
    lines = [
        f"# Team gateway: load and faults\n\n`python benchmarks/team.py {' '.join(sys.argv[1:])}` on {time.strftime('%Y-%m-%d')}, 2 CPU cores "
        f"(the clients, {args.gateways} gateways, PostgreSQL 15 and the fake upstream all on them). Route: `flaky/fault-chaos` "
        "(a random fault on every call: 500, 429, reset, hang past the 1 s timeout, malformed, cut; its provider's circuit opens "
        "after three in a row) failing over to `good/ok-backup`. "
        f"One key, its budget {r['budget']:,} tokens a day (about half of the requests' worth).\n",
        "| check | result |",
        "|---|---|",
        f"| requests sent / answered 200 / refused 429 (budget) / other errors | {r['requests']:,} / {r['answered']:,} / {r['refused_budget']:,} / {r['other_errors']} |",
        f"| status codes | {', '.join(f'{k}: {v:,}' for k, v in r['statuses'].items() if k != '0')} |",
        f"| requests that hit the killed gateway (connection lost; the client moved on) | {r['gateway_gone']} |",
        f"| **lost rows** (a 200 without its ledger row) | **{r['lost_rows']}** |",
        f"| calls with two ok rows | {r['doubled']} |",
        f"| ok rows whose response never reached a client (in flight on the killed gateway) | {r['rows_without_response']} |",
        f"| **settled spend vs budget** | **{r['spent']:,} of {r['budget']:,} tokens** |",
        f"| holds left at the end (the killed gateway's; its lease releases them) | {r['holds_left']} |",
        f"| slowest error answer | {r['slowest_error_ms']:.0f} ms |",
        f"| throughput, answered | {r['rps']:.0f} requests/s over {r['wall']:.0f} s |",
        f"| latency of answered requests (with one failover each) | p50 {r['p50']:.0f} ms · p99 {r['p99']:.0f} ms · max {r['max']:.0f} ms |",
        "",
        "Events: " + "; ".join(r["events"]) + ".",
        "",
        "## The gateway hop",
        "",
        "Sequential clean calls (p50 of 400), straight to the fake upstream and through one gateway with a key (key lookup and an "
        "atomic budget hold per call):",
        "",
        "| path | p50 ms | over direct |",
        "|---|---:|---:|",
        f"| direct to the upstream | {hops['direct']:.2f} | - |",
        f"| tether gateway, admin token (a ledger row, no key, no budget) | {hops['admin']:.2f} | {hops['admin'] - hops['direct']:.2f} |",
        f"| tether gateway, a key with a budget, SQLite ledger | {hops['sqlite']:.2f} | {hops['sqlite'] - hops['direct']:.2f} |",
        f"| tether gateway, a key with a budget, PostgreSQL ledger | {hops['postgresql']:.2f} | {hops['postgresql'] - hops['direct']:.2f} |",
        f"| PostgreSQL over SQLite | | **{hops['postgresql'] - hops['sqlite']:.2f}** |",
        (
            f"| LiteLLM proxy 1.60.0, master key, no database | {hops['litellm']:.2f} | {hops['litellm'] - hops['direct']:.2f} |"
            if hops.get("litellm")
            else "| LiteLLM proxy 1.60.0 | did not start | |"
        ),
        "",
        "LiteLLM proxy's published figures (its docs, 2 instances, ~1,000 requests/s): median 12 ms, p99 43 ms of added latency. "
        "Its keys and budgets need its PostgreSQL schema (Prisma), which was not set up here, so it runs without a database above.",
    ]
    record(
        "team",
        "\n".join(lines) + "\n",
        {
            "lost rows": r["lost_rows"],
            "spend": f"{r['spent']:,} of {r['budget']:,} tokens",
            "answered / sent": f"{r['answered']:,} / {r['requests']:,}",
            "hop ms, SQLite / PostgreSQL key": f"{hops['sqlite'] - hops['direct']:.2f} / {hops['postgresql'] - hops['direct']:.2f}",
        }
        | ({"LiteLLM proxy hop ms": f"{hops['litellm'] - hops['direct']:.2f}"} if hops.get("litellm") else {}),
        setting=f"{args.gateways} gateways, {args.clients} clients, {args.requests:,} requests",
    )
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
