"""reports: periodic reports as documents, their generation state and files

Revision ID: 0027_reports
Revises: 0026_procedure

``reports`` holds one row per county, template and period (``period_key``: ``2026-11``,
``2026-Q4``, ``2026``): who asked and when, the generation state (queued, running, done,
failed with its error), how many times it was generated, and the files of the last
generation (format → object key, size, SHA-256, file name). ``patrol_alerts.kind`` has no
check constraint: the new alert kind ``report_overdue`` needs no change there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027_reports"
down_revision: str | Sequence[str] | None = "0026_procedure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("template", sa.String(length=30), nullable=False),
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_key", sa.String(length=30), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("files", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("options", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "template IN ('monthly', 'quarterly_tables', 'annual_tables', "
            "'joint_meeting_bulletin')",
            name=op.f("ck_reports_template"),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_reports_status"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_reports_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_reports_requested_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint(
            "county_id",
            "template",
            "period_key",
            name=op.f("uq_reports_county_id"),
        ),
    )
    op.create_index(op.f("ix_reports_county_id"), "reports", ["county_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_county_id"), table_name="reports")
    op.drop_table("reports")
