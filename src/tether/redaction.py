"""Secrets redacted in place: the text is kept, each secret replaced by a marker that says what
it was. One redaction for everything that leaves for a model or is stored — digests, prompts,
run logs, the search index, error texts. Sample credentials in docs
(`postgresql://scott:tiger@localhost`) are redacted like real ones rather than dropping the file,
so a digest never loses a project's documentation.

Token shapes come from our table and from detect-secrets' detectors for the vendors it knows
(`_vendor_patterns`). Its scanner as a whole is not used: over site-packages' .py files it read
0.05 MB/s against this module's ~40, and it misses unquoted `.env` values and `*_TOKEN` keys.
Files that hold secrets by their name (`.env*`, keys) are read through `redact_file`, stricter:
every reader of a workspace file calls it, so no face has a rule of its own."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

MARKER = "[REDACTED:"
RULES = "2"  # what a redaction depends on besides the text: caches of redacted text key on it (with `rules_for`)

# (kind, literals one of which a match must contain, pattern); the literal test is a fast scan
# that spares most files the regex. A pattern that starts with a literal needs none: re scans for it as fast
# as `in` does (~1 GB/s here).
_PATTERNS: list[tuple[str, tuple[str, ...], re.Pattern]] = [
    ("private-key", (), re.compile(  # to its END line or, in a text cut short, over the lines of its body
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        r"""|(?:(?:\s|\\n)+(?:[A-Za-z0-9+/=]+|(?:Proc-Type|DEK-Info|Comment):[^\n]*)(?=[ \t]*(?:\r?\n|\\n|\Z|["'])))+)""", re.S)),
    ("aws-access-key", (), re.compile(r"A(?:KIA|SIA)[0-9A-Z]{16}(?![0-9A-Z])")),
    ("github-token", (), re.compile(r"gh(?:[pousr]_[A-Za-z0-9]{36,}|ithub_pat_[A-Za-z0-9_]{40,})")),
    ("anthropic-key", (), re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}")),
    ("openai-key", (), re.compile(r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}")),
    ("slack-token", (), re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("google-api-key", (), re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    ("stripe-key", ("_live_",), re.compile(r"[sr]k_live_[0-9A-Za-z]{20,}")),
    ("huggingface-token", (), re.compile(r"hf_[A-Za-z0-9]{30,}")),
    ("jwt", (), re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")),
    ("bearer-token", ("Bearer", "bearer", "BEARER"), re.compile(r"(?<=[Bb]earer )(?!\[REDACTED)[A-Za-z0-9._~+/=\-]{12,}|(?<=BEARER )[A-Za-z0-9._~+/=\-]{12,}")),
]
# detect-secrets' detectors whose patterns are a vendor's token shape (a fixed prefix, then a body).
# The others match context words or entropy: slow over code (16-40 MB/s each) and noisy.
_VENDORS = (("gitlab_token", "GitLabTokenDetector"), ("sendgrid", "SendGridDetector"), ("pypi_token", "PypiTokenDetector"),
            ("npm", "NpmDetector"), ("square_oauth", "SquareOAuthDetector"), ("azure_storage_key", "AzureStorageKeyDetector"))
_TAIL = r"[A-Za-z0-9_\-]*"  # its patterns find a token; a redaction must cover all of it
# scheme://user:password@host — keep the user and host, drop the password
_URL_PASSWORD = re.compile(r"(://[^\s:/@'\"]+:)([^\s@/'\"]+)(@)")
# password = "…", api_key: '…', DB_SECRET="…"
_ASSIGNED = re.compile(
    r"""(?i)((?:password|passwd|secret|api_?key|access_token|auth_token|private_key)[\w\-]*\s*[:=]\s*)(["'])((?!\[REDACTED)[^"'\s]{6,})\2"""
)
_KEYWORDS = ("password", "passwd", "secret", "apikey", "api_key", "access_token", "auth_token", "private_key")

# KEY=value on a line of its own, as in .env files, shell (`export`), Dockerfiles (`ENV`, `ARG`),
# compose lists (`- `) and commented-out lines
_ENV_LINE = re.compile(r"(?P<lead>[ \t]*(?:#+[ \t]*)?(?:(?:export|ENV|ARG|set)[ \t]+|-[ \t]+)?)"
                       r"(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)(?P<eq>[ \t]*[=:][ \t]*)(?P<value>[^\r\n]*)")
_ENV_CANDIDATE = re.compile(r"(?:KEY|TOKEN|SECRET|PASS|PWD|CRED|AUTH)[A-Z0-9_]*=(?!=)")  # where such a line may be, in any text
_SECRET_WORDS = {"KEY", "KEYS", "PASS", "PWD", "AUTH", "PRIVATE", "CREDS", "PIN"}
_SECRET_ENDINGS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "APIKEY", "CREDENTIAL",  # not TOKENS: MAX_TOKENS
                   "CREDENTIALS", "PRIVATEKEY", "SECRETKEY", "ACCESSKEY")
_NOT_SECRET = {"PUBLIC", "PUBLISHABLE"}
# a last word that makes the key name something about a secret, not the secret (TOKEN_TYPE, DB_PASSWORD_FILE)
_ABOUT_A_SECRET = {
    "TYPE", "URL", "URI", "HOST", "HOSTNAME", "PORT", "PATH", "FILE", "DIR", "NAME", "ID", "USER", "USERNAME", "LOGIN",
    "LENGTH", "LEN", "SIZE", "TTL", "EXPIRY", "EXPIRES", "EXPIRATION", "LIFETIME", "TIMEOUT", "ALGORITHM", "ALG",
    "HEADER", "PREFIX", "ENDPOINT", "PROVIDER", "MODE", "ENABLED", "DISABLED", "REQUIRED", "COUNT", "MIN", "MAX",
    "REGION", "VERSION", "FORMAT", "FIELD", "PARAM", "ENV", "VAR", "LOCATION", "ISSUER", "AUDIENCE", "SCOPE", "SCOPES",
}
# values that stand for no secret: references, placeholders, switches
_NO_SECRET = re.compile(r"\$\{?\w+(?::?-[^}]*)?\}?|<[^>]*>|\.\.\.|\*+|x+|your[_\-\s].*|changeme|true|false|yes|no|on|off|none|null|nil",
                        re.I)
_CODE = re.compile(r"[()\[\]{};,]|^\$|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")  # `os.environ["X"]`, `get()`, `$(cat f)`, `settings.KEY`

# files that hold secrets by their name: env files (KEY=value lines) and files that are a secret whole
_KEY_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".ppk", ".jks", ".keystore")
_WHOLE_NAMES = {".netrc", "_netrc", ".pgpass"}


def redact(text: str) -> tuple[str, Counter]:
    """The text with secrets replaced by `[REDACTED:kind]`, and how many of each kind."""
    found: Counter = Counter()
    for kind, literals, pattern in _PATTERNS:
        if not literals or any(literal in text for literal in literals):
            text = _sub(pattern, kind, text, found)
    for kind, pattern in _vendor_patterns():
        text = _sub(pattern, kind, text, found)
    if "://" in text:
        text, n = _URL_PASSWORD.subn(lambda m: m.group(1) + "[REDACTED:url-password]" + m.group(3), text)
        if n:
            found["url-password"] += n
    text, n = _redact_assignments(text)
    if n:
        found["password"] += n
    return _redact_env(text, found, strict=False), found


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
    return _replace(text, values, "password"), len(values)


def _redact_env(text: str, found: Counter, strict: bool) -> str:
    """`KEY=value` lines whose key names a secret, the key kept and the value replaced. In any
    text (`strict` False) only env-style lines count: an upper-case key, `=` with no spaces, a
    value that is no code; in an env file (`strict`) every line, any value but a placeholder."""
    if strict:
        starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    else:
        starts = sorted({text.rfind("\n", 0, m.start()) + 1 for m in _ENV_CANDIDATE.finditer(text)})
    values = set()
    for start in starts:
        line = _ENV_LINE.match(text, start)
        span = line and _secret_value(line, strict)
        if span:
            values.add(span)
    if values:
        found["env-secret"] += len(values)
    return _replace(text, values, "env-secret")


def _secret_value(line: re.Match, strict: bool) -> tuple[int, int] | None:
    """Where the secret in an env line is, or None when it holds none."""
    key, eq = line.group("key"), line.group("eq")
    if not strict and (eq != "=" or not key.isupper()):
        return None
    if not names_a_secret(key):
        return None
    start, end, quoted = _value_span(line)
    value = line.string[start:end]
    if not value or value.startswith(MARKER) or _NO_SECRET.fullmatch(value):
        return None
    if not strict and (len(value) < 4 or value.isdigit() or (not quoted and _CODE.search(value))):
        return None
    return start, end


def _value_span(line: re.Match) -> tuple[int, int, bool]:
    """(start, end, quoted) of an env line's value: inside its quotes, else before a ` #` comment."""
    start, raw = line.start("value"), line.group("value")
    if raw[:1] in ("'", '"', "`"):
        close = raw.find(raw[0], 1)
        return start + 1, start + (close if close != -1 else len(raw.rstrip())), True
    comment = re.search(r"[ \t]#", raw)
    return start, start + len(raw[:comment.start() if comment else len(raw)].rstrip()), False


def names_a_secret(key: str) -> bool:
    """Whether an env key names a secret: DB_PASSWORD, HF_TOKEN, AWS_SECRET_ACCESS_KEY, not
    TOKEN_TYPE, DB_PASSWORD_FILE or STRIPE_PUBLISHABLE_KEY."""
    words = [w for w in re.split(r"[_.\-]+", key.upper()) if w]
    if not words or words[-1] in _ABOUT_A_SECRET or _NOT_SECRET & set(words):
        return False
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words)


def _replace(text: str, spans: set[tuple[int, int]], kind: str) -> str:
    """`text` with each (start, end) span replaced by the marker of `kind`; overlaps keep the first."""
    if not spans:
        return text
    out, last = [], 0
    for start, end in sorted(spans):
        if start >= last:
            out += [text[last:start], f"[REDACTED:{kind}]"]
            last = end
    out.append(text[last:])
    return "".join(out)


def secret_file(path: str | Path) -> str | None:
    """"env" for a file of KEY=value secrets (.env, .env.local, prod.env, .envrc), "key" for a
    file that is a secret whole (*.pem, *.key, id_rsa, .netrc), None for any other file."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name in (".env", ".envrc") or name.startswith(".env.") or name.endswith(".env"):
        return "env"
    if name.endswith(_KEY_SUFFIXES) or name in _WHOLE_NAMES or (name.startswith("id_") and "." not in name):
        return "key"
    return None


def redact_file(path: str | Path, text: str) -> tuple[str, Counter]:
    """`redact` for the text of a workspace file, stricter where its name says it holds secrets:
    every secret-named value of an env file, all of a key file. Every reader of files calls this."""
    kind = secret_file(path)
    if kind == "key":
        return ("[REDACTED:key-file]\n", Counter({"key-file": 1})) if text.strip() else (text, Counter())
    text, found = redact(text)
    return (_redact_env(text, found, strict=True), found) if kind == "env" else (text, found)


def rules_for(path: str | Path) -> str:
    """What a file's redaction depends on besides its bytes, for a cache's key."""
    return f"{RULES}:{secret_file(path) or ''}"


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
