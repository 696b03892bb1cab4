"""The ledger: one row per attempt, and budgets checked before a call is sent.

Rows are written behind the call by one writer thread, in one transaction per batch of up to
BATCH_WINDOW seconds, so metering costs a queue put on the hot path instead of a SQLite commit;
every read of the ledger (a budget check, a total) first has the rows already recorded written,
and the queue is drained at exit. A hard kill loses at most that window's rows, never tears one.
A row never holds a prompt, a key or a secret: error texts are scrubbed of every key the config
names and of anything shaped like one."""

from __future__ import annotations

import atexit
import os
import queue
import re
import threading
import time
import weakref
from dataclasses import dataclass

from ..config import Budget, Config
from ..errors import BudgetExceeded, ConfigError, KeyLimit, TetherError
from ..layering import KEYS
from ..store import Schema, Store, register
from . import ledger_schema
from .types import Usage

_KEY_SHAPES = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}|AIza[0-9A-Za-z_\-]{20,})")
GROUPS = ("day", "model", "route", "provider", "outcome", "key")  # ledger columns `tether ledger --by` may group on


@dataclass
class Attempt:
    call_id: str
    attempt: int
    route: str | None
    provider: str
    model: str
    usage: Usage
    cost_usd: float | None
    latency_ms: float
    ttft_ms: float | None
    outcome: str  # ok | error | interrupted | cancelled | skipped | refused (a budget or rate limit, before sending)
    error_class: str | None = None
    error: str | None = None
    stream: bool = False
    key: str | None = None  # the gateway key the call came with


# The meter's tables, ledger and reservations (holds), described once for SQLite and PostgreSQL in
# ledger_schema; in the old global list they were scripts 1, 6, 7 (with the keys table) and 8.
SCHEMA = register(Schema("ledger", ledger_schema.sqlite("ledger"), legacy=(1, 6, 7, 8)))

