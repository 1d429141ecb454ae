"""Location checks at their edges: ``MAX_BATCH_POINTS`` (10,000) points are answered, one
more is refused; a fix's accuracy circle reaching a feature (or its edge) decides the
relation."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geofence import import_layer
from geofence.check import MAX_BATCH_POINTS, check_location, check_locations
from geofence.errors import TooManyPointsError

GEOD = Geod(ellps="WGS84")


async def test_a_batch_of_the_limit_is_answered_and_one_more_refused(
    session: AsyncSession, county_id: uuid.UUID
) -> None:
    assert MAX_BATCH_POINTS == 10_000
    points = [(112.1 + (i % 100) * 1e-4, 28.5 + (i // 100) * 1e-4, 5.0) for i in range(10_000)]
    answers = await check_locations(session, county_id, points)
    assert len(answers) == MAX_BATCH_POINTS
    assert not any(a.outside_county for a in answers)
    with pytest.raises(TooManyPointsError):
        await check_locations(session, county_id, [*points, (112.1, 28.5, 5.0)])


async def test_a_fix_touches_a_feature_when_its_accuracy_reaches_it(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    """Outside a zone, the fix is ``near`` it once its accuracy circle reaches the zone (the
    distance PostGIS measures, give or take a centimetre); inside, it is on the ``boundary``
    once the circle reaches the edge, else ``inside``."""
    zone = shapely.box(112.0, 28.45, 112.01, 28.46)
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"zone_kind": "basic_farmland", "name": "保护区"},
         "geometry": shapely.geometry.mapping(zone)}]}  # fmt: skip
    (tmp_path / "z.geojson").write_text(json.dumps(doc))
    await import_layer(session, county_id, tmp_path / "z.geojson", "planning_zones")
    await session.commit()
    lat = 28.455
    out_lon = float(GEOD.fwd(112.0, lat, 270, 7.0)[0])
    in_lon = float(GEOD.fwd(112.0, lat, 90, 7.0)[0])
    gap = await session.scalar(
        text(
            "SELECT ST_Distance(geography(geom), geography(ST_SetSRID(ST_MakePoint(:x, :y), "
            "4326))) FROM geofence_planning_zones WHERE county_id = :c"
        ),
        {"x": out_lon, "y": lat, "c": county_id},
    )
    assert gap == pytest.approx(7.0, abs=0.01)

    async def relations(lon: float, accuracy: float) -> list[str]:
        result = await check_location(session, county_id, lon, lat, accuracy)
        return [h.relation for h in result.features]

    assert await relations(out_lon, gap - 0.01) == []
    assert await relations(out_lon, gap + 0.01) == ["near"]
    [hit] = (await check_location(session, county_id, in_lon, lat, 10.0)).features
    edge = hit.edge_distance_m
    assert edge == pytest.approx(7.0, abs=0.01)
    assert await relations(in_lon, edge - 0.01) == ["inside"]
    assert await relations(in_lon, edge + 0.01) == ["boundary"]
