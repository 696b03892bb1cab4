"""Secrets redacted in place: the text is kept, each secret replaced by a marker that says what
it was. One redaction for everything that leaves for a model or is stored — digests, prompts,
run logs, the search index, error texts. Sample credentials in docs
(`postgresql://scott:tiger@localhost`) are redacted like real ones rather than dropping the file,
so a digest never loses a project's documentation."""

from __future__ import annotations

import re
from collections import Counter

# (kind, literals one of which a match must contain, pattern); the literal test is a fast scan
# that spares most files the regex.
_PATTERNS: list[tuple[str, tuple[str, ...], re.Pattern]] = [
    ("private-key", ("-----BEGIN",), re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)),
    ("aws-access-key", ("AKIA", "ASIA"), re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])")),
    ("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}")),
    ("anthropic-key", ("sk-ant-",), re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}")),
    ("openai-key", ("sk-",), re.compile(r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}")),
    ("slack-token", ("xox",), re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("google-api-key", ("AIza",), re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    ("stripe-key", ("_live_",), re.compile(r"[sr]k_live_[0-9A-Za-z]{20,}")),
    ("jwt", ("eyJ",), re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")),
    ("bearer-token", ("Bearer", "bearer", "BEARER"), re.compile(r"(?<=[Bb]earer )(?!\[REDACTED)[A-Za-z0-9._~+/=\-]{12,}|(?<=BEARER )[A-Za-z0-9._~+/=\-]{12,}")),
]
MARKER = "[REDACTED:"
# scheme://user:password@host — keep the user and host, drop the password
_URL_PASSWORD = re.compile(r"(://[^\s:/@'\"]+:)([^\s@/'\"]+)(@)")
# password = "…", api_key: '…', DB_SECRET="…"
_ASSIGNED = re.compile(
    r"""(?i)((?:password|passwd|secret|api_?key|access_token|auth_token|private_key)[\w\-]*\s*[:=]\s*)(["'])((?!\[REDACTED)[^"'\s]{6,})\2"""
)

_KEYWORDS = ("password", "passwd", "secret", "apikey", "api_key", "access_token", "auth_token", "private_key")


def redact(text: str) -> tuple[str, Counter]:
    """The text with secrets replaced by `[REDACTED:kind]`, and how many of each kind."""
    found: Counter = Counter()
    for kind, literals, pattern in _PATTERNS:
        if any(literal in text for literal in literals):
            text, n = pattern.subn(f"[REDACTED:{kind}]", text)
            if n:
                found[kind] += n
    if "://" in text:
        text, n = _URL_PASSWORD.subn(lambda m: m.group(1) + "[REDACTED:url-password]" + m.group(3), text)
        if n:
            found["url-password"] += n
    text, n = _redact_assignments(text)
    if n:
        found["password"] += n
    return text, found


def _redact_assignments(text: str) -> tuple[str, int]:
    """`password = "…"` and kin. A case-insensitive scan of a whole file is slow, so the regex
    is only tried where a lower-cased copy shows a keyword."""
    lower = text.lower()
    if len(lower) != len(text):  # lower-casing moved offsets (rare scripts): scan it all
        return _ASSIGNED.subn(lambda m: m.group(1) + m.group(2) + "[REDACTED:password]" + m.group(2), text)
    values = set()
    for word in _KEYWORDS:
        at = lower.find(word)
        while at != -1:
            match = _ASSIGNED.match(text, at)
            if match:
                values.add(match.span(3))
            at = lower.find(word, at + 1)
    if not values:
        return text, 0
    out, last = [], 0
    for start, end in sorted(values):
        if start >= last:
            out += [text[last:start], "[REDACTED:password]"]
            last = end
    out.append(text[last:])
    return "".join(out), len(values)


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
            m = {**m, "content": [{**p, "text": redact(p["text"])[0]} if isinstance(p, dict) and isinstance(p.get("text"), str) else p
                                  for p in content]}
        out.append(m)
    return out
