"""Declarative base, column mixins, engine and session factory, and database outages.

No engine is created at import time: :func:`create_engine` is called by the composition root.

An unreachable or hung database is an outage, not a bug: :func:`database_unavailable` tells
one from the other for the API's error mapping (503 ``database_unavailable``), and the
engine's hooks keep an outage bounded and brief:

* every wait is bounded (connect, statement, pool checkout: :class:`DatabaseSettings`);
* a connection whose server stopped answering is dropped at once, never closed politely;
* after a restart, pooled connections the server closed are replaced at checkout (a flag
  test, no round trip), and the first error on a dead connection recycles the whole pool;
* the log gets one warning when an outage starts and one line when it ends.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, MetaData, event, func
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import Uuid

from infra import error_codes as codes
from infra.errors import OutageLog, UnavailableError
from infra.ids import uuid7
from infra.settings import DatabaseSettings

__all__ = [
    "Base",
    "CountyOwned",
    "DatabaseConnectionError",
    "DatabaseUnavailableError",
    "Timestamped",
    "UuidPk",
    "create_engine",
    "create_session_factory",
    "database_unavailable",
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


# -- outages ----------------------------------------------------------------------------------
class DatabaseUnavailableError(UnavailableError):
    """The database cannot serve the request now (503); ``reason`` says what was seen."""

    default_code = codes.DATABASE_UNAVAILABLE


class DatabaseConnectionError(ConnectionError):
    """Raised instead of a driver error when the server cannot be reached or stopped answering.

    Not a :class:`~infra.errors.DomainError`: code that turns domain errors into answers
    (a sync receipt, a rejection) must let an outage through to the request's 503.
    """


_CLIENT_GRACE_S = 0.5  # the server cancels a slow statement itself before the client gives up
_UNAVAILABLE_STATES = {
    "57014": "statement_timeout",  # query_canceled: statement_timeout, or a cancel request
    "57P01": "server_shutdown",  # admin_shutdown
    "57P02": "server_crashed",  # crash_shutdown
    "57P03": "server_starting",  # cannot_connect_now
    "53300": "too_many_connections",
}


def _sqlstate(exc: BaseException) -> str:
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return ""


def _raised_by_driver(exc: BaseException) -> bool:
    """Whether ``exc`` (a bare ``TimeoutError``, say) came up through asyncpg."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg."):
            return True
        tb = tb.tb_next
    return False


def _drop_if_cancelling(driver: Any) -> bool:
    """Terminate an asyncpg connection that is still cancelling a statement that timed out.

    On a server that does not answer, the cancel waits out another whole timeout and every
    statement sent meanwhile queues behind it; the connection cannot be trusted anyway.
    (``_cancellations`` is asyncpg's set of those cancel tasks.)
    """
    if driver is None or driver.is_closed() or not getattr(driver, "_cancellations", None):
        return False
    driver.terminate()
    return True


def _reason(exc: BaseException) -> str | None:
    reason: str | None = None
    if isinstance(exc, DatabaseUnavailableError):
        reason = str(exc.extra.get("reason", "unavailable"))
    elif isinstance(exc, DatabaseConnectionError):
        reason = "unreachable"
    elif isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        reason = "pool_timeout"
    elif isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        reason = "connection_lost"
    elif (state := _sqlstate(exc)) in _UNAVAILABLE_STATES:
        reason = _UNAVAILABLE_STATES[state]
    elif state.startswith("08"):  # connection_exception and its subclasses
        reason = "connection_lost"
    elif isinstance(exc, OSError) and _raised_by_driver(exc):  # raw asyncpg on the hot paths
        reason = "no_answer" if isinstance(exc, TimeoutError) else "connection_lost"
    return reason


def database_unavailable(exc: BaseException) -> DatabaseUnavailableError | None:
    """The outage ``exc`` stands for, or ``None`` when it is something else (a bug, say).

    Looks along the chain of causes, so an error raised while handling an outage (a failed
    rollback on a dead connection) counts as the outage it came from.
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        reason = _reason(seen)
        if reason is not None:
            if isinstance(seen, DatabaseUnavailableError):
                return seen
            return DatabaseUnavailableError(
                "the database is not available; try again shortly", reason=reason
            )
        seen = seen.__cause__ or seen.__context__
    return None


def _terminate(dbapi_connection: Any) -> None:
    """Drop a driver connection at once (no polite close to a server that does not answer)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and not driver.is_closed():
        driver.terminate()


