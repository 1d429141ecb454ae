"""Location checks on parcels shaped like a land survey's, not on a grid of quadrilaterals.

The 地类图斑 layer of a county is a tessellation: neighbouring parcels share their edges, and
those edges are walked lines of many vertices, not straight segments; some parcels enclose
others (holes) and some come in several parts (multipolygons). The synthetic county here is
made to match that, in one deterministic run:

* a Voronoi tessellation of about 100,000 jittered seeds over 59 x 53 km (parcels of a few
  hectares, as in hilly farmland);
* every shared edge cut into a number of pieces drawn from a log-normal law (median 6) with
  each inner vertex moved off the straight line, so a parcel has tens to hundreds of vertices
  (the table reports the median, 90th and 99th percentiles) and its neighbour has the very
  same ones;
* 3 % of parcels hold an enclave (a hole, itself a parcel) and 2 % are in two parts a few
  hundred metres apart.

Measured in one run against the same scratch PostGIS: one PostGIS batch query of 50,000 points
(:data:`bench_geofence._RAW_BATCH`: ``ST_DWithin`` on geography through the spatial index) and
:func:`geofence.check_locations` on the same points, best of 2 runs each, the answers compared
pair by pair (target ≥ 10×); then the answers built, as the ``CheckLocations`` encoder builds
them (:meth:`BatchResult.hit_columns`), and as one Python object per point.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import numpy as np
import shapely

from api.models import MODEL_MODULES
from geofence import check_locations, import_layer
from infra.db import create_engine, create_session_factory
from infra.launchers import local_services
from infra.migrate import Migrator
from infra.settings import DatabaseSettings
from tests.benchmarks.bench_geofence import (
    _RAW_BATCH,
    NX,
    NY,
    STEP,
    X0,
    Y0,
    _county,
    _step,
    write_parcels,
)

SEEDS = 100_000
POINTS = 50_000
RUNS = 2
ENCLAVES, TWO_PARTS = 0.03, 0.02
W, H = NX * STEP, NY * STEP


def _tessellation(rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Voronoi cells of jittered seeds whose shared edges are cut and bent identically."""
    nx = int(np.sqrt(SEEDS * W / H))
    ny = SEEDS // nx
    gx, gy = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
    px = X0 + (gx.ravel() + rng.uniform(-0.45, 0.45, gx.size)) * W / nx
    py = Y0 + (gy.ravel() + rng.uniform(-0.45, 0.45, gy.size)) * H / ny
    box = shapely.box(X0, Y0, X0 + W, Y0 + H)
    seeds = shapely.multipoints(np.column_stack([px, py]))
    edges = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=box, only_edges=True))
    edges = shapely.clip_by_rect(edges, X0, Y0, X0 + W, Y0 + H)
    edges = edges[~shapely.is_empty(edges)]
    ends = shapely.get_coordinates(edges).reshape(-1, 2, 2)
    pieces = np.clip(rng.lognormal(np.log(6), 0.8, len(edges)).astype(np.int64), 1, 80)
    edge_of = np.repeat(np.arange(len(edges)), pieces + 1)
    first = np.cumsum(np.r_[0, (pieces + 1)[:-1]])
    step = np.arange(edge_of.size) - first[edge_of]
    a, b = ends[edge_of, 0], ends[edge_of, 1]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.maximum(length, 1e-12)[:, None]
    inner = (step > 0) & (step < pieces[edge_of])
    bend = rng.normal(0.0, 0.08, edge_of.size) * length / pieces[edge_of] * inner
    points = a + d * (step / pieces[edge_of])[:, None] + normal * bend[:, None]
    lines = shapely.linestrings(points, indices=edge_of)
    # cells cut by the county's edge stay open and are left out, as outside the county
    cells: np.ndarray[Any, Any] = shapely.get_parts(shapely.polygonize(lines))
    return cells[shapely.is_valid(cells)]


def _survey(rng: np.random.Generator) -> tuple[np.ndarray[Any, Any], dict[str, float]]:
    cells = _tessellation(rng)
    n = len(cells)
    # enclaves: a 16-gon around a point inside, cut out of its parcel and kept as a parcel
    hosts = rng.choice(n, size=int(n * ENCLAVES), replace=False)
    inside = shapely.point_on_surface(cells[hosts])
    radius = 0.15 * np.sqrt(shapely.area(cells[hosts]))
    enclaves = shapely.buffer(inside, radius, quad_segs=4)
    fits = shapely.contains_properly(cells[hosts], enclaves)
    hosts, enclaves = hosts[fits], enclaves[fits]
    cells[hosts] = shapely.difference(cells[hosts], enclaves)
    # two parts: a parcel takes a cell a little way off as its second part (a field cut by a
    # road or a ditch: its parts lie close, never across the county)
    rest = np.setdiff1d(np.arange(n), hosts)
    tree = shapely.STRtree(cells)
    reach = 2.5 * np.sqrt(W * H / SEEDS)
    taken = np.zeros(n, dtype=bool)
    taken[hosts] = True
    pairs = []
    for first in rng.choice(rest, size=int(n * TWO_PARTS * 1.5), replace=False):
        if taken[first] or len(pairs) == int(n * TWO_PARTS):
            continue
        near = tree.query(shapely.buffer(cells[first], reach), predicate="intersects")
        apart = [j for j in near.tolist() if not taken[j] and not cells[first].intersects(cells[j])]
        if apart:
            second = apart[int(rng.integers(len(apart)))]
            taken[[first, second]] = True
            pairs.append((first, second))
    two = np.array(pairs, dtype=np.intp)
    multi = shapely.multipolygons(np.stack([cells[two[:, 0]], cells[two[:, 1]]], axis=1))
    keep = np.ones(n, dtype=bool)
    keep[two[:, 1]] = False
    cells[two[:, 0]] = multi
    parcels = np.concatenate([cells[keep], enclaves])
    vertices = shapely.get_num_coordinates(parcels)
    p50, p90, p99 = np.percentile(vertices, [50, 90, 99])
    stats = {
        "parcels": float(len(parcels)),
        "v50": float(p50),
        "v90": float(p90),
        "v99": float(p99),
        "vmax": float(vertices.max()),
        "holes": float(len(enclaves)),
        "multi": float(len(two)),
    }
    return parcels, stats


