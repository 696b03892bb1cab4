"""The Ledger page's data, shaped for a person to read: a bar chart of a size (spend per day, per
model or per gateway key, with a y axis in USD or tokens and an x axis of the groups), the calls
that were stopped, failed or refused told apart, and each budget as a bar of what is left.

Pure functions over what the meter returns (`Ledger.summary`, `Ledger.budget_use`): the spend a
budget bar shows is the spend the budget is enforced on, never a second sum made here."""

from __future__ import annotations

import math
import time
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Budget, Config
    from ..llm import GridLike
    from ..llm.keys import Key

VIEWS = ("day", "model", "key")  # the page's switch: ledger columns the chart and its table group by
WIDTH, HEIGHT = 720, 200  # the chart, in px (its SVG says so: a chart with no size once drew a 3,000 px bar)
LEFT, RIGHT, TOP, BASE = 64, 8, 10, 172  # the plot area: y axis at LEFT, x axis at BASE
MOST_BARS = 30  # more models or keys than this: the smallest are one "others" bar
BUDGET_BAR = 240  # a budget bar's length in px, the whole limit
OUTCOMES = {"ok": "ok", "cancelled": "stopped", "interrupted": "stopped", "refused": "refused"}  # everything else failed


def grouping(asked: str | None) -> str:
    """The view the page's switch asked for (`?by=`); per day unless it names another."""
    return asked if asked in VIEWS else "day"


def gather(grid: GridLike, by: str) -> dict:
    """What the page shows, read from the grid's ledger: its handler passes this to the template."""
    summary = grid.ledger.summary(by, "month", rows=20)
    used = grid.ledger.budget_use(limits(grid.config, [k for k in grid.keys().list() if k.revoked is None]))
    return {
        "by": by,
        "views": VIEWS,
        "since": summary["since"],
        "totals": summary["totals"],
        "chart": chart(summary["totals"], by, summary["since"], time.strftime("%Y-%m-%d")),
        "attempts": [{**r, "kind": outcome_kind(r["outcome"])} for r in summary["rows"]],
        "budgets": [budget_bar(u) for u in used],
    }


def limits(config: Config, keys: list[Key]) -> list[tuple[Budget, str, str | None, str | None]]:
    """Every budget configured, as `Ledger.reserve` and `budget_use` take them (and named as a
    refused call's error names them): overall, each route's, each live gateway key's."""
    found: list[tuple[Budget, str, str | None, str | None]] = [(config.budget, "overall", None, None)]
    found += [(route.budget, f"route {name}", "route", name) for name, route in config.routes.items()]
    found += [(key.budget, f"key {key.name}", "key", key.name) for key in keys]
    return [limit for limit in found if limit[0].is_set()]


def outcome_kind(outcome: str) -> str:
    """ok, stopped (a person's Stop, a client that hung up), refused (a budget or rate limit said
    no before anything was sent) or failed (an error, a skipped model)."""
    return OUTCOMES.get(outcome, "failed")


