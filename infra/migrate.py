"""Alembic driven from code: upgrade, downgrade, current, head, autogenerate, compare."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["MIGRATION_LOCK", "Migrator", "include_object"]

_HERE = Path(__file__).parent / "migrations"


#: The advisory lock migrations hold for their transaction ("patr" in ASCII).
MIGRATION_LOCK = 0x70617472


def _take_turn(connection: Connection) -> None:
    """Wait for any other migration of this database to commit (held until this one does)."""
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")


class Migrator:
    """Runs Alembic against an async engine; ``model_modules`` are imported by ``env.py``."""

    def __init__(self, engine: AsyncEngine, model_modules: Sequence[str]) -> None:
        self.engine = engine
        self.model_modules = tuple(model_modules)

    def config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(_HERE))
        cfg.attributes["model_modules"] = self.model_modules
        return cfg

    def heads(self) -> set[str]:
        return set(ScriptDirectory.from_config(self.config()).get_heads())

    async def _with_connection(self, fn: Any, *args: Any) -> Any:
        def run(connection: Connection) -> Any:
            cfg = self.config()
            cfg.attributes["connection"] = connection
            return fn(cfg, connection, *args)

        async with self.engine.begin() as conn:
            return await conn.run_sync(run)

    async def upgrade(self, target: str = "heads") -> None:
        """Migrate to ``target``; processes starting at once (two servers, a server and the
        command line) take turns: the second finds the schema current and does nothing."""

        def run(cfg: Config, connection: Connection, t: str) -> None:
            _take_turn(connection)
            command.upgrade(cfg, t)

        await self._with_connection(run, target)

    async def downgrade(self, target: str) -> None:
        def run(cfg: Config, connection: Connection, t: str) -> None:
            _take_turn(connection)
            command.downgrade(cfg, t)

        await self._with_connection(run, target)

    async def current(self) -> set[str]:
        def read(_cfg: Config, connection: Connection) -> set[str]:
            return set(MigrationContext.configure(connection).get_current_heads())

        result: set[str] = await self._with_connection(read)
        return result

    async def is_current(self) -> bool:
        return await self.current() == self.heads()

    async def revision(self, message: str, rev_id: str | None = None) -> None:
        """Autogenerate a revision file from the difference between models and database."""
        await self._with_connection(
            lambda cfg, _c: command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        )

    async def diff(self) -> list[Any]:
        """Differences between the models and the migrated database (empty when they agree)."""

        def compare(_cfg: Config, connection: Connection) -> list[Any]:
            import importlib  # noqa: PLC0415 - model modules are named at run time

            from geoalchemy2 import alembic_helpers  # noqa: PLC0415

            from infra.db import Base  # noqa: PLC0415

            for module in self.model_modules:
                importlib.import_module(module)
            ctx = MigrationContext.configure(
                connection,
                opts={
                    "include_object": include_object,
                    "compare_type": True,
                    "render_item": alembic_helpers.render_item,
                },
            )
            return list(compare_metadata(ctx, Base.metadata))

        result: list[Any] = await self._with_connection(compare)
        return result


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    from geoalchemy2 import alembic_helpers  # noqa: PLC0415

    if (
        type_ == "table"
        and name is not None
        and (name == "spatial_ref_sys" or name.startswith("procrastinate"))
    ):
        return False
    keep = alembic_helpers.include_object(obj, name, type_, reflected, compare_to)  # type: ignore[no-untyped-call]
    return bool(keep)
