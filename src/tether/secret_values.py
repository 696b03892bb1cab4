"""Secret values assigned to names, in the forms a repository keeps them: env lines (`KEY=v`,
`export`, Dockerfile `ENV`/`ARG`, compose lists, `KEY=v cmd`), JSON, YAML, INI, TOML and
`.properties` keys, `.npmrc` auth lines, YAML block values and the `data:` of a Kubernetes Secret.
`redaction` keeps the key and replaces the value, so a reader still sees what is configured.

How sure a value must be depends on the file (`level`). In any text (TEXT) a quoted value counts,
an unquoted one only where it cannot be code: `password = request.form[...]`, `api_key: str` and
`self.token = token` are names, not secrets. In a config file (CONFIG: YAML, INI, TOML, .npmrc, a
Dockerfile) there is no code, so a bare word counts too. In an env file (ENV) every line is read,
and every secret-named value counts, whatever its length, over all the lines of a quoted one.

Keys are found from a few stems in the lower-cased text (`str.find`, about 1 GB/s each), not by a
case-insensitive regex over the whole text (~120 MB/s): this pass must not slow the redaction of a
large repository (over site-packages' .py files `redact` reads ~44 MB/s with it, as before it)."""

from __future__ import annotations

import re

TEXT, CONFIG, ENV = 0, 1, 2

# every key that may name a secret holds one of these (lower-cased); ENV also reads every line
_STEMS = ("pass", "pwd", "secret", "token", "key", "auth", "cred")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_KEY = re.compile(r"[A-Za-z0-9_.\-]+")
_WORDS = re.compile(r"[_.\-]+|(?<=[a-z0-9])(?=[A-Z])")  # DB_PASSWORD, db.password, clientSecret
_SEP = re.compile(r"[ \t]*(?:=>|=(?![=~])|:(?![:=]))[ \t]*")  # not ==, =~, ::, :=
_SPACES = re.compile(r"[ \t]+")
_ASSIGNS = re.compile(r"[a-z0-9_.\-]*[\"']?[ \t]*(?:=>|=(?![=~])|:(?![:=]))")  # the rest of a key, then `_SEP`
_DOCKER_ENV = re.compile(r"ENV[ \t]+")  # `ENV KEY value`
# what may stand before a key that starts its line: indentation, a comment, `export`, Dockerfile's
# ENV and ARG, a YAML or compose list's `- `, .npmrc's registry scope (`//registry.npmjs.org/:`)
_LEAD = re.compile(r"[ \t]*(?:#+[ \t]*)?(?:(?P<cmd>export|ENV|ARG|set)[ \t]+|-[ \t]+)?(?://[^\s=]*:)?")
_QUOTES = "\"'`"
_ANNOTATED = re.compile(r"[A-Za-z_][\w\[\]., |]*?[ \t]*=[ \t]*(?=[\"'])")  # `password: str = "…"`
_BLOCK = re.compile(r"[|>][-+0-9]*")  # YAML's `key: |`: the value is the indented lines below
_COMMENT = re.compile(r"[ \t]#")
_TO_BLANK = re.compile(r"[^\s`'\"]*")

