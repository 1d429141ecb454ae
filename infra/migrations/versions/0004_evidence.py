"""evidence: upload sessions, verified evidence, derivatives, jobs, custody log

Revision ID: 0004_evidence
Revises: 0001_foundation
Create Date: 2026-11-21 23:37:51.483985

Besides the tables, two triggers guard the invariants in the database itself:
``evidence_custody`` is append-only (UPDATE, DELETE and TRUNCATE are refused), and an
``evidence`` row is never deleted and its integrity columns never change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0004_evidence"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY = """
CREATE FUNCTION evidence_custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence_custody is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

ORIGINAL_FROZEN = """
CREATE FUNCTION evidence_original_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'evidence is never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.id <> OLD.id OR NEW.county_id <> OLD.county_id OR NEW.sha256 <> OLD.sha256
        OR NEW.size_bytes <> OLD.size_bytes OR NEW.original_key <> OLD.original_key
        OR NEW.media_type <> OLD.media_type OR NEW.received_at <> OLD.received_at THEN
        RAISE EXCEPTION 'the integrity columns of evidence never change'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "evidence_custody",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_evidence_custody_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_evidence_custody_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_custody")),
        sa.UniqueConstraint("county_id", "seq", name=op.f("uq_evidence_custody_county_id")),
    )
    op.create_index(
        op.f("ix_evidence_custody_county_id"), "evidence_custody", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_evidence_custody_subject_id"), "evidence_custody", ["subject_id"], unique=False
    )
    op.create_table(
        "evidence_uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("uploader_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_md5", sa.String(length=24), nullable=True),
        sa.Column("part_size", sa.BigInteger(), nullable=True),
        sa.Column("part_md5s", postgresql.ARRAY(sa.String(length=24)), nullable=True),
        sa.Column("multipart_upload_id", sa.Text(), nullable=True),
        sa.Column("claimed_captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_lon", sa.Float(), nullable=False),
        sa.Column("device_lat", sa.Float(), nullable=False),
        sa.Column("device_accuracy_m", sa.Float(), nullable=False),
        sa.Column("device_crs", sa.String(length=8), nullable=False),
        sa.Column("device_fix_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("patrol_session_id", sa.Uuid(), nullable=True),
        sa.Column("finding_id", sa.Uuid(), nullable=True),
        sa.Column("mine_site_id", sa.Uuid(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.Column("proves", sa.Text(), nullable=False),
        sa.Column("view_type", sa.String(length=10), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("aborted_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("kind IN ('photo', 'video')", name=op.f("ck_evidence_uploads_kind")),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'aborted')", name=op.f("ck_evidence_uploads_status")
        ),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_evidence_uploads_size_positive")),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_evidence_uploads_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_evidence_uploads_uploader_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_uploads")),
        sa.UniqueConstraint("object_key", name=op.f("uq_evidence_uploads_object_key")),
    )
    op.create_index(
        op.f("ix_evidence_uploads_case_id"), "evidence_uploads", ["case_id"], unique=False
    )
    op.create_index(
        "ix_evidence_uploads_county_created",
        "evidence_uploads",
        ["county_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_evidence_uploads_county_id"), "evidence_uploads", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_evidence_uploads_finding_id"), "evidence_uploads", ["finding_id"], unique=False
    )
    op.create_index(
        op.f("ix_evidence_uploads_mine_site_id"), "evidence_uploads", ["mine_site_id"], unique=False
    )
    op.create_index(
        op.f("ix_evidence_uploads_patrol_session_id"),
        "evidence_uploads",
        ["patrol_session_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_evidence_uploads_uploader_id"), "evidence_uploads", ["uploader_id"], unique=False
    )
    op.create_geospatial_table(
        "evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_key", sa.String(length=300), nullable=False),
        sa.Column("original_etag", sa.String(length=80), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("captured_at_source", sa.String(length=12), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("position_source", sa.String(length=12), nullable=False),
        sa.Column("position_accuracy_m", sa.Float(), nullable=False),
        sa.Column("file_meta", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trust", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("flags", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("location_check", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("accepted_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_by"],
            ["users.id"],
            name=op.f("fk_evidence_accepted_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_evidence_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["id"],
            ["evidence_uploads.id"],
            name=op.f("fk_evidence_id_evidence_uploads"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("original_key", name=op.f("uq_evidence_original_key")),
    )
    op.create_geospatial_index(
        "idx_evidence_geom",
        "evidence",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_evidence_county_captured", "evidence", ["county_id", "captured_at"], unique=False
    )
    op.create_index(op.f("ix_evidence_county_id"), "evidence", ["county_id"], unique=False)
    op.create_index(
        "ix_evidence_flags", "evidence", ["flags"], unique=False, postgresql_using="gin"
    )
    op.create_index(op.f("ix_evidence_sha256"), "evidence", ["sha256"], unique=False)
    op.create_table(
        "evidence_derivatives",
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_evidence_derivatives_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_evidence_derivatives_evidence_id_evidence"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_derivatives")),
        sa.UniqueConstraint(
            "evidence_id", "kind", name=op.f("uq_evidence_derivatives_evidence_id")
        ),
        sa.UniqueConstraint("object_key", name=op.f("uq_evidence_derivatives_object_key")),
    )
    op.create_index(
        op.f("ix_evidence_derivatives_county_id"),
        "evidence_derivatives",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_evidence_derivatives_evidence_id"),
        "evidence_derivatives",
        ["evidence_id"],
        unique=False,
    )
    op.create_table(
        "evidence_jobs",
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
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
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_evidence_jobs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_evidence_jobs_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_evidence_jobs_evidence_id_evidence"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_jobs")),
        sa.UniqueConstraint("evidence_id", "kind", name=op.f("uq_evidence_jobs_evidence_id")),
    )
    op.create_index(
        op.f("ix_evidence_jobs_county_id"), "evidence_jobs", ["county_id"], unique=False
    )
    op.create_index(
        "ix_evidence_jobs_status_run_after", "evidence_jobs", ["status", "run_after"], unique=False
    )
    op.execute(APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER evidence_custody_append_only BEFORE UPDATE OR DELETE ON evidence_custody "
        "FOR EACH ROW EXECUTE FUNCTION evidence_custody_append_only()"
    )
    op.execute(
        "CREATE TRIGGER evidence_custody_no_truncate BEFORE TRUNCATE ON evidence_custody "
        "FOR EACH STATEMENT EXECUTE FUNCTION evidence_custody_append_only()"
    )
    op.execute(ORIGINAL_FROZEN)
    op.execute(
        "CREATE TRIGGER evidence_original_frozen BEFORE UPDATE OR DELETE ON evidence "
        "FOR EACH ROW EXECUTE FUNCTION evidence_original_frozen()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS evidence_original_frozen ON evidence")
    op.execute("DROP FUNCTION IF EXISTS evidence_original_frozen()")
    op.execute("DROP TRIGGER IF EXISTS evidence_custody_no_truncate ON evidence_custody")
    op.execute("DROP TRIGGER IF EXISTS evidence_custody_append_only ON evidence_custody")
    op.execute("DROP FUNCTION IF EXISTS evidence_custody_append_only()")
    op.drop_index("ix_evidence_jobs_status_run_after", table_name="evidence_jobs")
    op.drop_index(op.f("ix_evidence_jobs_county_id"), table_name="evidence_jobs")
    op.drop_table("evidence_jobs")
    op.drop_index(op.f("ix_evidence_derivatives_evidence_id"), table_name="evidence_derivatives")
    op.drop_index(op.f("ix_evidence_derivatives_county_id"), table_name="evidence_derivatives")
    op.drop_table("evidence_derivatives")
    op.drop_index(op.f("ix_evidence_sha256"), table_name="evidence")
    op.drop_index("ix_evidence_flags", table_name="evidence", postgresql_using="gin")
    op.drop_index(op.f("ix_evidence_county_id"), table_name="evidence")
    op.drop_index("ix_evidence_county_captured", table_name="evidence")
    op.drop_geospatial_index(
        "idx_evidence_geom", table_name="evidence", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("evidence")
    op.drop_index(op.f("ix_evidence_uploads_uploader_id"), table_name="evidence_uploads")
    op.drop_index(op.f("ix_evidence_uploads_patrol_session_id"), table_name="evidence_uploads")
    op.drop_index(op.f("ix_evidence_uploads_mine_site_id"), table_name="evidence_uploads")
    op.drop_index(op.f("ix_evidence_uploads_finding_id"), table_name="evidence_uploads")
    op.drop_index(op.f("ix_evidence_uploads_county_id"), table_name="evidence_uploads")
    op.drop_index("ix_evidence_uploads_county_created", table_name="evidence_uploads")
    op.drop_index(op.f("ix_evidence_uploads_case_id"), table_name="evidence_uploads")
    op.drop_table("evidence_uploads")
    op.drop_index(op.f("ix_evidence_custody_subject_id"), table_name="evidence_custody")
    op.drop_index(op.f("ix_evidence_custody_county_id"), table_name="evidence_custody")
    op.drop_table("evidence_custody")
