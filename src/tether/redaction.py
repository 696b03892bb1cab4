"""Secrets redacted in place: the text is kept, each secret replaced by a marker that says what
it was. One redaction for everything that leaves for a model or is stored — digests, prompts,
run logs, the search index, error texts. Sample credentials in docs
(`postgresql://scott:tiger@localhost`) are redacted like real ones rather than dropping the file,
so a digest never loses a project's documentation.

Token shapes come from our table and from detect-secrets' detectors for the vendors it knows
(`_vendor_patterns`). Its scanner as a whole is not used: over site-packages' .py files it read
0.05 MB/s against this module's ~40, and it misses unquoted `.env` values and `*_TOKEN` keys.
Values assigned to secret-named keys (env lines, JSON, YAML, INI, TOML, a Kubernetes Secret) are
found by `secret_values`. Files that hold secrets by their name (`.env*`, keys), and config files,
are read through `redact_file`, stricter; every reader of a workspace file calls it with the path
it opened (a symlink is judged by its target's name too), so no face has a rule of its own."""

from __future__ import annotations

import os
import re
from collections import Counter
from functools import cache
from pathlib import Path

from .secret_values import CONFIG, ENV, TEXT, Span, assigned, lowered

MARKER = "[REDACTED:"
RULES = "3"  # what a redaction depends on besides the text: caches of redacted text key on it (with `rules_for`)

