"""Liveness (``/health``) and readiness (``/ready``), unauthenticated; metrics (``/metrics``)
for the metrics token or an admin."""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from sqlalchemy import text

from api.auth import METRICS_SCRAPE, authorize_scrape
from api.metrics import CONTENT_TYPE, Metrics
from mobile_contract.v1.system import Health, Readiness, ReadinessCheck

__all__ = ["SystemController"]

try:
    _VERSION = version("patrol")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    _VERSION = "0+unknown"

_CHECK_TIMEOUT_S = 3.0


async def _check_database(state: State) -> ReadinessCheck:
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        if not await state.migrator.is_current():
            return ReadinessCheck(ok=False, detail="database schema is not at the latest migration")
    except Exception as exc:
        return ReadinessCheck(ok=False, detail=f"database unreachable: {type(exc).__name__}")
    return ReadinessCheck(ok=True, detail="reachable, migrations current")


async def _check_store(state: State) -> ReadinessCheck:
    if not await state.store.ping():
        return ReadinessCheck(ok=False, detail="object store unreachable or bucket missing")
    return ReadinessCheck(ok=True, detail="bucket reachable")


class SystemController(Controller):
    tags = ["system"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/health", operation_id="GetHealth", summary="The process is alive")
    async def health(self) -> Health:
        """Answers as long as the process serves requests; touches nothing else."""
        return Health(version=_VERSION)

    @get(
        "/ready",
        operation_id="GetReadiness",
        summary="Database and object store are usable",
        responses={503: ResponseSpec(Readiness, description="Not ready: the checks say why")},
    )
    async def ready(self, state: State) -> Response[Readiness]:
        """200 when the database is reachable with current migrations and S3 answers; else 503."""
        checks: dict[str, ReadinessCheck] = {}
        for name, fn in (("database", _check_database), ("objectStore", _check_store)):
            try:
                checks[name] = await asyncio.wait_for(fn(state), _CHECK_TIMEOUT_S)
            except TimeoutError:
                checks[name] = ReadinessCheck(ok=False, detail=f"no answer in {_CHECK_TIMEOUT_S} s")
        ok = all(c.ok for c in checks.values())
        return Response(
            Readiness(status="ready" if ok else "unavailable", checks=checks),
            status_code=200 if ok else 503,
        )

    @get(
        "/metrics",
        operation_id="GetMetrics",
        summary="Prometheus metrics of this process (metrics token or an admin)",
        media_type=CONTENT_TYPE,
        opt={METRICS_SCRAPE: True},
    )
    async def metrics(self, request: Request[Any, Any, Any], state: State) -> str:
        """Requests by operation id and status, pools, job queues, evidence, sync, geofence.

        ``Authorization: Bearer`` with ``PATROL_METRICS_TOKEN`` (when set) or an admin's
        token; any other role gets 403 ``role_not_allowed``. Job queues are read at most
        every few seconds."""
        authorize_scrape(request.user)
        metrics: Metrics = state.metrics
        return (await metrics.render()).decode()
