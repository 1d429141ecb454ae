"""alert params: the facts an alert's message names, to show it in the reader's language

Revision ID: 0017_alert_params
Revises: 0016_findings

``patrol_alerts.params`` (JSONB, nullable) holds the values the catalogue's text for
``alert.<kind>`` needs (``infra.messages``); the stored ``message`` stays as the Chinese text,
which is all that rows raised before this revision have.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_alert_params"
down_revision: str | Sequence[str] | None = "0016_findings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "patrol_alerts",
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("patrol_alerts", "params")
