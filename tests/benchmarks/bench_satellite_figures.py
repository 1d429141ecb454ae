"""Satellite campaign figures and the XLSX export at 10,000 polygons in one batch.

One county gets 10 townships, a change-polygon layer of 10,000 polygons, one quarterly batch
with a task per polygon (every status; 70 % with a current result: legal, not new and illegal
with overlay areas by land class), written by ``INSERT ... SELECT``, then ``ANALYZE``.
Measured: the domain function of ``GetSatelliteFigures``
(:meth:`~evidence.cases.satellite_figures.SatelliteFiguresService.figures`, p50 over 20
runs, target ≤ 200 ms) and of ``ExportSatelliteBatch`` as XLSX and as GeoJSON (p50 over 3
runs, with the file's size and the process's peak RSS). Run with ``make bench`` (or
``python -m tests.benchmarks bench_satellite_figures``).
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from api.models import MODEL_MODULES
from evidence.cases.satellite_figures import SatelliteFiguresService
from evidence.custody import CustodyLog
from geofence.enums import LayerKind
from geofence.layers import new_layer_version
from infra.db import create_engine, create_session_factory
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.scope import Role
from infra.settings import DatabaseSettings, SatelliteSettings
from patrol.accounts import principal_of
from tests.conftest import add_county, add_user

POLYGONS = 10_000
TOWNSHIPS = 10
TARGET_MS = 200.0
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)

_FILL = """
WITH g AS (SELECT n, gen_random_uuid() AS cp, gen_random_uuid() AS task, gen_random_uuid() AS res
           FROM generate_series(1, :n) n),
cps AS (
  INSERT INTO geofence_change_polygons (id, county_id, layer_version_id, feature_no,
      monitoring_no, batch_year, batch_quarter, monitored_areas, area_m2, attrs, geom)
  SELECT cp, :county, :version, n, '20263-' || lpad(n::text, 5, '0'), 2026, 3,
      jsonb_build_object('cultivated', 300 + n % 500, 'construction_approved', 200 + n % 300),
      500 + n % 800, '{}'::jsonb,
      ST_Multi(ST_MakeEnvelope(112.0 + (n % 100) * 0.002, 28.4 + (n / 100) * 0.002,
                               112.0 + (n % 100) * 0.002 + 0.0005,
                               28.4 + (n / 100) * 0.002 + 0.0004, 4326))
  FROM g RETURNING id
),
tasks AS (
  INSERT INTO satellite_tasks (id, county_id, batch_id, change_polygon_id, monitoring_no,
      township_id, status, due_on, review_note, created_at, updated_at)
  SELECT task, :county, :batch, cp, '20263-' || lpad(n::text, 5, '0'),
      CASE WHEN n % 23 = 0 THEN NULL ELSE (CAST(:towns AS uuid[]))[1 + n % 10] END,
      (ARRAY['unassigned','assigned','verified','sent_back','passed','submitted'])[1 + n % 6],
      DATE '2026-11-10' + (n % 20), '', :now, :now
  FROM g RETURNING id
)
INSERT INTO satellite_results (id, county_id, task_id, verified_by, verified_at, received_at,
    outcome, approval_no, approval_body, violator, overlay_areas, overlay_area_m2, note,
    evidence_ids)
SELECT res, :county, task, :user, :now, :now,
    (ARRAY['legal','not_new','illegal'])[1 + n % 3], '', '', '',
    jsonb_build_object('cultivated', 100 + n % 300, 'permanent_basic_farmland', n % 200,
                       'unused', 50), 150 + n % 300 + n % 200, '', '{}'
