"""A repository's `.env` and key files never leave whole: their secret values are redacted by the
one redaction wherever a file is read — the digest, the search index, ask's prompt and run log,
MCP `read` and `search` — the key names kept so that a reader still sees what is configured."""

import json
import re
import sqlite3
import subprocess
import sys

import pytest

from tether.autonomy.ask import ask
from tether.context import digest
from tether.context.index import Index
from tether.redaction import redact, redact_file, secret_file
from tests.conftest import make_tree
from tests.mcp.test_mcp import call, data

AWS_SECRET = "Zx9sQ2lL0pWm4Rt7Yu1Io3Pa5Sd8Fg6Hj2Kl4Zx"
DB_PASSWORD = "hunter2horse"
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
STRIPE = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"
SECRETS = (AWS_SECRET, DB_PASSWORD, HF, STRIPE)
ENV = (f"# settings for local runs\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\nDB_PASSWORD={DB_PASSWORD}\n"
       f"HF_TOKEN={HF}\nexport STRIPE_KEY={STRIPE}\nDEBUG=true\n")
PUTTY = "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPrivate-Lines: 1\nAAAAgQC7vbqajDw4o6gJy8UtmIbkcpnkO3Kwc4qsEnSZp\n"


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {".env": ENV, "deploy.ppk": PUTTY,
                                         "app.py": "import os\n\nDB = os.environ['DB_PASSWORD']\n"})


def leaked(text: str) -> list[str]:
    return [s for s in (*SECRETS, "AAAAgQC7vbqajDw4o6gJy8Ut") if s in text]


# -- the reproduced leaks --------------------------------------------------------------------------

