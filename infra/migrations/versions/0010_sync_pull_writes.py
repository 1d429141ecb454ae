"""sync: fewer writes per pull page (outbox ranges; stream rows removed by a trigger)

Revision ID: 0010_sync_pull_writes
Revises: 0009_sync_keyset

* A page that sends part of a collection's kept difference (``sync_outbox``) no longer
  copies those rows into ``sync_pending``: the stream names, per such collection, the id
  range of the outbox the page sent (after, exclusive; up to, inclusive), and the
  acknowledgement copies that range into the manifest with one ``INSERT ... SELECT`` (see
  ``sync.pull``).
* ``sync_manifest``, ``sync_pending`` and ``sync_outbox`` lose their foreign key to
  ``sync_streams``: its check ran once per inserted row and took about half of the time of
  filling the manifest and the outbox (50,000 rows: 0.34 s against 0.14 s). Their rows
  still go with their stream: a statement trigger on ``sync_streams`` deletes them (also
  when a stream goes with its user or county). Only a pull writes them, holding its
  stream's row locked.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_sync_pull_writes"
down_revision: str | Sequence[str] | None = "0009_sync_keyset"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("pending_outbox_coll", postgresql.ARRAY(sa.SmallInteger())),
    ("pending_outbox_after", postgresql.ARRAY(sa.Uuid())),
    ("pending_outbox_upto", postgresql.ARRAY(sa.Uuid())),
)
_PER_STREAM = ("sync_manifest", "sync_pending", "sync_outbox")

STREAM_GONE = """
CREATE FUNCTION sync_stream_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sync_manifest WHERE stream_id IN (SELECT id FROM gone);
    DELETE FROM sync_pending WHERE stream_id IN (SELECT id FROM gone);
    DELETE FROM sync_outbox WHERE stream_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("sync_streams", sa.Column(name, type_, nullable=True))
    for table in _PER_STREAM:
        op.drop_constraint(f"fk_{table}_stream_id_sync_streams", table, type_="foreignkey")
    op.execute(STREAM_GONE)
    op.execute(
        "CREATE TRIGGER sync_streams_gone AFTER DELETE ON sync_streams "
        "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION sync_stream_gone()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS sync_streams_gone ON sync_streams")
    op.execute("DROP FUNCTION IF EXISTS sync_stream_gone()")
    for table in _PER_STREAM:
        op.execute(  # rows of streams already gone would fail the key
            f"DELETE FROM {table} t WHERE NOT EXISTS "  # noqa: S608 - constant table names
            f"(SELECT 1 FROM sync_streams s WHERE s.id = t.stream_id)"
        )
        op.create_foreign_key(
            f"fk_{table}_stream_id_sync_streams",
            table,
            "sync_streams",
            ["stream_id"],
            ["id"],
            ondelete="CASCADE",
        )
    for name, _ in reversed(_COLUMNS):
        op.drop_column("sync_streams", name)