FROM g WHERE n % 6 NOT IN (0, 1) OR n % 10 < 2
"""


async def _fill(factory: Any) -> tuple[Any, Any]:
    """The county, its captain and the batch; returns (captain principal, batch id)."""
    async with factory() as s:
        county = await add_county(s)
        captain = await add_user(s, county.id, Role.CAPTAIN)
        towns = []
        for n in range(TOWNSHIPS):
            row = await s.execute(
                text(
                    "INSERT INTO townships (id, county_id, code, name, kind, geom, created_at, "
                    "updated_at) VALUES (gen_random_uuid(), :c, :code, :name, 'town', "
                    "ST_Multi(ST_MakeEnvelope(112, 28.4, 112.2, 28.6, 4326)), now(), now()) "
                    "RETURNING id"
                ),
                {"c": county.id, "code": f"{n:03d}", "name": f"镇{n}"},
            )
            towns.append(row.scalar_one())
        version = await new_layer_version(s, county.id, LayerKind.CHANGE_POLYGONS)
        batch = await s.execute(
            text(
                "INSERT INTO satellite_batches (id, county_id, name, kind, year, quarter, "
                "layer_version_id, verify_due_on, report_due_on, polygons, created_by, "
                "created_at, updated_at) VALUES (gen_random_uuid(), :c, '2026年第3季度卫片', "
                "'quarterly', 2026, 3, :v, DATE '2026-11-19', DATE '2026-11-29', :n, :u, "
                "now(), now()) RETURNING id"
            ),
            {"c": county.id, "v": version.id, "n": POLYGONS, "u": captain.id},
        )
        batch_id = batch.scalar_one()
        await s.execute(
            text(_FILL),
            {"n": POLYGONS, "county": county.id, "version": version.id, "batch": batch_id,
             "towns": towns, "user": captain.id, "now": NOW},
        )  # fmt: skip
        await s.execute(
            text(
                "UPDATE satellite_tasks t SET result_id = r.id, outcome = r.outcome "
                "FROM satellite_results r WHERE r.task_id = t.id AND t.batch_id = :b"
            ),
            {"b": batch_id},
        )
        await s.commit()
        for table in ("satellite_tasks", "satellite_results", "geofence_change_polygons"):
            await s.execute(text(f"ANALYZE {table}"))
        await s.commit()
    return principal_of(captain), batch_id


def _ms(times: list[float]) -> str:
    return f"p50 {statistics.median(times):.1f} / max {max(times):.1f} ms"


async def _measure(found: Any) -> list[tuple[str, str, str]]:
    engine = create_engine(
        DatabaseSettings(url=found.database_url, statement_timeout_s=0.0, pool_size=4)
    )
    await Migrator(engine, MODEL_MODULES).upgrade()
    factory = create_session_factory(engine)
    started = time.perf_counter()
    captain, batch_id = await _fill(factory)
    rows = [("polygons in the batch (written in)", f"{POLYGONS:,} "
             f"({time.perf_counter() - started:.1f} s)", "")]  # fmt: skip
    times: list[float] = []
    for _ in range(21):
        async with factory() as s:
            service = SatelliteFiguresService(
                s, SatelliteSettings(), CustodyLog(), clock=lambda: NOW
            )
            t0 = time.perf_counter()
            figures = await service.figures(captain, batch_id)
            times.append((time.perf_counter() - t0) * 1000)
    assert figures.total.polygons == POLYGONS
    times = times[1:]  # the first warms the connection and the plan
    ok = "ok" if statistics.median(times) <= TARGET_MS else "MISSED"
    rows.append(("GetSatelliteFigures (domain function)", _ms(times), f"≤ {TARGET_MS:.0f} ms {ok}"))
    for fmt in ("xlsx", "geojson"):
        times, size = [], 0
        for _ in range(3):
            async with factory() as s:
                service = SatelliteFiguresService(
                    s, SatelliteSettings(), CustodyLog(), clock=lambda: NOW
                )
                t0 = time.perf_counter()
                export = await service.export(captain, batch_id, fmt)
                size = 0
                async for chunk in export.chunks():
                    size += len(chunk)
                times.append((time.perf_counter() - t0) * 1000)
                await s.rollback()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((f"ExportSatelliteBatch {fmt} (build + read)",
                     f"{_ms(times)}, {size / 1e6:.1f} MB, peak RSS {rss:.0f} MB", ""))  # fmt: skip
    await engine.dispose()
    return rows


def _print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | result | target |")
    print(f"|{'-' * (width + 2)}|--------|--------|")
    for name, value, target in rows:
        print(f"| {name.ljust(width)} | {value} | {target} |")


async def main() -> None:
    with local_services("patrol-bench-satfig-") as found:
        rows = await _measure(found)
    _print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())
