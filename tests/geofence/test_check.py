"""Location checks: relations, distances, GCJ-02 input, batch answers equal to PostGIS."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geofence import (
    InvalidCoordinatesError,
    OutsideCountyError,
    RosterMemberInput,
    SiteInput,
    TooManyPointsError,
    UnknownCrsError,
    UnknownLayerKindError,
    create_mine_site,
    import_layer,
    set_roster_member,
    wgs84_to_gcj02,
)
from geofence.check import check_location, check_locations
from infra.scope import Principal

GEOD = Geod(ellps="WGS84")


def _offset(lon: float, lat: float, east_m: float) -> float:
    lon2, _, _ = GEOD.fwd(lon, lat, 90 if east_m >= 0 else 270, abs(east_m))
    return float(lon2)


async def _grid_layer(session: AsyncSession, county_id: uuid.UUID, tmp: Path, n: int = 20) -> Path:
    features = []
    classes = ["0101", "0103", "0301", "0702", "1206"]
    for i in range(n):
        for j in range(n):
            box = shapely.box(
                112.10 + i * 0.001,
                28.50 + j * 0.001,
                112.10 + (i + 1) * 0.001,
                28.50 + (j + 1) * 0.001,
            )
            features.append(
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(box),
                    "properties": {"DLBM": classes[(i + j) % 5], "JBNT": str(i % 2)},
                }
            )
    path = tmp / "grid.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    await import_layer(session, county_id, path, "parcels")
    return path


async def _big_square(session: AsyncSession, county_id: uuid.UUID, tmp: Path) -> None:
    box = shapely.box(112.0, 28.45, 112.01, 28.46)
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"zone_kind": "basic_farmland", "name": "保护区"},
                "geometry": shapely.geometry.mapping(box),
            }
        ],
    }
    (tmp / "z.geojson").write_text(json.dumps(doc))
    await import_layer(session, county_id, tmp / "z.geojson", "planning_zones")


async def test_relations_and_distances(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    await _big_square(session, county_id, tmp_path)
    await session.commit()
    lat = 28.455
    centre = await check_location(session, county_id, 112.005, lat, 10)
    [hit] = centre.features
    assert hit.relation == "inside" and hit.distance_m == 0.0
    assert hit.edge_distance_m == pytest.approx(GEOD.inv(112.0, lat, 112.005, lat)[2], rel=1e-4)
    assert hit.attributes["zone_kind"] == "basic_farmland"
    assert [v.kind for v in centre.layer_versions] == ["planning_zones"]

    inside_5m = _offset(112.0, lat, 5)
    edge = (await check_location(session, county_id, inside_5m, lat, 10)).features[0]
    assert edge.relation == "boundary" and edge.edge_distance_m == pytest.approx(5, abs=0.01)

    outside_5m = _offset(112.0, lat, -5)
    near = (await check_location(session, county_id, outside_5m, lat, 10)).features[0]
    assert near.relation == "near" and near.distance_m == pytest.approx(5, abs=0.01)
    pg = await session.scalar(
        text(
            "SELECT ST_Distance(geography(geom), "
            "geography(ST_SetSRID(ST_MakePoint(:x, :y), 4326))) "
            "FROM geofence_planning_zones WHERE county_id = :c"
        ),
        {"x": outside_5m, "y": lat, "c": county_id},
    )
    assert near.distance_m == pytest.approx(pg, abs=0.005)

    far = await check_location(session, county_id, _offset(112.0, lat, -50), lat, 10)
    assert far.features == ()
    assert (await check_location(session, county_id, outside_5m, lat, 4.9)).features == ()
    assert (
        await check_location(session, county_id, outside_5m, lat, 10, kinds=["parcels"])
    ).features == ()
    stored = json.loads(
        json.dumps(
            near and (await check_location(session, county_id, outside_5m, lat, 10)).to_json()
        )
    )
    assert stored["features"][0]["relation"] == "near"
    assert stored["layer_versions"][0]["version_no"] == 1


async def test_gcj02_input_is_converted(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    await _big_square(session, county_id, tmp_path)
    await session.commit()
    g_lon, g_lat = wgs84_to_gcj02(112.005, 28.455)
    assert GEOD.inv(112.005, 28.455, g_lon, g_lat)[2] > 100  # the offset is real
    result = await check_location(session, county_id, g_lon, g_lat, 5, crs="gcj02")
    assert result.lon == pytest.approx(112.005, abs=1e-8)
    assert result.lat == pytest.approx(28.455, abs=1e-8)
    assert result.features[0].relation == "inside"


@pytest.mark.parametrize(
    ("lon", "lat", "acc", "field"),
    [
        (112.0, 95.0, 5.0, "lat"),
        (200.0, 28.5, 5.0, "lon"),
        (float("nan"), 28.5, 5.0, "lon"),
        (112.0, float("inf"), 5.0, "lat"),
        (112.0, 28.5, -1.0, "accuracy_m"),
        (112.0, 28.5, 10_001.0, "accuracy_m"),
        (112.0, 28.5, float("nan"), "accuracy_m"),
    ],
)
async def test_bad_fixes_name_the_field(
    session: AsyncSession, county_id: uuid.UUID, *, lon: float, lat: float, acc: float, field: str
) -> None:
    with pytest.raises(InvalidCoordinatesError) as err:
        await check_location(session, county_id, lon, lat, acc)
    assert err.value.code == "invalid_coordinates" and err.value.field == field


async def test_other_bad_input(session: AsyncSession, county_id: uuid.UUID) -> None:
    with pytest.raises(OutsideCountyError) as far:
        await check_location(session, county_id, 116.4, 39.9, 5)
    assert far.value.code == "outside_county"
    with pytest.raises(UnknownCrsError):
        await check_location(session, county_id, 112.1, 28.5, 5, crs="bd09")
    with pytest.raises(UnknownLayerKindError):
        await check_location(session, county_id, 112.1, 28.5, 5, kinds=["roads"])
    with pytest.raises(InvalidCoordinatesError) as err:
        await check_locations(session, county_id, [(112.1, 28.5, 5), (112.1, 91.0, 5)])
    assert err.value.field == "points[1].lat"
    with pytest.raises(TooManyPointsError):
        await check_locations(session, county_id, [(112.1, 28.5, 5)] * 10_001)
    batch = await check_locations(session, county_id, [(112.1, 28.5, 5), (116.4, 39.9, 5)])
    assert [r.outside_county for r in batch] == [False, True]


async def test_batch_equals_postgis(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    await _grid_layer(session, county_id, tmp_path)
    await session.commit()
    rng = np.random.default_rng(3)
    n = 3000
    pts = np.column_stack(
        [
            rng.uniform(112.099, 112.121, n),
            rng.uniform(28.499, 28.521, n),
            rng.choice([0.0, 3.0, 15.0, 40.0], n),
        ]
    )
    # points exactly on a shared edge and on a corner
    pts[:2] = [(112.105, 28.5055, 0.0), (112.105, 28.505, 0.0)]
    results = await check_locations(session, county_id, pts)
    mine = {(i, f.feature_id) for i, r in enumerate(results) for f in r.features}
    await session.execute(text("SET LOCAL jit = off"))
    rows = await session.execute(
        text(
            "SELECT t.n - 1, p.id, ST_Distance(geography(p.geom), "
            "geography(ST_SetSRID(ST_MakePoint(t.x, t.y), 4326))) "
            "FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]), CAST(:acc AS float8[])) "
            "WITH ORDINALITY AS t(x, y, a, n) "
            "JOIN geofence_parcels p ON p.county_id = :c AND ST_DWithin(geography(p.geom), "
            "geography(ST_SetSRID(ST_MakePoint(t.x, t.y), 4326)), t.a)"
        ),
        {
            "xs": pts[:, 0].tolist(),
            "ys": pts[:, 1].tolist(),
            "acc": pts[:, 2].tolist(),
            "c": county_id,
        },
    )
    theirs = {}
    for i, fid, dist in rows:
        theirs[(i, fid)] = dist
    assert mine == set(theirs)
    worst = max(
        abs(f.distance_m - theirs[(i, f.feature_id)])
        for i, r in enumerate(results)
        for f in r.features
    )
    assert worst < 0.001
    assert {f.relation for f in results[0].features} == {"boundary"}
    assert len(results[1].features) == 4
    assert all(math.isfinite(f.distance_m) for r in results for f in r.features)


async def test_mine_site_hit_carries_status_and_roster(
    session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    site = await create_mine_site(
        session,
        principal,
        SiteInput(
            code="KS-001", name="老虎冲采石场", geometry=shapely.Point(112.2, 28.55), mineral="石料"
        ),
    )
    await set_roster_member(
        session,
        principal,
        site.id,
        RosterMemberInput(role="village_cadre", contact_name="李四", contact_phone="13800000000"),
    )
    await session.commit()
    result = await check_location(
        session, county_id, _offset(112.2, 28.55, 20), 28.55, 30, kinds=["mine_sites"]
    )
    [hit] = result.features
    assert hit.relation == "near" and hit.distance_m == pytest.approx(20, abs=0.01)
    assert hit.site is not None and hit.site.status == "closed"
    assert [m.role for m in hit.site.roster] == ["village_cadre"]
    assert len(hit.site.missing_roles) == 4
    assert hit.to_json()["site"]["roster_complete"] is False
