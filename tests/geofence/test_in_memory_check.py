"""A single check answered from memory alone (``check_location_in_memory``): the same answer
as the vectorised path, to the last bit, and ``None`` for whatever needs the database."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence import (
    OutsideCountyError,
    check_location,
    check_location_in_memory,
    check_locations,
    import_layer,
    wgs84_to_gcj02,
)
from geofence import check as check_module
from geofence.index import DEFAULT_INDEX, MAX_SEGMENTS, GeofenceIndex, Segments
from geofence.mines import write_sites

X0, Y0, D = 112.1, 28.5, 0.001
Factory = async_sessionmaker[AsyncSession]


def _shapes() -> list[shapely.Geometry]:
    """Boxes with holes, two-part parcels, triangles and round parcels of 40 or 96 edges
    (the latter kept as GEOS geometries), in a 6 x 6 pattern with gaps between them."""
    shapes: list[shapely.Geometry] = []
    for i in range(6):
        for j in range(6):
            x, y = X0 + i * 1.5 * D, Y0 + j * 1.5 * D
            kind = (i + 2 * j) % 4
            if kind == 0:
                shapes.append(shapely.box(x, y, x + D, y + D).difference(
                    shapely.box(x + 0.3 * D, y + 0.3 * D, x + 0.7 * D, y + 0.7 * D)))  # fmt: skip
            elif kind == 1:
                shapes.append(shapely.MultiPolygon([
                    shapely.box(x, y, x + 0.4 * D, y + D),
                    shapely.box(x + 0.6 * D, y, x + D, y + 0.5 * D),
                ]))  # fmt: skip
            elif kind == 2:
                shapes.append(shapely.Polygon([(x, y), (x + D, y + 0.1 * D), (x + 0.3 * D, y + D)]))
            else:  # 96 edges (kept as a GEOS geometry) or 40
                quad_segs = 24 if j % 2 == 0 else 10
                shapes.append(
                    shapely.Point(x + D / 2, y + D / 2).buffer(D / 2, quad_segs=quad_segs)
                )
    return shapes


async def _layer(factory: Factory, county_id: uuid.UUID, tmp_path: Path) -> None:
    """The parcels, written in a session of their own (a session that wrote a county's
    layers reads them from the database from then on)."""
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": ["0103", "0101", "0702"][k % 3]},
         "geometry": mapping(g)}
        for k, g in enumerate(_shapes())
    ]}  # fmt: skip
    path = tmp_path / "shapes.geojson"
    path.write_text(json.dumps(doc))
    async with factory() as session:
        await import_layer(session, county_id, path, "parcels")
        await session.commit()


async def _sites(factory: Factory, county_id: uuid.UUID) -> None:
    x, y = X0 + 10 * D, Y0 + 10 * D
    sites: list[dict[str, Any]] = [
        {"code": "KS-1", "site_kind": "mine", "name": "矿点一", "mineral": "石料",
         "closed_on": None, "closure_method": "sealed", "status": "closed", "signboard": False,
         "signboard_text": "", "retired": False,
         "geometry": shapely.box(x, y, x + 0.3 * D, y + 0.3 * D)},
    ]  # fmt: skip
    async with factory() as session:
        await write_sites(session, county_id, sites)
        await session.commit()


def _needs_more(
    index: GeofenceIndex,
    county_id: uuid.UUID,
    lon: float,
    lat: float,
    acc: float,
    kinds: list[str] | None,
) -> bool:
    """Whether the vectorised path needs more than memory for this WGS84 fix: a box the
    grid leaves to a scan, a candidate kept as a GEOS geometry, a pair it settles with
    PostGIS, or a mine site hit (whose roster it reads)."""
    county = index.held_fresh(county_id)
    assert county is not None
    fixes = check_module._Fixes.of(county, np.array([lon]), np.array([lat]), np.array([acc]))
    x, y, r = float(fixes.x[0]), float(fixes.y[0]), float(fixes.reach[0])
    for kind in check_module.parse_kinds(kinds):
        layer = county.layers.get(kind)
        if layer is None or not len(layer):
            continue
        candidates = layer.grid.query_one(x - r, y - r, x + r, y + r)
        if candidates is None or not layer.segments.simple[candidates].all():
            return True
        pairs, settled = check_module._match_layer(layer, fixes)
        if len(settled) or (kind == "mine_sites" and len(pairs.point)):
            return True
    return False


async def _vectorised(
    session: AsyncSession, county_id: uuid.UUID, lon: float, lat: float, acc: float, **kw: Any
) -> Any:
    """The vectorised path's answer for one fix (a batch of one never takes the scalar way)."""
    return (await check_locations(session, county_id, [(lon, lat, acc)], **kw))[0]