class _Watch:
    """The engine hooks that keep an outage bounded and logged once (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, outage: OutageLog) -> None:
        self.outage = outage
        target = engine.sync_engine
        event.listen(target, "do_connect", self.do_connect)
        event.listen(target, "connect", self.connected)
        event.listen(target, "checkout", self.checkout)
        event.listen(target, "checkin", self.checkin)
        event.listen(target, "handle_error", self.handle_error)
        event.listen(target, "rollback", self.rollback)

    def do_connect(self, dialect: Dialect, _rec: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:  # refused, reset, unknown host, or no answer (TimeoutError)
            self.outage.down(type(exc).__name__)
            msg = f"cannot connect to the database: {type(exc).__name__}"
            raise DatabaseConnectionError(msg) from exc

    def connected(self, _dbapi_connection: Any, _rec: Any) -> None:
        self.outage.up()

    def checkout(self, _dbapi_connection: Any, rec: Any, _proxy: Any) -> None:
        # The server closed it (restart, shutdown): asyncpg saw the socket close, so this is a
        # flag test, no round trip. Raising makes the pool replace it and check out again.
        driver = rec.driver_connection
        if driver is not None and (driver.is_closed() or self._drop_if_cancelling(driver)):
            raise sa_exc.DisconnectionError

    def checkin(self, _dbapi_connection: Any, rec: Any) -> None:
        # A statement sent straight through asyncpg (the hot paths) timed out on this one.
        self._drop_if_cancelling(rec.driver_connection)

    def _drop_if_cancelling(self, driver: Any) -> bool:
        if not _drop_if_cancelling(driver):
            return False
        self.outage.down("TimeoutError")
        return True

    def handle_error(self, ctx: ExceptionContext) -> BaseException | None:
        original = ctx.original_exception
        if isinstance(original, OSError):  # TimeoutError: the server did not answer in time
            if ctx.connection is not None:
                with contextlib.suppress(Exception):
                    _terminate(ctx.connection.connection)
            ctx.is_disconnect = True
            self.outage.down(type(original).__name__)
            msg = f"the database did not answer: {type(original).__name__}"
            return DatabaseConnectionError(msg)
        state = _sqlstate(original)
        if ctx.is_disconnect:
            self.outage.down("connection_lost")
        elif state in _UNAVAILABLE_STATES and state != "57014":
            self.outage.down(_UNAVAILABLE_STATES[state])
        return None

    def rollback(self, conn: Connection) -> None:
        # A statement sent straight through asyncpg timed out inside this transaction: a
        # ROLLBACK would queue behind the cancel. Drop the connection; the transaction dies
        # with it on the server.
        if conn.invalidated:
            return
        with contextlib.suppress(Exception):
            if self._drop_if_cancelling(conn.connection.driver_connection):
                conn.invalidate()


_OUTAGES: dict[str, OutageLog] = {}


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    connect_args: dict[str, Any] = {}
    if settings.connect_timeout_s > 0:
        connect_args["timeout"] = settings.connect_timeout_s
    if settings.statement_timeout_s > 0:
        # The server cancels a statement that runs too long; the client gives up half a
        # second later, when the server itself does not answer (hung, frozen, partitioned).
        connect_args["command_timeout"] = settings.statement_timeout_s + _CLIENT_GRACE_S
        connect_args["server_settings"] = {
            "statement_timeout": str(round(settings.statement_timeout_s * 1000))
        }
    engine = create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        pool_timeout=settings.pool_timeout_s,
        # No pre-ping: with asyncpg it costs two round trips (BEGIN; ROLLBACK) per checkout,
        # on every request. A connection the server closed is found by a flag test at
        # checkout instead, and the first error on a dead connection recycles the pool.
        pool_pre_ping=False,
        pool_recycle=1800,
        echo=settings.echo,
        connect_args=connect_args,
    )
    # one outage log per database, whichever of the process's engines (requests, background
    # work) sees the outage first
    _Watch(engine, _OUTAGES.setdefault(settings.url, OutageLog("database")))
    return engine


async def driver_of(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``, for pre-built statements of the hot paths.

    A statement sent on it joins the session's transaction once the session has sent one of
    its own (the driver begins a transaction lazily); before that it runs, and commits, on
    its own."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
