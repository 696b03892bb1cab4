"""Config layers, merged key by key: defaults < the user's config < the project's `tether.toml` <
`--config FILE` < flags. A repository is untrusted input, so its `tether.toml` may only narrow
what the user allows until the person trusts it, and some keys are the user's alone even then.

A key is *narrowed* when the project's value asks for less than the layers below it allow (a
lower level, a smaller limit, a subset of the commands, a deny rule); a key the project may not
set is dropped and named, never half-applied. What is not listed here is the user's alone, so a
section added later is safe by default."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

from .errors import ConfigError
from .paths import config_bytes

LEVELS = ("ask", "suggest", "approve", "auto", "agent")

# The one source of the defaults that a project may narrow (leash.py, verify.py and mcp/ read them).
DEFAULTS = {
    "leash": {"level": "approve", "max_files": 10, "max_lines": 400, "budget": {"seconds": 900.0}},
    "verify": {"timeout": 120.0, "output_cap": 6000, "sandbox": "auto"},
    "mcp": {"write": False, "max_tokens": 20_000},
}

# The keys of the sections other floors read (leash.py, verify.py, mcp/, llm/meter.py, context/index.py): one
# list, so that a misspelt key is one clear error in whichever file has it, trusted or not.
KEYS = {
    "leash": ("level", "paths", "max_files", "max_lines", "commands", "budget", "rules"),
    "verify": ("commands", "timeout", "output_cap", "sandbox", "env", "writable"),
    "mcp": ("write", "max_tokens", "servers"),
    "ledger": ("url", "url_env"),
    "search": ("embedder",),
}


LISTS = ("hooks",)  # sections written as a list of tables (`[[hooks]]`); autonomy/guard/hooks.py reads them
SECTIONS = {"providers", "routes", "budget", "models", *KEYS, *LISTS}


def read(path: Path) -> dict:
    """One layer's file as a table of tables; a mistake is one line naming the file and the key."""
    try:
        raw = tomllib.loads(config_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    for section, value in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}] (sections: {', '.join(sorted(SECTIONS))})")
        if section in LISTS:
            if not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
                raise ConfigError(f"{path}: {section} must be a list of tables, each written [[{section}]]")
        elif not isinstance(value, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
    if problem := misspelt(raw):
        raise ConfigError(f"{path}: {problem}")
    return raw


def seen(files: list[Path | None]) -> tuple:
    """Each file's name, modification time and size as the disk has them now (None: absent)."""
    out = []
    for f in files:
        try:
            st = f.stat() if f else None
        except OSError:
            st = None
        out.append((str(f), st.st_mtime_ns, st.st_size) if st else (str(f), None, None))
    return tuple(out)


def misspelt(raw: dict) -> str | None:
    """The first key of a section in KEYS that the section does not have, as "[section] key"."""
    for section, known in KEYS.items():
        table = raw.get(section)
        for key in table if isinstance(table, dict) else ():
            if key not in known:
                return f"unknown key {key!r} in [{section}] (known: {', '.join(known)})"
    return None


# Keys that come from the user's own config (or `--config FILE`) only, trusted project or not:
# where keys go and what may leave the sandbox (DESIGN: providers, base URLs, key variables, the
# sandbox, MCP writes and servers, hooks and the ledger URL).
USER_ONLY = ("providers", "ledger", "hooks", "mcp.write", "mcp.servers", "verify.sandbox", "verify.env", "verify.writable")

# How an untrusted project may set a key: each rule takes (project value, value below) and says
# whether the project's value is kept. A `*` matches any one key of a table.
_NARROWING = {
    "budget.*": "smaller",
    "leash.level": "lower",
    "leash.max_files": "smaller",
    "leash.max_lines": "smaller",
    "leash.paths": "paths",
    "leash.commands": "subset",
    "leash.budget.*": "smaller",
    "leash.rules": "stricter-rules",
    "verify.commands": "any",  # what to run as checks: they run sandboxed, and never widen the leash
    "verify.timeout": "smaller",
    "verify.output_cap": "smaller",
    "mcp.max_tokens": "smaller",
    "search.embedder": "any",
}
APPENDED = ("leash.rules",)  # lists that add up across layers instead of replacing (a deny rule is never lost)


STEPS = {"ask": 6, "suggest": 8, "approve": 12, "auto": 12, "agent": 20}  # a run's model turns when no budget says


def default(key: str, below: dict | None = None):
    """The value in force for `key` when no layer sets it (a run's steps depend on its level)."""
    if key == "leash.budget.steps":
        level = lookup(below or {}, "leash.level")
        return STEPS.get(level if level in STEPS else DEFAULTS["leash"]["level"])
    return lookup(DEFAULTS, key)


def user_only(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in USER_ONLY)


def leaves(raw: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, value) for every value that is not a table."""
    out = []
    for k, v in raw.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += leaves(v, key + ".")  # an empty table sets nothing: it never replaces what is below it
        else:
            out.append((key, v))
    return out


def lookup(raw: dict, key: str):
    for part in key.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return None
        raw = raw[part]
    return raw


def _put(raw: dict, key: str, value) -> None:
    *parents, last = key.split(".")
    for part in parents:
        if not isinstance(raw.get(part), dict):
            raw[part] = {}
        raw = raw[part]
    raw[last] = value


def _rule(key: str) -> str | None:
    parts = key.split(".")
    for pattern, rule in _NARROWING.items():
        p = pattern.split(".")
        if len(p) == len(parts) and all(a in ("*", b) for a, b in zip(p, parts, strict=False)):
            return rule
    return None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _kept(rule: str, value, below):
    """The part of the project's `value` that narrows `below` (None: nothing of it is kept)."""
    if rule == "any":
        return value
    if rule == "smaller":  # a value of the wrong type is dropped too: "60" must not pass as smaller than 2
        return value if _number(value) and (below is None or (_number(below) and value <= below)) else None
    if rule == "lower":
        return value if value in LEVELS and LEVELS.index(value) <= LEVELS.index(below if below in LEVELS else "approve") else None
    if rule == "paths":
        return value if below is None else None  # globs cannot be intersected: only where the user set none
    if rule == "subset":
        if not isinstance(value, list):
            return None
        allowed = below if isinstance(below, list) else []
        kept = [c for c in value if c in allowed]
        return kept if kept == value else (kept or None)
    if rule == "stricter-rules":
        if not isinstance(value, list):
            return None
        kept = [r for r in value if not (isinstance(r, dict) and r.get("action") == "allow")]
        return kept if kept == value else (kept or None)
    raise ValueError(rule)


NAMED_TABLES = ("providers", "routes", "models")  # a dropped key of these is named by its table: `providers.evil`


def narrow(raw: dict, below: dict, trusted: bool, providers: set[str]) -> tuple[dict, list[str]]:
    """What of a project's `raw` config applies over `below` (the merged layers under it), and the
    keys it sets that are dropped. A trusted project loses only the user's own keys, and routes
    onto a provider that is not in `providers` (the built-in ones and the user's)."""
    kept: dict = {}
    dropped: list[str] = []
    for key, value in leaves(raw):  # a list of tables (`[[leash.rules]]`) is one key
        rule = _rule(key)
        if user_only(key) or (not trusted and rule is None) or _unknown_provider(key, value, providers):
            named = ".".join(key.split(".")[:2]) if key.split(".")[0] in NAMED_TABLES else key
            dropped += [] if named in dropped else [named]
            continue
        below_value = lookup(below, key)
        value = value if trusted else _kept(rule, value, below_value if below_value is not None else default(key, below))
        if value is None:
            dropped.append(key)
        else:
            if isinstance(value, list) and key not in APPENDED and value != lookup(raw, key):
                dropped.append(key + " (in part)")
            _put(kept, key, value)
    return kept, dropped


def _unknown_provider(key: str, value, providers: set[str]) -> bool:
    """A route's model (or its escalation) on a provider the project may not define."""
    parts = key.split(".")
    if parts[0] != "routes" or len(parts) != 3 or parts[2] not in ("models", "escalate"):
        return False
    names = value if isinstance(value, list) else [value]
    return any(isinstance(n, str) and "/" in n and n.split("/", 1)[0] not in providers for n in names)


def merge(into: dict, layer: dict, origins: dict[str, str], origin: str) -> None:
    """Merge `layer` over `into` key by key; `origins` learns where each leaf came from."""
    for key, value in leaves(layer):
        if key in APPENDED and isinstance(lookup(into, key), list) and isinstance(value, list):
            value = [*lookup(into, key), *value]
        _put(into, key, copy.deepcopy(value))
        origins[key] = origin
