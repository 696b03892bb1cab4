"""The utility: chat, the model catalogue, the ledger, the gateway."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import stat
import sys
import time
from typing import Optional

import typer

from ..errors import TetherError
from ._shared import JsonOpt, ModelOpt, app, e, emit, err, grid, out, table, usd, waiting

CHAT_MAX_TOKENS = 2048  # a small model can write until its context is full: minutes on a CPU, for nothing


@app.command()
def chat(
    prompt: Optional[str] = typer.Argument(None, help="Ask once and exit; piped text is sent with it. Without it, an interactive chat."),
    model: str = ModelOpt,
    system: Optional[str] = typer.Option(None, "--system", "-s", help="A system prompt."),
    go_on: bool = typer.Option(False, "--continue", "-c", help="Continue the latest chat."),
    cid: Optional[str] = typer.Option(None, "--cid", help="Continue the chat with this id (`tether log` lists them)."),
    max_tokens: int = typer.Option(CHAT_MAX_TOKENS, "--max-tokens", min=1, help="The longest reply, in tokens."),
    temperature: Optional[float] = typer.Option(None, "--temperature"),
    as_json: bool = JsonOpt,
):
    """Chat with a model; replies stream as they are generated, and every chat is logged."""
    from ..autonomy.history.chats import LoggedChat

    g = grid()
    opts = {k: v for k, v in {"max_tokens": max_tokens, "temperature": temperature}.items() if v is not None}
    prompt = _with_piped(prompt)
    if go_on or cid:  # an unknown model is one clear error, before anything is read or logged
        chat_ = LoggedChat.resume(g, cid, model, system, os.getcwd())
        if chat_.talk.model != model:
            err.print(f"[dim]continuing chat {chat_.id} with {e(chat_.talk.model)}[/dim]")
    else:
        chat_ = LoggedChat(g, model, system, os.getcwd())

    def turn(text: str):
        reply = chat_.turn(text, (lambda talk, t: talk.send(t, **opts)) if as_json else (lambda talk, t: _stream_reply(talk, t, opts)))
        if reply.finish_reason == "length" and not as_json:
            err.print(f"[yellow]the reply was cut at {opts['max_tokens']:,} tokens[/yellow] (--max-tokens allows more)")
        return reply

    if prompt is not None:
        reply = turn(prompt)
        if as_json:
            emit({**reply.to_dict(), "conversation": chat_.id})
        return
    err.print(f"[dim]chatting with {e(chat_.talk.model)} — Ctrl-D or /exit to leave, Ctrl-C stops a reply[/dim]")
    while True:
        try:
            line = input("› ")
        except EOFError:
            break
        except KeyboardInterrupt:
            err.print()
            break
        if line.strip() in ("/exit", "/quit"):
            break
        if not line.strip():
            continue
        try:
            turn(line)  # a turn that fails or is stopped leaves the chat as it was
        except KeyboardInterrupt:
            err.print("\n[dim](stopped)[/dim]")
        except TetherError as x:
            err.print(f"[red]error:[/red] {e(x)}")
    if chat_.log:
        err.print(f"[dim]`tether chat -c` (or --cid {chat_.log.id}) goes on with this chat[/dim]")


def _with_piped(prompt: str | None) -> str | None:
    """The prompt with what was piped in before it (`cat file | tether chat "summarise this"`, as llm does)."""
    piped = _piped()
    if prompt is not None and piped.strip():
        return f"{piped.rstrip()}\n\n{prompt}"
    if prompt is None and piped:
        return piped
    if prompt is None and not sys.stdin.isatty() and not piped.strip():
        raise TetherError("nothing to ask: give a prompt, pipe one in, or run `tether chat` on a terminal")
    return prompt


def _piped() -> str:
    """Text piped or redirected into stdin; nothing for a terminal or /dev/null (which could
    otherwise be waited on forever)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return ""
    return sys.stdin.read() if stat.S_ISFIFO(mode) or stat.S_ISREG(mode) else ""