# (kind, lower-case literals one of which a match must contain, pattern); the literal test is a fast scan
# that spares most files the regex. A pattern that starts with a literal needs none: re scans for it as fast
# as `in` does (~1 GB/s here).
_PATTERNS: list[tuple[str, tuple[str, ...], re.Pattern]] = [
    (
        "private-key",
        (),
        re.compile(  # to its END line or, in a text cut short, over the lines of its body
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"""|(?:(?:\s|\\n)+(?:[A-Za-z0-9+/=]+|(?:Proc-Type|DEK-Info|Comment):[^\n]*)(?=[ \t]*(?:\r?\n|\\n|\Z|["'])))+)""",
            re.S,
        ),
    ),
    ("aws-access-key", (), re.compile(r"A(?:KIA|SIA)[0-9A-Z]{16}(?![0-9A-Z])")),
    ("github-token", (), re.compile(r"gh(?:[pousr]_[A-Za-z0-9]{36,}|ithub_pat_[A-Za-z0-9_]{40,})")),
    ("anthropic-key", (), re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}")),
    ("openai-key", (), re.compile(r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}")),
    ("slack-token", (), re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("google-api-key", (), re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    ("stripe-key", ("_live_",), re.compile(r"[sr]k_live_[0-9A-Za-z]{20,}")),
    ("huggingface-token", (), re.compile(r"hf_[A-Za-z0-9]{30,}")),
    ("jwt", (), re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")),
    (
        "bearer-token",
        ("bearer",),
        re.compile(r"(?<=[Bb]earer )(?!\[REDACTED)[A-Za-z0-9._~+/=\-]{12,}|(?<=BEARER )[A-Za-z0-9._~+/=\-]{12,}"),
    ),
]
# detect-secrets' detectors whose patterns are a vendor's token shape (a fixed prefix, then a body).
# The others match context words or entropy: slow over code (16-40 MB/s each) and noisy.
_VENDORS = (
    ("gitlab_token", "GitLabTokenDetector"),
    ("sendgrid", "SendGridDetector"),
    ("pypi_token", "PypiTokenDetector"),
    ("npm", "NpmDetector"),
    ("square_oauth", "SquareOAuthDetector"),
    ("azure_storage_key", "AzureStorageKeyDetector"),
)
_TAIL = r"[A-Za-z0-9_\-]*"  # its patterns find a token; a redaction must cover all of it
# scheme://user:password@host — keep the user and host, drop the password; scheme://key@host (a
# Sentry DSN, a token as the user) — drop a user that is a key: long, with letters and digits
_URL_USER = re.compile(r"(://)([^\s:/@'\"]+)(?::([^\s@/'\"]+))?(@)")
_URL_KEY = re.compile(r"(?=[A-Za-z_\-]*[0-9])(?=[0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}")

# files that hold secrets by their name: env files (KEY=value lines) and files that are a secret whole
_KEY_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".ppk", ".jks", ".keystore")
_WHOLE_NAMES = {".netrc", "_netrc", ".pgpass", ".htpasswd"}
# config files: no code in them, so a bare word after a secret-named key is its value
_CONFIG_SUFFIXES = (".yaml", ".yml", ".ini", ".cfg", ".conf", ".toml", ".properties", ".tfvars")
_CONFIG_NAMES = {".npmrc", ".pypirc", ".yarnrc", ".gemrc", ".condarc", "credentials", "containerfile"}


def redact(text: str) -> tuple[str, Counter]:
    """The text with secrets replaced by `[REDACTED:kind]`, and how many of each kind."""
    return _redact(text, TEXT)


def _redact(text: str, level: int) -> tuple[str, Counter]:
    """`redact` as sure of values as a file of `level` lets it be (secret_values)."""
    found: Counter = Counter()
    lower = lowered(text)  # for the literal tests and secret_values' scan
    for kind, literals, pattern in _PATTERNS:
        if not literals or any(literal in lower for literal in literals):
            text = _sub(pattern, kind, text, found)
    for kind, pattern in _vendor_patterns():
        text = _sub(pattern, kind, text, found)
    if "://" in text:
        text = _URL_USER.sub(lambda m: _url_user(m, found), text)
    spans = _first(assigned(text, level, lowered(text) if found else lower))
    found.update(kind for _, _, kind in spans)
    return _replace(text, spans), found


def _url_user(m: re.Match, found: Counter) -> str:
    """A URL's user part with its password, or a user that is a key, redacted."""
    scheme, user, password, at = m.groups()
    if password:
        found["url-password"] += 1
        return f"{scheme}{user}:[REDACTED:url-password]{at}"
    if _URL_KEY.fullmatch(user) and m.string[max(0, m.start() - 5) : m.start()].lower().endswith(("http", "https")):
        found["url-key"] += 1
        return f"{scheme}[REDACTED:url-key]{at}"
    return m.group()


def _sub(pattern: re.Pattern, kind: str, text: str, found: Counter) -> str:
    text, n = pattern.subn(f"[REDACTED:{kind}]", text)
    if n:
        found[kind] += n
    return text


@cache
def _vendor_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    """detect-secrets' token shapes, imported on first use (loading it takes ~0.2 s: it pulls in requests)."""
    import importlib

    out = []
    for module, name in _VENDORS:
        detector = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
        kind = re.sub(r"[^a-z0-9]+", "-", detector.secret_type.lower()).strip("-")
        out += [(kind, re.compile(f"(?:{p.pattern}){_TAIL}", p.flags)) for p in detector.denylist]
    return tuple(out)


def _first(spans: list[Span]) -> list[Span]:
    """`spans` in order, each overlapping an earlier one dropped."""
    out, last = [], 0
    for span in sorted(spans):
        if span[0] >= last:
            out.append(span)
            last = span[1]
    return out


def _replace(text: str, spans: list[Span]) -> str:
    """`text` with each (start, end, kind) span (in order, apart) replaced by the marker of its kind,
    each line of a span over several lines by one, so that line numbers still hold."""
    out, last = [], 0
    for start, end, kind in spans:
        marker = f"[REDACTED:{kind}]"
        lines = text[start:end].split("\n")
        out += [text[last:start], "\n".join(marker + line[len(line.rstrip("\r")) :] if line.strip() else line for line in lines)]
        last = end
    out.append(text[last:])
    return "".join(out)


def secret_file(path: str | Path) -> str | None:
    """ "env" for a file of KEY=value secrets (.env, .env-prod, .env_local, prod.env, .envrc), "key"
    for a file that is a secret whole (*.pem, *.key, id_rsa, .netrc), None for any other file.
    A symlink is judged by its own name and its target's, the stricter: `settings.txt -> .env` is
    an env file. `path` is the file as it is opened (absolute, or relative to the working folder)."""
    kind = _file_kind(path)
    return kind if kind in ("env", "key") else None


def _names(path: str | Path) -> set[str]:
    """The file's name and, for a symlink, its real file's name (lower-cased)."""
    names = {_name(path)}
    try:
        if os.path.islink(path):
            names.add(_name(os.path.realpath(path)))
    except (OSError, ValueError):
        pass
    return names


def _name(path: str | Path) -> str:
    return str(path).replace("\\", "/").rsplit("/", 1)[-1].lower()


def _kind(name: str) -> str | None:
    if name.startswith(".env") or name.endswith(".env"):
        return "env"
    if name.endswith(_KEY_SUFFIXES) or name in _WHOLE_NAMES or (name.startswith("id_") and "." not in name):
        return "key"
    if name.endswith(_CONFIG_SUFFIXES) or name in _CONFIG_NAMES or name.startswith("dockerfile") or name.endswith(".dockerfile"):
        return "config"
    return None


def redact_all(value):
    """Every text in a structure (a run step, a page event) redacted as the text it is: redacting
    its JSON would read `"` as `\\"`, and a quoted secret (`api_key = "…"`) would pass as it came."""
    if isinstance(value, str):
        return redact(value)[0]
    if isinstance(value, dict):
        return {k: redact_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(v) for v in value]
    return value


def redact_file(path: str | Path, text: str) -> tuple[str, Counter]:
    """`redact` for the text of a workspace file, stricter where its name (or, for a symlink, its
    target's) says it holds secrets: every secret-named value of an env file, all of a key file, a
    config file's bare words. Every reader of files calls this with the path it opened."""
    kind = _file_kind(path)
    if kind == "key":
        return ("[REDACTED:key-file]\n", Counter({"key-file": 1})) if text.strip() else (text, Counter())
    return _redact(text, ENV if kind == "env" else CONFIG if kind == "config" else TEXT)


def _file_kind(path: str | Path) -> str | None:
    """ "key", "env", "config" or None: what the file's names say it is, the strictest."""
    kinds = {_kind(name) for name in _names(path)}
    return next((k for k in ("key", "env", "config") if k in kinds), None)


def rules_for(path: str | Path) -> str:
    """What a file's redaction depends on besides its bytes, for a cache's key."""
    return f"{RULES}:{_file_kind(path) or ''}"


def scrub(text: str, known: tuple[str, ...] = ()) -> str:
    """`text` redacted, and every value in `known` (keys we hold) replaced too."""
    for secret in known:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[REDACTED:key]")
    return redact(text)[0]


def redact_messages(messages: list[dict]) -> list[dict]:
    """Chat messages with their text redacted (copies; the caller's are left alone)."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            m = {**m, "content": redact(content)[0]}
        elif isinstance(content, list):
            m = {
                **m,
                "content": [
                    {**p, "text": redact(p["text"])[0]} if isinstance(p, dict) and isinstance(p.get("text"), str) else p for p in content
                ],
            }
        out.append(m)
    return out
