"""The JSON every face prints, documented once as JSON Schemas: `tether CMD --json`, the web app's
data and the MCP tools' results all come from a result's `to_dict()` and keep these shapes.
`python -m tether.shapes` prints them; a test checks every command's output against them."""

from __future__ import annotations

import json

__all__ = ["SHAPES", "TOOLS"]

S, I, N, B = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}  # noqa: E741 - I is integer


def maybe(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict, optional: dict | None = None) -> dict:
    """An object with these keys (and no others)."""
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": sorted(required), "additionalProperties": False}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


USAGE = obj({"input_tokens": I, "output_tokens": I}, {"estimated": B, "cached_tokens": I})
RESPONSE = obj(
    {
        "text": S,
        "model": S,
        "provider": S,
        "route": maybe(S),
        "usage": USAGE,
        "cost_usd": maybe(N),
        "latency_ms": N,
        "ttft_ms": maybe(N),
        "finish_reason": maybe(S),
        "attempts": I,
        "tool_calls": array(obj({"id": S, "name": S, "arguments": {}})),
    },
    {"conversation": S},
)
MODEL = obj(
    {
        "model": S,
        "context_window": maybe(I),
        "input_per_mtok": maybe(N),
        "output_per_mtok": maybe(N),
        "cached_per_mtok": maybe(N),
        "edit_format": S,
        "usable": B,
        "missing": maybe(S),
    }
)
LEDGER_TOTAL = obj(
    {
        "key": maybe(S),
        "ok": I,
        "failed": I,
        "stopped": I,
        "refused": I,
        "input_tokens": I,
        "output_tokens": I,
        "cached_tokens": I,
        "cost_usd": maybe(N),
        "unpriced": I,
        "avg_latency_ms": maybe(N),
        "attempts": I,
    }
)
HIT = obj({"path": S, "start": I, "end": I, "name": S, "score": N, "found_by": {"type": "object", "additionalProperties": I}, "snippet": S})
BLOCK = obj({"block": I, "path": S, "ok": B, "how": S, "error": maybe(S), "hint": maybe(S)})
CHANGE = obj({"before": S, "after": S, "message": S, "time": N, "files": array(S)})
CHECK = obj({"command": S, "code": maybe(I), "ok": B}, {"wrote": array(S)})  # wrote: files the check created, changed or deleted
RUN_ROW = obj(
    {
        "id": S,
        "ts": N,
        "root": S,
        "command": S,
        "instruction": S,
        "level": S,
        "model": S,
        "status": S,
        "reason": maybe(S),
        "steps": I,
        "input_tokens": I,
        "output_tokens": I,
        "cost_usd": maybe(N),
        "seconds": maybe(N),
        "changed": array(S),
    },
    {"title": S},  # a list's row: the request's first line, for one-line displays
)
KEY = obj(
    {
        "id": I,
        "name": S,
        "prefix": S,
        "created": N,
        "revoked": maybe(N),
        "budget": {"type": "object", "additionalProperties": N},
        "rpm": maybe(I),
        "routes": array(S),
    }
)
STATUSES = ["done", "answered", "proposed", "failing", "unchanged", "refused", "stuck", "budget", "stopped", "interrupted", "error"]

