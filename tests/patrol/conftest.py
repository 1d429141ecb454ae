"""Fixtures for field-work tests: a fresh county per test, with places, people and an area."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Principal, Role
from patrol.areas import AreaService
from patrol.field_models import ContractArea
from patrol.models import County, Township, User, Village

# A 1 x 1 degree county around (110.5, 30.5); one township covers its western half.
WEST, SOUTH, EAST, NORTH = 110.0, 30.0, 111.0, 31.0


@dataclass
class World:
    county: County
    township: Township
    village: Village
    inspector: Principal
    other_inspector: Principal
    captain: Principal
    admin: Principal
    squad: Principal
    area: ContractArea

    @property
    def county_id(self) -> uuid.UUID:
        return self.county.id


async def make_user(db: AsyncSession, county: County, role: Role, name: str) -> Principal:
    user = User(
        county_id=county.id,
        username=f"{name}-{uuid.uuid4().hex[:10]}",
        display_name=name,
        role=role.value,
        password_hash="x",
        active=True,
    )
    db.add(user)
    await db.flush()
    return Principal(user_id=user.id, county_id=county.id, role=role, username=user.username)


async def make_world(db: AsyncSession) -> World:
    code = uuid.uuid4().hex[:12]
    county = County(
        admin_code=code,
        name=f"county {code}",
        province_code="43",
        boundary=from_shape(MultiPolygon([box(WEST, SOUTH, EAST, NORTH)]), srid=4326),
    )
    db.add(county)
    await db.flush()
    town = Township(
        county_id=county.id,
        code=code[:9],
        name="west town",
        geom=from_shape(MultiPolygon([box(WEST, SOUTH, 110.5, NORTH)]), srid=4326),
    )
    db.add(town)
    await db.flush()
    village = Village(
        county_id=county.id,
        township_id=town.id,
        code=code[:12],
        name="river village",
        geom=from_shape(MultiPolygon([box(110.1, 30.1, 110.2, 30.2)]), srid=4326),
    )
    db.add(village)
    await db.flush()
    inspector = await make_user(db, county, Role.INSPECTOR, "inspector-a")
    other = await make_user(db, county, Role.INSPECTOR, "inspector-b")
    captain = await make_user(db, county, Role.CAPTAIN, "captain")
    admin = await make_user(db, county, Role.ADMIN, "admin")
    squad = await make_user(db, county, Role.SECURITY_SQUAD, "squad")
    area = await AreaService(db).create_area(
        captain,
        code="A1",
        name="west area",
        grade=1,
        geometry={
            "type": "Polygon",
            "coordinates": [
                [[110.0, 30.0], [110.5, 30.0], [110.5, 31.0], [110.0, 31.0], [110.0, 30.0]]
            ],
        },
        leader_id=inspector.user_id,
        township_ids=[town.id],
        village_ids=[village.id],
    )
    await db.commit()
    return World(county, town, village, inspector, other, captain, admin, squad, area)


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    async with session_factory() as session:
        yield await make_world(session)
