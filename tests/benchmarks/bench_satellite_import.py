"""Importing a satellite batch of 10,000 change polygons: the layer import and the tasks.

One county (the tests' 0.2° square) gets 10 townships (vertical strips) and 16 active
contract areas (a 4 × 4 grid over the middle of the county) each with this month's stored
plan; a GeoJSON of 10,000 squares of about 60 m (monitoring number, year, quarter,
cultivated area, the township's code on half of them) spread over the county is then
imported through :meth:`SatelliteBatchService.create_batch` (the domain path of
``CreateSatelliteBatch``): a dry run (imported, placed and rolled back), then the import
itself, committed. Target: the import ≤ 30 s. Run with ``make bench`` (or
``python -m tests.benchmarks bench_satellite_import``).
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import mapping
from sqlalchemy import func, select

from api.app import create_app
from api.models import MODEL_MODULES
from evidence.cases.satellite_batches import BatchInput, SatelliteBatchService
from evidence.cases.satellite_models import SatelliteTask
from infra.db import create_engine, create_session_factory
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.scope import Role
from infra.settings import AuthSettings, DatabaseSettings, Settings
from patrol.areas import AreaService
from patrol.models import Township
from patrol.plans import PlanService
from tests.clock import this_month
from tests.conftest import create_county

POLYGONS = 10_000
TARGET_S = 30.0
LON, LAT, SIZE = 112.1, 28.5, 0.2
HALF = 0.0003  # about 60 m a side


def _settings(found: Any) -> Settings:
    base = Settings()
    return replace(
        base,
        data_dir=found.workdir,
        database=DatabaseSettings(url=found.database_url, pool_size=5),
        object_store=found.object_store,
        auth=AuthSettings(secret_key=secrets.token_urlsafe(48)),
        server=replace(base.server, run_worker_in_process=False),
    )


def _batch_file(path: Path) -> None:
    rnd = random.Random(7)
    west = LON - SIZE / 2 + 0.001
    features = []
    for n in range(POLYGONS):
        x = rnd.uniform(west, LON + SIZE / 2 - 0.001)
        y = rnd.uniform(LAT - SIZE / 2 + 0.001, LAT + SIZE / 2 - 0.001)
        props: dict[str, Any] = {"JCBH": f"2026-4-{n:05d}", "PCNF": 2026, "JD": 4, "GDMJ": 900.0}
        if n % 2 == 0:
            props["XZQDM"] = f"4301010{int((x - west) / (SIZE / 10)):02d}"
        box = shapely.box(x - HALF, y - HALF, x + HALF, y + HALF)
        features.append({"type": "Feature", "properties": props, "geometry": mapping(box)})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


async def _frame(factory: Any, county: Any) -> None:
    """Townships (strips), areas (a grid in the middle) and their plans for this month."""
    captain = county.principal(Role.CAPTAIN)
    async with factory() as s:
        left = LON - SIZE / 2
        for n in range(10):
            strip = shapely.box(left + n * SIZE / 10, LAT - SIZE / 2, left + (n + 1) * SIZE / 10,
                                LAT + SIZE / 2)  # fmt: skip
            s.add(Township(county_id=county.id, code=f"4301010{n:02d}", name=f"{n}镇",
                           geom=from_shape(shapely.multipolygons([strip]), srid=4326)))  # fmt: skip
        areas, plans = AreaService(s), PlanService(s)
        cell = SIZE / 8
        for i in range(4):
            for j in range(4):
                x0, y0 = LON - 2 * cell + i * cell, LAT - 2 * cell + j * cell
                area = await areas.create_area(
                    captain, code=f"A{i}{j}", name=f"片区{i}{j}", grade=1,
                    geometry=mapping(shapely.box(x0, y0, x0 + cell, y0 + cell)),
                    leader_id=county.users[Role.INSPECTOR].id,
                )  # fmt: skip
                await plans.upsert_plan(captain, area.id, this_month(), quota=4)
        await s.commit()


async def _measure(found: Any) -> list[tuple[str, str, str]]:
    settings = _settings(found)
    engine = create_engine(
        DatabaseSettings(url=found.database_url, statement_timeout_s=0.0, pool_size=4)
    )
    await Migrator(engine, MODEL_MODULES).upgrade()
    factory = create_session_factory(engine)
    app = create_app(settings)
    county = await create_county(factory, app.state.tokens, lon=LON, lat=LAT, size=SIZE)
    await _frame(factory, county)
    captain = county.principal(Role.CAPTAIN)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.geojson"
        _batch_file(path)
        size_mb = path.stat().st_size / 2**20
        rows.append(("the batch file", f"{POLYGONS:,} polygons, {size_mb:.1f} MiB GeoJSON", ""))
        for dry in (True, False):
            async with factory() as s:
                service = SatelliteBatchService(s, settings.satellite)
                data = BatchInput(name="2026年第4季度", kind="quarterly", year=2026, quarter=4)
                started = time.perf_counter()
                done = await service.create_batch(
                    captain, data, path, source_name=path.name, dry_run=dry
                )
                await s.commit()
                seconds = time.perf_counter() - started
            what = (
                f"{seconds:.1f} s ({done.summary.stored:,} stored, {done.task_count:,} tasks, "
                f"{done.unassigned:,} unassigned, {len(done.by_area)} areas, "
                f"{len(done.by_township)} townships)"
            )
            verdict = f"≤ {TARGET_S:.0f} s " + ("ok" if seconds <= TARGET_S else "MISSED")
            rows.append(("dry run (nothing stored)" if dry else "import + tasks", what, verdict))
    async with factory() as s:
        stored = await s.scalar(select(func.count()).select_from(SatelliteTask))
    rows.append(("tasks stored", f"{stored:,}", ""))
    await engine.dispose()
    return rows


def _print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | result | target |")
    print(f"|{'-' * (width + 2)}|--------|--------|")
    for name, value, target in rows:
        print(f"| {name.ljust(width)} | {value} | {target} |")


async def main() -> None:
    with local_services("patrol-bench-satellite-") as found:
        rows = await _measure(found)
    print("Wall-clock seconds of the domain path (file read, checks, COPY, placement, SQL).\n")
    _print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())
