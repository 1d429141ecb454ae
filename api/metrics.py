"""What the service is doing, for Prometheus: ``GET /metrics`` in the text exposition format.

Where each number comes from:

* **requests** (``patrol_http_requests_total``, ``patrol_http_request_duration_seconds``):
  counted by :class:`~api.middleware.RequestIdMiddleware` when a response ends, labelled by
  the route's ``operation_id`` (``unmatched`` when no route matched: never the raw path, so
  the label set stays bounded) and the status (the histogram by status class, ``2xx``...);
* **database pools**: read from the request and background engines' pools at scrape time;
* **job queues**: procrastinate's jobs (queue ``tasks``, kind = the task name such as
  ``evidence:derivatives``; procrastinate's ``todo``/``doing``/``failed`` reported as
  ``queued``/``running``/``failed``) and the layer imports (``geofence_import_jobs``), with
  each task's last success: read-only statements at scrape time, cut off after
  :data:`QUEUE_STATEMENT_TIMEOUT_S` and kept for :data:`QUEUE_CACHE_S`; when they fail the
  queue gauges are left out and ``patrol_job_queue_read_ok`` is 0. They count the jobs of
  every worker process, so any replica's scrape shows the whole queue;
* **evidence completes** and the **bytes verified**, **sync receipts** by status: counted by
  their controllers from what the service answered, once the response is a success (the
  transaction is committed by then: nothing is counted that was not acknowledged);
* **geofence**: the process-wide index's size and the checks answered from it
  (:class:`geofence.index.GeofenceIndex` counts them; this module only reads);

Each app has its own registry and each process serves its own numbers: scrape every replica.
Access is decided in :mod:`api.auth` (a metrics token or an admin's token).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from litestar import Request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import String, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from evidence.service import IntakeTally
from geofence import LayerKind
from geofence.index import DEFAULT_INDEX, GeofenceIndex
from geofence.models import ImportJob
from sync.push import Receipt

__all__ = [
    "CONTENT_TYPE",
    "QUEUE_CACHE_S",
    "QUEUE_STATEMENT_TIMEOUT_S",
    "UNMATCHED",
    "Metrics",
    "count_evidence_intake",
    "count_sync_receipts",
]

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4"  # Litestar appends "; charset=utf-8"
UNMATCHED = "unmatched"
QUEUE_CACHE_S = 5.0
QUEUE_STATEMENT_TIMEOUT_S = 1.0

_ON_SUCCESS = "metrics_on_success"  # scope state: counts to make once the response succeeds
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STATUS_CLASS = {n: f"{n}xx" for n in range(1, 6)}
TASK_QUEUE = "tasks"  # the ``queue`` label of procrastinate's jobs
# Label sets shown as 0 before anything is queued, so that an alert has a series to watch.
_IMPORT_KINDS = tuple(k.value for k in LayerKind)
_PENDING = ("queued", "running")
_STATES = (*_PENDING, "failed")


@dataclass(frozen=True, slots=True)
class _QueueRow:
    queue: str
    kind: str
    state: str
    jobs: int
    oldest_s: float


_TASKS = text(
    """
    SELECT 'tasks', j.task_name,
           CASE j.status WHEN 'todo' THEN 'queued' WHEN 'doing' THEN 'running'
                ELSE j.status::text END,
           count(*), extract(epoch FROM now() - min(e.at))
      FROM procrastinate_jobs AS j
      LEFT JOIN procrastinate_events AS e ON e.job_id = j.id AND e.type = 'deferred'
     WHERE j.status IN ('todo', 'doing', 'failed')
     GROUP BY j.task_name, j.status
    """
)
_LAST_SUCCESS = text(
    """
    SELECT j.task_name, extract(epoch FROM max(e.at))
      FROM procrastinate_events AS e JOIN procrastinate_jobs AS j ON j.id = e.job_id
     WHERE e.type = 'succeeded'
     GROUP BY j.task_name
    """
)


def _queue_statement() -> Any:
    """Layer imports per kind and state, and the age of each group's oldest (read-only)."""
    return (
        select(
            literal("geofence_import_jobs", String),
            ImportJob.kind,
            ImportJob.state,
            func.count(),
            func.extract("epoch", func.now() - func.min(ImportJob.created_at)),
        )
        .where(ImportJob.state.in_(_STATES))
        .group_by(ImportJob.kind, ImportJob.state)
    )


