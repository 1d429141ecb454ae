"""Location checks answered field by field: the JSON stored with evidence, the refusals and
what they name, the batch read as a sequence and in columns, outlines measured by GEOS, very
large accuracy circles, pairs PostGIS settles at the rim, and the same answers from PostGIS
when the index does not hold the county."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence import (
    InvalidCoordinatesError,
    OutsideCountyError,
    RosterMemberInput,
    SiteInput,
    TooManyPointsError,
    UnknownCrsError,
    create_mine_site,
    import_layer,
    set_roster_member,
    wgs84_to_gcj02,
)
from geofence import check as check_module
from geofence.check import BatchResult, CheckResult, check_location, check_locations
from geofence.index import GeofenceIndex
from infra.scope import Principal, Role
from patrol.accounts import principal_of
from tests.conftest import add_county, add_user

GEOD = Geod(ellps="WGS84")
ZONE = shapely.box(112.0, 28.45, 112.01, 28.46)
LAT = 28.455
#: a parcel of 128 edges (more than an outline the index measures itself: GEOS measures it)
ROUND_CENTRE = (112.05, 28.45)
ROUND = shapely.Point(*ROUND_CENTRE).buffer(0.0005, quad_segs=32)
#: four small parcels about a kilometre north, south, east and west of a point
WIDE_CENTRE = (112.08, 28.45)
SITE_AT = (112.2, 28.55)
ALL_ROLES = [
    "township_leader",
    "safety_officer",
    "village_liaison_cadre",
    "land_resources_staff",
    "village_cadre",
]


def _east(lon: float, lat: float, metres: float) -> float:
    """The longitude ``metres`` east (west if negative) of ``(lon, lat)``."""
    return float(GEOD.fwd(lon, lat, 90 if metres >= 0 else 270, abs(metres))[0])


def _north(lon: float, lat: float, metres: float) -> float:
    return float(GEOD.fwd(lon, lat, 0 if metres >= 0 else 180, abs(metres))[1])


async def _import(
    session: AsyncSession, county_id: uuid.UUID, tmp: Path, kind: str, features: list[Any]
) -> None:
    path = tmp / f"{kind}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    await import_layer(session, county_id, path, kind)


def _wide_boxes() -> list[shapely.Polygon]:
    x, y = WIDE_CENTRE
    s = 0.0004
    return [
        shapely.box(x - 0.010 - s, y - s, x - 0.010 + s, y + s),  # west
        shapely.box(x + 0.012 - s, y - s, x + 0.012 + s, y + s),  # east
        shapely.box(x - s, y - 0.009 - s, x + s, y - 0.009 + s),  # south
        shapely.box(x - s, y + 0.0115 - s, x + s, y + 0.0115 + s),  # north
    ]


async def _world(
    session: AsyncSession, county_id: uuid.UUID, principal: Principal, tmp: Path
) -> uuid.UUID:
    """A planning zone, parcels (a round one and four spread out) and a closed mine site with
    one of its five seats filled; the site's id."""
    zone = {"type": "Feature", "geometry": mapping(ZONE),
            "properties": {"zone_kind": "basic_farmland", "name": "保护区"}}  # fmt: skip
    await _import(session, county_id, tmp, "planning_zones", [zone])
    parcels = [
        {"type": "Feature", "geometry": mapping(g), "properties": {"DLBM": code}}
        for g, code in [(ROUND, "0103"), *((b, "0301") for b in _wide_boxes())]
    ]  # fmt: skip
    await _import(session, county_id, tmp, "parcels", parcels)
    site = await create_mine_site(
        session,
        principal,
        SiteInput(code="KS-9", name="石场", geometry=shapely.Point(*SITE_AT), mineral="石料"),
    )
    await set_roster_member(
        session,
        principal,
        site.id,
        RosterMemberInput(role="village_cadre", contact_name="李四", contact_phone="13800000000"),
    )
    await session.commit()
    return site.id


def _fixes() -> list[tuple[float, float, float]]:
    """The fixes every test here asks about, in this order."""
    return [
        (112.005, LAT, 10.0),  # 0: inside the zone, far from its edges
        (_east(112.0, LAT, 5), LAT, 10.0),  # 1: inside, its circle over the edge
        (_east(112.0, LAT, -5), LAT, 10.0),  # 2: outside, its circle reaching in
        (_east(112.0, LAT, -5), LAT, 4.9),  # 3: outside, its circle short of the zone
        (_east(*SITE_AT, 20.1234), SITE_AT[1], 30.0),  # 4: near the mine site
        (*ROUND_CENTRE, 10.0),  # 5: at the centre of the round parcel
        (_east(112.0505, 28.45, -3), 28.45, 10.0),  # 6: 3 m inside its east rim
        (*WIDE_CENTRE, 1500.0),  # 7: a circle over the four spread-out parcels
        (116.4, 39.9, 5.0),  # 8: far outside the county
    ]


