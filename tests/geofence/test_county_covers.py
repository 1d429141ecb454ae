"""Whether a county's boundary covers a point, answered from the index's memory
(:func:`geofence.county_covers`): the same answer as PostGIS ``ST_Covers`` on the stored
boundary, for points inside, outside, on vertices and edges, a hair either side of an edge
and in a hole, and the same error for a county that does not exist."""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import Float, bindparam, event, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from evidence import GeofenceLocationChecker, NoLayersChecker
from geofence import CountyNotFoundError, county_covers
from geofence.index import GeofenceIndex
from patrol.demo import CENTRE, county_outline
from patrol.models import County
from tests.conftest import add_county

Factory = async_sessionmaker[AsyncSession]

#: How far (degrees) the points placed beside an edge lie from it: about 0.1 mm.
_HAIR = 1e-9

#: Every point at once (PostGIS builds its point-in-polygon cache for the repeated boundary).
_POSTGIS_COVERS = text(
    "SELECT ST_Covers(c.boundary, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)) "
    "FROM counties c, unnest(:lons, :lats) WITH ORDINALITY AS p(lon, lat, n) "
    "WHERE c.id = :county ORDER BY p.n"
).bindparams(bindparam("lons", type_=ARRAY(Float())), bindparam("lats", type_=ARRAY(Float())))


#: One point per statement: how intake asked (``evidence.service``), no cache.
_INTAKE_COVERS = select(
    func.ST_Covers(
        County.boundary,
        func.ST_SetSRID(
            func.ST_MakePoint(bindparam("lon", type_=Float), bindparam("lat", type_=Float)), 4326
        ),
    )
).where(County.id == bindparam("county"))


def _boundary() -> shapely.MultiPolygon:
    """The demo county's outline with a hole (an irregular enclave) and an island to the
    east: two parts, three rings, edges at every angle."""
    outline = county_outline()
    cx, cy = CENTRE
    hole = shapely.Polygon(
        [(cx + 0.06 * math.cos(a) * (1 + 0.3 * math.sin(5 * a)),
          cy + 0.04 * math.sin(a) * (1 + 0.3 * math.sin(5 * a)))
         for a in np.linspace(0, 2 * math.pi, 17)[:-1]]
    )  # fmt: skip
    x1 = outline.bounds[2]
    island = shapely.Polygon([(x1 + 0.02, cy), (x1 + 0.09, cy - 0.03), (x1 + 0.07, cy + 0.05)])
    shape = shapely.MultiPolygon([shapely.Polygon(outline.exterior.coords, [hole.exterior.coords]),
                                  island])  # fmt: skip
    assert shape.is_valid
    return shape


def _points(shape: shapely.MultiPolygon) -> dict[str, npt.NDArray[np.float64]]:
    """Points (rows lon, lat) by what they test: random ones in and around the boundary's
    box and in the hole; every vertex and the middle of every edge; at each eighth of an
    edge a point on it (as near as floating point gets: about half of them fall a rounding
    error outside) and a pair a hair to either side (one in, one out)."""
    rnd = np.random.default_rng(20240611)
    x0, y0, x1, y1 = shape.bounds
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    hole = shapely.Polygon(shape.geoms[0].interiors[0])
    hx0, hy0, hx1, hy1 = hole.bounds
    near_hole = rnd.uniform((hx0, hy0), (hx1, hy1), size=(800, 2))
    rings = [np.asarray(r.coords) for p in shape.geoms for r in (p.exterior, *p.interiors)]
    a = np.concatenate([r[:-1] for r in rings])
    b = np.concatenate([r[1:] for r in rings])
    d = b - a
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None] * _HAIR
    t = np.arange(1, 8)[:, None, None] / 8  # each eighth, for every edge
    on = a + t * d
    return {
        "around": rnd.uniform((x0 - mx, y0 - my), (x1 + mx, y1 + my), size=(4000, 2)),
        "in_hole": near_hole[shapely.contains_xy(hole, near_hole[:, 0], near_hole[:, 1])],
        "vertices": a,
        "midpoints": (a + b) / 2,
        "on_edges": on.reshape(-1, 2),
        "left": (on + normal).reshape(-1, 2),
        "right": (on - normal).reshape(-1, 2),
    }


