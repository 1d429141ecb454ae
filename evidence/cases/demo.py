"""Demo cases for the demo county: what the security squad and the captains should see.

1. a farmland case above the basic-farmland threshold (a referral suggestion, not flagged);
2. an illegal-mining case near a closed mine site, ore value over the national figure;
3. a case flagged and referred, whose head's decision is two days late (in the overdue feed).

Areas come from the county's parcels layer when it has one; without it, the demo's surveyed
polygon is taken as permanent basic farmland and ``areas_source.basis`` says so. Idempotent:
a second call finds the demo cases by number and changes nothing.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import (
    CaseInput,
    OverlayResult,
    Party,
    open_case,
    postgis_land_class_areas,
)
from evidence.cases.models import Case
from evidence.cases.referrals import create_referral, flag_for_referral
from geofence.enums import LandClass
from geofence.models import MineSite
from infra.scope import Principal, Role
from patrol.accounts import principal_of
from patrol.models import County, User

__all__ = ["DEMO_CASE_NOS", "demo_overlay", "seed_demo_cases", "square_m"]

DEMO_CASE_NOS = ("示范-001", "示范-002", "示范-003")


async def demo_overlay(
    session: AsyncSession, county_id: uuid.UUID, polygon: MultiPolygon
) -> OverlayResult:
    """The parcels' areas of ``polygon``; without a parcels layer, all of it taken as
    permanent basic farmland (``basis`` says so)."""
    result = await postgis_land_class_areas(session, county_id, polygon)
    if result.layer_version_id is not None:
        return result
    pbf = LandClass.PERMANENT_BASIC_FARMLAND.value
    return OverlayResult(
        result.total_m2, {pbf: result.total_m2}, None, None, basis="demo_assumed_basic_farmland"
    )


def square_m(lon: float, lat: float, side_m: float) -> dict[str, object]:
    """A GeoJSON square of ``side_m`` metres centred on the point."""
    dlat = side_m / 111_320 / 2
    dlon = dlat / max(0.2, abs(math.cos(math.radians(lat))))
    poly = box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    return {"type": "Polygon", "coordinates": [[list(c) for c in poly.exterior.coords]]}


async def _principal(session: AsyncSession, county_id: uuid.UUID, role: Role) -> Principal:
    user = await session.scalar(
        select(User)
        .where(User.county_id == county_id, User.role == role.value, User.active)
        .order_by(User.created_at)
        .limit(1)
    )
    if user is None:
        msg = f"the demo county has no active {role.value}"
        raise LookupError(msg)
    return principal_of(user)


async def seed_demo_cases(session: AsyncSession, county_id: uuid.UUID) -> list[uuid.UUID]:
    """Add the three demo cases (and a flag and a late referral) to ``county_id``; flushes,
    the caller commits. Returns the ids of the demo cases."""
    existing = (
        await session.scalars(
            select(Case.id)
            .where(Case.county_id == county_id, Case.case_no.in_(DEMO_CASE_NOS))
            .order_by(Case.case_no)
        )
    ).all()
    if existing:
        return list(existing)
    county = await session.get(County, county_id)
    if county is None:
        msg = "no such county"
        raise LookupError(msg)
    captain = await _principal(session, county_id, Role.CAPTAIN)
    squad = await _principal(session, county_id, Role.SECURITY_SQUAD)
    centre = to_shape(county.boundary).representative_point()  # type: ignore[arg-type]
    lon, lat = float(centre.x), float(centre.y)

    farmland = await open_case(
        session,
        captain,
        CaseInput(
            case_no=DEMO_CASE_NOS[0],
            cause="未经批准占用永久基本农田建设仓储厂房",
            violation_kind="land_occupation",
            lon=lon,
            lat=lat,
            parties=[Party("示范建材有限公司", kind="organisation", id_no="91430999MA0000000X")],
            surveyed_geometry=square_m(lon, lat, 75),  # 5,625 m² = 8.4 mu
        ),
        overlay=demo_overlay,
    )

    site = await session.scalar(
        select(MineSite)
        .where(MineSite.county_id == county_id, MineSite.retired.is_(False))
        .order_by(MineSite.code)
        .limit(1)
    )
    if site is not None:
        point = to_shape(site.geom).representative_point()  # type: ignore[arg-type]
        mlon, mlat, where = float(point.x) + 0.0012, float(point.y), f"已关闭矿点{site.name}附近"
    else:
        mlon, mlat, where = lon + 0.02, lat - 0.01, "已关闭矿点附近"
    mining = await open_case(
        session,
        captain,
        CaseInput(
            case_no=DEMO_CASE_NOS[1],
            cause=f"{where}夜间无证开采河砂（死灰复燃）",
            violation_kind="illegal_mining",
            lon=mlon,
            lat=mlat,
            source_kind="other",
            parties=[Party("李四")],
            ore_value_yuan=Decimal("180000"),
        ),
    )

    late = await open_case(
        session,
        captain,
        CaseInput(
            case_no=DEMO_CASE_NOS[2],
            cause="非法转让集体土地使用权用于建房出售",
            violation_kind="land_transfer",
            lon=lon - 0.015,
            lat=lat + 0.01,
            parties=[Party("王五")],
            illegal_gain_yuan=Decimal("620000"),
        ),
    )
    await flag_for_referral(
        session, squad, case_id=late.id, reason="违法所得超过50万元，涉嫌非法转让土地使用权罪"
    )
    await create_referral(
        session,
        squad,
        late.id,
        team_ids=[squad.user_id, captain.user_id],
        report="经调查核实，当事人非法转让土地使用权，违法所得62万元，建议移送公安机关。",
        at=datetime.now(UTC) - timedelta(days=5),  # the head's decision was due 2 days ago
    )
    return [farmland.id, mining.id, late.id]
