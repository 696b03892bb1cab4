"""A model embedded in-process with llama-cpp-python: offline, free, private.

One Llama instance per model stays loaded, so a follow-up turn that shares its prompt prefix
reuses the KV cache (llama-cpp-python matches the longest evaluated prefix) instead of
re-reading the whole context; each reply's usage says how many of its prompt tokens came from it.
The cache outlives the process: unloading saves it under the data dir and the next load starts
from it, so a run whose prompt opens like the last one's (a second try at a task) reads only the
rest. Calls to one model are serialised: a context is not re-entrant.
Tool calls are made by constraining the output to a JSON schema of the tools' arguments."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import threading
import time
from collections.abc import Iterator

from ... import config, idle as idle_memory
from ...errors import (
    BadRequest,
    Cancelled,
    MalformedResponse,
    ModelNotAvailable,
    ProviderTimeout,
    need_extra,
)
from .. import models, weights
from ..types import Request, Response, ToolCall, Usage
from . import Provider
from ._llama import _extra_buffers, _grammar_last, _meter, _sliced

DEFAULT_N_CTX = 8192
KEEP_TOKENS = 4096  # the most of a KV cache kept across processes (qwen2.5-coder-1.5b: ~28 KB a token)
_loaded: dict[tuple, tuple] = {}  # (name, n_ctx) -> (Llama, Lock), shared by every LocalProvider
_load_lock = threading.Lock()
_last_use: dict[threading.Lock, float] = {}  # a model's lock -> when a call last let go of it
IDLE_UNLOAD = idle_memory.DEFAULT  # seconds a loaded model may sit unused before it is freed (option idle_unload; 0: never)


def unload_idle(idle: float, now: float | None = None) -> list[str]:
    """Free every model no call has used for `idle` seconds, and give the memory back: a long-lived
    server (tether ui, mcp, gateway) otherwise holds a 1.5B model's ~1.6 GB forever after one run.
    A model in use is never freed; the next call loads it again (a second or two). The names freed."""
    freed = _unload_idle(idle, time.monotonic() if now is None else now)
    if freed:
        idle_memory.give_back()
    return freed


def _unload_idle(idle: float, now: float) -> list[str]:
    """What idle_memory's reaper calls (it gives the memory back itself, once for every holder)."""
    freed = []
    with _load_lock:
        for key, (llm, lock) in list(_loaded.items()):
            if now - _last_use.get(lock, now) >= idle and lock.acquire(blocking=False):
                try:
                    _persist(llm)
                    llm.close()
                    del _loaded[key]
                    _last_use.pop(lock, None)
                    freed.append(key[0])
                finally:
                    lock.release()
    return freed


@atexit.register
def unload_all() -> None:
    """Free the loaded models. At exit: before the interpreter tears down the library they live in
    (else llama-cpp-python's destructor fails noisily). In a test: a model reused across calls
    answers from the prefix it already read, batched differently, so its replies can differ by a
    token from a fresh one; unloading makes the next reply depend on its prompt and seed alone (the
    cache is saved to the data dir the model was loaded under: a test's own)."""
    for llm, _ in _loaded.values():
        _persist(llm)
        llm.close()
    _loaded.clear()
    _last_use.clear()


