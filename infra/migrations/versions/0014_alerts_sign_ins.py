"""patrol figures: alerts resolve themselves, sign-ins say which targets they reached

Revision ID: 0014_alerts_sign_ins
Revises: 0013_case_referred

* ``patrol_alerts.resolved_at`` / ``resolution``: the cause of an alert ended (a stable
  reason code, set once by the domain; acknowledging stays a person's act).
  ``patrol_alerts.member_id``: the roster member of a ``duty_overdue`` alert, filled in for
  existing ones from their dedupe key (``duty-overdue:<member id>:<due>``).
* ``patrol_sign_ins``: the targets a GPS sign-in reached, the nearest active target and its
  distance, and whether it was far from every target. Existing sign-ins keep empty values.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_alerts_sign_ins"
down_revision: str | Sequence[str] | None = "0013_case_referred"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("patrol_alerts", sa.Column("member_id", sa.Uuid(), nullable=True))
    op.add_column(
        "patrol_alerts", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("patrol_alerts", sa.Column("resolution", sa.String(length=30), nullable=True))
    op.execute(
        "UPDATE patrol_alerts SET member_id = split_part(dedupe_key, ':', 2)::uuid "
        "WHERE kind = 'duty_overdue' AND dedupe_key ~ "
        "'^duty-overdue:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:'"
    )
    op.add_column(
        "patrol_sign_ins",
        sa.Column(
            "reached_target_ids",
            postgresql.ARRAY(sa.Uuid()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("patrol_sign_ins", sa.Column("nearest_target_id", sa.Uuid(), nullable=True))
    op.add_column("patrol_sign_ins", sa.Column("nearest_target_m", sa.Float(), nullable=True))
    op.add_column(
        "patrol_sign_ins",
        sa.Column("far_from_targets", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("patrol_sign_ins", "far_from_targets")
    op.drop_column("patrol_sign_ins", "nearest_target_m")
    op.drop_column("patrol_sign_ins", "nearest_target_id")
    op.drop_column("patrol_sign_ins", "reached_target_ids")
    op.drop_column("patrol_alerts", "resolution")
    op.drop_column("patrol_alerts", "resolved_at")
    op.drop_column("patrol_alerts", "member_id")
