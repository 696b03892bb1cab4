"""A repository's `.env` and key files never leave whole: their secret values are redacted by the
one redaction wherever a file is read — the digest, the search index, ask's prompt and run log,
MCP `read` and `search` — the key names kept so that a reader still sees what is configured."""

import json
import re
import sqlite3
import subprocess
import sys

import httpx
import pytest

from tests.conftest import make_tree
from tests.mcp.test_mcp import call, data
from tether.autonomy.answers.ask import ask
from tether.context import digest
from tether.context.index import Index
from tether.redaction import redact, redact_file, secret_file

AWS_SECRET = "Zx9sQ2lL0pWm4Rt7Yu1Io3Pa5Sd8Fg6Hj2Kl4Zx"
DB_PASSWORD = "hunter2horse"
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
STRIPE = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"
SECRETS = (AWS_SECRET, DB_PASSWORD, HF, STRIPE)
ENV = (
    f"# settings for local runs\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\nDB_PASSWORD={DB_PASSWORD}\n"
    f"HF_TOKEN={HF}\nexport STRIPE_KEY={STRIPE}\nDEBUG=true\n"
)
PUTTY = "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPrivate-Lines: 1\nAAAAgQC7vbqajDw4o6gJy8UtmIbkcpnkO3Kwc4qsEnSZp\n"


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {".env": ENV, "deploy.ppk": PUTTY, "app.py": "import os\n\nDB = os.environ['DB_PASSWORD']\n"})


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
    text = "db_password = hunter horse\n"  # words after a spaced lower-case key: a secret in an env file, prose elsewhere
    (work / "notes.txt").write_text(text)
    assert "hunter horse" in digest(work).render("markdown")
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


@pytest.mark.parametrize(
    "line, kept",
    [
        ("DB_PASSWORD=hunter2horse", "DB_PASSWORD=[REDACTED]"),
        ('DB_PASSWORD="hunter2horse"', 'DB_PASSWORD="[REDACTED]"'),
        ("DB_PASSWORD='hunter2horse'", "DB_PASSWORD='[REDACTED]'"),
        ("export DB_PASSWORD=hunter2horse", "export DB_PASSWORD=[REDACTED]"),
        ("DB_PASSWORD=hunter2horse  # the dev box", "DB_PASSWORD=[REDACTED]  # the dev box"),
        ("# DB_PASSWORD=hunter2horse", "# DB_PASSWORD=[REDACTED]"),
        ("db_password = hunter2horse", "db_password = [REDACTED]"),
        ("SECRET_KEY_BASE=hunter2horse", "SECRET_KEY_BASE=[REDACTED]"),
        ("SESSION_PWD=short", "SESSION_PWD=[REDACTED]"),
    ],
)
def test_a_secret_named_value_in_an_env_file_is_redacted_and_its_key_kept(line, kept):
    text, found = redact_file(".env.local", line + "\nLOG_LEVEL=debug\n")
    assert re.sub(r"\[REDACTED:[a-z-]+\]", "[REDACTED]", text) == kept + "\nLOG_LEVEL=debug\n" and found


@pytest.mark.parametrize(
    "line",
    [
        "export HF_TOKEN=Zx9sQ2lL0pWm4Rt7",  # a shell script
        "ENV DB_PASSWORD=hunter2horse",  # a Dockerfile
        "      - DB_PASSWORD=hunter2horse",  # a compose file's environment list
        "AWS_SECRET_ACCESS_KEY=" + AWS_SECRET,  # pasted into a prompt or a README
    ],
)
def test_env_style_lines_in_any_file_are_redacted(line):
    text, found = redact(line + "\n")
    assert "[REDACTED:env-secret]" in text and leaked(text) == [] and "hunter2horse" not in text and "Zx9s" not in text


@pytest.mark.parametrize(
    "line",
    [
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
    ],
)
def test_code_and_names_about_secrets_are_left_alone(line):
    assert redact(line + "\n") == (line + "\n", {})


