"""Fixtures for geofence tests: a county of its own per test (the shared builder, see
:func:`tests.conftest.add_county`), and an admin in it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import shapely
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Principal, Role
from patrol.accounts import principal_of
from tests.conftest import add_county, add_user

#: The demo county's neighbourhood (around lon 112.1, lat 28.5).
BOUNDARY = shapely.box(111.95, 28.40, 112.25, 28.62)


@pytest.fixture
async def county_id(session_factory: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with session_factory() as session:
        county = await add_county(session, boundary=BOUNDARY)
        await session.commit()
    return county.id


@pytest.fixture
async def principal(
    county_id: uuid.UUID, session_factory: async_sessionmaker[AsyncSession]
) -> Principal:
    async with session_factory() as session:
        user = await add_user(session, county_id, Role.ADMIN)
        await session.commit()
    return principal_of(user)


@pytest.fixture
async def session(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with session_factory() as s:
        yield s