def _file(path: Path, parcels: np.ndarray[Any, Any], rng: np.random.Generator) -> Path:
    as_multi = np.array(
        [p if p.geom_type == "MultiPolygon" else shapely.MultiPolygon([p]) for p in parcels],
        dtype=object,
    )
    return write_parcels(path, as_multi, rng, geometry_type="MultiPolygon")


def _points(n: int, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    lon = X0 + rng.uniform(0.01, W - 0.01, n)
    lat = Y0 + rng.uniform(0.01, H - 0.01, n)
    return np.column_stack([lon, lat, rng.uniform(3.0, 30.0, n)])


async def main() -> None:
    with local_services("patrol-bench-real-", object_store=False) as found:
        url = found.database_url
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        engine = create_engine(DatabaseSettings(url=url, pool_size=5, statement_timeout_s=0.0))
        await Migrator(engine, MODEL_MODULES).upgrade()
        factory = create_session_factory(engine)
        principal = await _county(factory)
        rng = np.random.default_rng(23)
        _step("making the survey")
        t = time.perf_counter()
        parcels, stats = _survey(rng)
        gpkg = _file(found.workdir / "dltb.gpkg", parcels, rng)
        _step(f"{stats['parcels']:,.0f} parcels in {time.perf_counter() - t:.1f} s; importing")
        async with factory() as s:
            t = time.perf_counter()
            summary = await import_layer(s, principal.county_id, gpkg, "parcels")
            await s.commit()
            import_s = time.perf_counter() - t
        assert summary.stored == len(parcels), summary
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
        pts = _points(POINTS, 29)
        kinds = ["parcels", "mine_sites"]
        async with factory() as s:  # the index is loaded once per process, before timing
            t = time.perf_counter()
            await check_locations(s, principal.county_id, pts[:10], kinds=kinds)
            load_s = time.perf_counter() - t
        _step(f"imported in {import_s:.1f} s, index loaded in {load_s:.1f} s; PostGIS")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET jit = off")
            pg_s = float("inf")
            for _ in range(RUNS):
                t = time.perf_counter()
                rows = await conn.fetch(_RAW_BATCH, pts[:, 0].tolist(), pts[:, 1].tolist(),
                                        pts[:, 2].tolist(), summary.layer_version_id,
                                        principal.county_id)  # fmt: skip
                pg_s = min(pg_s, time.perf_counter() - t)
        finally:
            await conn.close()
        expected = {(int(r[0]) - 1, r[1]) for r in rows}
        _step(f"PostGIS {pg_s:.2f} s; the index")
        api_s = columns_s = objects_s = float("inf")
        async with factory() as s:
            for _ in range(RUNS):
                t = time.perf_counter()
                results = await check_locations(
                    s, principal.county_id, pts, kinds=kinds, max_points=POINTS
                )
                api_s = min(api_s, time.perf_counter() - t)
                t = time.perf_counter()
                columns = results.hit_columns()
                columns_s = min(columns_s, time.perf_counter() - t)
                t = time.perf_counter()
                every = list(results)
                objects_s = min(objects_s, time.perf_counter() - t)
        await engine.dispose()
    got = {
        (i, fid)
        for col in columns
        for i in range(POINTS)
        for fid in col.ids[col.starts[i] : col.starts[i + 1]]
    }
    assert got == {(i, f.feature_id) for i, r in enumerate(every) for f in r.features}
    if got != expected:
        missing, extra = len(expected - got), len(got - expected)
        raise SystemExit(f"answers differ from PostGIS: {missing} missing, {extra} extra")
    n = POINTS
    print("| benchmark | baseline | result | ratio | target |")
    print("|---|---|---|---|---|")
    rows_out = [
        (f"survey-shaped county: {stats['parcels']:,.0f} parcels, vertices median "
         f"{stats['v50']:.0f} / p90 {stats['v90']:.0f} / p99 {stats['v99']:.0f} / max "
         f"{stats['vmax']:.0f}, {stats['holes']:,.0f} with holes, {stats['multi']:,.0f} in two "
         f"parts; import and index load", "", f"{import_s:.1f} s; {load_s:.1f} s", "", ""),
        (f"batch of {n:,} points ({len(expected):,} hits, identical answers), best of {RUNS}",
         f"{n / pg_s:,.0f} pts/s", f"{n / api_s:,.0f} pts/s", f"{pg_s / api_s:.1f}×", "≥ 10×"),
        ("same, with the answers built as the HTTP encoder builds them (hit columns)",
         f"{n / pg_s:,.0f} pts/s", f"{n / (api_s + columns_s):,.0f} pts/s",
         f"{pg_s / (api_s + columns_s):.1f}×", "≥ 10×"),
        ("same, with one Python object per point and hit", f"{n / pg_s:,.0f} pts/s",
         f"{n / (api_s + objects_s):,.0f} pts/s", f"{pg_s / (api_s + objects_s):.1f}×", ""),
    ]  # fmt: skip
    for row in rows_out:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    asyncio.run(main())
