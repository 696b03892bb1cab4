"""Plan, then do, in the browser: the Plan button beside Start makes a plan (read-only, shown as it
is written, with Stop), the page shows it in a textarea the person edits, and Approve and run
carries it out as a PlanRun through the same run machinery as Start — its steps live, Stop, a
review at `approve` — saved to the workspace's plan file as `tether plan` saves it."""

from __future__ import annotations

import threading
from functools import partial
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from ..autonomy.agent import planrun, start
from ..autonomy.agent.plan import DEFAULT_FILE, Plan, load, make_plan, parse, plan_path
from ..autonomy.guard.leash import LEVELS
from ..errors import Cancelled, TetherError
from ..mcp.client import tools_for
from .runs import Live

if TYPE_CHECKING:
    from ..llm import GridLike
    from .app import Pages

__all__ = ["WebPlan", "routes"]


class WebPlan(Live):
    """A plan being made from the start form's fields (kept for the run it becomes): the model's
    progress as events, Stop at any point, and the Plan (or why there is none) at the end."""

    def __init__(self, key: str, grid: GridLike, root, fields: dict, loaded: Plan | None = None):
        super().__init__(key)
        self.grid, self.root, self.fields = grid, root, fields
        self.instruction = str(fields.get("instruction") or "").strip()
        self.model = str(fields.get("model_other") or fields.get("model") or "default").strip() or "default"
        self.cancel = threading.Event()
        self.plan: Plan | None = loaded  # `loaded`: the plan file as a run left it, to edit and run again (no model call)
        if loaded is not None:
            self.result = {"status": "planned", "reason": "the plan file as the last run left it"}

    def _run(self) -> None:
        if self.plan is not None:
            return
        status, reason = "planned", ""
        try:
            self.plan = make_plan(self.grid, self.root, self.instruction, self.model, on_event=self.event, cancel=self.cancel)
            reason = f"a plan of {len(self.plan.steps)} step{'' if len(self.plan.steps) == 1 else 's'}"
        except Cancelled:
            status, reason = "stopped", "stopped; no plan was made"
        except Exception as e:  # a model that is down, a reply with no steps: the page says so, and the server goes on
            status, reason = "error", str(e) if isinstance(e, TetherError) else f"the plan failed: {e!r}"
        self.result = {"status": status, "reason": reason}
        self.event("end", **self.result)

    def stop(self) -> None:
        self.cancel.set()


def routes(pages: Pages) -> list[Route]:
    return [
        Route("/plan", partial(_make, pages), methods=["POST"]),
        Route("/plan/again", partial(_again, pages), methods=["POST"]),
        Route("/plan/{key}", partial(_show, pages)),
        Route("/plan/{key}/run", partial(_carry, pages), methods=["POST"]),
    ]


async def _make(pages: Pages, request: Request):
    """The Plan button: the start form's fields, planned by the chosen model."""
    form = await pages.posted(request)
    pages.grid.refresh()
    if not str(form.get("instruction") or "").strip():
        raise TetherError("say what the plan is for")
    job = WebPlan(f"p{next(pages.runs_.numbers)}", pages.grid, pages.root, form)
    pages.grid.route(job.model)  # an unknown model is one clear error here, not a page that fails later
    pages.runs_.keep(job)
    return RedirectResponse(f"/plan/{job.key}", 303)


async def _again(pages: Pages, request: Request):
    """A finished plan run's "Edit the plan and run it again": the workspace's plan file, as the
    run left it (each step's state), on the Plan page to edit and approve; only that file."""
    await pages.posted(request)
    file = plan_path(pages.root)
    if not file.is_file():
        raise TetherError(f"no plan file at {DEFAULT_FILE}: make a plan with the Plan button")
    plan = load(file)
    job = WebPlan(f"p{next(pages.runs_.numbers)}", pages.grid, pages.root, {"instruction": plan.task or plan.steps[0].title}, plan)
    pages.runs_.keep(job)
    return RedirectResponse(f"/plan/{job.key}", 303)


def _show(pages: Pages, request: Request, text: str | None = None, error: str = "", level: str | None = None, status: int = 200):
    job = pages.runs_.get(request.path_params["key"], WebPlan)
    running = job.running  # read once, before the plan: a plan that ends while the page renders is shown at the next load
    chosen = level or job.fields.get("level") or start.default_level(pages.grid.config, pages.root)
    shown = text if text is not None else job.plan.render() if job.plan and not running else ""
    return pages.page(
        request, "plan.html", status, job=job, running=running, text=shown, error=error, levels=LEVELS, level=chosen, file=DEFAULT_FILE
    )


async def _carry(pages: Pages, request: Request):
    """Approve and run: the plan as the person left it, saved to the plan file, carried out as a run."""
    form = await pages.posted(request)
    job = pages.runs_.get(request.path_params["key"], WebPlan)
    text, level = str(form.get("text") or ""), str(form.get("level") or "") or None
    try:
        plan = parse(text, "the plan")
        fields = {**job.fields, "instruction": plan.task or job.instruction, "model": job.model, "checks": job.fields.get("verify")}
        options = start.RunOptions.from_fields(pages.root, {**fields, "level": level})
        file = plan_path(pages.root)
        plan.save(file)
        tools = lambda: tools_for(pages.grid.config, pages.root)  # noqa: E731 - each step's own MCP servers, as Start's run has
        run = pages.runs_.start_with(
            lambda person, shown: planrun.prepare(plan, file, options, pages.grid, person=person, on_event=shown, tools=tools)
        )
    except TetherError as refused:
        if "text/html" not in request.headers.get("accept", ""):
            raise  # a script gets the JSON error
        return _show(pages, request, text, str(refused), level, refused.http_status)  # the text comes back as it was typed, with why
    return RedirectResponse(f"/runs/{run.key}", 303)