_SECRET_WORDS = {"KEY", "KEYS", "PASS", "PWD", "AUTH", "PRIVATE", "CREDS", "PIN"}
_SECRET_ENDINGS = (
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "APIKEY",
    "CREDENTIAL",  # not TOKENS: MAX_TOKENS
    "CREDENTIALS",
    "PRIVATEKEY",
    "SECRETKEY",
    "ACCESSKEY",
)
# outside env lines a lone KEY is a dict's or a sort's (`key = "name"`, `cache_key`): only these make it a secret
_KEY_QUALIFIERS = {
    "API",
    "ACCESS",
    "SECRET",
    "PRIVATE",
    "CLIENT",
    "AUTH",
    "ENCRYPTION",
    "SIGNING",
    "MASTER",
    "LICENSE",
    "APP",
    "CONSUMER",
    "SERVICE",
    "ACCOUNT",
    "SSH",
    "DEPLOY",
    "SHARED",
    "STORAGE",
    "SUBSCRIPTION",
    "WEBHOOK",
}
# outside env lines these name a secret wherever they stand in a key (SECRET_KEY_BASE, auth_token_v2)
_STRONG_ENDINGS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "APIKEY", "PRIVATEKEY", "SECRETKEY", "ACCESSKEY")
_STRONG_PAIRS = {
    ("API", "KEY"),
    ("PRIVATE", "KEY"),
    ("SECRET", "KEY"),
    ("ACCESS", "KEY"),
    ("ACCESS", "TOKEN"),
    ("AUTH", "TOKEN"),
    ("REFRESH", "TOKEN"),
    ("BEARER", "TOKEN"),
    ("ID", "TOKEN"),
    ("SESSION", "TOKEN"),
}
_VARIANTS = {
    "PROD",
    "PRODUCTION",
    "DEV",
    "DEVELOPMENT",
    "STAGING",
    "STAGE",
    "TEST",
    "TESTING",
    "LOCAL",
    "OLD",
    "NEW",
    "PRIMARY",
    "SECONDARY",
    "BACKUP",
    "FALLBACK",
    "CI",
}
_NOT_SECRET = {"PUBLIC", "PUBLISHABLE", "PAD", "CLS", "MASK", "UNK", "SEP", "BOS", "EOS"}  # a tokenizer's pad_token
# a last word that makes the key name something about a secret, not the secret (TOKEN_TYPE, DB_PASSWORD_FILE)
_ABOUT_A_SECRET = {
    "TYPE",
    "URL",
    "URI",
    "HOST",
    "HOSTNAME",
    "PORT",
    "PATH",
    "FILE",
    "DIR",
    "NAME",
    "ID",
    "USER",
    "USERNAME",
    "LOGIN",
    "LENGTH",
    "LEN",
    "SIZE",
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "EXPIRATION",
    "LIFETIME",
    "TIMEOUT",
    "ALGORITHM",
    "ALG",
    "HEADER",
    "PREFIX",
    "ENDPOINT",
    "PROVIDER",
    "MODE",
    "ENABLED",
    "DISABLED",
    "REQUIRED",
    "COUNT",
    "MIN",
    "MAX",
    "REGION",
    "VERSION",
    "FORMAT",
    "FIELD",
    "PARAM",
    "ENV",
    "VAR",
    "LOCATION",
    "ISSUER",
    "AUDIENCE",
    "SCOPE",
    "SCOPES",
    "LABEL",
    "PROMPT",
    "MESSAGE",
    "MSG",
    "TEXT",
    "HELP",
    "HINT",
    "DESCRIPTION",
    "TITLE",
    "PLACEHOLDER",
    "PATTERN",
    "REGEX",
    "START",
    "BEGIN",
    "END",
    "STR",
    "IDX",
    "INDEX",
    "POS",
    "NUM",
}
# values that stand for no secret: references, templates, placeholders, switches
_NO_SECRET = re.compile(
    r"\$\{\{.*\}\}|\{\{.*\}\}|\$\{?\w+(?::?-[^}]*)?\}?|%\(?\w*\)?s|\{\w*\}|<[^>]*>|\*+|x{3,}|"
    r"[\w\-]{0,8}\.\.\.|your[_\-\s].*|replace[_\-\s]?me|changeme|placeholder|value|todo|true|false|yes|no|on|off|none|null|nil|0|1",
    re.I | re.S,
)
_CODE = re.compile(r"[()\[\]{};,]|^\$|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")  # `os.environ["X"]`, `get()`, `$(cat f)`, `settings.KEY`
_NAME = re.compile(r"[A-Za-z_]+|-?[0-9]+(?:\.[0-9]+)?")  # `self.token = token`, `api_key: str`, `token = -1`: a name or a number
_PREFIXED = re.compile(r"[rRbBuUfF]{1,2}(?=[\"'])")  # Python's b"…", r'…', f"…"
_DOC_START = re.compile(r"\n---")
_K8S_SECRET = re.compile(r"kind:[ \t]*[\"']?Secret[\"']?[ \t]*$", re.M)  # at a line's start (checked)
_K8S_DATA = re.compile(r"^([ \t]*)(?:data|stringData):[ \t]*$", re.M)
_YAML_KEY = re.compile(r"[^\s:#][^:\n]*:[ \t]*")

Span = tuple[int, int, str]


