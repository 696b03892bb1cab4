"""A PostgreSQL cluster of tether's own, for a team ledger on one machine or for tests.

It uses the machine's PostgreSQL binaries (Debian's `postgresql` package; `make pg` installs it)
and listens on a Unix socket only, in a folder only its owner can enter, so `trust` auth lets
nobody else in. PostgreSQL refuses to run as root: when tether runs as root, the cluster belongs
to the `postgres` user and lives outside root's home (which that user cannot enter)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from .. import config
from ..errors import TetherError, need_extra

__all__ = ["Cluster"]


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise TetherError(f"PostgreSQL's {name} is not installed: `make pg` installs it (Debian package postgresql)")
    return found


class Cluster:
    def __init__(self, folder: str | Path | None = None, port: int = 5432):
        root = os.geteuid() == 0
        default = Path("/var/lib/tether/pg") if root else config.data_dir() / "pg"
        self.folder = Path(folder or os.environ.get("TETHER_PG_DIR") or default)
        self.data, self.run, self.port = self.folder / "data", self.folder / "run", port
        self.owner = "postgres" if root else None  # the user the server runs as, when not the caller

    @property
    def url(self) -> str:
        return f"postgresql:///tether?host={self.run}&port={self.port}&user=tether"

    def _as_owner(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise TetherError(f"{Path(command[0]).name} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
        return done

    def up(self) -> str:
        """Create the cluster if needed, start it if stopped, make the `tether` database; its URL."""
        need_extra("postgres", "a PostgreSQL ledger (`tether db up`)", "psycopg")
        if not (self.data / "PG_VERSION").exists():
            for folder in (self.folder, self.data, self.run):
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                if self.owner:
                    user = pwd.getpwnam(self.owner)
                    os.chown(folder, user.pw_uid, user.pw_gid)
            self._as_owner(_binary("initdb"), "-D", str(self.data), "--auth=trust", "--username=tether", "-E", "UTF8", "--no-instructions")
        if not self.running():
            options = f"-k {self.run} -c listen_addresses='' -p {self.port} -c unix_socket_permissions=0700"
            self._as_owner(_binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w", "start")
        import psycopg

        with psycopg.connect(self.url.replace("/tether?", "/postgres?"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'tether'").fetchone():
                conn.execute("CREATE DATABASE tether")
        return self.url

    def running(self) -> bool:
        return (self.data / "PG_VERSION").exists() and self._as_owner(
            _binary("pg_ctl"), "-D", str(self.data), "status", check=False
        ).returncode == 0

    def down(self, mode: str = "fast") -> None:
        if self.running():
            self._as_owner(_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