async def test_a_check_from_memory_is_the_vectorised_answer_to_the_last_bit(
    tmp_path: Path,
    session: AsyncSession,
    county_id: uuid.UUID,
    session_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _layer(session_factory, county_id, tmp_path)
    await _sites(session_factory, county_id)
    # an index of the test's own whose county stays fresh however slowly the loop runs (the
    # process-wide one is due for a freshness read every second; a check then goes the
    # database's way, rightly, and the comparison below would not be made)
    index = GeofenceIndex(max_age_s=3600.0)
    await index.county(session, county_id)
    rng = np.random.default_rng(5)
    n = 1500
    xs = rng.uniform(X0 - D, X0 + 9.5 * D, n)
    ys = rng.uniform(Y0 - D, Y0 + 9.5 * D, n)
    accs = rng.choice([0.0, 0.004, 2.0, 10.0, 35.0, 80.0, 120.0], n)
    vectorised: list[int] = []  # candidates measured by Segments.measure, not in plain floats
    real_measure = Segments.measure

    def measure(self: Segments, feature: Any, *args: Any) -> Any:
        vectorised.append(len(feature))
        return real_measure(self, feature, *args)

    monkeypatch.setattr(Segments, "measure", measure)
    answered = 0
    kinds_seen: set[str] = set()
    relations: set[str] = set()
    many_edges = 0
    for k, (x, y, a) in enumerate(zip(xs.tolist(), ys.tolist(), accs.tolist(), strict=True)):
        crs, lon, lat = "wgs84", x, y
        if k % 5 == 0:  # the phone's map datum, converted the same way on both paths
            crs = " GCJ02 "
            lon, lat = wgs84_to_gcj02(x, y)
        kinds = ["parcels"] if k % 7 == 0 else None
        # every other fix: candidates of more than 12 edges measured by Segments.measure
        monkeypatch.setattr(check_module, "_SCALAR_EDGES", 12 if k % 2 else 64)
        measured = len(vectorised)
        mine = check_location_in_memory(county_id, lon, lat, a, crs=crs, kinds=kinds, index=index)
        many_edges += len(vectorised) > measured and mine is not None
        # handed back exactly when the vectorised path needs PostGIS, GEOS or a roster
        assert (mine is None) == _needs_more(index, county_id, x, y, a, kinds), (k, x, y, a)
        whole = await _vectorised(
            session, county_id, lon, lat, a, crs=crs, kinds=kinds, index=index
        )
        if mine is None:
            continue
        answered += 1
        assert mine == whole, (k, lon, lat, a, crs)
        # the single check answers as the vectorised path does (and takes the memory's way)
        assert await check_location(session, county_id, lon, lat, a, crs=crs, kinds=kinds) == mine
        kinds_seen.update(f.kind.value for f in mine.features)
        relations.update(f.relation.value for f in mine.features)
    assert answered > n * 0.6
    assert kinds_seen == {"parcels"}  # a mine site hit reads its roster: not from memory
    assert relations == {"inside", "boundary", "near"}
    assert many_edges > 30  # candidates with more edges than are measured in plain floats


async def test_what_only_the_database_answers_is_handed_back(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, session_factory: Factory
) -> None:
    await _layer(session_factory, county_id, tmp_path)
    await _sites(session_factory, county_id)
    index = GeofenceIndex(max_age_s=60.0)
    cx, cy = X0 + 0.15 * D, Y0 + 0.5 * D  # in the first box with a hole, off the hole
    # a county this process does not hold (yet)
    assert check_location_in_memory(county_id, cx, cy, 5.0, index=index) is None
    await index.county(session, county_id)
    known = check_location_in_memory(county_id, cx, cy, 5.0, index=index)
    assert known is not None and [f.relation.value for f in known.features] == ["inside"]
    assert index.checks == 1 and index.checked_fixes == 1
    # one due for its freshness check
    index.max_age_s = 0.0
    assert check_location_in_memory(county_id, cx, cy, 5.0, index=index) is None
    index.max_age_s = 60.0
    await index.county(session, county_id)
    # a mine site in the circle: its roster is read from the database
    sx, sy = X0 + 10.15 * D, Y0 + 10.15 * D
    assert check_location_in_memory(county_id, sx, sy, 5.0, index=index) is None
    away = check_location_in_memory(county_id, sx, sy, 5.0, index=index, kinds=["parcels"])
    assert away is not None and away.features == ()
    # a circle whose radius is (within the tolerance) the distance to a feature: PostGIS
    # settles it; a little more or less is answered from memory
    ox = X0 - 0.5 * D
    far = await _vectorised(session, county_id, ox, cy, 200.0, kinds=["parcels"])
    d = far.features[0].distance_m
    assert check_location_in_memory(county_id, ox, cy, d, index=index) is None
    assert check_location_in_memory(county_id, ox, cy, d + 0.5, index=index) is not None
    assert check_location_in_memory(county_id, ox, cy, d - 0.5, index=index) is not None
    # the tolerance grows with the accuracy (5 mm + 1e-5 of it): 5 mm short of a 49 m
    # distance is still within it
    assert check_location_in_memory(county_id, ox, cy, d - 0.005, index=index) is None
    assert check_location_in_memory(county_id, ox, cy, d - 0.007, index=index) is not None
    # so is a small circle reaching a parcel half a metre away
    near_x = X0 - 0.5 / 98_000  # about 0.5 m west of the first parcel
    close = await _vectorised(session, county_id, near_x, cy, 5.0, kinds=["parcels"])
    e = close.features[0].distance_m
    assert 0.3 < e < 0.7
    assert check_location_in_memory(county_id, near_x, cy, e, index=index) is None
    assert check_location_in_memory(county_id, near_x, cy, e + 0.1, index=index) is not None
    # a round parcel keeps its GEOS geometry: GEOS measures it on the vectorised path
    many = [g for g in _shapes() if isinstance(g, shapely.Polygon) and not g.interiors
            and len(g.exterior.coords) - 1 > MAX_SEGMENTS]  # fmt: skip
    assert len(many) == 3
    centre = many[0].centroid
    assert check_location_in_memory(county_id, centre.x, centre.y, 1.0, index=index) is None
    # a circle too large for the grid's scalar search
    assert check_location_in_memory(county_id, cx, cy, 5000.0, index=index) is None
    # the fix itself is refused as check_location refuses it
    with pytest.raises(OutsideCountyError) as refused:
        check_location_in_memory(county_id, 100.0, 20.0, 5.0, index=index)
    assert refused.value.detail == (
        "the position lies far outside the county (wrong coordinates or coordinate system?)"
    )
    assert refused.value.extra == {"field": "position"}
    # a circle reaching exactly to the edge of the parcel the fix is in touches the boundary
    inner = await _vectorised(session, county_id, cx, cy, 1.0, kinds=["parcels"], index=index)
    edge = inner.features[0].edge_distance_m
    assert edge is not None and inner.features[0].relation.value == "inside"
    exact = check_location_in_memory(county_id, cx, cy, edge, index=index)
    assert exact is not None and [f.relation.value for f in exact.features] == ["boundary"]
    assert exact == await _vectorised(session, county_id, cx, cy, edge, index=index)


async def test_a_session_that_wrote_the_layers_reads_them_from_the_database(
    tmp_path: Path,
    session: AsyncSession,
    county_id: uuid.UUID,
    session_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _layer(session_factory, county_id, tmp_path)
    await DEFAULT_INDEX.county(session, county_id)
    cx, cy = X0 + 0.15 * D, Y0 + 0.5 * D
    calls: list[uuid.UUID] = []
    real = check_module.check_location_in_memory

    def spy(county: uuid.UUID, *args: Any, **kw: Any) -> Any:
        calls.append(county)
        return real(county, *args, **kw)

    monkeypatch.setattr(check_module, "check_location_in_memory", spy)
    before = await check_location(session, county_id, cx, cy, 5.0)
    assert calls == [county_id] and [f.relation.value for f in before.features] == ["inside"]
    # a new version written in this session, not committed: the index cannot know it
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": "0101"},
         "geometry": mapping(shapely.box(X0 + 5 * D, Y0 + 5 * D, X0 + 6 * D, Y0 + 6 * D))}
    ]}  # fmt: skip
    path = tmp_path / "other.geojson"
    path.write_text(json.dumps(doc))
    await import_layer(session, county_id, path, "parcels")
    after = await check_location(session, county_id, cx, cy, 5.0)
    assert calls == [county_id] and after.features == ()
    await session.rollback()