@pytest.mark.parametrize(
    "line",
    [
        "API_KEY=",
        "API_KEY=<your key>",
        "API_KEY=${API_KEY}",
        "API_KEY=your_key_here",
        "TOKEN_URL=https://auth.example.com/token",
        "USE_AUTH=true",
        "API_KEY=...",
    ],
)
def test_placeholders_and_settings_in_an_env_file_are_kept(line):
    assert redact_file(".env.example", line + "\n") == (line + "\n", {})


# -- files that are secrets by their name, and token shapes -----------------------------------------


@pytest.mark.parametrize(
    "name, kind",
    [
        (".env", "env"),
        (".env.local", "env"),
        ("config/prod.env", "env"),
        (".envrc", "env"),
        ("certs/server.pem", "key"),
        ("tls.key", "key"),
        ("id_rsa", "key"),
        ("home/.ssh/id_ed25519", "key"),
        (".netrc", "key"),
        ("id_rsa.pub", None),
        ("id_utils.py", None),
        ("environment.py", None),
        ("README.md", None),
        ("keys.py", None),
    ],
)
def test_which_files_hold_secrets_by_their_name(name, kind):
    assert secret_file(name) == kind


def test_a_key_file_is_redacted_whole_and_an_empty_one_left_empty():
    assert redact_file("id_ed25519", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n") == ("[REDACTED:key-file]\n", {"key-file": 1})
    assert redact_file("id_ed25519", "") == ("", {})


@pytest.mark.parametrize(
    "secret, kind",
    [
        (HF, "huggingface-token"),
        ("glpat-" + "x7Yk2mPq9RsT4vWz8AbC3dEf6GhJ1kLm5NpQ", "gitlab-token"),  # longer than the shape detect-secrets checks
        ("SG." + "a" * 22 + "." + "b" * 43, "sendgrid-api-key"),
    ],
)
def test_token_shapes_are_redacted_whole_wherever_they_appear(secret, kind):
    text, found = redact(f"client = Client('{secret}')\n")
    assert text == f"client = Client('[REDACTED:{kind}]')\n" and found == {kind: 1}


def test_a_private_key_cut_short_is_redacted_over_its_body_and_a_header_in_code_is_kept():
    text, found = redact("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7vbqajDw4o6gJy8U\ntmIbkcpnkO3Kwc4q==\nnext: 1\n")
    assert text == "key:\n[REDACTED:private-key]\nnext: 1\n" and found == {"private-key": 1}
    code = 'HEADER = "-----BEGIN RSA PRIVATE KEY-----"\nif line == HEADER:\n    pass\n'
    assert redact(code) == (code, {})


# -- every name `.env*` covers, and the values env files hold -------------------------------------


@pytest.mark.parametrize(
    "name", [".env-prod", ".env_local", ".env.whatever", "prod.env", ".envrc", ".ENV", "config/.Env-Staging", "Prod.ENV"]
)
def test_every_name_the_docs_env_star_covers_is_an_env_file_whatever_its_case(name):
    text, found = redact_file(name, "DB_PASSWORD = hunter2horse\ndb_password=hunter\nLOG_LEVEL=debug\n")
    assert secret_file(name) == "env"
    assert text == "DB_PASSWORD = [REDACTED:env-secret]\ndb_password=[REDACTED:env-secret]\nLOG_LEVEL=debug\n" and found


def test_every_line_of_a_multi_line_quoted_value_in_an_env_file_is_redacted_and_the_lines_after_it_kept():
    env = 'DB_PASSWORD="first-line\nsecond \\" line\nthird-line"\nPRIVATE_KEY=\'abc\ndef\'\nLOG_LEVEL=debug\n'
    text, found = redact_file(".env", env)
    assert not any(s in text for s in ("first-line", "second", "third-line", "abc", "def"))
    assert text.count("\n") == env.count("\n") and text.endswith("'\nLOG_LEVEL=debug\n") and found


@pytest.mark.parametrize(
    "line, kept",
    [
        ("API_TOKEN=x", "API_TOKEN=[REDACTED]"),  # short: any length is a secret
        ("DB_PIN=12", "DB_PIN=[REDACTED]"),
        ("db_password = correct horse battery", "db_password = [REDACTED]"),  # words with spaces
        ("Db_Password=hunter", "Db_Password=[REDACTED]"),  # a key in any case
        ("DB_PASSWORD=correct horse  # the dev box", "DB_PASSWORD=[REDACTED]  # the dev box"),
    ],
)
def test_a_secret_named_value_in_an_env_file_is_redacted_whatever_its_length_case_or_spaces(line, kept):
    text, found = redact_file(".env", line + "\n")
    assert re.sub(r"\[REDACTED:[a-z-]+\]", "[REDACTED]", text) == kept + "\n" and found


# -- structured formats, in any file ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, secret, key",
    [
        ('{"api_key": "q8Zt2vLx"}', "q8Zt2vLx", '"api_key": "'),  # JSON
        ('{\n  "client_secret": "s3cr"\n}', "s3cr", '"client_secret": "'),
        ('"ClientSecret": "Zx9sQ2lL0p"', "Zx9sQ2lL0p", '"ClientSecret": "'),  # .NET appsettings.json
        ("password: hunter2horse", "hunter2horse", "password: "),  # YAML, unquoted
        ("db:\n  password: 'hunter horse'", "hunter horse", "password: '"),  # YAML, quoted, with a space
        ("  - password: hunter2", "hunter2", "- password: "),
        ("[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "wJalrXUtnFEMI", "aws_secret_access_key = "),  # INI
        ('api-key = "q8Zt"', "q8Zt", 'api-key = "'),  # TOML
        ("token = 'v9'", "v9", "token = '"),
        ("//registry.npmjs.org/:_authToken=4c1e2a7b-9f03-4d2e", "4c1e2a7b", "/:_authToken="),  # .npmrc
        ("_authToken=4c1e2a7b-9f03", "4c1e2a7b", "_authToken="),
        ("ENV DB_PASSWORD hunter2 horse", "hunter2 horse", "ENV DB_PASSWORD "),  # Dockerfile, the old form
        ("ARG DB_PASSWORD=hunter2", "hunter2", "ARG DB_PASSWORD="),
        ("ENV DB_USER=app DB_PASSWORD=hunter2 LOG=1", "hunter2", "DB_USER=app DB_PASSWORD="),  # pairs on one line
        ("ENV DB_PASSWORD=hunter2 DB_USER=app", "hunter2", " DB_USER=app"),
        ("docker run -e DB_PASSWORD=hunter2 app", "hunter2", "-e DB_PASSWORD="),
        ('connect(password="pw 1")', "pw 1", 'password="'),  # a quoted value with a space, short
        ('password = "abc"', "abc", 'password = "'),
        ("api_key: str = 'q8Zt2vLx'", "q8Zt2vLx", "api_key: str = '"),
        ("spring.datasource.password=hunter2", "hunter2", "spring.datasource.password="),  # .properties
        (
            "SENTRY_DSN=https://0f1e2d3c4b5a69788796a5b4c3d2e1f0@o1.ingest.sentry.io/1",
            "0f1e2d3c4b5a6978",
            "SENTRY_DSN=https://[REDACTED:url-key]@o1.ingest.sentry.io/1",
        ),  # a DSN's key
    ],
)
def test_secret_values_in_json_yaml_ini_toml_npmrc_dockerfile_and_dsn_forms_are_redacted_and_their_keys_kept(text, secret, key):
    for name in ("notes.txt", "config.yaml", "settings.py"):
        out, found = redact_file(name, text + "\n")
        assert secret not in out and key in out and found, (name, out)


@pytest.mark.parametrize("name", ["app.yaml", "settings.ini", "pyproject.toml", ".npmrc", "Dockerfile", "credentials", "app.properties"])
def test_in_a_config_file_a_bare_word_is_a_value_where_in_code_it_is_a_name(name):
    line = "password = hunter\n" if name != "app.yaml" else "password: hunter\n"
    assert "hunter" not in redact_file(name, line)[0]
    assert redact_file("app.py", line) == (line, {})


def test_a_yaml_block_value_under_a_secret_named_key_is_redacted_line_by_line():
    text = "db:\n  password: |\n    first-line\n    second-line\n  user: app\n"
    assert redact_file("values.yaml", text)[0] == "db:\n  password: |\n    [REDACTED:env-secret]\n    [REDACTED:env-secret]\n  user: app\n"


def test_the_data_of_a_kubernetes_secret_is_redacted_and_a_config_maps_is_kept():
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  username: YWRtaW4=\n  tls.crt: |\n    LS0tLS1CRUdJTg==\n"
        "stringData:\n  config.json: '{\"k\": 1}'\ntype: Opaque\n---\nkind: ConfigMap\ndata:\n  mode: fast\n"
    )
    out, found = redact(text)
    assert not any(s in out for s in ("YWRtaW4=", "LS0tLS1CRUdJTg==", '{"k": 1}'))
    assert "  username: [REDACTED:k8s-secret]\n" in out and "name: db\n" in out and "type: Opaque\n" in out
    assert out.endswith("kind: ConfigMap\ndata:\n  mode: fast\n") and found["k8s-secret"] == 3


