"""The index's memory budget: least recently used counties evicted, the others answered by
PostGIS exactly as the index answers them."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence import (
    RosterMemberInput,
    SiteInput,
    check_locations,
    create_mine_site,
    import_layer,
    set_roster_member,
)
from geofence.check import BatchResult
from geofence.enums import LayerKind
from geofence.index import GeofenceIndex, build_layer
from infra.scope import Principal
from infra.settings import Settings, SettingsError
from tests.conftest import add_county
from tests.geofence.conftest import BOUNDARY

X0, Y0, D = 112.1, 28.5, 0.001


def _shapes() -> list[shapely.Geometry]:
    """Squares with holes, two-part parcels and many-edged circles (measured by GEOS)."""
    shapes = []
    for i in range(6):
        for j in range(6):
            x, y = X0 + i * 2 * D, Y0 + j * 2 * D
            if (i + j) % 3 == 0:
                g = shapely.box(x, y, x + D, y + D).difference(
                    shapely.box(x + 0.3 * D, y + 0.3 * D, x + 0.7 * D, y + 0.7 * D)
                )
            elif (i + j) % 3 == 1:
                left = shapely.box(x, y, x + 0.4 * D, y + D)
                g = shapely.MultiPolygon([left, shapely.box(x + 0.6 * D, y, x + D, y + 0.5 * D)])
            else:
                g = shapely.Point(x + D / 2, y + D / 2).buffer(D / 2, quad_segs=24)
            shapes.append(g)
    return shapes


async def _parcels(session: AsyncSession, county_id: uuid.UUID, tmp: Path) -> None:
    classes = ["0101", "0103", "0301"]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": classes[k % 3], "BSM": f"P{k}"},
         "geometry": mapping(g)}
        for k, g in enumerate(_shapes())
    ]}  # fmt: skip
    path = tmp / f"{county_id}.geojson"
    path.write_text(json.dumps(doc))
    await import_layer(session, county_id, path, "parcels")


def _fixes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([
        rng.uniform(X0 - D, X0 + 12 * D, n), rng.uniform(Y0 - D, Y0 + 12 * D, n),
        rng.choice([0.0, 2.0, 10.0, 35.0, 120.0, 400.0], n),
    ])  # fmt: skip


def _assert_same(index_answer: BatchResult, postgis_answer: BatchResult) -> None:
    assert len(index_answer) == len(postgis_answer)
    assert index_answer.layer_versions == postgis_answer.layer_versions
    assert index_answer.positions() == postgis_answer.positions()
    for a, b in zip(index_answer, postgis_answer, strict=True):
        assert sorted((f.kind, f.feature_id) for f in a.features) == sorted(
            (f.kind, f.feature_id) for f in b.features
        )
        mine = {(f.kind, f.feature_id): f for f in a.features}
        for f in b.features:
            g = mine[f.kind, f.feature_id]
            assert (f.relation, f.land_class, f.attributes, f.site, f.layer_version_id) == (
                g.relation, g.land_class, g.attributes, g.site, g.layer_version_id
            )  # fmt: skip
            tol = 0.005 + 1e-5 * a.accuracy_m
            # the index measures on its projection: a few centimetres off at hundreds of metres
            assert f.distance_m == pytest.approx(g.distance_m, abs=tol, rel=1e-4)
            assert (f.edge_distance_m is None) == (g.edge_distance_m is None)
            if f.edge_distance_m is not None and g.edge_distance_m is not None:
                assert f.edge_distance_m == pytest.approx(g.edge_distance_m, abs=tol, rel=1e-3)


async def test_a_county_over_budget_is_answered_by_postgis_identically(
    tmp_path: Path,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    principal: Principal,
    county_id: uuid.UUID,
) -> None:
    await _parcels(session, county_id, tmp_path)
    site = await create_mine_site(
        session, principal,
        SiteInput(code="KS-1", name="石场", geometry=shapely.box(X0 + 3 * D, Y0 + 3 * D,
                                                                 X0 + 4.5 * D, Y0 + 4 * D)),
    )  # fmt: skip
    role = RosterMemberInput(role="village_cadre", contact_name="赵六", contact_phone="13800000000")
    await set_roster_member(session, principal, site.id, role)
    await session.commit()
    async with session_factory() as reader:  # one that has not changed the county's layers
        pts = _fixes(3000, 5)
        unbounded = GeofenceIndex()
        expected = await check_locations(reader, county_id, pts, index=unbounded)
        assert unbounded.fallbacks == 0 and unbounded.held() == [county_id]

        tiny = GeofenceIndex(budget_bytes=1)  # no county fits
        first = await check_locations(reader, county_id, pts, index=tiny)  # loads to learn its size
        assert tiny.held() == [] and tiny.fallbacks == 0
        answered = await check_locations(reader, county_id, pts, index=tiny)
        assert tiny.fallbacks == 1 and tiny.held() == [] and tiny.held_bytes == 0
        _assert_same(expected, first)
        _assert_same(expected, answered)
        kinds = {f.kind for r in answered for f in r.features}
        assert kinds == {"parcels", "mine_sites"}
        relations = {f.relation for r in answered for f in r.features}
        assert relations == {"inside", "boundary", "near"}
        [site_hit] = [f for r in answered for f in r.features if f.kind == "mine_sites"][:1]
        assert site_hit.site is not None and "village_cadre" not in site_hit.site.missing_roles
        assert any(r.outside_county for r in answered) is False
        far = await check_locations(reader, county_id, [(115.0, 30.0, 5.0)], index=tiny)
        assert far[0].outside_county and far[0].features == ()


async def test_least_recently_used_counties_are_evicted(
    tmp_path: Path, session: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    counties = [(await add_county(session, boundary=BOUNDARY)).id for _ in range(4)]
    for cid in counties:
        await _parcels(session, cid, tmp_path)
    await session.commit()
    async with session_factory() as reader:  # one that has not changed the counties' layers
        probe = GeofenceIndex()
        await check_locations(reader, counties[0], _fixes(5, 1), index=probe)
        one = probe.held_bytes
        assert one > 0
        # room for two counties and a load (which makes room for three times a county's size)
        index = GeofenceIndex(budget_bytes=int(4.5 * one))
        a, b, c, d = counties
        for cid in (a, b):
            await check_locations(reader, cid, _fixes(50, 2), index=index)
        assert index.held() == [a, b] and index.evictions == 0
        await check_locations(reader, a, _fixes(50, 3), index=index)  # a is now the most recent
        assert index.held() == [b, a]
        await check_locations(reader, c, _fixes(50, 4), index=index)
        assert index.held() == [a, c] and index.evictions == 1
        await check_locations(reader, d, _fixes(50, 4), index=index)
        assert index.held() == [c, d] and index.evictions == 2
        assert index.held_bytes <= index.budget_bytes
        assert index.fallbacks == 0  # every county fits on its own: loaded, never refused
        index.configure(budget_bytes=int(1.5 * one))
        assert index.held() == [d] and index.evictions == 3


async def test_checks_during_a_load_are_answered_by_postgis(
    tmp_path: Path, session_factory: async_sessionmaker[AsyncSession], county_id: uuid.UUID
) -> None:
    async with session_factory() as s:
        await _parcels(s, county_id, tmp_path)
        await s.commit()
    index = GeofenceIndex(budget_bytes=1 << 30)
    pts = _fixes(400, 9)

    async def check() -> BatchResult:
        async with session_factory() as s:
            return await check_locations(s, county_id, pts, index=index)

    loading, meanwhile = await asyncio.gather(check(), check())
    assert index.fallbacks == 1 and index.held() == [county_id]
    _assert_same(loading, meanwhile)


def test_budget_setting() -> None:
    assert Settings.from_env({}).layers.index_budget_mb == 1024
    assert Settings.from_env({"PATROL_INDEX_BUDGET_MB": "64"}).layers.index_budget_mb == 64
    assert Settings.from_env({"PATROL_INDEX_BUDGET_MB": "0"}).layers.index_budget_mb == 0
    with pytest.raises(SettingsError, match="PATROL_INDEX_BUDGET_MB"):
        Settings.from_env({"PATROL_INDEX_BUDGET_MB": "-1"})


def test_simple_parcels_take_at_most_300_bytes_and_read_back() -> None:
    rng = np.random.default_rng(3)
    nx, ny, step = 200, 100, 120.0
    gx, gy = np.meshgrid(np.arange(nx + 1) * step, np.arange(ny + 1) * step)
    gx = gx + rng.uniform(-0.25, 0.25, gx.shape) * step
    gy = gy + rng.uniform(-0.25, 0.25, gy.shape) * step
    corners = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None)),
               (slice(1, None), slice(1, None)), (slice(1, None), slice(None, -1)),
               (slice(None, -1), slice(None, -1))]  # fmt: skip
    rings = np.stack([np.stack([gx[a, b], gy[a, b]], -1) for a, b in corners], axis=2)
    geoms = shapely.multipolygons(shapely.polygons(rings.reshape(-1, 5, 2))[:, None])
    n = len(geoms)
    ids = [uuid.uuid4() for _ in range(n)]
    classes = [("0101", "0103", None)[k % 3] for k in range(n)]
    attrs = [{"source_code": f"B{k % 7}", "source_name": "图斑"} for k in range(n)]
    layer = build_layer(LayerKind.PARCELS, (uuid.uuid4(), 1), ids, geoms,
                        land_class=classes, attributes=attrs)  # fmt: skip
    assert not layer.complex and layer.segments.simple.all()
    assert layer.nbytes / n <= 300
    for k in (0, 1, 4567, n - 1):
        assert (layer.ids[k], layer.land_class[k], layer.attributes[k]) == (
            ids[k],
            classes[k],
            attrs[k],
        )
    some = np.array([5, 3, 5, 19_999, 0], dtype=np.intp)
    assert layer.ids.take(some) == [ids[k] for k in some]
    assert layer.land_class.take(some) == [classes[k] for k in some]
    assert layer.attributes.take(some) == [attrs[k] for k in some]
    assert len(layer.attributes.offsets) == 7 + 1  # seven distinct dicts, stored once
    assert shapely.equals(layer.geometries(some), geoms[some]).all()


def test_geometries_are_rebuilt_from_the_arrays() -> None:
    donut = shapely.box(0, 0, 100, 100).difference(shapely.box(30, 30, 70, 70))
    parts = shapely.MultiPolygon([shapely.box(200, 0, 260, 40), shapely.box(300, 0, 340, 90)])
    circle = shapely.Point(150, 200).buffer(40, quad_segs=32)  # 128 edges: GEOS keeps it
    line = shapely.LineString([(0, 300), (100, 320), (180, 290)])
    point = shapely.Point(250, 250)
    geoms = np.array([donut, parts, circle, line, point], dtype=object)
    layer = build_layer(LayerKind.MINE_SITES, (uuid.uuid4(), 1), [uuid.uuid4() for _ in geoms],
                        geoms, land_class=[None] * 5, attributes=[{}] * 5)  # fmt: skip
    assert list(layer.complex) == [2]
    rebuilt = layer.geometries(np.arange(5, dtype=np.intp))
    assert shapely.equals(rebuilt, geoms).all()
    assert rebuilt[2] is circle
    assert layer.intersecting(shapely.box(90, 30, 210, 210)).tolist() == [0, 1, 2]
    assert layer.intersecting(shapely.box(240, 240, 260, 260)).tolist() == [4]
