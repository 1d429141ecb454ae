"""Fixtures for field-work tests: a fresh world per test (see :mod:`tests.worlds`) in a
1 x 1 degree county around (110.5, 30.5); its township and area A1 cover the western half."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.worlds import World, build_world


@pytest.fixture
def other_world(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession]
) -> Callable[[], Awaitable[World]]:
    """Build another world (another county) on demand."""

    async def make() -> World:
        return await build_world(session_factory, app.state.tokens, lon=110.5, lat=30.5, size=1.0)

    return make


@pytest.fixture
async def world(other_world: Callable[[], Awaitable[World]]) -> World:
    return await other_world()
