"""Alembic environment. Runs on a connection handed in by :mod:`infra.migrate`."""

from __future__ import annotations

import importlib

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy.engine import Connection

from infra.db import Base
from infra.migrate import include_object

config = context.config
for module in config.attributes.get("model_modules", ()):
    importlib.import_module(module)

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    msg = "run migrations through `patrol db ...` (infra.migrate), not the alembic command"
    raise RuntimeError(msg)
run_migrations(connection)
