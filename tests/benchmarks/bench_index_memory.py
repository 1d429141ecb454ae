"""Bounded geofence index memory: 20 counties of 100,000 simple parcels, a budget for five.

Measured in one run, on a scratch PostGIS (or ``DATABASE_URL``):

1. the index's bytes per simple parcel (:attr:`LayerSnapshot.nbytes`, the arrays it holds)
   and the process's resident memory grown by loading one county (target ≤ 300 bytes);
2. rounds over all 20 counties with the budget set to hold five
   (:class:`geofence.index.GeofenceIndex`, ``budget_bytes``), the hot county checked between
   every two others so it stays held; each visit is a batch of points plus concurrent
   checks of the same county, which PostGIS answers while the visit loads it. The process's
   peak resident memory above what it held before the first load is sampled every 5 ms and
   compared with the budget (target: within it);
3. answers: every PostGIS-answered check equal to the index's answer for the same points
   (features, relations, distances within the index's tolerance plus 1e-4 of the distance:
   the index measures on its projection), and a sample of index
   answers equal, pair by pair, to one raw ``ST_DWithin`` query (target: identical);
4. single checks of the hot county, held by the bounded index, against the same checks on
   an unbounded index holding only that county, the two taking turns (target ≤ 1.2×).
"""

from __future__ import annotations

import asyncio
import gc
import secrets
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import numpy as np
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.models import MODEL_MODULES
from geofence import check_locations
from geofence.check import BatchResult
from geofence.index import GeofenceIndex
from infra.db import create_engine, create_session_factory
from infra.launchers import local_services
from infra.memory import release_free_memory
from infra.migrate import Migrator
from infra.settings import DatabaseSettings
from patrol.models import County

COUNTIES = 20
NX, NY, STEP = 400, 250, 0.0012  # 100,000 parcels of about 130 x 120 m per county
HELD = 5  # the budget holds this many counties
ROUNDS = 2
VISIT_POINTS = 500
CONCURRENT = 3  # checks of a county sent while a visit loads it
SINGLES = 400
SAMPLE = 2_000
_ABS_TOL_M, _REL_TOL = 0.005, 1e-5


def _origin(k: int) -> tuple[float, float]:
    return 110.0 + (k % 5) * 0.6, 26.0 + (k // 5) * 0.4


def _jitter(i: str, j: str, salt: float) -> str:
    """A deterministic offset in [-0.25, 0.25] cells of grid vertex (i, j), in SQL."""
    h = f"sin(({i}) * 12.9898 + ({j}) * 78.233 + {salt}) * 43758.5453"
    return f"(({h}) - floor({h}) - 0.5) * {0.5 * STEP}"


def _vertex(x0: float, y0: float, i: str, j: str) -> str:
    x = f"{x0} + ({i}) * {STEP} + {_jitter(i, j, 1.0)}"
    y = f"{y0} + ({j}) * {STEP} + {_jitter(i, j, 2.0)}"
    return f"ST_MakePoint({x}, {y})"


async def _make_county(factory: async_sessionmaker[AsyncSession], k: int) -> uuid.UUID:
    x0, y0 = _origin(k)
    box = shapely.box(x0, y0, x0 + NX * STEP, y0 + NY * STEP)
    async with factory() as s:
        county = County(
            admin_code=secrets.token_hex(5), name=f"基准县{k}", province_code="43",
            boundary=from_shape(shapely.MultiPolygon([box]), 4326),
        )  # fmt: skip
        s.add(county)
        await s.flush()
        version = uuid.uuid4()
        await s.execute(
            text(
                "INSERT INTO geofence_layer_versions (id, county_id, kind, version_no, "
                "source_name, source_format, source_crs, read_count, stored_count, "
                "repaired_count, rejected_count, report, note, created_at) VALUES (:v, :c, "
                "'parcels', 1, 'bench', 'sql', 'EPSG:4490', :n, :n, 0, 0, '{}', '', now())"
            ),
            {"v": version, "c": county.id, "n": NX * NY},
        )
        ring = ", ".join(
            _vertex(x0, y0, i, j)
            for i, j in (("i", "j"), ("i + 1", "j"), ("i + 1", "j + 1"), ("i", "j + 1"), ("i", "j"))
        )
        classes = "(ARRAY['0101','0103','0201','0301','0702','0601','1206','1101'])"
        # the bench's own generated SQL: numbers only, no input
        await s.execute(
            text(
                "INSERT INTO geofence_parcels (id, county_id, layer_version_id, feature_no, "
                "land_class, source_code, source_name, area_m2, attrs, geom) "
                f"SELECT gen_random_uuid(), :c, :v, i * {NY} + j, "
                f"{classes}[1 + (i * 7 + j * 3) % 8], '', '', 15600, '{{}}', "
                f"ST_Multi(ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY[{ring}])), 4326)) "
                f"FROM generate_series(0, {NX - 1}) AS i, generate_series(0, {NY - 1}) AS j"
            ),
            {"c": county.id, "v": version},
        )
        await s.commit()
        return county.id


def _points(k: int, n: int, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    x0, y0 = _origin(k)
    lon = x0 + rng.uniform(0.002, NX * STEP - 0.002, n)
    lat = y0 + rng.uniform(0.002, NY * STEP - 0.002, n)
    return np.column_stack([lon, lat, rng.choice([0.0, 3.0, 10.0, 30.0, 60.0], n)])


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1]) * 4096