async def _county(factory: Factory, shape: shapely.Geometry) -> uuid.UUID:
    async with factory() as session:
        county = await add_county(session, lon=CENTRE[0], lat=CENTRE[1])
        await session.execute(
            update(County)
            .where(County.id == county.id)
            .values(boundary=from_shape(shape, srid=4326))
        )
        await session.commit()
        return county.id


async def test_the_answer_from_memory_is_postgis_st_covers(session_factory: Factory) -> None:
    shape = _boundary()
    county_id = await _county(session_factory, shape)
    groups = _points(shape)
    points = np.concatenate(list(groups.values())).tolist()
    index = GeofenceIndex()
    async with session_factory() as session:
        stored = await session.scalar(
            select(func.ST_AsBinary(County.boundary)).where(County.id == county_id)
        )
        assert stored is not None
        # the boundary compared is the one built here, to the last bit
        assert shapely.equals_exact(shapely.from_wkb(bytes(stored)), shape, tolerance=0.0)
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        postgis = list(
            (await session.execute(
                _POSTGIS_COVERS, {"lons": lons, "lats": lats, "county": county_id}
            )).scalars()
        )  # fmt: skip
        one_by_one = [
            await session.scalar(_INTAKE_COVERS, {"lon": lon, "lat": lat, "county": county_id})
            for lon, lat in points
        ]
        memory = [await index.covers(session, county_id, lon, lat) for lon, lat in points]

    assert len(points) > 5000
    assert one_by_one == postgis  # PostGIS's own two ways (its polygon cache, or none)
    disagree = [(p, m) for p, m, g in zip(points, memory, postgis, strict=True) if m != g]
    assert disagree == []
    # every kind of point was put to the test, with both answers where both can occur
    at = np.cumsum([0, *(len(g) for g in groups.values())])
    got = {k: np.array(memory[lo:hi]) for k, lo, hi in zip(groups, at[:-1], at[1:], strict=True)}
    assert 1000 < got["around"].sum() < len(got["around"]) - 1000
    assert len(got["in_hole"]) > 100 and not got["in_hole"].any()
    assert got["vertices"].all()
    assert 0 < got["on_edges"].sum() < len(got["on_edges"])
    assert (got["left"] != got["right"]).all()  # a hair inside, a hair outside


async def test_a_county_that_does_not_exist_is_not_found(session_factory: Factory) -> None:
    async with session_factory() as session:
        with pytest.raises(CountyNotFoundError):
            await county_covers(session, uuid.uuid4(), *CENTRE)
        with pytest.raises(CountyNotFoundError):
            await GeofenceIndex().covers(session, uuid.uuid4(), *CENTRE)


async def test_the_location_checkers_answer_whether_the_county_covers_a_point(
    session_factory: Factory, engine: AsyncEngine
) -> None:
    shape = _boundary()
    county_id = await _county(session_factory, shape)
    inside = shape.geoms[0].representative_point().coords[0]
    in_hole = shape.geoms[0].interiors[0].centroid.coords[0]
    island = shape.geoms[1].centroid.coords[0]
    far = (CENTRE[0] + 1.0, CENTRE[1])
    checker = GeofenceLocationChecker()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async with session_factory() as session:
        assert await checker.in_county(session, county_id, *inside) is True  # reads it once
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            assert await checker.in_county(session, county_id, *island) is True
            assert await checker.in_county(session, county_id, *in_hole) is False
            assert await checker.in_county(session, county_id, *far) is False
            assert await checker.in_county(session, county_id, math.nan, inside[1]) is False
            assert await checker.in_county(session, county_id, math.inf, inside[1]) is False
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert statements == []  # answered from memory, no round trip
        with pytest.raises(CountyNotFoundError):
            await checker.in_county(session, uuid.uuid4(), *inside)
        assert await NoLayersChecker().in_county(session, county_id, *inside) is None