SHAPES: dict[str, dict] = {
    "chat": RESPONSE,
    "models": obj({"routes": {"type": "object", "additionalProperties": array(S)}, "models": array(MODEL)}),
    "ledger": obj({"by": S, "since": S, "totals": array(LEDGER_TOTAL), "rows": array({"type": "object"})}),
    "digest": obj(
        {
            "source": S,
            "encoding": S,
            "file_count": I,
            "binary_files": I,
            "total_tokens": I,
            "tree": S,
            "skipped": {"type": "object", "additionalProperties": I},
            "redacted": {"type": "object", "additionalProperties": I},
            "lossy_files": array(S),
            "skipped_files": array(obj({"path": S, "reason": S})),
            "sections": {"type": "object", "additionalProperties": S},
            "files": array(obj({"path": S, "tokens": I, "binary": B, "content": maybe(S)})),
        }
    ),
    "map": obj(
        {
            "root": S,
            "tokens": I,
            "text": S,
            "files": array(
                obj({"path": S, "rank": N, "symbols": array(obj({"name": S, "kind": S, "line": I, "end_line": I, "signature": S}))})
            ),
        }
    ),
    "search": obj(
        {
            "query": S,
            "index": obj({"files": I, "changed": I, "removed": I, "chunks": I, "not_embedded": I, "update_seconds": N}),
            "results": array(HIT),
        }
    ),
    "apply": obj({"applied": B, "changed": array(S), "diff": S, "left_out": array(S), "blocks": array(BLOCK)}),
    "undo": CHANGE,
    "redo": CHANGE,
    "log": array(RUN_ROW),
    "log --changes": array(obj({**CHANGE["properties"], "number": I, "applied": B})),
    "log RUN": obj(
        {
            "run": RUN_ROW,
            "steps": array(
                obj({"n": I, "ts": N, "kind": {"enum": ["start", "prompt", "reply", "tool", "decision", "diff", "verify", "note", "end"]}})
                | {"additionalProperties": True}
            ),
        }
    ),
    "ask": obj(
        {
            "answer": S,
            "run": S,
            "model": maybe(S),
            "cost_usd": maybe(N),
            "usage": maybe(USAGE),
            "claims": array(
                obj(
                    {
                        "text": S,
                        "citations": array({"type": "object"}),
                        "identifiers": array(S),
                        "verified": B,
                        "problems": array(S),
                        "shown": array(S),
                        "state": {"enum": ["verified", "unchecked", "unverified"]},
                    }
                )
            ),
        }
    ),
    "do": obj(
        {
            "run": S,
            "status": {"enum": STATUSES},
            "reason": S,
            "answer": maybe(S),
            "changed": array(S),
            "diff": S,
            "steps": I,
            "usage": USAGE,
            "cost_usd": maybe(N),
            "seconds": N,
            "checks": array(CHECK),
        }
    ),
    "gateway": obj({"url": S, "token": S}),
    "ui": obj({"url": S, "workspace": S}),
    "llms-txt": obj(
        {
            "title": S,
            "summary": S,
            "total_tokens": I,
            "llms_txt_tokens": I,
            "full_parts": I,
            "written": array(S),
            "pages": array(obj({"source": S, "twin": S, "title": S, "summary": S, "tokens": I, "section": S})),
            "broken_links": array(obj({"page": S, "link": S})),
        }
    ),
    "memory": obj(
        {
            "proposals": array(
                obj(
                    {
                        "id": I,
                        "ts": N,
                        "root": S,
                        "run_id": maybe(S),
                        "step": maybe(I),
                        "source": S,
                        "text": S,
                        "status": {"enum": ["pending", "accepted", "rejected"]},
                    }
                )
            ),
            "standing": array(S),
        }
    ),
    "memory accept": CHANGE,
    "memory reject": obj({"rejected": I}),
    "wiki": obj(
        {
            "pages": array(
                obj(
                    {
                        "slug": S,
                        "title": S,
                        "files": array(S),
                        "dropped": I,
                        "commit": S,
                        "run": S,
                        "claims": array(
                            obj({"text": S, "citations": array(obj({"path": S, "start": I, "end": I, "hash": S}, {"around": S}))})
                        ),
                    }
                )
            ),
            "written": array(S),
            "kept": array(S),
            "seconds": N,
            "claims": I,
            "citations": I,
            "dropped_claims": I,
            "overview": S,
            "files": array(S),
        }
    ),
    "wiki --dry-run": obj(
        {
            "pages": array(obj({"slug": S, "title": S, "action": {"enum": ["write", "refresh", "keep"]}, "prompt_tokens": I})),
            "model": S,
            "prompt_tokens": I,
            "seconds": maybe(N),
        }
    ),
    "keys": array(KEY),
    "keys create": obj({**KEY["properties"], "key": S}),
    "keys revoke": KEY,
    "db": obj({"running": B, "url": S, "folder": S}),
    "mcp": obj({"url": S, "token": S, "workspace": S, "write": B}),
    "mcp --describe": obj({"tools": {"type": "object", "additionalProperties": S}, "sha256": S}),
    "mcp servers": obj(
        {
            "servers": array(
                obj(
                    {
                        "name": S,
                        "transport": {"enum": ["stdio", "http"]},
                        "target": S,
                        "started": B,
                        "error": maybe(S),
                        "tools": array(obj({"name": S, "description": S})),
                    }
                )
            )
        }
    ),
    "config": obj(
        {
            "layers": array(obj({"origin": {"enum": ["user", "project", "--config"]}, "path": S, "trusted": B})),
            "project": maybe(obj({"path": S, "trusted": B})),
            "values": array(obj({"key": S, "value": {}, "origin": S})),
            "ignored": array(S),
            "note": maybe(S),
        }
    ),
    "trust": obj({"path": S, "trusted": B, "sha256": maybe(S), "changed_since_trusted": B}),
    "error": obj({"error": S, "kind": S, "exit": I}),
}