class LocalProvider(Provider):
    reports_progress = True

    def availability(self, model: str) -> str | None:
        if model not in weights.LOCAL_MODELS:
            return f"no local model {model!r}"
        try:
            need_extra("local", "a local model", "llama_cpp", error=ModelNotAvailable)
        except ModelNotAvailable as x:
            return str(x)
        if weights.cached_path(model) is None:
            return f"not downloaded yet: fetched on first use ({weights.LOCAL_MODELS[model].size // 1_000_000} MB)"
        return None

    def context_window(self, model: str) -> int:
        """What the model is loaded with: a smaller window than it could hold keeps memory and prompt time down."""
        return int(self.cfg.options.get("n_ctx") or min(DEFAULT_N_CTX, models.info(f"local/{model}").context_window or DEFAULT_N_CTX))

    def _model(self, name: str):
        n_ctx = self.context_window(name)
        key = (name, n_ctx)
        with _load_lock:
            if key not in _loaded:
                need_extra("local", f"local/{name}", "llama_cpp", error=ModelNotAvailable)
                from llama_cpp import Llama

                path = weights.ensure(name)
                threads = int(self.cfg.options.get("n_threads") or os.cpu_count() or 2)
                _extra_buffers(bool(self.cfg.options.get("extra_buffers")))
                try:
                    llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False)
                except (ValueError, RuntimeError) as e:
                    raise ModelNotAvailable(f"local/{name}: cannot load {path}: {e}") from None
                _meter(llm)
                _sliced(llm)
                _grammar_last(llm)
                _restore(llm, None if self.cfg.options.get("prompt_cache") is False else _state_file(name, n_ctx))
                _loaded[key] = (llm, threading.Lock())
                self._start_reaper()
            _last_use[_loaded[key][1]] = time.monotonic()  # taken now: the reaper (under the same lock) keeps it
            return _loaded[key]

    def _start_reaper(self) -> None:
        """The process's idle reaper frees the models that sit idle (see unload_idle)."""
        idle_memory.register(_unload_idle, float(self.cfg.options.get("idle_unload", IDLE_UNLOAD)))

    def stream(self, req: Request) -> Iterator[str | Response]:
        if req.model not in weights.LOCAL_MODELS:
            raise ModelNotAvailable(f"no local model {req.model!r} (local models: {', '.join(weights.LOCAL_MODELS)})")
        if req.progress is not None and not any(key[0] == req.model for key in _loaded):
            req.progress("loading", model=f"{self.name}/{req.model}")  # a second or more: the weights are read from disk
        llm, lock = self._model(req.model)
        who = f"{self.name}/{req.model}"
        kwargs = _arguments(llm, req, who)
        start = time.monotonic()
        text: list[str] = []
        finish = first = None  # first: when the first token came, the prompt read
        with _turn(lock, req, who):
            llm.tether_call = (req.cancel, req.progress, who)
            try:
                for chunk in llm.create_chat_completion(**kwargs, **req.extra):
                    choice = chunk["choices"][0]
                    piece = choice["delta"].get("content")
                    if piece:
                        first = first or time.monotonic()
                        text.append(piece)
                        if req.progress is not None:
                            req.progress("writing", text=piece)
                        if not req.tools:
                            yield piece
                    finish = choice.get("finish_reason") or finish
                    if req.cancel is not None and req.cancel.is_set():
                        raise _cut(Cancelled(f"{who}: stopped"), llm, text)
                    if req.timeout is not None and time.monotonic() - start > req.timeout:
                        raise _cut(ProviderTimeout(f"{who}: generation passed the {req.timeout:g}s timeout"), llm, text)
            except ValueError as e:  # e.g. the prompt is longer than the context window
                raise BadRequest(f"{who}: {e}") from None
            except Cancelled as e:  # stopped while it read the prompt
                raise _cut(e, llm, text) from None
            finally:
                llm.tether_call = None
            usage = _used(llm, text)
        reply = "".join(text)
        calls: list[ToolCall] = []
        if req.tools:
            reply, calls = _parse_tool_reply(reply, who)
            if reply:
                yield reply
        yield Response(
            reply,
            who,
            self.name,
            usage,
            tool_calls=calls,
            finish_reason="tool_calls" if calls else finish,
            ttft_ms=(first - start) * 1000 if first else None,
        )

    def complete(self, req: Request) -> Response:
        for item in self.stream(req):
            if isinstance(item, Response):
                return item
        raise MalformedResponse(f"{self.name}/{req.model}: no response")


def _arguments(llm, req: Request, who: str) -> dict:
    """llama.cpp's chat-completion arguments for a request: a schema (or the tools' one) as JSON
    mode, else the request's grammar."""
    schema = req.schema if not req.tools else _tools_schema(req)
    kwargs = {
        "messages": _plain_messages(req),
        "stream": True,
        "max_tokens": req.max_tokens,
        "temperature": 0.2 if req.temperature is None else req.temperature,
        "stop": req.stop or [],
        "seed": req.seed,
    }
    if schema is not None:
        kwargs["response_format"] = {"type": "json_object", "schema": schema}
    elif req.grammar:
        kwargs["grammar"] = _grammar(llm, req.grammar, who)
    return kwargs


@contextlib.contextmanager
def _turn(lock: threading.Lock, req: Request, who: str):
    """The model to this call alone; while another call uses it, this one says it waits and can be
    stopped (a second question in the web app waited 142 s behind the first with Stop pressed)."""
    if not lock.acquire(blocking=False):
        if req.progress is not None:
            req.progress("waiting", model=who)
        while not lock.acquire(timeout=0.1):
            if req.cancel is not None and req.cancel.is_set():
                raise Cancelled(f"{who}: stopped while waiting for the model (another call was using it)")
    try:
        yield
    finally:
        _last_use[lock] = time.monotonic()
        lock.release()


def _used(llm, text: list[str]) -> Usage:
    """The prompt the model last read (and how much of it came from the cache), and `text` written."""
    prompt, cached = llm.tether_prompt
    return Usage(prompt, len(text), cached_tokens=cached)


def _cut(error, llm, text: list[str]):
    """A reply stopped part-way has still read its prompt and written `text`: the error says so."""
    error.usage = _used(llm, text)
    return error


_valid_grammars: set[str] = set()