class _Snapshot(Collector):
    """What is read at scrape time: pools, queues (cached), the geofence index."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def collect(self) -> Iterable[Metric]:
        yield from self._pools()
        yield from self._queues()
        yield from self._geofence()

    def _pools(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "patrol_db_pool_size", "Connections the pool keeps", labels=["pool"]
        )
        out = GaugeMetricFamily("patrol_db_pool_checked_out", "Connections in use", labels=["pool"])
        over = GaugeMetricFamily(
            "patrol_db_pool_overflow", "Connections open beyond the pool size", labels=["pool"]
        )
        for name, engine in self._m.engines.items():
            pool: Any = engine.pool
            size.add_metric([name], float(pool.size()))
            out.add_metric([name], float(pool.checkedout()))
            over.add_metric([name], float(max(0, pool.overflow())))
        yield from (size, out, over)

    def _queues(self) -> Iterator[Metric]:
        rows = self._m.queue_rows
        ok = GaugeMetricFamily(
            "patrol_job_queue_read_ok", "1 when the job queues could be read at the last try"
        )
        ok.add_metric([], 1.0 if rows is not None else 0.0)
        yield ok
        if rows is None:
            return
        depth = GaugeMetricFamily(
            "patrol_job_queue_depth",
            "Jobs per queue, kind and state (failed: retries used up, left for an operator)",
            labels=["queue", "kind", "state"],
        )
        oldest = GaugeMetricFamily(
            "patrol_job_queue_oldest_age_seconds",
            "Age of the oldest queued or running job (0 when there is none)",
            labels=["queue", "kind", "state"],
        )
        found = {(r.queue, r.kind, r.state): r for r in rows}
        queues = {TASK_QUEUE: self._m.tasks, "geofence_import_jobs": _IMPORT_KINDS}
        keys = {(q, k, s) for q, kinds in queues.items() for k in kinds for s in _STATES}
        for key in sorted(keys | set(found)):
            row = found.get(key)
            depth.add_metric(list(key), float(row.jobs) if row else 0.0)
            if key[2] in _PENDING:
                oldest.add_metric(list(key), max(0.0, row.oldest_s) if row else 0.0)
        last = GaugeMetricFamily(
            "patrol_task_last_success_timestamp_seconds",
            "Unix time of each task's last successful job, on any worker",
            labels=["task"],
        )
        for task, at in sorted(self._m.task_successes.items()):
            last.add_metric([task], at)
        yield from (depth, oldest, last)

    def _geofence(self) -> Iterator[Metric]:
        index = self._m.index
        features = GaugeMetricFamily(
            "patrol_geofence_index_features",
            "Features of current layer versions held by this process's index",
            labels=["layer"],
        )
        nbytes = GaugeMetricFamily(
            "patrol_geofence_index_bytes",
            "Approximate bytes of those features (coordinates and search arrays)",
            labels=["layer"],
        )
        counties = GaugeMetricFamily(
            "patrol_geofence_index_counties",
            "Counties holding the layer in the index",
            labels=["layer"],
        )
        for size in index.sizes():
            features.add_metric([size.kind.value], float(size.features))
            nbytes.add_metric([size.kind.value], float(size.nbytes))
            counties.add_metric([size.kind.value], float(size.counties))
        checks = CounterMetricFamily(
            "patrol_geofence_checks", "Location checks answered (a batch counts once)"
        )
        checks.add_metric([], float(index.checks))
        fixes = CounterMetricFamily("patrol_geofence_checked_fixes", "Fixes in those checks")
        fixes.add_metric([], float(index.checked_fixes))
        evicted = CounterMetricFamily(
            "patrol_geofence_index_evictions", "Counties evicted to keep the index in its budget"
        )
        evicted.add_metric([], float(index.evictions))
        by_db = CounterMetricFamily(
            "patrol_geofence_postgis_checks", "Checks answered by PostGIS (county not held)"
        )
        by_db.add_metric([], float(index.fallbacks))
        yield from (features, nbytes, counties, checks, fixes, evicted, by_db)


class Metrics:
    """One app's registry and the instruments its parts count with."""

    def __init__(
        self,
        engines: dict[str, AsyncEngine],
        *,
        tasks: Sequence[str] = (),
        index: GeofenceIndex = DEFAULT_INDEX,
        queue_cache_s: float = QUEUE_CACHE_S,
        queue_timeout_s: float = QUEUE_STATEMENT_TIMEOUT_S,
    ) -> None:
        self.engines = engines
        self.index = index
        self.tasks = tuple(tasks)
        self.queue_rows: list[_QueueRow] | None = None
        self.task_successes: dict[str, float] = {}
        self._queue_engine = engines["requests"]
        self._queue_cache_s = queue_cache_s
        self._queue_timeout_s = queue_timeout_s
        self._queue_read_at = float("-inf")
        self._queue_lock = asyncio.Lock()
        self.registry = reg = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "patrol_http_requests",
            "Requests answered, by operation id and status",
            ["operation", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "patrol_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response",
            ["operation", "status_class"],
            buckets=_BUCKETS,
            registry=reg,
        )
        self.evidence_completes = Counter(
            "patrol_evidence_completes",
            "Acknowledged completes: accepted (bytes verified) or replayed",
            ["outcome"],
            registry=reg,
        )
        self.evidence_verified_bytes = Counter(
            "patrol_evidence_verified_bytes",
            "Bytes of accepted evidence read back with size and SHA-256 checked",
            registry=reg,
        )
        self.sync_ops = Counter(
            "patrol_sync_ops",
            "Pushed operations by receipt status (applied, duplicate, conflict, rejected)",
            ["status"],
            registry=reg,
        )
        for outcome in ("accepted", "replayed"):
            self.evidence_completes.labels(outcome)
        for status in ("applied", "duplicate", "conflict", "rejected"):
            self.sync_ops.labels(status)
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        reg.register(_Snapshot(self))
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)

    # -- requests ------------------------------------------------------------------------------
    def observe_request(self, scope: Any, status: int, seconds: float) -> None:
        """Count one answered request (called by the request-id middleware for every one)."""
        handler = scope.get("route_handler")
        operation = _operation(handler, scope) if handler is not None else UNMATCHED
        children = self._children.get((operation, status))
        if children is None:
            children = (
                self.requests.labels(operation, str(status)),
                self.latency.labels(operation, _STATUS_CLASS.get(status // 100, "other")),
            )
            self._children[(operation, status)] = children
        children[0].inc()
        children[1].observe(seconds)
        if status < 400:
            for count in scope.get("state", {}).get(_ON_SUCCESS, ()):
                count(self)

    # -- scrape ----------------------------------------------------------------------------------
    async def render(self) -> bytes:
        await self._refresh_queues()
        return generate_latest(self.registry)

    async def _refresh_queues(self) -> None:
        if time.monotonic() - self._queue_read_at < self._queue_cache_s:
            return
        async with self._queue_lock:
            if time.monotonic() - self._queue_read_at < self._queue_cache_s:
                return  # another scrape read them while this one waited
            try:
                self.queue_rows = await asyncio.wait_for(
                    self._read_queues(), self._queue_timeout_s + 1.0
                )
            except Exception as exc:  # a scrape still answers: pools, requests, the rest
                self.queue_rows = None
                log.warning("metrics.queue_read_failed", error=type(exc).__name__)
            self._queue_read_at = time.monotonic()

    async def _read_queues(self) -> list[_QueueRow]:
        ms = max(1, round(self._queue_timeout_s * 1000))
        async with self._queue_engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION READ ONLY"))
            await conn.execute(text(f"SET LOCAL statement_timeout = {ms}"))
            rows = [
                _QueueRow(r[0], r[1], r[2], int(r[3]), float(r[4] or 0.0))
                for statement in (_TASKS, _queue_statement())
                for r in await conn.execute(statement)
            ]
            successes = await conn.execute(_LAST_SUCCESS)
            self.task_successes = {str(r[0]): float(r[1]) for r in successes}
            await conn.rollback()
        return rows


def _operation(handler: Any, scope: Any) -> str:
    operation_id = getattr(handler, "operation_id", None)
    if isinstance(operation_id, str):
        return operation_id
    # Litestar's own routes (the OpenAPI document, automatic OPTIONS): the route template
    return f"{scope.get('method', '')} {scope.get('path_template', '')}"


def _on_success(request: Request[Any, Any, Any], count: Callable[[Metrics], None]) -> None:
    request.scope.setdefault("state", {}).setdefault(_ON_SUCCESS, []).append(count)


def count_evidence_intake(request: Request[Any, Any, Any], tally: IntakeTally) -> None:
    """Count a complete's accepted evidence, verified bytes and replays once it succeeds."""
    accepted, replayed, nbytes = tally.accepted, tally.replayed, tally.verified_bytes

    def count(metrics: Metrics) -> None:
        if accepted:
            metrics.evidence_completes.labels("accepted").inc(accepted)
        if replayed:
            metrics.evidence_completes.labels("replayed").inc(replayed)
        if nbytes:
            metrics.evidence_verified_bytes.inc(nbytes)

    _on_success(request, count)


def count_sync_receipts(request: Request[Any, Any, Any], receipts: Iterable[Receipt]) -> None:
    """Count a push's receipts by status once the response succeeds."""
    by_status: dict[str, int] = {}
    for receipt in receipts:
        by_status[receipt.status] = by_status.get(receipt.status, 0) + 1

    def count(metrics: Metrics) -> None:
        for status, n in by_status.items():
            metrics.sync_ops.labels(status).inc(n)

    _on_success(request, count)
