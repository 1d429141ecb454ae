"""The asyncpg connection under a session, for the pre-built statements of the hot paths."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def driver(db: AsyncSession) -> Any:
    """The asyncpg connection under ``db``, inside the request's transaction."""
    conn = await db.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection
