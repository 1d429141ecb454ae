"""Large batches: matched in chunks on worker threads, answers identical to one pass."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geofence import BatchResult, check_locations, import_layer
from geofence import check as check_module


async def test_chunked_batch_equals_single_pass(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    features = [
        {"type": "Feature", "properties": {"DLBM": "0103"},
         "geometry": mapping(shapely.box(112.1 + i * 0.001, 28.5 + j * 0.001,
                                         112.101 + i * 0.001, 28.501 + j * 0.001))}
        for i in range(15) for j in range(15)
    ]  # fmt: skip
    path = tmp_path / "grid.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    await import_layer(session, county_id, path, "parcels")
    await session.commit()
    rng = np.random.default_rng(8)
    pts = np.column_stack(
        [rng.uniform(112.099, 112.116, 5000), rng.uniform(28.499, 28.516, 5000),
         rng.uniform(0.0, 40.0, 5000)]
    )  # fmt: skip
    monkeypatch.setattr(check_module, "_SPLIT_FROM", 10_000)
    whole = await check_locations(session, county_id, pts)  # one pass
    monkeypatch.undo()
    assert check_module._SPLIT_FROM <= 2500
    assert [r.features for r in await check_locations(session, county_id, pts)] == [
        r.features for r in whole
    ]
    monkeypatch.setattr(check_module, "_SPLIT_FROM", 700)
    monkeypatch.setattr(check_module, "_CHUNK_POINTS", 700)
    chunked = await check_locations(session, county_id, pts)
    assert isinstance(chunked, BatchResult) and len(chunked) == 5000
    a_points, a_ids = whole.feature_pairs()
    b_points, b_ids = chunked.feature_pairs()
    assert set(zip(a_points.tolist(), a_ids, strict=True)) == set(
        zip(b_points.tolist(), b_ids, strict=True)
    )
    assert chunked.hit_count == whole.hit_count > 5000
    for i in (0, 1234, 4999, -1):
        assert chunked[i] == whole[i]
    assert [r.lon for r in chunked[10:13]] == pts[10:13, 0].tolist()
    with pytest.raises(IndexError):
        chunked[5000]


def test_segment_measure_agrees_with_geos() -> None:
    from geofence.index import MAX_SEGMENTS, Segments  # noqa: PLC0415

    donut = shapely.box(0, 0, 100, 100).difference(shapely.box(30, 30, 70, 70))
    parts = shapely.MultiPolygon([shapely.box(200, 0, 260, 40), shapely.box(300, 0, 340, 90)])
    circle = shapely.Point(150, 200).buffer(40, quad_segs=32)  # 128 edges
    triangle = shapely.Polygon([(400, 0), (480, 10), (420, 90)])
    line = shapely.LineString([(0, 300), (100, 320), (180, 290)])
    point = shapely.Point(250, 250)
    geoms = np.array([donut, parts, circle, triangle, line, point], dtype=object)
    areal = np.array([True, True, True, True, False, False])
    boundaries = np.empty(len(geoms), dtype=object)
    boundaries[areal] = shapely.boundary(geoms[areal])
    seg = Segments.of(geoms, boundaries, areal)
    assert seg.simple.tolist() == [True, True, False, True, True, True]
    assert seg.count[2] > MAX_SEGMENTS and seg.count[5] == 1
    rng = np.random.default_rng(1)
    n = 20_000
    px, py = rng.uniform(-20, 500, n), rng.uniform(-20, 340, n)
    feature = rng.integers(0, len(geoms), n).astype(np.intp)
    edge, inside = seg.measure(feature, px, py, areal[feature])
    pts = shapely.points(px, py)
    outline = np.where(areal, boundaries, geoms)
    np.testing.assert_allclose(edge, shapely.distance(pts, outline[feature]), atol=1e-9)
    expected = shapely.contains(geoms[feature], pts) & areal[feature]
    assert (inside == expected).all()
    assert 0 < inside.sum() < n


async def test_holes_parts_and_complex_outlines_equal_postgis(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    """Polygons with holes, multipolygons and many-edged outlines (measured by GEOS) give
    exactly PostGIS's ``ST_DWithin`` answer."""
    x0, y0, d = 112.1, 28.5, 0.001
    shapes = []
    for i in range(6):
        for j in range(6):
            x, y = x0 + i * 2 * d, y0 + j * 2 * d
            if (i + j) % 3 == 0:
                g = shapely.box(x, y, x + d, y + d).difference(
                    shapely.box(x + 0.3 * d, y + 0.3 * d, x + 0.7 * d, y + 0.7 * d)
                )
            elif (i + j) % 3 == 1:
                left = shapely.box(x, y, x + 0.4 * d, y + d)
                g = shapely.MultiPolygon([left, shapely.box(x + 0.6 * d, y, x + d, y + 0.5 * d)])
            else:
                g = shapely.Point(x + d / 2, y + d / 2).buffer(d / 2, quad_segs=24)
            shapes.append(g)
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": "0103"}, "geometry": mapping(g)}
        for g in shapes
    ]}  # fmt: skip
    path = tmp_path / "shapes.geojson"
    path.write_text(json.dumps(doc))
    await import_layer(session, county_id, path, "parcels")
    await session.commit()
    rng = np.random.default_rng(21)
    n = 4000
    pts = np.column_stack([rng.uniform(x0 - d, x0 + 12 * d, n), rng.uniform(y0 - d, y0 + 12 * d, n),
                           rng.choice([0.0, 2.0, 10.0, 35.0], n)])  # fmt: skip
    results = await check_locations(session, county_id, pts, kinds=["parcels"])
    points, ids = results.feature_pairs()
    mine = set(zip(points.tolist(), ids, strict=True))
    rows = await session.execute(
        text(
            "SELECT t.n - 1, p.id FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]), "
            "CAST(:acc AS float8[])) WITH ORDINALITY AS t(x, y, a, n) "
            "JOIN geofence_parcels p ON p.county_id = :c AND ST_DWithin(geography(p.geom), "
            "geography(ST_SetSRID(ST_MakePoint(t.x, t.y), 4326)), t.a)"
        ),
        {"xs": pts[:, 0].tolist(), "ys": pts[:, 1].tolist(), "acc": pts[:, 2].tolist(),
         "c": county_id},
    )  # fmt: skip
    assert mine == {(int(i), fid) for i, fid in rows}
    inside = [f for r in results for f in r.features if f.relation == "inside"]
    in_hole = [r for r in results if not r.features and r.accuracy_m == 0.0]
    assert inside and in_hole  # some fixes fall inside parcels, some in holes and gaps


def test_box_grid_finds_exactly_the_boxes_that_meet() -> None:
    from geofence.index import BoxGrid  # noqa: PLC0415

    rng = np.random.default_rng(4)
    n = 3000
    x, y = rng.uniform(-5000, 5000, n), rng.uniform(-3000, 3000, n)
    size = np.where(rng.random(n) < 0.9, rng.uniform(20, 150, n), rng.uniform(150, 4000, n))
    geoms = shapely.box(x, y, x + size, y + size * rng.uniform(0.3, 1.0, n))
    geoms[:50] = shapely.points(x[:50], y[:50])  # points: boxes of no size
    grid = BoxGrid.of(geoms)
    assert len(grid.levels) >= 2  # the large boxes sit on coarser levels
    m = 4000
    qx, qy = rng.uniform(-5500, 5500, m), rng.uniform(-3500, 3500, m)
    r = np.where(rng.random(m) < 0.95, rng.uniform(0, 40, m), rng.uniform(40, 3000, m))
    qx[0] = np.inf  # a position the projection could not place
    qi, fi, wide = grid.query(qx - r, qy - r, qx + r, qy + r)
    assert 0 < len(wide) < m  # very large search boxes are left to the caller
    assert 0 in wide
    got = set(zip(qi.tolist(), fi.tolist(), strict=True))
    assert len(got) == len(qi)  # each pair once
    b = shapely.bounds(geoms)
    ok = np.setdiff1d(np.arange(m), wide)
    meets = (
        (b[None, :, 0] <= (qx + r)[ok, None]) & (b[None, :, 2] >= (qx - r)[ok, None])
        & (b[None, :, 1] <= (qy + r)[ok, None]) & (b[None, :, 3] >= (qy - r)[ok, None])
    )  # fmt: skip
    rows, cols = np.nonzero(meets)
    assert got == set(zip(ok[rows].tolist(), cols.tolist(), strict=True))
    assert len(got) > m


def test_one_box_is_answered_as_the_batch_answers_it() -> None:
    """The single check's scalar path finds, box by box, exactly the batch query's features;
    boxes the grid leaves out (too large, not placed) are handed back (``None``)."""
    from geofence.index import BoxGrid  # noqa: PLC0415

    rng = np.random.default_rng(11)
    n = 2000
    x, y = rng.uniform(-3000, 3000, n), rng.uniform(-2000, 2000, n)
    size = np.where(rng.random(n) < 0.9, rng.uniform(20, 150, n), rng.uniform(150, 3000, n))
    geoms = shapely.box(x, y, x + size, y + size)
    grid = BoxGrid.of(geoms)
    m = 1500
    qx, qy = rng.uniform(-3500, 3500, m), rng.uniform(-2500, 2500, m)
    r = np.where(rng.random(m) < 0.95, rng.uniform(0, 40, m), rng.uniform(40, 3000, m))
    # boxes whose corner lies exactly on a feature's edge and on a cell's border
    qx[1], qy[1], r[1] = x[5] + size[5] + 10, y[5], 10.0
    qx[2], qy[2], r[2] = grid.x0 + grid.levels[0].cell * 3, grid.y0, 0.0
    qx[3] = np.nan
    qi, fi, wide = grid.query(qx - r, qy - r, qx + r, qy + r)
    found = 0
    for i in range(m):
        one = grid.query_one(qx[i] - r[i], qy[i] - r[i], qx[i] + r[i], qy[i] + r[i])
        if i in wide:
            assert one is None
            continue
        assert one is not None
        assert sorted(one.tolist()) == sorted(fi[qi == i].tolist()), i
        found += len(one)
    assert found > m // 2
    assert grid.query_one(-10.0, -10.0, 10.0, 10.0) is not None
    empty = BoxGrid.of(shapely.box(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)))
    assert empty.query_one(0.0, 0.0, 1.0, 1.0) is not None


