"""Fixtures for geofence tests: a county of its own per test, and a principal in it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Principal, Role
from patrol.models import County, User

#: The demo county's neighbourhood (around lon 112.1, lat 28.5).
BOUNDARY = shapely.box(111.95, 28.40, 112.25, 28.62)


async def make_county(session: AsyncSession, boundary: shapely.Geometry = BOUNDARY) -> uuid.UUID:
    county = County(
        admin_code=uuid7().hex[-12:],
        name="测试县",
        province_code="43",
        boundary=from_shape(shapely.MultiPolygon([boundary]), srid=4326),
    )
    session.add(county)
    await session.flush()
    return county.id


@pytest.fixture
async def county_id(session_factory: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with session_factory() as session:
        cid = await make_county(session)
        await session.commit()
    return cid


async def make_user(session: AsyncSession, county_id: uuid.UUID, role: str = "admin") -> uuid.UUID:
    name = f"u{uuid7().hex[-10:]}"
    user = User(county_id=county_id, username=name, display_name=name, role=role, password_hash="x")
    session.add(user)
    await session.flush()
    return user.id


@pytest.fixture
async def principal(
    county_id: uuid.UUID, session_factory: async_sessionmaker[AsyncSession]
) -> Principal:
    async with session_factory() as session:
        user_id = await make_user(session, county_id)
        await session.commit()
    return Principal(user_id=user_id, county_id=county_id, role=Role.ADMIN, username="admin")


@pytest.fixture
async def session(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with session_factory() as s:
        yield s
