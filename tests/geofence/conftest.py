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
from patrol.models import County

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


@pytest.fixture
def principal(county_id: uuid.UUID) -> Principal:
    return Principal(user_id=uuid7(), county_id=county_id, role=Role.ADMIN, username="admin")


@pytest.fixture
async def session(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with session_factory() as s:
        yield s
