"""Fixtures for the satellite task tests: a fresh world per test (:mod:`tests.worlds`)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worlds import World, build_world, fresh_province


@pytest.fixture
async def world(app: Litestar, session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory, app.state.tokens, province=fresh_province())


@pytest.fixture
async def other_world(app: Litestar, session_factory: async_sessionmaker[AsyncSession]) -> World:
    """Another county, far from the first."""
    return await build_world(
        session_factory, app.state.tokens, lon=113.0, lat=28.0, province=fresh_province()
    )
