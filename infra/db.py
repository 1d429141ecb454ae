"""Declarative base, column mixins, engine and session factory.

No engine is created at import time: :func:`create_engine` is called by the composition root.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, MetaData, func
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import Uuid

from infra.ids import uuid7
from infra.settings import DatabaseSettings

__all__ = [
    "Base",
    "CountyOwned",
    "Timestamped",
    "UuidPk",
    "create_engine",
    "create_session_factory",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: DateTime(timezone=True),
        uuid.UUID: Uuid(as_uuid=True),
    }


class UuidPk:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class CountyOwned:
    """Marker for rows that belong to one county; :mod:`infra.scope` filters on it."""

    county_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("counties.id", ondelete="RESTRICT"), index=True
    )


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        # No pre-ping: with asyncpg it costs two round trips (BEGIN; ROLLBACK) per checkout,
        # on every request. Connections are recycled instead; after a database restart the
        # first use of a dead connection fails once and the pool replaces it.
        pool_pre_ping=False,
        pool_recycle=1800,
        echo=settings.echo,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