_INSERT = (
    "INSERT INTO ledger (ts, day, call_id, attempt, route, provider, model, input_tokens, output_tokens, cached_tokens,"
    " cost_usd, latency_ms, ttft_ms, outcome, error_class, error, stream, key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_open_ledgers: "weakref.WeakSet[Ledger]" = weakref.WeakSet()
BATCH_WINDOW = 0.05
WRITE_RETRY_SECONDS = 30.0  # how long a batch waits for its database to come back before the error is reported


@atexit.register
def _flush_all() -> None:
    for ledger in list(_open_ledgers):
        ledger.flush()


class Ledger:
    def __init__(self, store: Store, config: Config):
        self.store = store.ensure(SCHEMA)  # tether's Store or a PgStore
        self._secrets = [os.environ[p.api_key_env] for p in config.providers.values() if p.api_key_env and os.environ.get(p.api_key_env)]
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._done = threading.Condition()
        self._recorded = self._written = 0
        self._writer: threading.Thread | None = None
        self._hurry = threading.Event()
        self._error: Exception | None = None
        _open_ledgers.add(self)

    def scrub(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self._secrets:
            text = text.replace(secret, "[secret]")
        return _KEY_SHAPES.sub("[secret]", text)

    def record(self, a: Attempt) -> None:
        now = time.time()
        row = (
            now,
            time.strftime("%Y-%m-%d", time.localtime(now)),
            a.call_id,
            a.attempt,
            a.route,
            a.provider,
            a.model,
            a.usage.input_tokens,
            a.usage.output_tokens,
            a.usage.cached_tokens,
            a.cost_usd,
            a.latency_ms,
            a.ttft_ms,
            a.outcome,
            a.error_class,
            self.scrub(a.error),
            int(a.stream),
            a.key,
        )
        with self._done:
            self._recorded += 1
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, name="tether-ledger", daemon=True)
                self._writer.start()
        self._queue.put(row)

    def flush(self) -> None:
        """Wait until every row recorded so far is in the database."""
        with self._done:
            target = self._recorded  # rows recorded after this call began are not waited for (a busy gateway never idles)
            if self._written < target:
                self._hurry.set()
            self._done.wait_for(lambda: self._written >= target)
            if self._error is not None:
                error, self._error = self._error, None
                raise TetherError(f"the ledger could not be written to {self.store.where}: {error}")

    def _write_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            self._hurry.wait(BATCH_WINDOW)  # let rows gather: one commit for many calls
            self._hurry.clear()
            while len(batch) < 5000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [item for item in batch if isinstance(item, tuple)]
            settled = [(item,) for item in batch if isinstance(item, int)]
            give_up = time.monotonic() + WRITE_RETRY_SECONDS
            while True:  # a database that restarts loses no row: the batch is written again once it is back
                try:
                    with self.store.transaction() as db:
                        db.executemany(_INSERT, rows)
                        db.executemany("DELETE FROM reservations WHERE id = ?", settled)
                        db.execute("DELETE FROM reservations WHERE expires < ?", (time.time() - 86400,))  # long dead processes'
                    break
                except Exception as e:  # noqa: BLE001 - reported by the next flush
                    if time.monotonic() >= give_up:
                        self._error = e
                        break
                    time.sleep(0.25)
            with self._done:
                self._written += len(batch)
                self._done.notify_all()

    def reserve(
        self,
        limits: list[tuple[Budget, str, str | None, str | None]],
        usd: float | None,
        tokens: int,
        model: str,
        route: str | None,
        lease: float,
        key: str | None = None,
        rpm: int | None = None,
    ) -> int | None:
        """Hold the call's worst-case cost against every budget it falls under, or refuse it.

        The check and the hold are one transaction under the database's write lock, so any number
        of processes sharing the ledger cannot together pass a limit: what is spent is the rows
        written plus the holds not yet settled. A hold is settled (`settle`) in the same write as
        the call's rows, and expires after `lease` seconds if its process dies first. Each limit
        is (budget, its name for errors, the ledger column it counts by or None for all, value).
        `rpm` limits a key's calls in the last minute, counted the same way."""
        limits = [limit for limit in limits if limit[0].is_set()]
        if not limits and not rpm:
            return None
        self.flush()
        now = time.time()
        today = time.strftime("%Y-%m-%d", time.localtime(now))
        with self.store.transaction(immediate=True) as db:
            if rpm:
                calls, open_holds = db.execute(
                    "SELECT (SELECT COUNT(DISTINCT call_id) FROM ledger WHERE key = ? AND ts >= ? AND outcome <> 'refused'),"
                    " (SELECT COUNT(*) FROM reservations WHERE key = ? AND expires > ? AND ts >= ?)",
                    (key, now - 60, key, now, now - 60),
                ).fetchone()
                if calls + open_holds >= rpm:
                    raise KeyLimit(f"key {key}: {calls + open_holds} calls in the last minute, its limit is {rpm}; wait a little")
            for budget, scope, column, value in limits:
                for period, since, usd_limit, token_limit in periods(budget, today):
                    if usd_limit is None and token_limit is None:
                        continue
                    spent_usd, spent_tokens = _spent(db, since, now, column, value)
                    if usd_limit is not None:
                        if usd is None:
                            raise BudgetExceeded(
                                f'{scope} has a USD budget but the price of {model} is unknown; set its price under [models."{model}"] '
                                "in tether.toml"
                            )
                        if spent_usd + usd > usd_limit:
                            raise BudgetExceeded(
                                f"{scope} budget: ${spent_usd:.4f} spent or held {period} + ~${usd:.4f} for this call would pass "
                                f"${usd_limit:.2f}; raise the budget or wait"
                            )
                    if token_limit is not None and spent_tokens + tokens > token_limit:
                        raise BudgetExceeded(
                            f"{scope} budget: {spent_tokens} tokens used or held {period} + ~{tokens} for this call would pass "
                            f"{token_limit}; raise the budget or wait"
                        )
            return db.execute(
                "INSERT INTO reservations (ts, expires, day, route, usd, tokens, key) VALUES (?,?,?,?,?,?,?) RETURNING id",
                (now, now + lease, today, route, usd or 0.0, tokens, key),
            ).fetchone()[0]

    def budget_use(self, limits: list[tuple[Budget, str, str | None, str | None]]) -> list[dict]:
        """How much of each budget is used, as `reserve` counts it (rows written plus holds not yet
        settled): one entry per limit set, {scope, period, unit ("USD" or "tokens"), limit, used}."""
        limits = [limit for limit in limits if limit[0].is_set()]
        if not limits:
            return []
        self.flush()
        now = time.time()
        today = time.strftime("%Y-%m-%d", time.localtime(now))
        used = []
        with self.store.transaction() as db:
            for budget, scope, column, value in limits:
                for period, since, usd_limit, token_limit in periods(budget, today):
                    if usd_limit is None and token_limit is None:
                        continue
                    usd, tokens = _spent(db, since, now, column, value)
                    for unit, limit, spent in (("USD", usd_limit, usd), ("tokens", token_limit, tokens)):
                        if limit is not None:
                            used.append({"scope": scope, "period": period, "unit": unit, "limit": limit, "used": spent})
        return used

    def settle(self, reservation: int | None) -> None:
        """Let a hold go, in the same write as the rows recorded before it (never earlier)."""
        if reservation is not None:
            with self._done:
                self._recorded += 1
            self._queue.put(reservation)

    def totals(self, by: str = "day", since_day: str | None = None) -> list[dict]:
        if by not in GROUPS:
            raise TetherError(f"--by must be one of {', '.join(GROUPS)} (got {by!r})")
        column = by
        sql = (
            f"SELECT {column} AS key, COUNT(*) AS attempts, SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END) AS ok,"
            " SUM(CASE WHEN outcome IN ('ok', 'cancelled', 'interrupted', 'refused') THEN 0 ELSE 1 END) AS failed,"
            " SUM(CASE WHEN outcome IN ('cancelled', 'interrupted') THEN 1 ELSE 0 END) AS stopped,"  # a Stop is not a failure
            " SUM(CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END) AS refused,"  # a budget or rate limit said no: nothing was sent
            " SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, SUM(cached_tokens) AS cached_tokens,"
            " SUM(cost_usd) AS cost_usd, SUM(CASE WHEN cost_usd IS NULL AND outcome = 'ok' THEN 1 ELSE 0 END) AS unpriced,"
            " AVG(CASE WHEN outcome = 'ok' THEN latency_ms END) AS avg_latency_ms"
            " FROM ledger WHERE day >= ? GROUP BY 1 ORDER BY 1"
        )
        self.flush()
        return [dict(r) for r in self.store.query(sql, (since_day or "0000",))]

    def summary(self, by: str = "day", since: str = "month", rows: int = 0) -> dict:
        """What `tether ledger` shows (and the web app and MCP): totals grouped `by`, since a
        day (`since_date` spelling), and the last `rows` attempts."""
        since_day = since_date(since)
        return {"by": by, "since": since_day, "totals": self.totals(by, since_day), "rows": self.rows(rows) if rows else []}

    def speeds(self, model: str, calls: int = 50) -> tuple[float, float] | None:
        """(prompt tokens read per second, tokens written per second) of `model` ("provider/name")
        over its last `calls` answered calls, from their time to first token; None before any."""
        self.flush()
        rows = self.store.query(
            "SELECT input_tokens - cached_tokens, output_tokens, ttft_ms, latency_ms FROM ledger WHERE model = ? "
            "AND outcome = 'ok' AND ttft_ms > 0 AND latency_ms > ttft_ms ORDER BY id DESC LIMIT ?",
            (model, calls),
        )
        read, reading, written, writing = (sum(r[i] for r in rows) for i in range(4))
        if not rows or not read or not written:
            return None
        return read / (reading / 1000), written / ((writing - reading) / 1000)

    def rows(self, limit: int = 50) -> list[dict]:
        self.flush()
        return [dict(r) for r in self.store.query("SELECT * FROM ledger ORDER BY id DESC LIMIT ?", (limit,))]


def periods(budget: Budget, today: str) -> tuple[tuple[str, str, float | None, int | None], ...]:
    """A budget's periods as (name, its first day, USD limit, token limit)."""
    return (
        ("today", today, budget.usd_per_day, budget.tokens_per_day),
        ("this month", today[:8] + "01", budget.usd_per_month, budget.tokens_per_month),
    )


def _spent(db, since: str, now: float, column: str | None, value: str | None) -> tuple[float, int]:
    """(USD, tokens) spent since the day `since`: the rows written plus the holds not yet settled,
    of every call, or of the calls whose `column` ("route" or "key") is `value`. What a budget counts."""
    where, params = (f"AND {column} = ?", (value,)) if column in ("route", "key") else ("", ())
    # one statement, so one snapshot: a call settled in between (its row in, its hold out) is counted once
    spent_usd, spent_tokens, held_usd, held_tokens = db.execute(
        "SELECT (SELECT COALESCE(SUM(cost_usd), 0) FROM ledger WHERE day >= ? " + where + "),"
        " (SELECT COALESCE(SUM(input_tokens + output_tokens), 0) FROM ledger WHERE day >= ? " + where + "),"
        " (SELECT COALESCE(SUM(usd), 0) FROM reservations WHERE day >= ? AND expires > ? " + where + "),"
        " (SELECT COALESCE(SUM(tokens), 0) FROM reservations WHERE day >= ? AND expires > ? " + where + ")",
        (since, *params, since, *params, since, now, *params, since, now, *params),
    ).fetchone()
    return spent_usd + held_usd, spent_tokens + held_tokens


def ledger_store(config: Config, store: Store):
    """Where the ledger lives: PostgreSQL when [ledger] names one (`url`, or `url_env` for a URL
    that holds a password), else tether's own SQLite file."""
    spec = config.extra.get("ledger", {})
    where = f"{config.where('ledger')}: [ledger]"
    if not isinstance(spec, dict) or set(spec) - set(KEYS["ledger"]):
        raise ConfigError(f"{where} takes url or url_env")
    url = spec.get("url")
    if spec.get("url_env"):
        url = os.environ.get(str(spec["url_env"]))
        if not url:
            raise ConfigError(f"{where} url_env names {spec['url_env']}, which is not set")
    if not url:
        return store
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{where} url must be a postgresql:// URL")
    from .pg import PgStore

    return PgStore(url)


def since_date(since: str) -> str:
    """The first day (YYYY-MM-DD) that `today`, `month`, `all` or a date means; all is "0000"."""
    today = time.strftime("%Y-%m-%d")
    day = {"today": today, "month": today[:8] + "01", "all": "0000"}.get(since, since)
    try:
        if day != "0000":
            time.strptime(day, "%Y-%m-%d")
    except ValueError:
        raise TetherError(f"--since must be today, month, all or YYYY-MM-DD (got {since!r})") from None
    return day
