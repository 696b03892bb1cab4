"""`[mcp.servers.NAME]`: the MCP servers whose tools the agent may call, as the user's config names them.

A server is a program started over stdio (`command`, `args`, `env`) or a streamable HTTP
endpoint (`url`, `headers`), with a time limit per call (`timeout`). The table is one of the
user's own keys (layering.USER_ONLY): a repository's tether.toml cannot add a server, trusted or
not, since a server is a program that runs with the user's rights. A secret need not be written
here: `${VAR}` in an env or header value is read from the environment when the server starts."""

from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass, field

from ..errors import ConfigError

KEYS = ("command", "args", "env", "url", "headers", "timeout")
TIMEOUT = 30.0  # seconds a call (or a server's start) may take
NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")  # a server's name is part of its tools' names: mcp:NAME:TOOL
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class ServerSpec:
    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = TIMEOUT

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    @property
    def shown(self) -> str:
        """How the server is reached, as a person reads it (no env or header values: they may be secrets)."""
        return self.url or shlex.join([self.command or "", *self.args])

    def expanded(self, table: dict[str, str]) -> dict[str, str]:
        """`table` with each `${VAR}` read from the environment now; a variable that is not set is an error."""

        def value(m: re.Match) -> str:
            if m.group(1) not in os.environ:
                raise ConfigError(f"the environment variable {m.group(1)} that [mcp.servers.{self.name}] names is not set")
            return os.environ[m.group(1)]

        return {k: _VARIABLE.sub(value, v) for k, v in table.items()}


def specs(config) -> list[ServerSpec]:
    """The servers of `config`'s [mcp.servers], each checked; a mistake is one line naming the file and the key."""
    mcp = config.extra.get("mcp", {})
    table = mcp.get("servers", {}) if isinstance(mcp, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{config.where('mcp.servers')}: [mcp.servers] must be a table of servers ([mcp.servers.NAME])")
    return [_spec(name, entry, f"{config.where(f'mcp.servers.{name}')}: mcp.servers.{name}") for name, entry in table.items()]


def configured(config) -> dict:
    """The names of the configured servers without starting any, or the config's mistake (for a page that shows them)."""
    try:
        return {"names": [s.name for s in specs(config)], "error": None}
    except ConfigError as e:
        return {"names": [], "error": str(e)}


def _spec(name: str, entry, where: str) -> ServerSpec:
    if not NAME.fullmatch(name):
        raise ConfigError(f"{where}: a server's name may hold only letters, digits, _ and - (its tools are called mcp:NAME:TOOL)")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where} has an unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    if ("command" in entry) == ("url" in entry):
        raise ConfigError(f"{where} needs either command (a program spoken to over stdio) or url (streamable HTTP), not both")
    command, url = entry.get("command"), entry.get("url")
    if command is not None and not (isinstance(command, str) and command.strip()):
        raise ConfigError(f"{where}.command must be a program's name or path")
    if url is not None and not (isinstance(url, str) and re.match(r"https?://[^\s/]+", url)):
        raise ConfigError(f"{where}.url must be an http:// or https:// URL (got {url!r:.80})")
    misplaced = [k for k in ("args", "env") if k in entry and command is None] + (["headers"] if "headers" in entry and url is None else [])
    if misplaced:
        raise ConfigError(f"{where}.{misplaced[0]} is for {'an HTTP' if misplaced[0] == 'headers' else 'a stdio'} server")
    args = entry.get("args", [])
    if not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
        raise ConfigError(f"{where}.args must be a list of strings")
    env, headers = _strings(entry.get("env", {}), f"{where}.env"), _strings(entry.get("headers", {}), f"{where}.headers")
    timeout = entry.get("timeout", TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise ConfigError(f"{where}.timeout must be a number of seconds > 0 (got {timeout!r:.40})")
    return ServerSpec(name, command, tuple(args), env, url, headers, float(timeout))


def _strings(table, where: str) -> dict[str, str]:
    if not (isinstance(table, dict) and all(isinstance(v, str) for v in table.values())):
        raise ConfigError(f"{where} must be a table of strings")
    return dict(table)
