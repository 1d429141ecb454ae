"""geofence: background layer import jobs

Revision ID: 0008_import_jobs
Revises: 0007_sync_cases

A layer upload over the size threshold is imported in the background; its state, counts,
first issues and result live in ``geofence_import_jobs`` so that any API replica can answer
``GetImportJob``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_import_jobs"
down_revision: str | Sequence[str] | None = "0007_sync_cases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.create_table(
        "geofence_import_jobs",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("source_bytes", sa.BigInteger(), nullable=False),
        sa.Column("options", _JSONB, nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("read_count", sa.Integer(), nullable=False),
        sa.Column("stored_count", sa.Integer(), nullable=False),
        sa.Column("repaired_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("issues", _JSONB, nullable=False),
        sa.Column("error", _JSONB, nullable=True),
        sa.Column("summary", _JSONB, nullable=True),
        sa.Column("layer_version_id", sa.Uuid(), nullable=True),
        sa.Column("runner", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "heartbeat_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_geofence_import_jobs_state"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_geofence_import_jobs_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_geofence_import_jobs_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["layer_version_id"],
            ["geofence_layer_versions.id"],
            name=op.f("fk_geofence_import_jobs_layer_version_id_geofence_layer_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geofence_import_jobs")),
    )
    op.create_index(
        op.f("ix_geofence_import_jobs_county_id"),
        "geofence_import_jobs",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        "ix_geofence_import_jobs_unfinished",
        "geofence_import_jobs",
        ["heartbeat_at"],
        unique=False,
        postgresql_where=sa.text("state IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("ix_geofence_import_jobs_unfinished", table_name="geofence_import_jobs")
    op.drop_index(op.f("ix_geofence_import_jobs_county_id"), table_name="geofence_import_jobs")
    op.drop_table("geofence_import_jobs")
