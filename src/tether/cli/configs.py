"""`tether config` and `tether trust`: what is in force and where it came from, and the person's
word that a project's `tether.toml` may widen the leash."""

from __future__ import annotations

import json
from typing import Optional

import typer

from ..errors import TetherError
from ._shared import JsonOpt, PathOpt, app, e, emit, load_config, out, state as state_, table, workspace


@app.command(name="config")
def config_(path: Optional[str] = PathOpt, as_json: bool = JsonOpt):
    """The config in force for the workspace: every value and the file it came from."""
    config = load_config(workspace(path), note=False)
    if as_json:
        emit(config.to_dict())
        return
    for layer in config.layers:
        state = "" if layer.origin != "project" else " (trusted)" if layer.trusted else " (not trusted: it may only narrow)"
        out.print(f"{layer.origin}: {e(layer.path)}{state}")
    t = table("key", "value", "from")
    for row in config.to_dict()["values"]:
        t.add_row(row["key"], e(json.dumps(row["value"])), e(row["origin"]))
    out.print(t)
    if note := config.ignored_note():
        out.print(f"[yellow]note:[/yellow] {e(note)}", soft_wrap=True)


@app.command()
def trust(
    path: Optional[str] = PathOpt,
    revoke: bool = typer.Option(False, "--revoke", help="Forget the trust: the project's config may only narrow again."),
    as_json: bool = JsonOpt,
):
    """Trust this project's tether.toml as it is now (pinned to its hash: a changed file is untrusted again)."""
    from .. import trust as trust_mod
    from ..config import load, project_config

    root = workspace(path)
    found = project_config(root)
    if found is None:
        raise TetherError(f"no tether.toml in {root} or above it: there is nothing to trust")
    before = trust_mod.state(found)
    if not revoke:
        load(state_["config"], start=root, trusted=True)  # a file that does not load is never pinned
    state = trust_mod.trust(found, revoke=revoke)
    if as_json:
        emit({**state.to_dict(), "changed_since_trusted": before.to_dict()["changed_since_trusted"]})
        return
    if revoke:
        was = "was not trusted" if before.pinned is None else "is no longer trusted"
        out.print(f"{e(state.path)} {was}: it may only narrow what your own config allows")
        return
    if before.pinned is not None and not before.trusted:
        out.print(
            f"[yellow]{e(state.path)} changed since you trusted it[/yellow] (sha256 {before.pinned[:12]}… → {(state.sha256 or '')[:12]}…)"
        )
    out.print(f"trusted {e(state.path)} (sha256 {(state.sha256 or '')[:12]}…); a change to the file makes it untrusted again")
    if note := load_config(root, note=False).ignored_note():
        out.print(f"[yellow]note:[/yellow] {e(note)}", soft_wrap=True)
