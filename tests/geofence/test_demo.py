"""Demo layers: plausible, deterministic, quick, and usable by checks and overlays."""

from __future__ import annotations

import shapely
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from geofence import check_location, overlay_area, roster_report
from geofence.demo import seed_demo_layers
from geofence.models import ChangePolygon, Parcel, RosterMember
from infra.scope import Principal, Role
from patrol.demo import county_outline
from tests.conftest import add_county, add_user


async def test_demo_layers(session: AsyncSession) -> None:
    county_id = (await add_county(session, boundary=county_outline())).id
    staff = (await add_user(session, county_id, Role.INSPECTOR)).id
    summary = await seed_demo_layers(session, county_id, county_outline(), user_ids=[staff])
    await session.commit()
    assert 20_000 <= summary.parcels <= 60_000
    assert summary.mine_sites >= 20 and summary.dredging_boats >= 3
    assert 0 < summary.incomplete_rosters < summary.mine_sites
    assert summary.change_polygons >= 20 and summary.planning_zones >= 20
    mix = summary.class_mix
    assert 0.15 < mix["permanent_basic_farmland"] < 0.4
    assert 0.3 < mix["other_farmland"] < 0.7
    assert 0.01 < mix["construction_approved"] < 0.15
    assert sum(mix.values()) == pytest_approx_one(mix)

    stored = await session.scalar(select(func.count()).where(Parcel.county_id == county_id))
    assert stored == summary.parcels
    batch = await session.scalar(
        select(func.count(func.distinct(ChangePolygon.batch_quarter))).where(
            ChangePolygon.county_id == county_id
        )
    )
    assert batch == 1
    contacts = await session.scalar(
        select(func.count()).where(
            RosterMember.county_id == county_id, RosterMember.contact_phone != ""
        )
    )
    assert contacts and contacts > summary.mine_sites * 3

    admin = Principal(staff, county_id, Role.ADMIN, "x")
    report = await roster_report(session, admin)
    assert report.total_sites == summary.mine_sites + summary.dredging_boats
    assert len(report.incomplete) == summary.incomplete_rosters

    centre = county_outline().centroid
    result = await check_location(session, county_id, centre.x, centre.y, 30)
    assert result.of_kind("parcels")
    walked = shapely.Point(centre.x, centre.y).buffer(0.004)
    overlay = await overlay_area(session, county_id, walked)
    assert overlay.unmapped_m2 < overlay.area_m2 * 0.01
    assert overlay.conforming_m2 is not None


async def test_demo_is_deterministic(session: AsyncSession) -> None:
    first = await seed_demo_layers(
        session,
        (await add_county(session, boundary=county_outline())).id,
        county_outline(),
        parcel_side_m=600,
    )
    second = await seed_demo_layers(
        session,
        (await add_county(session, boundary=county_outline())).id,
        county_outline(),
        parcel_side_m=600,
    )
    await session.rollback()
    assert first.class_mix == second.class_mix
    assert (first.parcels, first.planning_zones, first.change_polygons) == (
        second.parcels,
        second.planning_zones,
        second.change_polygons,
    )


def pytest_approx_one(mix: dict[str, float]) -> float:
    total = sum(mix.values())
    assert abs(total - 1.0) < 1e-3
    return total