def assigned(text: str, level: int = TEXT, lower: str | None = None) -> list[Span]:
    """(start, end, kind) of every secret value assigned in `text`: "password" for a quoted value,
    "env-secret" for an unquoted one, "k8s-secret" for a Kubernetes Secret's data. `lower`: the
    text lower-cased, where the caller has it."""
    lower = lowered(text) if lower is None else lower
    starts = set()
    for stem in _STEMS:
        at = lower.find(stem)
        while at != -1:
            if _ASSIGNS.match(lower, at):  # most hits are words in code (`pass`, `key in`): no regex, no scan back
                starts.add(_key_start(text, at))
            at = lower.find(stem, at + len(stem))
    if level == ENV:
        starts.update(_LEAD.match(text, line).end() for line in _line_starts(text))
    if "ENV" in text:
        starts.update(m.end() for m in _DOCKER_ENV.finditer(text))
    spans = [span for start in starts if start is not None for span in _value(text, start, level)]
    if "Secret" in text:
        spans += _k8s_secret(text)
    return spans


def lowered(text: str) -> str:
    """`text` lower-cased at the same offsets (only ASCII where lower-casing moves them, as for İ)."""
    lower = text.lower()
    return lower if len(lower) == len(text) else text.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


def _key_start(text: str, at: int) -> int | None:
    """Where the key holding a stem at `at` starts (None for one too long to be a key)."""
    start, lo = at, max(0, at - 80)
    while start > lo and text[start - 1] in _KEY_CHARS:
        start -= 1
    return None if start == lo and lo and text[lo - 1] in _KEY_CHARS else start


def _value(text: str, start: int, level: int) -> list[Span]:
    """The secret value assigned to the key at `start`, if that key names a secret."""
    key_end = _KEY.match(text, start)
    if not key_end:
        return []
    end, key = key_end.end(), key_end.group()
    quote = text[start - 1] if start and text[start - 1] in "\"'" else ""
    if quote and not text.startswith(quote, end):
        return []
    lead = None if quote else _lead(text, start)
    sep, spaced = _SEP.match(text, end + len(quote)), False
    if not sep and lead and lead.group("cmd") == "ENV":  # a Dockerfile's `ENV KEY value`
        sep = spaced = _SPACES.match(text, end)
    if not sep:
        return []
    env_style = key.isupper() and (spaced or sep.group() == "=")
    if level == TEXT and not quote and key[:1].isupper() and not key.isupper() and sep.group().strip() == ":":
        return []  # `Token: "#fff"`: a Python dict keyed by a class, not a setting
    if not names_a_secret(key, broad=level == ENV or (env_style and lead is not None)):
        return []
    at = sep.end()
    if lead and sep.group().strip() == ":" and (typed := _ANNOTATED.match(text, at)):
        at = typed.end()
    if prefix := _PREFIXED.match(text, at):
        if prefix.group().lower().strip("bu"):  # r'…' is a pattern, f"…" a template
            return []
        at = prefix.end()
    if text[at : at + 1] and text[at] in _QUOTES:
        return _quoted(text, at, level)
    if lead is not None:
        shell = env_style and not spaced and (level == TEXT or (level == CONFIG and lead.group("cmd")))  # `ENV A=v B=w`
        return _on_its_line(text, at, level, start - lead.start(), env_style, shell, spaced)
    if env_style and text[start - 1 : start] in (" ", "\t"):  # `KEY=v cmd`, `ENV A=1 B=v`, `-e KEY=v`
        return _checked(text, at, _TO_BLANK.match(text, at).end(), level, env_style)
    return []


def _lead(text: str, start: int) -> re.Match | None:
    """The lead of a key that starts its line (indentation, `export`, `- `…), None for a key within a line."""
    lo = max(0, start - 200)
    line = text.rfind("\n", lo, start) + 1
    return None if line == 0 and lo else _LEAD.fullmatch(text, line, start)


def _quoted(text: str, at: int, level: int) -> list[Span]:
    """A quoted value: on its line, or in an env file over as many lines as it runs."""
    quote, start = text[at], at + 1
    end = text.find(quote, start)
    while end != -1 and quote != "`" and (end - start - len(text[start:end].rstrip("\\"))) % 2:  # an escaped quote
        end = text.find(quote, end + 1)
    if level < ENV and (end == -1 or text.find("\n", start, end) != -1):
        return []
    end = len(text) if end == -1 else end  # an env file's value never closed: the rest of the file
    return [] if _stands_for_none(text[start:end]) else [(start, end, "password")]