def _stream_reply(talk, text: str, opts: dict):
    """Print the reply as it comes, then its cost line; the Response."""
    with contextlib.closing(talk.stream(text, **opts)) as stream:  # Ctrl-C closes the stream now: the call is recorded as stopped
        with waiting(f"{talk.model}: loading the model and reading the prompt…"):  # seconds on a local model
            first = next(stream)
        for item in itertools.chain([first], stream):
            if isinstance(item, str):
                sys.stdout.write(item)
                sys.stdout.flush()
                continue
            sys.stdout.write("\n")
            u = item.usage
            err.print(
                f"[dim]{item.model} · {u.input_tokens}→{u.output_tokens} tokens{' (estimated)' if u.estimated else ''}"
                f"{f' ({u.cached_tokens} cached)' if u.cached_tokens else ''}"
                f" · {usd(item.cost_usd)} · {item.latency_ms:.0f} ms"
                f"{f' · first token {item.ttft_ms:.0f} ms' if item.ttft_ms is not None else ''}[/dim]"
            )
            return item
    raise TetherError(f"{talk.model} ended the reply without a response")  # never: Conversation.stream ends with one


@app.command()
def models(
    pull: Optional[str] = typer.Option(None, "--pull", help="Fetch a local model's weights now (e.g. qwen2.5-coder-1.5b)."),
    as_json: bool = JsonOpt,
):
    """The model catalogue: context, price, and whether each can be used now."""
    if pull:
        from ..llm import weights

        path = weights.ensure(pull.removeprefix("local/"))
        emit({"model": pull, "path": str(path)}) if as_json else out.print(f"local/{pull.removeprefix('local/')} ready: {path}")
        return
    g = grid()
    found = g.catalogue()
    if as_json:
        emit(found)
        return
    t = table("model", "context", "$/M in", "$/M cached", "$/M out", "edits", "usable now")
    for r in found["models"]:
        price = lambda v: "unknown" if v is None else f"{v:g}"  # noqa: E731
        cached = r["cached_per_mtok"] if r["cached_per_mtok"] is not None else r["input_per_mtok"]  # none known: billed as input
        t.add_row(
            r["model"],
            f"{r['context_window']:,}" if r["context_window"] else "?",
            price(r["input_per_mtok"]),
            price(cached),
            price(r["output_per_mtok"]),
            r["edit_format"],
            "[green]yes[/green]" if r["usable"] else f"[yellow]{e(r['missing'])}[/yellow]",
        )
    out.print(t)
    for name, members in found["routes"].items():
        out.print(f"route [bold]{e(name)}[/bold]: {e(' → '.join(members))}")


@app.command()
def ledger(
    by: str = typer.Option("day", "--by", help="Group by day, model, route, provider, outcome or key."),
    since: str = typer.Option("month", "--since", help="today, month, all, or a date YYYY-MM-DD."),
    rows: int = typer.Option(0, "--rows", help="Also list the last N attempts."),
    as_json: bool = JsonOpt,
):
    """What every call cost: tokens, USD and latency, from the ledger."""
    summary = grid().ledger.summary(by, since, rows)  # the grid's ledger: where the config puts it, as every call sees it
    if as_json:
        emit(summary)
        return
    t = table(by, "ok", "failed", "stopped", "refused", "in tok", "cached", "out tok", "cost", "latency")
    for row in summary["totals"]:
        cost = usd(row["cost_usd"]) if not row["unpriced"] else f"{usd(row['cost_usd'] or 0)} + {row['unpriced']} unpriced"
        t.add_row(
            str(row["key"] or "(direct)"),
            str(row["ok"]),
            str(row["failed"]),
            str(row["stopped"]),
            str(row["refused"]),
            f"{row['input_tokens']:,}",
            f"{row['cached_tokens']:,}",
            f"{row['output_tokens']:,}",
            cost,
            f"{row['avg_latency_ms']:.0f} ms" if row["avg_latency_ms"] is not None else "-",
        )
    out.print(t if summary["totals"] else f"no calls since {summary['since']}")
    for r in summary["rows"]:
        out.print(
            f"{time.strftime('%H:%M:%S', time.localtime(r['ts']))} {e(r['model'])} {r['outcome']}"
            f"{' ' + r['error_class'] if r['error_class'] else ''} {r['input_tokens']}→{r['output_tokens']} {usd(r['cost_usd'])}"
        )


