"""a mine site's status keeps why and when it was set

Revision ID: 0030_mine_site_status_reason
Revises: 0029_procuratorate

A captain who changes a closed site's status by hand (``SetMineSiteStatus``) gives the reason;
the register keeps it with the status (``status_reason``, also on each revision, so the
history shows why each status was set) and the time the status last changed
(``status_changed_at``; unknown for the sites registered before, hence nullable).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_mine_site_status_reason"
down_revision: str | Sequence[str] | None = "0029_procuratorate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("geofence_mine_sites", "geofence_mine_site_revisions"):
        op.add_column(
            table, sa.Column("status_reason", sa.Text(), server_default="", nullable=False)
        )
    op.add_column(
        "geofence_mine_sites",
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("geofence_mine_sites", "status_changed_at")
    for table in ("geofence_mine_site_revisions", "geofence_mine_sites"):
        op.drop_column(table, "status_reason")