def _on_its_line(text: str, at: int, level: int, column: int, env_style: bool, shell: bool, spaced: bool) -> list[Span]:
    """An unquoted value of a key that starts its line: to the line's end, before a ` #` comment (a
    Dockerfile's spaced ENV has none); as the shell reads `KEY=v` (`shell`), to the next blank;
    YAML's `key: |`, the lines indented below it."""
    line_end = _line_end(text, at)
    if shell:
        end = _TO_BLANK.match(text, at).end()
    else:
        comment = None if spaced else _COMMENT.search(text, at, line_end)
        end = comment.start() if comment else line_end
    if _BLOCK.fullmatch(text[at:end].rstrip()):
        return _block(text, line_end + 1, column)
    return _checked(text, at, end, level, env_style)


def _checked(text: str, at: int, end: int, level: int, env_style: bool) -> list[Span]:
    """[the value at..end] unless it stands for none or, outside env and config files, may be code
    or a name: in any text only an env-style `KEY=v` takes a bare word or a sentence for a value."""
    value = text[at:end].rstrip()
    if _stands_for_none(value) or (level < ENV and _CODE.search(value)):
        return []
    if level == TEXT and not env_style and (_NAME.fullmatch(value.rstrip(":.,")) or " " in value or "\t" in value):
        return []
    return [(at, at + len(value), "env-secret")]


def _line_end(text: str, at: int) -> int:
    end = text.find("\n", at)
    return len(text) if end == -1 else end


def _stands_for_none(value: str) -> bool:
    return (
        not value.strip()
        or value.startswith("[REDACTED:")
        or bool(_NO_SECRET.fullmatch(value.strip()))
        or not any(c.isalnum() for c in value)
    )


def _block(text: str, at: int, indent: int, keyed: bool = False, stop: int | None = None) -> list[Span]:
    """The lines from `at` indented deeper than `indent` (a YAML block's), each line's text a span;
    `keyed`: lines of `key: value` keep their keys (a Secret's `data:`)."""
    spans, stop = [], len(text) if stop is None else stop
    while at < stop:
        end = min(_line_end(text, at), stop)
        line = text[at:end].rstrip()
        body = len(line) - len(line.lstrip())
        if line.strip():
            if body <= indent:
                break
            start = at + body
            key = _YAML_KEY.match(text, start, at + len(line)) if keyed else None
            start = key.end() if key else start
            if start < at + len(line) and not _BLOCK.fullmatch(line[start - at :]):
                spans.append((start, at + len(line), "k8s-secret" if keyed else "env-secret"))
        at = end + 1
    return spans


def _k8s_secret(text: str) -> list[Span]:
    """The values under `data:` and `stringData:` in each YAML document of `kind: Secret`."""
    spans = []
    bounds = [0] + [m.start() + 1 for m in _DOC_START.finditer(text)] + [len(text)]
    for doc, end in zip(bounds, bounds[1:], strict=False):
        if any(not m.start() or text[m.start() - 1] == "\n" for m in _K8S_SECRET.finditer(text, doc, end)):
            for data in _K8S_DATA.finditer(text, doc, end):
                spans += _block(text, data.end() + 1, len(data.group(1)), keyed=True, stop=end)
    return spans


def names_a_secret(key: str, broad: bool = True) -> bool:
    """Whether a key names a secret: DB_PASSWORD, HF_TOKEN, clientSecret, api-key, self.password,
    not TOKEN_TYPE, DB_PASSWORD_FILE, token.info or STRIPE_PUBLISHABLE_KEY. `broad` (env lines):
    a secret word anywhere, a lone KEY, AUTH, PIN… too. Elsewhere a key in code is often about
    tokens or keys of other sorts (TOKEN_DATA, sort_key): a strong word anywhere (PASSWORD, SECRET,
    API_KEY, ACCESS_TOKEN) or a token, credential or qualified key at its end (HF_TOKEN_PROD) counts."""
    words = [w.upper() for w in _WORDS.split(key.rsplit(".", 1)[-1]) if w]
    if not words or words[-1] in _ABOUT_A_SECRET or _NOT_SECRET & set(words):
        return False
    if broad:
        return any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words)
    if any(w.endswith(_STRONG_ENDINGS) for w in words) or any(pair in _STRONG_PAIRS for pair in zip(words, words[1:], strict=False)):
        return True
    while len(words) > 1 and (words[-1] in _VARIANTS or words[-1].lstrip("V").isdigit()):
        words.pop()  # HF_TOKEN_PROD, auth_token_2
    last = words[-1]
    return (
        last.endswith(_SECRET_ENDINGS)
        and last != "SECRETS"
        or last == "PWD"
        or (last in ("KEY", "KEYS") and len(words) > 1 and words[-2] in _KEY_QUALIFIERS)
    )