class _PeakRss:
    """The highest resident memory seen, sampled every 5 ms on a thread."""

    def __init__(self) -> None:
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def _answers(result: BatchResult) -> dict[tuple[int, uuid.UUID], tuple[str, float]]:
    return {
        (i, f.feature_id): (f.relation.value, f.distance_m)
        for i, r in enumerate(result)
        for f in r.features
    }


def _same(a: BatchResult, b: BatchResult) -> bool:
    x, y = _answers(a), _answers(b)
    if x.keys() != y.keys():
        return False
    acc = {i: r.accuracy_m for i, r in enumerate(a)}
    for key, (rel, dist) in x.items():
        rel2, dist2 = y[key]
        # the index's distances: within tolerance of the radius, and 1e-4 of themselves
        tol = _ABS_TOL_M + _REL_TOL * acc[key[0]] + 1e-4 * dist
        if rel != rel2 or abs(dist - dist2) > tol:
            return False
    return True


_RAW = """
SELECT t.n - 1, p.id FROM unnest($1::float8[], $2::float8[], $3::float8[]) WITH ORDINALITY
       AS t(lon, lat, acc, n)
  JOIN geofence_parcels p ON p.county_id = $4 AND ST_DWithin(geography(p.geom),
       geography(ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)), t.acc)
"""


async def _singles(
    factory: async_sessionmaker[AsyncSession], indexes: list[GeofenceIndex], cid: uuid.UUID
) -> list[float]:
    """Median seconds of one single check of the hot county (county 0) on each index, the
    indexes taking turns point by point (so both see the same machine)."""
    pts = _points(0, SINGLES, 77)
    times: list[list[float]] = [[] for _ in indexes]
    async with factory() as s:
        for p in pts:
            for index, took in zip(indexes, times, strict=True):
                t = time.perf_counter()
                await check_locations(s, cid, p[None, :], index=index)
                took.append(time.perf_counter() - t)
    return [statistics.median(t) for t in times]


