"""Overlay of a walked boundary: areas by land class, plan conformity, sites, change polygons."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncSession

from geofence import (
    M2_PER_MU,
    CountyNotFoundError,
    InvalidGeometryError,
    OutsideCountyError,
    SiteInput,
    create_mine_site,
    import_layer,
    overlay_area,
)
from infra.scope import Principal

GEOD = Geod(ellps="WGS84")
D = 0.001  # parcel side in degrees (about 98 x 111 m here)
X0, Y0 = 112.10, 28.50


def _geodesic_m2(geom: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def _write(path: Path, features: list[tuple[dict[str, Any], shapely.Geometry]]) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": p, "geometry": mapping(g)} for p, g in features
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def _parcel(i: int, j: int) -> shapely.Polygon:
    return shapely.box(X0 + i * D, Y0 + j * D, X0 + (i + 1) * D, Y0 + (j + 1) * D)


# a 4 x 2 block of parcels: column i has class CLASSES[i]
CLASSES = [("0101", "1"), ("0103", "0"), ("0301", "0"), ("0702", "0")]
EXPECTED = ["permanent_basic_farmland", "cultivated", "other_farmland", "construction_unapproved"]


async def _layers(session: AsyncSession, county_id: uuid.UUID, tmp: Path) -> None:
    parcels = [
        ({"DLBM": code, "JBNT": jbnt}, _parcel(i, j))
        for i, (code, jbnt) in enumerate(CLASSES)
        for j in range(2)
    ]
    await import_layer(session, county_id, _write(tmp / "p.geojson", parcels), "parcels")
    farm = shapely.box(X0, Y0, X0 + 2 * D, Y0 + 2 * D)
    village = shapely.box(X0 + 2 * D, Y0, X0 + 4 * D, Y0 + 2 * D)
    zones = [
        ({"zone_kind": "basic_farmland", "name": "基本农田"}, farm),
        ({"zone_kind": "village_construction", "name": "村庄"}, village),
    ]
    await import_layer(session, county_id, _write(tmp / "z.geojson", zones), "planning_zones")
    change = [
        (
            {"JCBH": "430999-2026-0001", "year": 2026, "quarter": 3},
            shapely.box(X0 + 3 * D, Y0, X0 + 5 * D, Y0 + D),
        )
    ]
    await import_layer(session, county_id, _write(tmp / "c.geojson", change), "change_polygons")


async def test_areas_by_land_class_and_plan(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    await _layers(session, county_id, tmp_path)
    await create_mine_site(
        session, principal,
        SiteInput(code="KS-9", name="石场", geometry=shapely.Point(X0 + 3.25 * D, Y0 + 0.5 * D)),
    )  # fmt: skip
    await session.commit()
    # the walked area: the right half of column 0 through the left half of column 3, bottom row
    walked = shapely.box(X0 + 0.5 * D, Y0 + 0.25 * D, X0 + 3.5 * D, Y0 + 0.75 * D)
    result = await overlay_area(session, county_id, mapping(walked))

    assert result.area_m2 == pytest.approx(_geodesic_m2(walked), rel=1e-4)
    assert result.area_mu == pytest.approx(result.area_m2 / 666.67, rel=1e-5)
    by_class = {c.land_class.value: c for c in result.land_classes}
    assert list(by_class) == EXPECTED
    for i, cls in enumerate(EXPECTED):
        part = walked.intersection(_parcel(i, 0))
        assert by_class[cls].area_m2 == pytest.approx(_geodesic_m2(part), rel=1e-4)
        assert by_class[cls].parcels == 1
    assert result.unmapped_m2 == pytest.approx(0, abs=0.01)

    half = shapely.box(X0 + 0.5 * D, Y0 + 0.25 * D, X0 + 2 * D, Y0 + 0.75 * D)
    assert result.not_conforming_m2 == pytest.approx(_geodesic_m2(half), rel=1e-4)
    assert result.not_conforming_basic_farmland_m2 == pytest.approx(_geodesic_m2(half), rel=1e-4)
    assert result.conforming_m2 == pytest.approx(result.area_m2 - _geodesic_m2(half), rel=1e-4)
    assert result.not_conforming_ecological_m2 == 0

    [site] = result.mine_sites
    assert site.code == "KS-9" and site.overlap_m2 == 0
    [change] = result.change_polygons
    overlap = walked.intersection(shapely.box(X0 + 3 * D, Y0, X0 + 5 * D, Y0 + D))
    assert change.monitoring_no == "430999-2026-0001" and change.batch_quarter == 3
    assert change.overlap_m2 == pytest.approx(_geodesic_m2(overlap), rel=1e-4)
    assert [v.kind for v in result.layer_versions] == [
        "parcels", "planning_zones", "mine_sites", "change_polygons",
    ]  # fmt: skip

    body = json.loads(json.dumps(result.to_json()))
    assert body["area_mu"] == pytest.approx(result.area_m2 / M2_PER_MU, abs=1e-4)
    assert body["current_use"]["cultivated"]["m2"] == pytest.approx(
        by_class["permanent_basic_farmland"].area_m2 + by_class["cultivated"].area_m2,
        abs=0.02,
    )
    assert body["planning"]["zones"]["basic_farmland"]["m2"] == pytest.approx(
        _geodesic_m2(half), rel=1e-4
    )


async def test_a_known_mu_figure(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    """A parcel of exactly 10 mu (6 666.67 m²) walked whole reads 10 mu."""
    lat = 28.5
    # a square of side sqrt(20000/3) m, built geodesically around (112.15, 28.5)
    side = (20_000 / 3) ** 0.5
    lon_e, _, _ = GEOD.fwd(112.15, lat, 90, side)
    _, lat_n, _ = GEOD.fwd(112.15, lat, 0, side)
    square = shapely.box(112.15, lat, lon_e, lat_n)
    await import_layer(
        session, county_id, _write(tmp_path / "p.geojson", [({"DLBM": "0103"}, square)]), "parcels"
    )
    await session.commit()
    result = await overlay_area(session, county_id, square.buffer(0.0005, join_style="mitre"))
    [cls] = result.land_classes
    assert cls.area_mu == pytest.approx(10.0, abs=0.002)
    assert cls.area_m2 == pytest.approx(_geodesic_m2(square), rel=1e-5)
    assert result.unmapped_m2 == pytest.approx(result.area_m2 - cls.area_m2, rel=1e-6)
    assert result.conforming_m2 is None  # no planning-zone layer: conformity unknown


@pytest.mark.parametrize(
    ("polygon", "reason"),
    [
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[112.1, 28.5], [112.11, 28.51], [112.11, 28.5], [112.1, 28.51], [112.1, 28.5]]
                ],
            },
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        ({"type": "Point", "coordinates": [112.1, 28.5]}, "wrong_type"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[112.1, 95.0], [112.11, 95.0], [112.11, 95.1], [112.1, 95.0]]],
            },
            "out_of_range",
        ),
        ({"type": "Polygon", "coordinates": "nope"}, "malformed"),
        ({"type": "Polygon", "coordinates": [[[112.1, 28.5], [112.11]]]}, "malformed"),
    ],
)
async def test_bad_polygons_name_the_field(
    session: AsyncSession, county_id: uuid.UUID, polygon: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidGeometryError) as err:
        await overlay_area(session, county_id, polygon, field="polygon")
    assert err.value.field == "polygon"
    assert reason in err.value.extra["reason"]


async def test_outside_county_and_unknown_county(
    session: AsyncSession, county_id: uuid.UUID
) -> None:
    far = shapely.box(100.0, 30.0, 100.01, 30.01)
    with pytest.raises(OutsideCountyError):
        await overlay_area(session, county_id, far)
    with pytest.raises(CountyNotFoundError):
        await overlay_area(session, uuid.uuid4(), shapely.box(112.1, 28.5, 112.11, 28.51))
