"""sync: the pending page names the outbox ranges it sent instead of copying them

Revision ID: 0010_sync_pending_outbox
Revises: 0009_sync_keyset

A page that sends part of a collection's kept difference (``sync_outbox``) no longer writes
those rows again into ``sync_pending``: the stream names, per such collection, the id range
of the outbox the page sent (after, exclusive, up to, inclusive), and the acknowledgement
copies that range into the manifest with one ``INSERT ... SELECT`` (see ``sync.pull``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_sync_pending_outbox"
down_revision: str | Sequence[str] | None = "0009_sync_keyset"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("pending_outbox_coll", postgresql.ARRAY(sa.SmallInteger())),
    ("pending_outbox_after", postgresql.ARRAY(sa.Uuid())),
    ("pending_outbox_upto", postgresql.ARRAY(sa.Uuid())),
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("sync_streams", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(_COLUMNS):
        op.drop_column("sync_streams", name)