@pytest.mark.parametrize(
    "line",
    [
        "token = get_token()",
        "api_key: str",
        "api_key: Optional[str] = None",
        "password: ${DB_PASSWORD}",
        'password: "{{ vault_db_password }}"',
        "token: ${{ secrets.GITHUB_TOKEN }}",
        "self.password = password",
        "    token=token",
        'sort_key = "name"',
        'token.info = "abc1"',
        'Token: "#f8f8f2",',
        'pad_token = "[PAD]"',
        '"token_type": "bearer",',
        '"private": true,',
        "token = -1",
        "secret = r'[A-Za-z0-9]{40}'",
        'masked = f"{token[:4]}"',
        "Use `hf secrets add -s KEY=VALUE` to add one",
        "    password: The password of the account.",
        "e.g. `ssh://687fb701029421ae5549d998@ssh.hf.jobs`",
    ],
)
def test_code_references_and_placeholders_in_these_forms_are_left_alone(line):
    assert redact(line + "\n") == (line + "\n", {})


# -- a symlink is read as its target ----------------------------------------------------------------

ALIASED = {
    ".env": "db_password = correct horse\n",
    "id_deploy": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n",
    ".netrc": "machine example.com login me password s3cretword\n",
}
ALIAS_SECRETS = ("correct horse", "b3BlbnNzaC1rZXkt", "s3cretword")