async def main() -> None:
    with local_services("patrol-bench-indexmem-", object_store=False) as found:
        url = found.database_url
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        engine = create_engine(
            DatabaseSettings(url=url, pool_size=CONCURRENT + 2, statement_timeout_s=0.0)
        )
        await Migrator(engine, MODEL_MODULES).upgrade()
        factory = create_session_factory(engine)
        t = time.perf_counter()
        counties = [await _make_county(factory, k) for k in range(COUNTIES)]

        async def visit_with(
            index: GeofenceIndex, k: int, seed: int
        ) -> tuple[BatchResult, list[BatchResult], float]:
            """Checks of county ``k``: the first loads it, the others come meanwhile."""
            pts = _points(k, VISIT_POINTS, seed)

            async def one() -> BatchResult:
                async with factory() as s:
                    return await check_locations(s, counties[k], pts, index=index)

            t = time.perf_counter()
            first, *meanwhile = await asyncio.gather(*(one() for _ in range(CONCURRENT + 1)))
            return first, meanwhile, time.perf_counter() - t

        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
        print(f"  … {COUNTIES} x {NX * NY:,} parcels written in "
              f"{time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip
        hot = counties[0]

        # warm up (statement caches, the PostGIS fallback path) on an index thrown away
        warm = GeofenceIndex()
        async with factory() as s:
            await check_locations(s, counties[1], _points(1, 10, 1), index=warm)
        await visit_with(warm, 2, 0)
        del warm
        gc.collect()
        release_free_memory()
        before = _rss()
        index = GeofenceIndex()
        t = time.perf_counter()
        async with factory() as s:
            await check_locations(s, hot, _points(0, 10, 1), index=index)
        load_s = time.perf_counter() - t
        gc.collect()
        per_county = index.held_bytes
        # five counties held, and room for the one loading (three times its size for a moment)
        index.configure(budget_bytes=int((HELD + 2) * per_county * 1.05))

        async def visit(k: int, seed: int) -> tuple[BatchResult, list[BatchResult], float]:
            return await visit_with(index, k, seed)

        fallback_equal = fallback_total = 0
        visit_times: list[float] = []
        hot_times: list[float] = []
        sample: list[tuple[int, np.ndarray[Any, Any], set[tuple[int, uuid.UUID]]]] = []
        with _PeakRss() as peak:
            for r in range(ROUNDS):
                for k in range(1, COUNTIES):
                    first, meanwhile, took = await visit(k, 100 * r + k)
                    visit_times.append(took)
                    for other in meanwhile:
                        fallback_total += 1
                        fallback_equal += _same(first, other)
                    if r == 0 and k % 4 == 1:  # the pairs only: a result keeps its layers alive
                        pairs = set(_answers(first))
                        sample.append((k, _points(k, VISIT_POINTS, 100 * r + k), pairs))
                    del first, meanwhile
                    t = time.perf_counter()
                    async with factory() as s:
                        await check_locations(s, hot, _points(0, 1, k + r), index=index)
                    hot_times.append(time.perf_counter() - t)
                    assert index.held_bytes <= index.budget_bytes
                    assert hot in index.held() and len(index.held()) <= HELD
        peak_growth = peak.peak - before
        gc.collect()
        release_free_memory()
        held_rss = _rss() - before
        held_parcels = len(index.held()) * NX * NY
        budget = index.budget_bytes
        evictions, fallbacks = index.evictions, index.fallbacks

        unbounded = GeofenceIndex()
        async with factory() as s:
            await check_locations(s, hot, _points(0, 10, 1), index=unbounded)
        bounded_single, unbounded_single = await _singles(factory, [index, unbounded], hot)

        conn = await asyncpg.connect(dsn)
        try:
            pairs_equal = pairs_total = 0
            for k, pts, got in sample:
                rows = await conn.fetch(_RAW, pts[:, 0].tolist(), pts[:, 1].tolist(),
                                        pts[:, 2].tolist(), counties[k])  # fmt: skip
                expected = {(int(n), fid) for n, fid in rows}
                pairs_total += len(expected)
                pairs_equal += len(expected & got) if got == expected else 0
        finally:
            await conn.close()
        await engine.dispose()

    n = NX * NY
    mib = 1024 * 1024
    print("| benchmark | baseline | result | ratio | target |")
    print("|---|---|---|---|---|")
    rows_out = [
        (f"index bytes per simple parcel (one county of {n:,}; loaded in {load_s:.1f} s)",
         "", f"{per_county / n:.0f} B", "", "≤ 300 B"),
        (f"resident memory after the rounds, per parcel held ({len(index.held())} counties)",
         f"{per_county / n:.0f} B", f"{held_rss / held_parcels:.0f} B",
         f"{held_rss / (per_county * len(index.held())):.2f}", ""),
        (f"{COUNTIES} counties x {n:,} parcels, {ROUNDS} rounds, budget for {HELD}: "
         f"peak RSS growth vs budget ({evictions} evictions)",
         f"{budget / mib:.0f} MiB", f"{peak_growth / mib:.0f} MiB",
         f"{peak_growth / budget:.2f}", "≤ 1.00"),
        (f"checks answered by PostGIS while a county loads: equal to the index's answer "
         f"({fallbacks} fallbacks)", "", f"{fallback_equal}/{fallback_total}", "", "all"),
        (f"index answers vs raw ST_DWithin, {len(sample)} counties x {VISIT_POINTS} points",
         f"{pairs_total:,} pairs", f"{pairs_equal:,} equal", "", "identical"),
        ("visit of a county not held (load inline + concurrent PostGIS answers), median",
         "", f"{statistics.median(visit_times):.2f} s", "", ""),
        ("hot county single check, median: unbounded index vs bounded (held)",
         f"{unbounded_single * 1e3:.2f} ms", f"{bounded_single * 1e3:.2f} ms",
         f"{bounded_single / unbounded_single:.2f}×", "≤ 1.2×"),
        ("hot county single check between visits, median", "",
         f"{statistics.median(hot_times) * 1e3:.2f} ms", "", ""),
    ]  # fmt: skip
    for row in rows_out:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    asyncio.run(main())