@app.command()
def gateway(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port"),
    token: Optional[str] = typer.Option(
        None, "--token", help="Bearer token clients must send (default: $TETHER_GATEWAY_TOKEN, else a new one)."
    ),
    as_json: bool = JsonOpt,
):
    """An OpenAI-compatible server over tether's routes, failover and ledger."""
    from ..llm.gateway import GatewayServer

    token = token or os.environ.get("TETHER_GATEWAY_TOKEN") or secrets.token_urlsafe(24)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/yellow] serving on {e(host)}, reachable beyond this machine")
    try:
        server = GatewayServer(grid(), token, host, port)
    except (OSError, OverflowError) as x:
        raise TetherError(f"cannot listen on {host}:{port}: {getattr(x, 'strerror', None) or x}") from None
    if as_json:
        emit({"url": server.url, "token": token})
    else:
        out.print(f"tether gateway on {server.url}\nOPENAI_BASE_URL={server.url} OPENAI_API_KEY={token}")
    sys.stdout.flush()
    server.serve_until_interrupted()


@app.command()
def keys(
    action: str = typer.Argument("list", help="create, list or revoke."),
    name: Optional[str] = typer.Argument(None, help="The key's name: a person or a team (create, revoke)."),
    usd_per_day: Optional[float] = typer.Option(None, "--usd-per-day"),
    usd_per_month: Optional[float] = typer.Option(None, "--usd-per-month"),
    tokens_per_day: Optional[int] = typer.Option(None, "--tokens-per-day"),
    tokens_per_month: Optional[int] = typer.Option(None, "--tokens-per-month"),
    rpm: Optional[int] = typer.Option(None, "--rpm", help="Requests a minute, across every gateway."),
    route: list[str] = typer.Option([], "--route", help="A route or provider/model the key may call (repeatable; default: all)."),
    as_json: bool = JsonOpt,
):
    """Virtual keys for the gateway, each with its own budget, rate limit and routes; stored hashed, shown once."""
    from ..config import Budget

    book = grid().keys()  # in the ledger's database, as the gateway reads them
    if action == "list":
        found = [k.to_dict() for k in book.list()]
        if as_json:
            emit(found)
            return
        for k in found:
            limits = ", ".join(f"{n} {v}" for n, v in k["budget"].items()) or "no budget"
            out.print(
                f"{k['name']:16} {k['prefix']}…  {'revoked' if k['revoked'] else 'live':8} {limits}"
                f"{' · ' + str(k['rpm']) + '/min' if k['rpm'] else ''} · {', '.join(k['routes']) or 'all routes'}",
                markup=False,
            )
        if not found:
            err.print("no keys yet (`tether keys create NAME`)")
        return
    if action not in ("create", "revoke") or not name:
        raise TetherError("say `tether keys list`, `tether keys create NAME [limits]` or `tether keys revoke NAME`")
    if action == "revoke":
        key = book.revoke(name)
        emit(key.to_dict()) if as_json else out.print(f"revoked {name}: every gateway refuses it from its next request", markup=False)
        return
    budget = Budget(usd_per_day, usd_per_month, tokens_per_day, tokens_per_month)
    key, secret = book.create(name, budget, rpm, tuple(route))
    if as_json:
        emit({**key.to_dict(), "key": secret})
    else:
        out.print(f"{secret}\n(the key for {name}; it is not stored and will not be shown again)", markup=False)