@pytest.fixture
def aliased(tmp_path):
    """A workspace whose secret files are also reached by links with innocent names."""
    root = make_tree(tmp_path / "work", {"notes.md": "# notes\n"})
    make_tree(root, ALIASED)
    for link, real in {"settings.txt": ".env", "deploy.txt": "id_deploy", "netrc.txt": ".netrc"}.items():
        (root / link).symlink_to(real)
    return root


@pytest.mark.parametrize("link, kind", [("settings.txt", "env"), ("deploy.txt", "key"), ("netrc.txt", "key"), ("notes.md", None)])
def test_a_symlink_is_judged_by_its_targets_name_as_well_as_its_own(aliased, link, kind):
    assert secret_file(aliased / link) == kind


def test_the_digest_reads_a_link_to_an_env_or_key_file_as_that_file(aliased):
    rendered = digest(aliased, cache=False).render("markdown")
    assert "### settings.txt" in rendered and [s for s in ALIAS_SECRETS if s in rendered] == []
    assert "db_password = [REDACTED:env-secret]" in rendered


def test_a_cached_digest_of_a_link_keys_on_its_targets_rules(aliased):
    (aliased / "plain.txt").write_text(ALIASED[".env"])  # the same bytes under a plain name, cached first
    assert "correct horse" in digest(aliased).render("markdown").split("### plain.txt")[1]
    rendered = digest(aliased).render("markdown")
    assert "correct horse" not in rendered.split("### settings.txt")[1].split("###")[0]