async def test_a_held_county_is_read_again_before_it_is_due(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, session_factory: Factory
) -> None:
    """Past half its age a county's versions are read again in the background: the checks
    go on being answered from memory, and a version written meanwhile is taken up."""
    await _layer(session_factory, county_id, tmp_path)
    index = GeofenceIndex(max_age_s=600.0)
    cx, cy = X0 + 0.15 * D, Y0 + 0.5 * D
    held = await index.county(session, county_id)
    held.checked_at -= 200.0  # a third of its age: nothing read again yet
    assert check_location_in_memory(county_id, cx, cy, 5.0, index=index) is not None
    assert not index._renewing and index.renewals == 0
    # without sessions to read with, a county past half its age waits until it is due
    held.checked_at -= 200.0
    assert check_location_in_memory(county_id, cx, cy, 5.0, index=index) is not None
    assert not index._renewing
    index.renew_with(session_factory)
    # a new version of the parcels, written by another process: not seen until read again
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": "0101"},
         "geometry": mapping(shapely.box(X0, Y0, X0 + D, Y0 + D))}
    ]}  # fmt: skip
    path = tmp_path / "v2.geojson"
    path.write_text(json.dumps(doc))
    async with session_factory() as other:
        await import_layer(other, county_id, path, "parcels")
        await other.commit()
    before = check_location_in_memory(county_id, cx, cy, 5.0, index=index)
    assert before is not None and before.layer_versions[0].version_no == 1  # the old version
    renewal = index._renewing[county_id]
    assert check_location_in_memory(county_id, cx, cy, 5.0, index=index) is not None
    assert index._renewing[county_id] is renewal  # one at a time
    await renewal
    after = check_location_in_memory(county_id, cx, cy, 5.0, index=index)
    assert after is not None and after.layer_versions[0].version_no == 2
    assert after.features[0].feature_id != before.features[0].feature_id
    assert index.renewals == 1 and not index._renewing
    assert time.monotonic() - index._counties[county_id].checked_at < 60.0
    # a failed read leaves the county as it was, to be read when due
    index._counties[county_id].checked_at -= 400.0

    def broken() -> AsyncSession:
        raise ConnectionError("database down")

    index.renew_with(broken)
    assert check_location_in_memory(county_id, cx, cy, 5.0, index=index) is not None
    await index._renewing[county_id]
    assert index.renewals == 1 and not index._renewing
    # from a worker thread (no event loop there): answered, nothing started
    in_thread = await asyncio.to_thread(
        check_location_in_memory, county_id, cx, cy, 5.0, index=index
    )
    assert in_thread == after and not index._renewing
    # nor from another event loop than the sessions' (their connections live on this one)

    async def elsewhere() -> Any:
        return check_location_in_memory(county_id, cx, cy, 5.0, index=index)

    assert await asyncio.to_thread(asyncio.run, elsewhere()) == after
    assert not index._renewing
    assert check_location_in_memory(county_id, cx, cy, 5.0, index=index) is not None
    assert county_id in index._renewing  # on the loop, it starts
    await index._renewing[county_id]