def chart(totals: list[dict], by: str, since: str, today: str) -> dict:
    """Bars with their axes, in the chart's px: USD where any call has a price, else tokens."""
    unit = "USD" if any(t["cost_usd"] for t in totals) else "tokens"
    points = [(_name(t["key"]), _value(t, unit), t["attempts"]) for t in totals]
    points = _every_day(points, since, today) if by == "day" else _largest(points)
    axis_top, ticks = scale(max((v for _, v, _ in points), default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    every = math.ceil(40 / slot)  # one label in so many bars, so labels never overlap
    bars = []
    for n, (name, value, calls) in enumerate(points):
        height = max(round((BASE - TOP) * value / axis_top, 1), 1.0) if value > 0 else 0.0  # a tiny spend still shows
        width, mid = round(min(slot * 0.7, 48), 1), LEFT + (n + 0.5) * slot
        bars.append(
            {
                "name": name,
                "label": (name[5:] if by == "day" else _short(name, int(slot * every / 7))) if n % every == 0 else "",
                "title": f"{name}: {amount(value, unit)} ({calls} call{'' if calls == 1 else 's'})",
                "x": round(mid - width / 2, 1),
                "mid": round(mid, 1),
                "y": round(BASE - height, 1),
                "width": width,
                "height": height,
            }
        )
    unpriced = sum(t["unpriced"] for t in totals) if unit == "USD" else 0
    return {
        "unit": unit,
        "bars": bars,
        "ticks": [{"label": amount(v, unit, short=True), "y": round(BASE - (BASE - TOP) * v / axis_top, 1)} for v in ticks],
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "base": BASE,
        "top": TOP,
        "note": f"{unpriced} call{'' if unpriced == 1 else 's'} of a model with no price not in USD" if unpriced else "",
    }


def scale(top: float) -> tuple[float, list[float]]:
    """The y axis: its top (a round number at or above `top`) and 3 to 6 ticks from 0 up to it."""
    if top <= 0:
        return 1.0, [0.0, 1.0]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    count = math.ceil(top / step - 1e-9)
    return step * count, [step * n for n in range(count + 1)]


def amount(value: float, unit: str, short: bool = False) -> str:
    """$0.0123 or 12,345 tokens (`short`: an axis tick, 12k)."""
    if unit == "USD":
        if short or value == 0:
            return "$" + f"{value:.6f}".rstrip("0").rstrip(".")
        digits = 2 if value >= 1 else min(6, 2 - math.floor(math.log10(value)))
        return f"${value:,.{digits}f}"
    if not short:
        return f"{round(value):,} tokens"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def budget_bar(use: dict) -> dict:
    """One budget as a bar: how much of its limit is used (holds of calls in flight included,
    as the budget counts them) and how much is left, or by how much it is passed."""
    limit, used, unit = use["limit"], use["used"], use["unit"]
    share = used / limit if limit > 0 else 1.0
    left = limit - used
    state = "over" if left < 0 else "full" if left == 0 else "near" if share >= 0.9 else "ok"
    text = f"{_plain(used, unit)} of {_plain(limit, unit)}{' tokens' if unit == 'tokens' else ''} used · "
    text += f"over by {_plain(-left, unit)}" if left < 0 else f"{_plain(left, unit)} left"
    return {
        **use,
        "left": left,
        "state": state,
        "text": text,
        "length": BUDGET_BAR,
        "filled": round(BUDGET_BAR * min(share, 1.0), 1),
    }


def _plain(value: float, unit: str) -> str:
    """12,345 (tokens) or $0.0123, $5.50: cents always, tenths of a cent where there are some."""
    if unit != "USD":
        return f"{round(value):,}"
    text = f"{value:,.4f}"
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return "$" + text


def _value(total: dict, unit: str) -> float:
    return (total["cost_usd"] or 0.0) if unit == "USD" else total["input_tokens"] + total["output_tokens"]


def _name(key) -> str:
    return "(direct)" if key is None else str(key)  # a call that came with no gateway key


def _short(name: str, room: int) -> str:
    room = max(room, 3)
    return name if len(name) <= room else name[: room - 1] + "…"


def _every_day(points: list[tuple[str, float, int]], since: str, today: str) -> list[tuple[str, float, int]]:
    """Each day from the first (the period's, or the first with a call) to today, a day with no
    call as 0: the x axis is time, not a list of the days something happened."""
    found = {name: (name, value, calls) for name, value, calls in points}
    days = sorted(found)
    first = min(days[0] if days else today, today) if since == "0000" else since
    last = max(days[-1] if days else today, today)
    try:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        return points
    out: list[tuple[str, float, int]] = []
    while day <= end and len(out) < 400:
        name = day.isoformat()
        out.append(found.get(name, (name, 0.0, 0)))
        day += timedelta(days=1)
    return out


def _largest(points: list[tuple[str, float, int]]) -> list[tuple[str, float, int]]:
    """Models or keys from the one that spent most; past MOST_BARS the rest are one bar."""
    points = sorted(points, key=lambda p: (-p[1], p[0]))
    if len(points) <= MOST_BARS:
        return points
    rest = points[MOST_BARS - 1 :]
    return [*points[: MOST_BARS - 1], (f"{len(rest)} others", sum(p[1] for p in rest), sum(p[2] for p in rest))]