def test_the_search_index_stores_no_value_of_a_linked_secret_file(aliased):
    index = Index(aliased, embeddings=False)
    index.update()
    rows = sqlite3.connect(index.path).execute("SELECT path, text FROM chunks").fetchall()
    assert any(p == "settings.txt" for p, _ in rows) and [s for s in ALIAS_SECRETS if s in json.dumps(rows)] == []


def test_the_agents_brief_reads_a_link_to_a_secret_file_as_that_file(aliased):
    from tether.autonomy.agent.brief import brief
    from tether.autonomy.guard.untrusted import Fence

    text = "".join(brief(aliased, "tidy the notes", Fence("0badcafe"), 100_000))
    assert "settings.txt" in text and [s for s in ALIAS_SECRETS if s in text] == []


def test_mcp_read_ask_and_the_agents_read_of_a_link_show_no_secret(make_grid, aliased):
    from tether.autonomy.agent.tools import read_lines
    from tether.autonomy.answers.ask import file_lines

    async def steps(c):
        return [data(await c.call_tool("read", {"path": p})) for p in ("settings.txt", "deploy.txt", "netrc.txt")]

    shown = json.dumps(call(make_grid(), aliased, steps))
    shown += json.dumps([file_lines(aliased, p) for p in ("settings.txt", "deploy.txt", "netrc.txt")])
    shown += json.dumps([read_lines(aliased, p) for p in ("settings.txt", "deploy.txt", "netrc.txt")])
    assert [s for s in ALIAS_SECRETS if s in shown] == [] and "db_password = [REDACTED:env-secret]" in shown


def test_the_web_file_page_shows_a_link_to_a_secret_file_as_that_file(isolated, aliased):
    from tests.web.test_ui import serve

    door, server = serve(aliased, ["DONE"])
    try:
        with httpx.Client(base_url=server.origin, timeout=30) as client:
            client.get(f"/?token={door.token}")  # signed in
            pages = [client.get("/file", params={"path": p}) for p in ("settings.txt", "deploy.txt", "netrc.txt")]
    finally:
        server.shutdown()
    assert [p.status_code for p in pages] == [200] * 3 and "db_password" in pages[0].text
    assert [s for s in ALIAS_SECRETS if s in "".join(p.text for p in pages)] == []


def test_a_chat_turn_holding_quoted_secrets_is_logged_redacted(make_grid, tmp_path):
    """What a run log stores passes the same redaction as what is sent: a secret in quotes
    (`api_key = "…"`) is caught in the text, so it must not slip through as `\\"…\\"` in JSON."""
    from tether.autonomy.history.chats import LoggedChat
    from tether.autonomy.history.runlog import replay

    secret, password = "a8f5f167f44f4964e6c998dee827110c", "Xk9mQ2vL7pZq"
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[f'noted: api_key = "{secret}" works'])
    chat = LoggedChat(grid, "default", None, str(tmp_path))
    chat.turn(f'our db_password="{password}" and api_key = "{secret}"', lambda talk, text: talk.send(text))
    _, steps = replay(grid.store, chat.id)
    stored = json.dumps(steps)
    assert secret not in stored and password not in stored
    assert "[REDACTED" in steps[0]["user"] and "[REDACTED" in steps[1]["text"]
