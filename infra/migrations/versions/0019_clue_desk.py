"""the clue desk role: clerks who take tip-offs and petitions

Revision ID: 0019_clue_desk
Revises: 0018_task_queue

The clue desk (线索受理员) registers tip-offs from the 12336 hotline and the other channels
and petitions, and is, with the captain, the only role that reads a reporter's identity.
Downgrade removes the role; it fails while a user still holds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_clue_desk"
down_revision: str | Sequence[str] | None = "0018_task_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    roles = sa.table("roles", sa.column("name", sa.String), sa.column("description", sa.Text))
    op.bulk_insert(
        roles,
        [
            {
                "name": "clue_desk",
                "description": "registers tip-offs and petitions; reads reporters' identities",
            }
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM roles WHERE name = 'clue_desk'")