def _columns_agree(batch: BatchResult) -> None:
    """Every layer's columns: one start per point and one more, one entry per hit in each."""
    for col in batch.hit_columns():
        assert len(col.starts) == len(batch) + 1 and col.starts[0] == 0
        lengths = {len(c) for c in (col.ids, col.relation, col.distance_m, col.edge_m,
                                    col.land_class, col.attributes, col.site)}  # fmt: skip
        assert lengths == {col.starts[-1]}, (col.kind, lengths)
        for i in range(len(batch)):  # the same hits, ids and attributes as each point's answer
            hits = [h for h in batch[i].features if h.kind is col.kind]
            lo, hi = col.starts[i], col.starts[i + 1]
            assert col.ids[lo:hi] == [str(h.feature_id) for h in hits]
            assert col.attributes[lo:hi] == [h.attributes for h in hits]


def _json(result: CheckResult) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(result.to_json()))
    return loaded


async def test_an_answer_as_stored_with_evidence(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    site_id = await _world(session, county_id, principal, tmp_path)
    inside = await check_location(session, county_id, 112.005, LAT, 10)
    [zone] = inside.features
    versions = {v.kind.value: v for v in inside.layer_versions}
    west = GEOD.inv(112.0, LAT, 112.005, LAT)[2]
    assert zone.edge_distance_m is not None
    assert zone.edge_distance_m == pytest.approx(west, rel=1e-4)
    assert _json(inside) == {
        "lon": 112.005,
        "lat": LAT,
        "accuracy_m": 10.0,
        "crs": "wgs84",
        "input_lon": 112.005,
        "input_lat": LAT,
        "outside_county": False,
        "features": [
            {
                "kind": "planning_zones",
                "feature_id": str(zone.feature_id),
                "layer_version_id": str(versions["planning_zones"].version_id),
                "relation": "inside",
                "distance_m": 0.0,
                "edge_distance_m": round(zone.edge_distance_m, 3),
                "land_class": None,
                "attributes": {"zone_kind": "basic_farmland", "code": "", "name": "保护区"},
            }
        ],
        "layer_versions": [
            {"kind": kind, "version_id": str(v.version_id), "version_no": 1}
            for kind, v in versions.items()
        ],
    }
    assert set(versions) == {"parcels", "planning_zones", "mine_sites"}
    assert inside.of_kind("planning_zones") == (zone,) and inside.of_kind("parcels") == ()
    # distances to the millimetre, as stored
    assert round(zone.edge_distance_m, 3) != round(zone.edge_distance_m, 4)

    lon = _east(*SITE_AT, 20.1234)
    near = await check_location(session, county_id, lon, SITE_AT[1], 30, kinds=["mine_sites"])
    [hit] = near.features
    assert hit.distance_m == pytest.approx(20.1234, abs=0.01)
    assert round(hit.distance_m, 3) != round(hit.distance_m, 4)
    stored = _json(near)
    assert [v["kind"] for v in stored["layer_versions"]] == ["mine_sites"]
    [feature] = stored["features"]
    roster = feature["site"].pop("roster")
    assert feature == {
        "kind": "mine_sites",
        "feature_id": str(site_id),
        "mine_site_id": str(site_id),
        "layer_version_id": str(versions["mine_sites"].version_id),
        "relation": "near",
        "distance_m": round(hit.distance_m, 3),
        "edge_distance_m": None,
        "land_class": None,
        "attributes": hit.attributes,
        "site": {
            "status": "closed",
            "missing_roles": ALL_ROLES[:4],
            "roster_complete": False,
        },
    }
    assert [(m["role"], m["contact_name"], m["user_id"]) for m in roster] == [
        ("village_cadre", "李四", None)
    ]
    assert hit.attributes["status"] == "closed"


async def test_refusals_name_the_field_and_say_why(
    session: AsyncSession, county_id: uuid.UUID
) -> None:
    with pytest.raises(OutsideCountyError) as far:
        await check_location(session, county_id, 116.4, 39.9, 5)
    assert far.value.detail == (
        "the position lies far outside the county (wrong coordinates or coordinate system?)"
    )
    assert far.value.extra == {"field": "position"}
    with pytest.raises(UnknownCrsError) as crs:
        await check_location(session, county_id, 112.1, 28.5, 5, crs="bd09")
    assert crs.value.detail == "crs must be one of wgs84, gcj02, cgcs2000, got 'bd09'"
    assert crs.value.extra == {"field": "crs"}
    with pytest.raises(UnknownCrsError) as long_crs:
        await check_locations(session, county_id, [(112.1, 28.5, 5)], crs="x" * 30)
    assert long_crs.value.detail.endswith(f"got {'x' * 20!r}")
    for bad in ([112.1, 28.5, 5.0], [(112.1, 28.5)], [(112.1, 28.5, 5.0, 1.0)]):
        with pytest.raises(InvalidCoordinatesError) as shape:
            await check_locations(session, county_id, bad)  # type: ignore[arg-type]
        assert shape.value.detail == "points must be (lon, lat, accuracy_m) triples"
        assert shape.value.extra == {"field": "points"}
    three = [(112.1, 28.5, 5.0)] * 3
    with pytest.raises(TooManyPointsError) as many:
        await check_locations(session, county_id, three, max_points=2)
    assert many.value.detail == "at most 2 points per batch, got 3"
    assert many.value.extra == {"field": "points", "limit": 2}
    assert len(await check_locations(session, county_id, three, max_points=3)) == 3


async def test_an_empty_batch_and_a_batch_of_one(
    session: AsyncSession, county_id: uuid.UUID
) -> None:
    empty = await check_locations(session, county_id, [], crs=" GCJ02 ")
    assert len(empty) == 0 and list(empty) == [] and empty.hit_count == 0
    assert empty.positions() == ([], [], [])
    points, ids = empty.feature_pairs()
    assert points.dtype == np.intp and points.tolist() == [] and ids == []
    assert empty.hit_columns() == [] and empty.layer_versions == ()
    one = await check_locations(session, county_id, [(112.1, 28.5, 5)], crs=" WGS84 ")
    [answer] = one
    assert (answer.lon, answer.lat, answer.accuracy_m, answer.crs) == (112.1, 28.5, 5.0, "wgs84")
    # whole numbers in, numbers with a fraction out (as JSON stores them: 112.0, not 112)
    [far] = await check_locations(session, county_id, [(112, 28, 5)])
    assert far.outside_county and _json(far)["lon"] == 112.0
    assert [type(v) for v in (far.lon, far.lat, far.accuracy_m, far.input_lon)] == [float] * 4
    assert [type(v) for v in one.positions()[0] + one.positions()[1]] == [float] * 2


async def test_a_batch_is_read_as_a_sequence_and_in_columns(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    await _world(session, county_id, principal, tmp_path)
    fixes = _fixes()
    batch = await check_locations(session, county_id, fixes)
    assert isinstance(batch, BatchResult) and len(batch) == len(fixes)
    singles = [
        await check_location(session, county_id, *f) if i != 8 else None
        for i, f in enumerate(fixes)
    ]
    for i, single in enumerate(singles):
        if single is not None:
            assert batch[i] == single, i
    assert batch[8].outside_county and batch[8].features == ()
    assert batch[-1] == batch[8] and batch[-len(fixes)] == batch[0]
    for beyond in (len(fixes), -len(fixes) - 1):
        with pytest.raises(IndexError) as err:
            batch[beyond]
        assert err.value.args == (beyond,)
    assert batch[1:6:2] == [batch[1], batch[3], batch[5]]
    assert [len(r.features) for r in batch] == [1, 1, 1, 0, 1, 1, 1, 4, 0]
    assert batch.hit_count == 10
    lon, lat, outside = batch.positions()
    assert lon == [f[0] for f in fixes] and lat == [f[1] for f in fixes]
    assert outside == [False] * 8 + [True]
    points, ids = batch.feature_pairs()
    assert sorted(zip(points.tolist(), ids, strict=True)) == sorted(
        (i, h.feature_id) for i, r in enumerate(batch) for h in r.features
    )
    # the columns say what the per-point answers say, rounded as stored
    from_columns: dict[int, list[dict[str, Any]]] = {}
    for col in batch.hit_columns():
        assert col.version_id in {v.version_id for v in batch.layer_versions}
        for i in range(len(fixes)):
            for k in range(col.starts[i], col.starts[i + 1]):
                from_columns.setdefault(i, []).append({
                    "kind": col.kind.value, "feature_id": str(col.ids[k]),
                    "layer_version_id": str(col.version_id), "relation": col.relation[k].value,
                    "distance_m": col.distance_m[k], "edge_distance_m": col.edge_m[k],
                    "land_class": col.land_class[k], "attributes": col.attributes[k],
                    **({"mine_site_id": str(col.ids[k])} if col.kind == "mine_sites" else {}),
                    **({"site": site.to_json()} if (site := col.site[k]) is not None else {}),
                })  # fmt: skip
    for i, r in enumerate(batch):
        assert sorted(from_columns.get(i, []), key=str) == sorted(
            (h.to_json() for h in r.features), key=str
        ), i
    _columns_agree(batch)
    parcels_only = await check_locations(session, county_id, fixes, kinds=["parcels"])
    _columns_agree(parcels_only)
    assert {h.kind for r in parcels_only for h in r.features} == {"parcels"}
    assert [v.kind for v in parcels_only.layer_versions] == ["parcels"]


def _relations(result: CheckResult) -> list[tuple[str, str | None]]:
    return [(h.relation.value, h.land_class) for h in result.features]


async def test_outlines_of_many_edges_and_very_large_circles(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    """The round parcel's outline is measured by GEOS: its centre is inside, 50 m from the
    edge; 3 m in from the rim a 10 m circle is on the boundary. A 1,500 m circle, searched by
    a scan of every box, reaches the parcels in all four directions."""
    await _world(session, county_id, principal, tmp_path)
    fixes = _fixes()
    batch = await check_locations(session, county_id, fixes[5:8])
    centre, rim, wide = batch
    _columns_agree(batch)  # no mine site nor zone near any of them
    [hit] = centre.features
    radius = GEOD.inv(*ROUND_CENTRE, 112.0505, 28.45)[2]
    assert (hit.relation, hit.distance_m) == ("inside", 0.0)
    assert hit.edge_distance_m == pytest.approx(radius, rel=2e-3)
    [hit] = rim.features
    assert (hit.relation, hit.distance_m) == ("boundary", 0.0)
    assert hit.edge_distance_m == pytest.approx(3.0, abs=0.05)
    assert _relations(wide) == [("near", "other_farmland")] * 4
    expected = sorted(
        GEOD.inv(*WIDE_CENTRE, *shapely.get_coordinates(shapely.shortest_line(
            shapely.Point(*WIDE_CENTRE), box))[1])[2]
        for box in _wide_boxes()
    )  # fmt: skip
    assert [h.distance_m for h in wide.features] == pytest.approx(expected, rel=2e-3)
    one = await check_location(session, county_id, *fixes[7])
    assert one.features == wide.features
    # a batch of two: each point its own features
    two = await check_locations(session, county_id, [fixes[0], fixes[5]])
    assert [[h.kind.value for h in r.features] for r in two] == [["planning_zones"], ["parcels"]]
    gcj = await check_location(
        session, county_id, *wgs84_to_gcj02(*ROUND_CENTRE), 10, crs=" GCJ02 "
    )
    assert gcj.crs == "gcj02" and _relations(gcj) == [("inside", "cultivated")]


async def _postgis_distance(
    session: AsyncSession, county_id: uuid.UUID, lon: float, lat: float, *, edge: bool = False
) -> float:
    """PostGIS's distance from a point to the zone (or to its outline)."""
    shape = "ST_Boundary(geom)" if edge else "geom"
    found = await session.scalar(
        text(
            f"SELECT ST_Distance(geography({shape}), geography(ST_SetSRID(ST_MakePoint(:x, :y), "
            "4326))) FROM geofence_planning_zones WHERE county_id = :c"
        ),
        {"x": lon, "y": lat, "c": county_id},
    )
    return float(found)


async def test_pairs_at_the_rim_are_settled_by_postgis(
    tmp_path: Path,
    session: AsyncSession,
    county_id: uuid.UUID,
    principal: Principal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Half a metre from the zone, with an accuracy between the index's distance and
    PostGIS's, the answer is PostGIS's: no hit when PostGIS measures more than the accuracy
    (off the east edge the index measures a few hundredths of a millimetre short), a
    ``near`` hit when it measures less (off the west edge, where the index measures long).
    So it is in a batch matched in chunks, in a chunk after the first."""
    await _world(session, county_id, principal, tmp_path)
    between = {}
    for lon, index_short in ((_east(112.01, LAT, 0.5), True), (_east(112.0, LAT, -0.5), False)):
        [hit] = (await check_location(session, county_id, lon, LAT, 2.0)).features
        pg = await _postgis_distance(session, county_id, lon, LAT)
        assert hit.distance_m == pytest.approx(0.5, abs=1e-3)
        assert (hit.distance_m < pg - 1e-6) if index_short else (hit.distance_m > pg + 1e-6)
        between[index_short] = (lon, LAT, (hit.distance_m + pg) / 2)
        answer = await check_location(session, county_id, *between[index_short])
        assert [h.relation for h in answer.features] == ([] if index_short else ["near"])
    monkeypatch.setattr(check_module, "_SPLIT_FROM", 30)
    monkeypatch.setattr(check_module, "_CHUNK_POINTS", 30)
    # 70 fixes in two chunks of 35: zone hits and misses in the first, the settled pairs in
    # the second (whose pairs are not half of them all)
    inside, miss = (112.005, LAT, 10.0), (112.1, 28.58, 5.0)
    fixes = [inside] * 20 + [miss] * 15 + [inside] * 5 + [between[True]] * 30
    batch = await check_locations(session, county_id, fixes)
    assert [len(r.features) for r in batch] == [1] * 20 + [0] * 15 + [1] * 5 + [0] * 30
    _columns_agree(batch)


async def test_a_circle_of_kilometres_measured_as_postgis_measures(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    """Five kilometres west of the zone (outside the county, within its 10 km margin), the
    index's distance is PostGIS's to a centimetre; a circle a centimetre longer reaches the
    zone, one a centimetre shorter does not. Inside, the distance to the outline is
    PostGIS's too."""
    await _world(session, county_id, principal, tmp_path)
    lon = _east(112.0, LAT, -5000)
    [hit] = (await check_location(session, county_id, lon, LAT, 5100)).features
    pg = await _postgis_distance(session, county_id, lon, LAT)
    assert hit.distance_m == pytest.approx(pg, abs=0.01)
    longer = await check_location(session, county_id, lon, LAT, hit.distance_m + 0.01)
    assert [(h.relation, h.kind) for h in longer.features] == [("near", "planning_zones")]
    shorter = await check_location(session, county_id, lon, LAT, pg - 0.01)
    assert shorter.features == ()
    [inside] = (await check_location(session, county_id, 112.005, LAT, 10)).features
    edge = await _postgis_distance(session, county_id, 112.005, LAT, edge=True)
    assert inside.edge_distance_m == pytest.approx(edge, abs=0.0005)


def _accuracy_for_tolerance(tol: float) -> float:
    """The accuracy whose numerical tolerance (5 mm and 1e-5 of it) is exactly ``tol``."""
    a = (tol - 0.005) / 1e-5
    for _ in range(100_000):
        got = 0.005 + 1e-5 * a
        if got == tol:
            return a
        a = math.nextafter(a, math.inf if got < tol else -math.inf)
    raise AssertionError(tol)


async def test_a_fix_exactly_the_tolerance_from_an_outline_is_on_it(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    """The numerical tolerance decides what lies on an outline. Outside the zone, a fix
    exactly its tolerance from the zone is on the boundary (a hair further it is near);
    inside, with an accuracy under the tolerance, a fix exactly the tolerance from the edge
    is on the boundary too (with a smaller accuracy, and so tolerance, it is inside)."""
    await _world(session, county_id, principal, tmp_path)
    lon = _east(112.01, LAT, 0.0051)
    [hit] = (await check_location(session, county_id, lon, LAT, 1.0)).features
    assert hit.relation == "near" and 0.00501 < hit.distance_m < 0.0052
    [on] = (await check_location(session, county_id, lon, LAT, _accuracy_for_tolerance(
        hit.distance_m))).features  # fmt: skip
    assert (on.relation, on.distance_m) == ("boundary", hit.distance_m)

    async def edge_at(x: float) -> float:
        [inside] = (await check_location(session, county_id, x, LAT, 0.0)).features
        assert inside.edge_distance_m is not None
        return inside.edge_distance_m

    lo, hi = _east(112.01, LAT, -0.004), _east(112.01, LAT, -0.006)  # 4 and 6 mm inside
    for _ in range(60):  # to an edge distance a few hundredths of a micrometre over 5 mm
        mid = (lo + hi) / 2
        edge = await edge_at(mid)
        if 0.005 + 1e-9 < edge < 0.005 + 4e-8:
            break
        lo, hi = (mid, hi) if edge < 0.005 else (lo, mid)
    else:
        raise AssertionError((lo, hi))
    accuracy = _accuracy_for_tolerance(edge)
    assert 0 < accuracy < edge
    [on] = (await check_location(session, county_id, mid, LAT, accuracy)).features
    assert (on.relation, on.distance_m, on.edge_distance_m) == ("boundary", 0.0, edge)
    # with half that accuracy the tolerance falls short of the edge: inside
    [inside] = (await check_location(session, county_id, mid, LAT, accuracy / 2)).features
    assert inside.relation == "inside"


async def test_postgis_answers_field_for_field_as_the_index_does(
    tmp_path: Path,
    session: AsyncSession,
    county_id: uuid.UUID,
    principal: Principal,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A county the index cannot hold is answered by PostGIS: the same features, relations,
    land classes, attributes, sites and versions; distances within the tolerance."""
    await _world(session, county_id, principal, tmp_path)
    fixes = _fixes()
    async with session_factory() as reader:
        held = GeofenceIndex()
        expected = await check_locations(reader, county_id, fixes, index=held)
        tiny = GeofenceIndex(budget_bytes=1)
        await check_locations(reader, county_id, fixes[:1], index=tiny)  # learns the size
        answered = await check_locations(reader, county_id, fixes, index=tiny)
        only = await check_locations(reader, county_id, fixes, kinds=["parcels"], index=tiny)
        # on an outline: 3 mm outside the zone (a small and a large accuracy), 3 mm from the
        # site's point (a point has no outline: near)
        west = _east(112.0, LAT, -0.003)
        edges = [(west, LAT, 1.0), (west, LAT, 1000.0), (_east(*SITE_AT, 0.003), SITE_AT[1], 1.0)]
        on_edges = [await check_locations(reader, county_id, edges, index=i) for i in (held, tiny)]
    assert (held.fallbacks, tiny.fallbacks) == (0, 3)
    for answer in on_edges:
        assert [[(h.kind.value, h.relation.value) for h in r.features] for r in answer] == [
            [("planning_zones", "boundary")],
            [("planning_zones", "boundary")],
            [("mine_sites", "near")],
        ]
    assert answered.layer_versions == expected.layer_versions
    assert answered.positions() == expected.positions()
    assert answered.hit_count == expected.hit_count == 10
    for i, (a, b) in enumerate(zip(answered, expected, strict=True)):
        got, want = a.to_json(), b.to_json()
        for x, y in zip(got.pop("features"), want.pop("features"), strict=True):
            assert x.pop("distance_m") == pytest.approx(y.pop("distance_m"), abs=0.01), i
            ex, ey = x.pop("edge_distance_m"), y.pop("edge_distance_m")
            assert (ex is None) == (ey is None), i
            if ex is not None:
                assert ex == pytest.approx(ey, rel=2e-3), i
            assert x == y, i
        assert got == want, i
    assert [[h.kind.value for h in r.features] for r in only] == [
        [h.kind.value for h in r.features if h.kind == "parcels"] for r in expected
    ]


async def test_a_circle_far_from_the_central_meridian_reaches_as_far_as_on_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A hundred kilometres east of a wide county's central meridian the local projection
    stretches distances by 1.2e-4: the search box is widened by the same factor, so a mine
    site 9,999.5 m away is within a 10 km circle there as it would be anywhere."""
    async with session_factory() as session:
        county = await add_county(session, boundary=shapely.box(111.0, 28.0, 113.2, 28.9))
        user = await add_user(session, county.id, Role.ADMIN)
        await session.commit()
        lon0 = round(float(shapely.box(111.0, 28.0, 113.2, 28.9).centroid.x), 2)
        lon = _east(lon0, LAT, 100_000)
        site = await create_mine_site(
            session,
            principal_of(user),
            SiteInput(code="KS-E", name="东矿", mineral="石料",
                      geometry=shapely.Point(lon, _north(lon, LAT, 9_999.5))),
        )  # fmt: skip
        await session.commit()
        [hit] = (await check_location(session, county.id, lon, LAT, 10_000)).features
        assert (hit.feature_id, hit.relation) == (site.id, "near")
        assert hit.distance_m == pytest.approx(9_999.5, abs=0.01)
