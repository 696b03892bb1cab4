"""`tether memory`: the notes runs proposed for the project's memory, for a person to keep or drop."""

from __future__ import annotations

from typing import Optional

import typer

from ._shared import JsonOpt, PathOpt, app, e, emit, err, grid, out, workspace


@app.command(name="memory")
def memory_(
    action: str = typer.Argument("list", help="list, accept or reject."),
    proposal: Optional[int] = typer.Argument(None, help="The proposal's number (accept, reject)."),
    path: Optional[str] = PathOpt,
    show_all: bool = typer.Option(False, "--all", help="List accepted and rejected notes too."),
    as_json: bool = JsonOpt,
):
    """What runs proposed to remember; `accept N` adds note N to .tether/memory.md (undoable), `reject N` drops it."""
    from ..autonomy.memory import MEMORY_FILE, Memory, standing
    from ..errors import TetherError

    root = workspace(path)
    memory = Memory(grid(root).store, root)
    if action == "list":
        notes = memory.list(None if show_all else "pending")
        if as_json:
            emit({"proposals": notes, "standing": standing(root)[1]})
            return
        for n in notes:
            origin = f"run {n['run_id']}" if n["run_id"] else n["source"]
            out.print(
                f"{n['id']:>4}  [{'yellow' if n['status'] == 'pending' else 'dim'}]{n['status']}[/]  {e(n['text'])}  "
                f"[dim]({e(origin)})[/dim]"
            )
        if not notes:
            err.print("no proposals waiting" + ("" if show_all else " (--all lists the ones decided)"))
        return
    if action not in ("accept", "reject") or proposal is None:
        raise TetherError("say `tether memory`, `tether memory accept N` or `tether memory reject N`")
    if action == "accept":
        change = memory.accept(proposal)
        emit(change.to_dict()) if as_json else out.print(f"kept in {MEMORY_FILE} · `tether undo` takes it out", markup=False)
    else:
        memory.reject(proposal)
        emit({"rejected": proposal}) if as_json else out.print(f"dropped proposal {proposal}", markup=False)