async def test_a_large_batch_with_positions_far_away(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    """Positions on the other side of the world, which the county's projection cannot place,
    come back as outside the county; the rest of the batch is answered as usual."""
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": "0103"},
         "geometry": mapping(shapely.box(112.1, 28.5, 112.101, 28.501))}
    ]}  # fmt: skip
    path = tmp_path / "one.geojson"
    path.write_text(json.dumps(doc))
    await import_layer(session, county_id, path, "parcels")
    await session.commit()
    pts = np.array([(112.1005, 28.5005, 5.0)] * 200 + [(-68.0, -28.5, 5.0), (179.9, 0.0, 5.0)])
    results = await check_locations(session, county_id, pts, kinds=["parcels"])
    assert [r.outside_county for r in results[-3:]] == [False, True, True]
    assert all(len(r.features) == 1 for r in results[:200])
    assert not results[-1].features and not results[-2].features


def test_feature_ids_are_read_back_as_the_uuids_stored() -> None:
    from geofence.index import IdColumn  # noqa: PLC0415

    ids = [uuid.uuid4() for _ in range(500)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    column = IdColumn.of(ids)
    order = np.array([501, 0, 7, 7, 500, 3], dtype=np.intp)
    got = column.take(order)
    assert got == [ids[i] for i in order.tolist()]
    for made, stored in zip(got, [ids[i] for i in order.tolist()], strict=True):
        assert type(made) is uuid.UUID
        assert (str(made), hash(made), made.bytes) == (str(stored), hash(stored), stored.bytes)
    assert got[2] is got[3]  # a feature hit twice is built once
    assert column[1:3] == ids[1:3] and column[5] == ids[5]


def test_bulk_millimetres_are_what_round_gives_value_by_value() -> None:
    from geofence.check import _millimetres  # noqa: PLC0415 - the helper under test

    rng = np.random.default_rng(7)
    halves = [k / 1000 + 0.0005 for k in range(0, 20_000, 7)]  # decimal halves, e.g. 2.675
    values = np.concatenate([
        rng.uniform(0, 12_000, 50_000), rng.uniform(0, 0.01, 5_000), np.array(halves),
        np.array([0.0, -0.0, 1e-9, 0.0005, 0.0015, 2.675, 1.0005, 9999.9995, 123456.7895]),
        np.nextafter(np.array(halves), 0), np.nextafter(np.array(halves), 1e9),
    ])  # fmt: skip
    got = _millimetres(values)
    want = [round(v, 3) for v in values.tolist()]
    assert got == want
    signs = [math.copysign(1, v) for v in want]  # -0.0 stays -0.0
    assert [math.copysign(1, v) for v in got if v is not None] == signs
    assert _millimetres(np.array([np.nan, 1.23456, np.nan])) == [None, 1.235, None]


def test_bulk_id_texts_are_the_uuids_canonical_text() -> None:
    from geofence.index import IdColumn, uuid_texts  # noqa: PLC0415

    edges = [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.UUID(int=15)]
    ids = [uuid.uuid4() for _ in range(500)] + edges
    column = IdColumn.of(ids)
    assert uuid_texts(column.raw) == [str(u) for u in ids]
    picks = np.array([3, 0, 3, 502, 501], dtype=np.intp)
    assert column.take_text(picks) == [str(ids[k]) for k in picks.tolist()]
    assert column.take_text(np.array([], dtype=np.intp)) == []


def test_ids_of_a_layer_read_from_postgis_are_given_as_text_too() -> None:
    from geofence.check import _take_text  # noqa: PLC0415 - a county not held: plain lists

    ids = [uuid.uuid4() for _ in range(5)]
    picks = np.array([4, 0, 4], dtype=np.intp)
    assert _take_text(ids, picks) == [str(ids[4]), str(ids[0]), str(ids[4])]