# `tether plan` and `tether do --plan`: a plan's steps, and a plan's run (a run's shape with the plan's steps added)
PLAN_STEP = obj(
    {
        "n": I,
        "title": S,
        "files": array(S),
        "check": maybe(S),
        "status": {"enum": ["todo", "done", "failed", "skipped"]},
        "detail": S,
        "run": maybe(S),
        "reason": S,
    }
)
PLAN = obj(
    {"task": S, "steps": array(PLAN_STEP), "text": S, "run": maybe(S), "model": maybe(S), "usage": maybe(USAGE), "cost_usd": maybe(N)}
)
SHAPES["plan"] = obj({**PLAN["properties"], "file": S})
SHAPES["do --plan"] = {
    **SHAPES["do"],
    "properties": {**SHAPES["do"]["properties"], "plan": obj({"task": S, "file": maybe(S), "steps": array(PLAN_STEP)})},
    "required": sorted([*SHAPES["do"]["required"], "plan"]),
}

# `tether hooks` and `tether hooks test`: the user's [[hooks]] (autonomy/guard/hooks.py), and each verdict on a sample event
HOOK = obj({"name": maybe(S), "event": S, "match": obj({}, {"tool": S, "path": S}), "command": array(S), "timeout": N})
SHAPES["hooks"] = obj({"root": S, "hooks": array(HOOK)})
SHAPES["hooks test"] = obj(
    {
        "event": S,
        "tool": maybe(S),
        "target": S,
        "allowed": B,
        "verdicts": array(obj({**HOOK["properties"], "allowed": B, "reason": S, "code": maybe(I), "seconds": N})),
    }
)

# The MCP tools' results: search, map, ask, undo and ledger keep the shapes of their commands above.
APPLY = SHAPES["apply"]
TOOLS: dict[str, dict] = {
    "digest": obj({"page": I, "pages": I, "files": I, "total_tokens": I, "tokens": I, "text": S}),
    "map": SHAPES["map"],
    "search": SHAPES["search"],
    "read": obj({"path": S, "start": I, "end": I, "lines": I, "text": S}),
    "ask": SHAPES["ask"],
    "do": SHAPES["do"],
    "resume": SHAPES["do"],
    "plan": PLAN,
    "propose_edit": obj({**APPLY["properties"], "proposal": maybe(S)}),
    "apply_proposal": obj({**APPLY["properties"], "change": CHANGE}),
    "undo": CHANGE,
    "runs": obj({"runs": array(RUN_ROW)}),
    "ledger": SHAPES["ledger"],
}


if __name__ == "__main__":
    print(json.dumps({"commands": SHAPES, "mcp tools": TOOLS}, indent=2))
