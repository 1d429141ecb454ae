"""sync: keyset paging of long pulls (``sync_outbox``)

Revision ID: 0009_sync_keyset
Revises: 0008_import_jobs

When a collection's difference from what a phone holds is larger than the page, the pull
keeps the whole difference of that collection, ordered by record id, in ``sync_outbox``;
the page cursor names the last id sent, and the next page reads on from there through the
primary key instead of comparing the whole scope again (see ``sync.pull``). Rows go with
their stream.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_sync_keyset"
down_revision: str | Sequence[str] | None = "0008_import_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_outbox",
        sa.Column("stream_id", sa.Uuid(), nullable=False),
        sa.Column("collection", sa.SmallInteger(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["sync_streams.id"],
            name=op.f("fk_sync_outbox_stream_id_sync_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "stream_id", "collection", "record_id", name=op.f("pk_sync_outbox")
        ),
    )


def downgrade() -> None:
    op.drop_table("sync_outbox")