def _grammar(llm, text: str, who: str):
    """A GBNF grammar, checked first: llama.cpp segfaults on one that does not parse."""
    import llama_cpp.llama_cpp as low
    from llama_cpp import LlamaGrammar

    if text not in _valid_grammars:
        sampler = low.llama_sampler_init_grammar(llm._model.vocab, text.encode(), b"root")
        if not sampler:
            raise BadRequest(f"{who}: the grammar does not parse (GBNF with a root rule expected)")
        low.llama_sampler_free(sampler)
        _valid_grammars.add(text)
    return LlamaGrammar.from_string(text, verbose=False)


def _plain_messages(req: Request) -> list[dict]:
    """Chat templates know text turns only: tool traffic becomes text, and tools a system note."""
    out = []
    for m in req.messages:
        content = m.get("content") or ""
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if m.get("tool_calls"):
            content += "\n" + json.dumps(
                [{"tool": c["function"]["name"], "arguments": c["function"].get("arguments")} for c in m["tool_calls"]]
            )
        role = m["role"]
        if role == "tool":
            role, content = "user", f"Result of tool call {m.get('tool_call_id', '')}:\n{content}"
        out.append({"role": role, "content": content})
    if req.tools:
        listing = "\n".join(f"- {t.name}: {t.description} Arguments (JSON schema): {json.dumps(t.parameters)}" for t in req.tools)
        note = (
            "You can call these tools:\n"
            + listing
            + '\nReply with JSON only: {"tool": NAME, "arguments": {...}} to call a tool, or {"answer": TEXT} to answer.'
        )
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": out[0]["content"] + "\n\n" + note}
        else:
            out.insert(0, {"role": "system", "content": note})
    return out


def _tools_schema(req: Request) -> dict:
    options = [
        {"type": "object", "properties": {"tool": {"const": t.name}, "arguments": t.parameters}, "required": ["tool", "arguments"]}
        for t in req.tools
    ]
    if req.tool_choice not in ("required", "any") and not isinstance(req.tool_choice, dict):
        options.append({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]})
    return {"anyOf": options}


def _parse_tool_reply(reply: str, who: str) -> tuple[str, list[ToolCall]]:
    try:
        value = json.loads(reply)
    except json.JSONDecodeError:
        raise MalformedResponse(f"{who}: tool reply is not JSON: {reply[:200]!r}") from None
    if isinstance(value, dict) and "tool" in value:
        return "", [ToolCall("call_0", str(value["tool"]), json.dumps(value.get("arguments") or {}))]
    if isinstance(value, dict) and "answer" in value:
        return str(value["answer"]), []
    raise MalformedResponse(f"{who}: tool reply has neither a tool nor an answer: {reply[:200]!r}")


PROVIDER = LocalProvider


def _state_file(name: str, n_ctx: int):
    import llama_cpp

    return config.data_dir() / "prompt-cache" / f"{name}-{weights.LOCAL_MODELS[name].sha256[:12]}-{n_ctx}-{llama_cpp.__version__}.kv"


def _restore(llm, path) -> None:
    """Start from the KV cache the last process saved for this model (llama.cpp checks the file's
    format; one it does not accept is ignored). The path is kept for `_persist`: a cache goes back
    to the data dir it came from, wherever the environment points by then."""
    import llama_cpp.llama_cpp as low

    llm.tether_state = path
    if path is None or not path.is_file():
        return
    ids = (low.llama_token * llm.n_ctx())()
    count = ctypes.c_size_t(0)
    if not low.llama_state_seq_load_file(llm._ctx.ctx, str(path).encode(), 0, ids, llm.n_ctx(), ctypes.byref(count)) or not count.value:
        llm._ctx.kv_cache_clear()
        return
    n = count.value
    llm.input_ids[:n] = ids[:n]
    llm.n_tokens = n
    llm._requires_eval = True  # the logits are not restored: the next prompt re-reads at least its last token


def _persist(llm) -> None:
    """Save the first KEEP_TOKENS of the KV cache for the next process, atomically (a process
    killed while saving leaves the last good file). Never an error: it is only a head start."""
    import llama_cpp.llama_cpp as low

    path, n = getattr(llm, "tether_state", None), min(llm.n_tokens, KEEP_TOKENS)
    if path is None or not n:
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        config.private_dir(path.parent)
        partial.unlink(missing_ok=True)  # llama.cpp opens the name it is given: never through a link left there
        llm._ctx.kv_cache_seq_rm(0, n, -1)
        ids = (low.llama_token * n)(*llm.input_ids[:n].tolist())
        if low.llama_state_seq_save_file(llm._ctx.ctx, str(partial).encode(), 0, ids, n):
            os.chmod(partial, 0o600)  # what the model read of the user's code: like the rest of the data dir, the owner's alone
            os.replace(partial, path)
    except (OSError, ValueError):
        pass
    finally:
        partial.unlink(missing_ok=True)
