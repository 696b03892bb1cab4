"""`tether ui`: the verification GUI. Every page calls the same core functions as the CLI and
shows their `to_dict()`; nothing here decides anything the leash, the applier or the
checkpoints do not already decide."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import parse_qs

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import workspaces
from ..autonomy.agent import start
from ..autonomy.edits.workspace import PathRefused, TextFile, readable
from ..autonomy.guard.leash import LEVELS
from ..autonomy.history import runlog
from ..autonomy.history.checkpoints import Checkpoints
from ..errors import TetherError
from ..mcp.client import configured
from ..redaction import redact, redact_file
from . import colourer, ledger_view, plans, programs
from .diffview import file_lines
from .runs import Conflict, Runs, WebAsk, WebRun
from .security import Door, Forbidden

if TYPE_CHECKING:
    from ..llm import GridLike

HERE = Path(__file__).parent
__all__ = ["create_app"]


def create_app(
    grid: GridLike,
    root: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    open_grid: Callable[[Path], GridLike] | None = None,
) -> Door:
    """The app behind its door (`Door.token` is the one-time token for the printed URL).
    `open_grid(root)` builds the grid of a workspace switched to, as the server's start built
    `grid` (default: that workspace's own layered config)."""
    pages = Pages(grid, Path(root), open_grid)
    colourer.warm()  # its process starts now, not at the first review
    routes = [
        Route("/", lambda r: RedirectResponse("/runs", 303)),
        Route("/favicon.ico", lambda r: Response(status_code=204)),
        Route("/runs", pages.runs),
        Route("/runs", pages.start, methods=["POST"]),
        Route("/runs/{key}", pages.run),
        Route("/runs/{key}/events", pages.events),
        Route("/runs/{key}/stop", pages.stop, methods=["POST"]),
        Route("/runs/{key}/level", pages.level, methods=["POST"]),
        Route("/runs/{key}/confirm", pages.confirm, methods=["POST"]),
        Route("/runs/{key}/decide", pages.decide, methods=["POST"]),
        Route("/runs/{key}/unfold", pages.unfold, methods=["POST"]),
        Route("/runs/{key}/undo", pages.undo, methods=["POST"]),
        Route("/replay/{run_id}", pages.replay),
        Route("/replay/{run_id}/resume", pages.resume, methods=["POST"]),
        Route("/timeline", pages.timeline),
        Route("/timeline/restore", pages.restore, methods=["POST"]),
        Route("/ask", pages.ask),
        Route("/ask", pages.ask, methods=["POST"]),
        Route("/ask/{key}", pages.asked),
        Route("/file", pages.file),
        Route("/context", pages.context),
        Route("/ledger", pages.ledger),
        Route("/mcp", lambda r: programs.page(pages, r)),  # = tether mcp servers and tether hooks
        Route("/memory", pages.memory),
        Route("/memory", pages.remember, methods=["POST"]),
        Route("/wiki", pages.wiki),
        Route("/workspace", pages.workspace, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=[*routes, *plans.routes(pages)], exception_handlers={TetherError: pages.error})  # plans: Plan, then do
    door = Door(app, host, port, token)
    pages.door = door
    return door


class Pages:
    def __init__(self, grid: GridLike, root: Path, open_grid: Callable[[Path], GridLike] | None = None):
        self.grid, self.root, self.runs_ = grid, root.resolve(), Runs()
        self.open_grid, self.rooms = open_grid or _grid_of, {self.root: self.runs_}  # each workspace keeps its own runs
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
        self.door: Door | None = None

    def page(self, request: Request, name: str, status: int = 200, **data) -> HTMLResponse:
        self.grid.refresh()  # a `tether trust`, its revoke or an edit since the server started holds from this page on
        html = self.env.get_template(name).render(
            csrf=request.scope["state"]["csrf"],
            root=str(self.root),
            page=name.split(".")[0],
            trust_note=self.grid.config.ignored_note(),
            recent=workspaces.recent(self.root),
            **data,
        )
        return HTMLResponse(html, status)

    async def posted(self, request: Request) -> dict:
        """The POST's fields, once its CSRF token checks out (header or form field)."""
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                data = await request.json()
            except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
                raise TetherError("the request is not valid JSON") from None
            if not isinstance(data, dict):
                raise TetherError("the request must be a JSON object")
        else:  # the pages' forms are urlencoded (no uploads), so no multipart parser is needed
            try:
                data = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8"), errors="strict").items()}
            except UnicodeDecodeError:
                raise TetherError("the form is not UTF-8 text") from None
        nested = next((k for k, v in data.items() if not isinstance(v, (str, int, float, bool, type(None)))), None)
        if nested is not None:
            raise TetherError(f"field {nested!r} must be text, a number, true, false or null")
        token = request.headers.get("x-csrf-token") or data.get("csrf")
        if token is not None and not isinstance(token, str):
            raise TetherError("the CSRF token must be text")
        if self.door is None or not self.door.csrf_ok(token):
            raise Forbidden("the form is stale or came from another site (CSRF token missing or wrong); reload the page")
        return data

    async def error(self, request: Request, exc: Exception) -> Response:
        status = exc.http_status if isinstance(exc, TetherError) else 500  # as errors.py says, the gateway's status for the same error
        if request.method == "POST" and "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"error": str(exc), "kind": type(exc).__name__}, status)
        return self.page(request, "error.html", status, message=str(exc), link=getattr(exc, "link", None))

    # -- runs -----------------------------------------------------------------------------------

    def runs(self, request: Request, error: TetherError | None = None, form: dict | None = None):
        """The start form (with what was typed and why it was refused, after a bad start) and the runs."""
        self.grid.refresh()  # before the form's default level is read from it
        past = runlog.runs(self.grid.store, str(self.root))[::-1]
        return self.page(
            request,
            "runs.html",
            error.http_status if error else 200,
            error=str(error) if error else "",
            link=getattr(error, "link", None),
            form=form or {},
            runs=past,
            live=list(self.runs_.all.values())[::-1],
            levels=LEVELS,
            routes=list(self.grid.config.routes),
            models=[m for m in self.grid.models() if m["usable"]],  # what can answer now: local ones, hosted ones with a key
            level=start.default_level(self.grid.config, self.root),
            mcp=configured(self.grid.config),  # the MCP servers a run may call (their tools: /mcp)
        )

    async def start(self, request: Request):
        form = await self.posted(request)
        self.grid.refresh()
        fields = {**form, "model": form.get("model_other") or form.get("model"), "checks": form.get("verify")}  # the page's names
        try:
            run = self.runs_.start(self.grid, start.RunOptions.from_fields(self.root, fields))
        except TetherError as refused:
            if "text/html" not in request.headers.get("accept", ""):
                raise  # a script gets the JSON error
            return self.runs(request, error=refused, form=form)  # the form comes back as it was typed, with why
        return RedirectResponse(f"/runs/{run.key}", 303)

    def run(self, request: Request):
        run = self.runs_.get(request.path_params["key"], WebRun)
        return self.page(request, "run.html", run=run, levels=LEVELS)

    async def events(self, request: Request):
        """Server-Sent Events: every step of the run as it is recorded, from `Last-Event-ID` on."""
        after = _int({"after": request.headers.get("last-event-id") or request.query_params.get("after") or 0}, "after")
        run = self.runs_.get(request.path_params["key"])

        async def stream():
            nonlocal after
            while True:
                found = await anyio.to_thread.run_sync(run.wait, after, 5.0)
                if not found:
                    yield ": still here\n\n"
                for item in found:
                    after = item["seq"]
                    yield f"id: {item['seq']}\ndata: {json.dumps(item, default=str)}\n\n"
                    if item["kind"] == "end":
                        return

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"x-accel-buffering": "no"})

    async def stop(self, request: Request):
        await self.posted(request)
        self.runs_.get(request.path_params["key"]).stop()
        return JSONResponse({"stopping": True})

    async def level(self, request: Request):
        data = await self.posted(request)
        self.runs_.get(request.path_params["key"], WebRun).prepared.set_level(str(data.get("level")))
        return JSONResponse({"level": data.get("level")})

    async def confirm(self, request: Request):
        data = await self.posted(request)
        yes = data.get("yes")
        if not isinstance(yes, bool):
            raise TetherError("yes must be true or false")
        self.runs_.get(request.path_params["key"], WebRun).confirm(_int(data, "id"), yes)
        return JSONResponse({"ok": True})

    async def decide(self, request: Request):
        data = await self.posted(request)
        taken = data.get("taken")
        if taken not in (True, False, None):
            raise TetherError("taken must be true, false or null (undo)")
        new = data.get("new")
        if new is not None and not isinstance(new, str):
            raise TetherError("an edited hunk's text must be a string")
        state = self.runs_.get(request.path_params["key"], WebRun).decide(_int(data, "id"), _int(data, "hunk"), taken, new)
        return JSONResponse(state)

    async def unfold(self, request: Request):
        """Folded unchanged lines of a hunk under review, coloured as its rows."""
        data = await self.posted(request)
        run = self.runs_.get(request.path_params["key"], WebRun)
        where = str(data.get("where"))
        rows = await anyio.to_thread.run_sync(lambda: run.unfold(_int(data, "id"), _int(data, "hunk"), where, _int(data, "shown", 0)))
        return JSONResponse({"rows": rows})

    async def undo(self, request: Request):
        """`u` after a review applied: the run stopped, its change undone."""
        await self.posted(request)
        run = self.runs_.get(request.path_params["key"], WebRun)
        return JSONResponse({"message": await anyio.to_thread.run_sync(run.undo)})

    def replay(self, request: Request, error: TetherError | None = None):
        found = runlog.replay(self.grid.store, request.path_params["run_id"])
        if found is None:
            raise TetherError("no such run")
        return self.page(request, "replay.html", error.http_status if error else 200, run=found[0], steps=found[1], error=error or "")

    async def resume(self, request: Request):
        """Resume on a stopped, failed or killed run's page: it goes on as a live run (start.resume)."""
        form = await self.posted(request)
        self.grid.refresh()
        try:
            given = start.RunOptions.from_fields(self.root, {"instruction": "-", "max_steps": form.get("max_steps")})
            run = self.runs_.resume(self.grid, self.root, request.path_params["run_id"], {"max_steps": given.max_steps})
        except TetherError as refused:  # the run's page again, saying why beside its Resume
            return self.replay(request, refused)
        return RedirectResponse(f"/runs/{run.key}", 303)

    async def workspace(self, request: Request):
        """Open one of the recent workspaces (never a path the browser made up) in this server: its
        config loaded as at start, its own runs; refused while a run or a question is going."""
        target = workspaces.chosen((await self.posted(request)).get("path"), self.root)
        if going := self.runs_.going():
            where = f"/runs/{going.key}" if isinstance(going, WebRun) else f"/ask/{going.key}"
            raise Conflict(f"{going.key} is still going in {self.root}: stop it or let it end, then switch", link=where)
        old, self.grid = self.grid, self.open_grid(target)
        self.root, self.runs_ = target, self.rooms.get(target) or self.rooms.setdefault(target, self.runs_.after())
        old.close()
        workspaces.remember(target)
        return RedirectResponse("/runs", 303)

    # -- timeline, ask, files, context, ledger ----------------------------------------------------

    def timeline(self, request: Request):
        points = Checkpoints(self.root)
        entries = points.log()[::-1]
        diffs = {e["number"]: redact(points.diff(e["before"], e["after"]))[0] for e in entries[:20]}  # as the run log holds them
        current = max((e["number"] for e in entries if e["applied"]), default=0)  # the change the workspace is at
        return self.page(
            request, "timeline.html", entries=entries, diffs=diffs, current=current, message=request.query_params.get("message", "")
        )

    async def restore(self, request: Request):
        """The workspace as it was at change `number`: one undoable move of the history, with
        `tether undo`'s guarantee that a file changed since is never overwritten."""
        data = await self.posted(request)
        if "root" in data and data["root"] != str(self.root):  # a tab left open on another workspace of this server
            raise Conflict(f"that page was for {data['root']}; the server has switched to {self.root}: reload it", link="/timeline")
        number = _int(data, "number")
        moved = await anyio.to_thread.run_sync(Checkpoints(self.root).restore_to, number)
        steps = len(moved.undone) + len(moved.redone)
        message = f"the workspace is at change {number}" + (f" ({steps} steps)" if steps else "")
        return RedirectResponse(f"/timeline?message={message}", 303)

    def wiki(self, request: Request):
        """The wiki `tether wiki build` wrote: each part's checked claims, citations opening the lines."""
        from ..autonomy.answers.wiki import Wiki

        book = Wiki(self.grid, self.root)
        pages = book.pages()
        chosen = next((p for p in pages if p.slug == request.query_params.get("page")), None)
        return self.page(request, "wiki.html", pages=pages, chosen=chosen, overview=book.overview(pages) if pages and not chosen else "")

    def memory(self, request: Request):
        from ..autonomy.memory import Memory, standing

        notes = Memory(self.grid.store, self.root).list()
        return self.page(
            request,
            "memory.html",
            pending=[n for n in notes if n["status"] == "pending"],
            decided=[n for n in notes if n["status"] != "pending"][::-1],
            sources=standing(self.root)[1],
            message=request.query_params.get("message", ""),
        )

    async def remember(self, request: Request):
        """A person's yes or no to one proposed note: yes is one undoable change to .tether/memory.md."""
        from ..autonomy.memory import MEMORY_FILE, Memory

        data = await self.posted(request)
        number, memory = _int(data, "id"), Memory(self.grid.store, self.root)
        if data.get("action") == "accept":
            await anyio.to_thread.run_sync(memory.accept, number)
            message = f"kept in {MEMORY_FILE}; the timeline can undo it"
        else:
            memory.reject(number)
            message = f"dropped note {number}"
        return RedirectResponse(f"/memory?message={message}", 303)

    async def ask(self, request: Request):
        """A question runs like a run: the page shows the prompt being read and the claims as they
        are written, with Stop; when it ends, the same page shows the checked answer."""
        if request.method == "GET":
            return self.page(request, "ask.html", job=None, answer=None, question="")
        form = await self.posted(request)
        question, model = str(form.get("question", "")).strip(), str(form.get("model") or "default")
        if not question:
            raise TetherError("ask a question")
        self.grid.route(model)  # an unknown model is one clear error here, not a page that fails later
        job = self.runs_.ask(self.grid, self.root, question, model)
        return RedirectResponse(f"/ask/{job.key}", 303)

    def asked(self, request: Request):
        job = self.runs_.get(request.path_params["key"], WebAsk)
        answer = job.answer.to_dict() if job.answer else None
        return self.page(request, "ask.html", job=job, answer=answer, question=job.instruction)

    def file(self, request: Request):
        rel = request.query_params.get("path", "")
        try:
            target, rel = readable(self.root, rel)
        except PathRefused as e:
            raise TetherError(str(e)) from None
        if not target.is_file():
            raise TetherError(f"{rel}: no such file in the workspace")
        if target.stat().st_size > MAX_SHOWN:
            raise TetherError(f"{rel} is {target.stat().st_size:,} bytes: too big to show here (the page shows files up to {MAX_SHOWN:,})")
        text = redact_file(target, TextFile.read(target).text)[0]  # a .env or a key file is shown as every face shows it
        lines = [Markup(line) for line in file_lines(rel, text)]  # escaped there, every character
        start, end = _int(request.query_params, "start", 1), _int(request.query_params, "end", 0)
        return self.page(request, "file.html", path=rel, lines=list(enumerate(lines, start=1)), start=start, end=end or start)

    async def context(self, request: Request):
        from ..context.digest import digest
        from ..context.index import Index
        from ..context.repomap import repo_map

        query = request.query_params.get("q", "").strip()

        def gather():
            d = digest(self.root)
            hits = Index(self.root).find(query, k=10, embed_seconds=10).to_dict()["results"] if query else []
            files = sorted((f.path, f.tokens, f.binary) for f in d.files)
            return d.to_dict(), files, repo_map(self.root, max_tokens=1024).to_dict(), hits

        summary, files, repomap, hits = await anyio.to_thread.run_sync(gather)
        return self.page(request, "context.html", digest=summary, files=files, repomap=repomap, hits=hits, query=query)

    def ledger(self, request: Request):
        """Spend per day, model or key (`?by=`) as a chart and a table, outcomes told apart, budgets as bars."""
        return self.page(request, "ledger.html", **ledger_view.gather(self.grid, ledger_view.grouping(request.query_params.get("by"))))


def _grid_of(root: Path) -> GridLike:
    from ..llm.router import Grid

    return Grid.from_config(start=root)


MAX_SHOWN = 5_000_000  # bytes of a file the file view shows


def _int(data, key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    try:
        if isinstance(value, (bool, float)):  # JSON's true, 1.5 or 1e999 are no ids
            raise TypeError
        return int(value)
    except (TypeError, ValueError):
        raise TetherError(f"{key} must be a whole number (got {value!r:.60})") from None