def test_the_digest_of_a_workspace_with_an_env_file_keeps_its_keys_and_drops_its_values(work):
    done = subprocess.run([sys.executable, "-m", "tether", "digest", str(work)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert leaked(done.stdout) == []
    assert "DB_PASSWORD=[REDACTED:" in done.stdout and "HF_TOKEN=[REDACTED:" in done.stdout and "DEBUG=true" in done.stdout
    assert "secrets redacted" in done.stderr


def test_a_cached_digest_does_not_reuse_a_plain_files_result_for_an_env_file_of_the_same_bytes(work):
    text = "db_password = hunter2horse\n"  # spaced and lower-case: a secret in an env file, ordinary text elsewhere
    (work / "notes.txt").write_text(text)
    assert "hunter2horse" in digest(work).render("markdown")
    (work / "prod.env").write_text(text)
    rendered = digest(work).render("markdown")
    assert "db_password = [REDACTED:env-secret]" in rendered


def test_the_search_index_and_its_results_hold_no_env_value(work):
    index = Index(work, embeddings=False)
    index.update()
    hits = index.search("DB_PASSWORD HF_TOKEN", k=5, mode="bm25")
    assert any(h.path == ".env" for h in hits) and leaked(json.dumps([h.to_dict() for h in hits])) == []
    rows = sqlite3.connect(index.path).execute("SELECT text FROM chunks").fetchall()
    assert rows and leaked(json.dumps(rows)) == []


def test_an_index_built_under_older_rules_is_rebuilt_without_the_values_they_let_through(work):
    index = Index(work, embeddings=False)
    index.update()
    with index.db:  # as an index built before these rules held the file
        index.db.execute("UPDATE chunks SET text = ? WHERE path = '.env'", (ENV,))
        index.db.execute("UPDATE meta SET value = '1' WHERE key = 'redaction'")
    index.db.close()
    again = Index(work, embeddings=False)
    again.update()
    rows = sqlite3.connect(again.path).execute("SELECT text FROM chunks").fetchall()
    assert rows and leaked(json.dumps(rows)) == []


def test_ask_sends_and_logs_no_env_value(make_grid, work, tmp_path):
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["The password comes from the environment [.env:3-3]."])
    list(ask(grid, work, "What is DB_PASSWORD in .env?"))
    sent = json.dumps([r.messages for r in grid.provider("s").requests])
    assert "DB_PASSWORD" in sent and leaked(sent) == []
    grid.ledger.flush()
    stored = "".join(p.read_bytes().decode("latin-1") for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert leaked(stored) == []


def test_mcp_read_of_env_and_of_a_key_file_returns_no_secret(make_grid, work):
    async def steps(c):
        return [data(await c.call_tool("read", {"path": p})) for p in (".env", "deploy.ppk")]

    env, key = call(make_grid(), work, steps)
    assert leaked(env["text"] + key["text"]) == []
    assert "AWS_SECRET_ACCESS_KEY=[REDACTED:" in env["text"] and "DEBUG=true" in env["text"]
    assert key["text"] == "[REDACTED:key-file]"


def test_mcp_search_finds_the_env_file_but_not_its_values(make_grid, work):
    async def steps(c):
        return data(await c.call_tool("search", {"query": "DB_PASSWORD HF_TOKEN", "k": 5}))

    found = call(make_grid(), work, steps)
    assert any(h["path"] == ".env" for h in found["results"]) and leaked(json.dumps(found)) == []


# -- the env-assignment rule ------------------------------------------------------------------------

@pytest.mark.parametrize("line, kept", [
    ("DB_PASSWORD=hunter2horse", "DB_PASSWORD=[REDACTED]"),
    ('DB_PASSWORD="hunter2horse"', 'DB_PASSWORD="[REDACTED]"'),
    ("DB_PASSWORD='hunter2horse'", "DB_PASSWORD='[REDACTED]'"),
    ("export DB_PASSWORD=hunter2horse", "export DB_PASSWORD=[REDACTED]"),
    ("DB_PASSWORD=hunter2horse  # the dev box", "DB_PASSWORD=[REDACTED]  # the dev box"),
    ("# DB_PASSWORD=hunter2horse", "# DB_PASSWORD=[REDACTED]"),
    ("db_password = hunter2horse", "db_password = [REDACTED]"),
    ("SECRET_KEY_BASE=hunter2horse", "SECRET_KEY_BASE=[REDACTED]"),
    ("SESSION_PWD=short", "SESSION_PWD=[REDACTED]"),
])
def test_a_secret_named_value_in_an_env_file_is_redacted_and_its_key_kept(line, kept):
    text, found = redact_file(".env.local", line + "\nLOG_LEVEL=debug\n")
    assert re.sub(r"\[REDACTED:[a-z-]+\]", "[REDACTED]", text) == kept + "\nLOG_LEVEL=debug\n" and found


@pytest.mark.parametrize("line", [
    "export HF_TOKEN=Zx9sQ2lL0pWm4Rt7",        # a shell script
    "ENV DB_PASSWORD=hunter2horse",            # a Dockerfile
    "      - DB_PASSWORD=hunter2horse",        # a compose file's environment list
    "AWS_SECRET_ACCESS_KEY=" + AWS_SECRET,     # pasted into a prompt or a README
])
def test_env_style_lines_in_any_file_are_redacted(line):
    text, found = redact(line + "\n")
    assert "[REDACTED:env-secret]" in text and leaked(text) == [] and "hunter2horse" not in text and "Zx9s" not in text


@pytest.mark.parametrize("line", [
    'password = request.form["password"]',
    "TOKEN_TYPE=bearer",
    'SECRET_KEY = os.environ["SECRET_KEY"]',
    "API_KEY=get_key()",
    "TOKEN=$(cat token.txt)",
    "AUTH_TOKEN=settings.AUTH_TOKEN",
    "DB_PASSWORD_FILE=/run/secrets/db",
    "STRIPE_PUBLISHABLE_KEY=pk_test_TYooMQauvdEDq54NiTphI7jx",
    "if KEY==other:",
    "MAX_TOKENS=4096",
])
def test_code_and_names_about_secrets_are_left_alone(line):
    assert redact(line + "\n") == (line + "\n", {})


@pytest.mark.parametrize("line", ["API_KEY=", "API_KEY=<your key>", "API_KEY=${API_KEY}", "API_KEY=your_key_here",
                                  "TOKEN_URL=https://auth.example.com/token", "USE_AUTH=true", "API_KEY=..."])
def test_placeholders_and_settings_in_an_env_file_are_kept(line):
    assert redact_file(".env.example", line + "\n") == (line + "\n", {})


# -- files that are secrets by their name, and token shapes -----------------------------------------

@pytest.mark.parametrize("name, kind", [
    (".env", "env"), (".env.local", "env"), ("config/prod.env", "env"), (".envrc", "env"),
    ("certs/server.pem", "key"), ("tls.key", "key"), ("id_rsa", "key"), ("home/.ssh/id_ed25519", "key"), (".netrc", "key"),
    ("id_rsa.pub", None), ("id_utils.py", None), ("environment.py", None), ("README.md", None), ("keys.py", None),
])
def test_which_files_hold_secrets_by_their_name(name, kind):
    assert secret_file(name) == kind


def test_a_key_file_is_redacted_whole_and_an_empty_one_left_empty():
    assert redact_file("id_ed25519", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n") == ("[REDACTED:key-file]\n", {"key-file": 1})
    assert redact_file("id_ed25519", "") == ("", {})


@pytest.mark.parametrize("secret, kind", [
    (HF, "huggingface-token"),
    ("glpat-" + "x7Yk2mPq9RsT4vWz8AbC3dEf6GhJ1kLm5NpQ", "gitlab-token"),  # longer than the shape detect-secrets checks
    ("SG." + "a" * 22 + "." + "b" * 43, "sendgrid-api-key"),
])
def test_token_shapes_are_redacted_whole_wherever_they_appear(secret, kind):
    text, found = redact(f"client = Client('{secret}')\n")
    assert text == f"client = Client('[REDACTED:{kind}]')\n" and found == {kind: 1}


def test_a_private_key_cut_short_is_redacted_over_its_body_and_a_header_in_code_is_kept():
    text, found = redact("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7vbqajDw4o6gJy8U\ntmIbkcpnkO3Kwc4q==\nnext: 1\n")
    assert text == "key:\n[REDACTED:private-key]\nnext: 1\n" and found == {"private-key": 1}
    code = 'HEADER = "-----BEGIN RSA PRIVATE KEY-----"\nif line == HEADER:\n    pass\n'
    assert redact(code) == (code, {})
