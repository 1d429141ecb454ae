"""satellite campaigns: batches of change polygons, their tasks, field results and history

Revision ID: 0023_satellite
Revises: 0022_clues

* ``satellite_batches``: a batch (quarter, month or special campaign) imported as a version of
  the change-polygon layer, with its due dates.
* ``satellite_tasks``: one polygon to verify, review and report up; where it fell, who
  verifies it, its patrol target, its state, current result, review, submission and case.
* ``satellite_results``: field results (the phone's ids; history kept), with the overlay
  areas by land class.
* ``satellite_task_events``: the history of a task (admin reopenings with their reason).
* ``cases.source_kind`` gains ``satellite`` (the source id: the task).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0023_satellite"
down_revision: str | Sequence[str] | None = "0022_clues"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "satellite_batches",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=True),
        sa.Column("month", sa.Integer(), nullable=True),
        sa.Column("layer_version_id", sa.Uuid(), nullable=False),
        sa.Column("verify_due_on", sa.Date(), nullable=False),
        sa.Column("report_due_on", sa.Date(), nullable=False),
        sa.Column("polygons", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
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
            "kind IN ('quarterly', 'monthly', 'special')", name=op.f("ck_satellite_batches_kind")
        ),
        sa.CheckConstraint(
            "month IS NULL OR month BETWEEN 1 AND 12", name=op.f("ck_satellite_batches_month")
        ),
        sa.CheckConstraint(
            "quarter IS NULL OR quarter BETWEEN 1 AND 4", name=op.f("ck_satellite_batches_quarter")
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_satellite_batches_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_satellite_batches_created_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["layer_version_id"],
            ["geofence_layer_versions.id"],
            name=op.f("fk_satellite_batches_layer_version_id_geofence_layer_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satellite_batches")),
        sa.UniqueConstraint("county_id", "name", name=op.f("uq_satellite_batches_county_id")),
    )
    op.create_index(
        op.f("ix_satellite_batches_county_id"), "satellite_batches", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_satellite_batches_layer_version_id"),
        "satellite_batches",
        ["layer_version_id"],
        unique=False,
    )
    op.create_table(
        "satellite_tasks",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("change_polygon_id", sa.Uuid(), nullable=False),
        sa.Column("monitoring_no", sa.String(length=64), nullable=False),
        sa.Column("township_id", sa.Uuid(), nullable=True),
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("inspector_id", sa.Uuid(), nullable=True),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.Uuid(), nullable=True),
        sa.Column("result_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.Uuid(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
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
            "status IN ('unassigned', 'assigned', 'verified', 'sent_back', 'passed', 'submitted')",
            name=op.f("ck_satellite_tasks_status"),
        ),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["patrol_areas.id"],
            name=op.f("fk_satellite_tasks_area_id_patrol_areas"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["users.id"],
            name=op.f("fk_satellite_tasks_assigned_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["satellite_batches.id"],
            name=op.f("fk_satellite_tasks_batch_id_satellite_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_satellite_tasks_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["change_polygon_id"],
            ["geofence_change_polygons.id"],
            name=op.f("fk_satellite_tasks_change_polygon_id_geofence_change_polygons"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_satellite_tasks_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"],
            ["users.id"],
            name=op.f("fk_satellite_tasks_inspector_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["users.id"],
            name=op.f("fk_satellite_tasks_reviewed_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["users.id"],
            name=op.f("fk_satellite_tasks_submitted_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["patrol_targets.id"],
            name=op.f("fk_satellite_tasks_target_id_patrol_targets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["township_id"],
            ["townships.id"],
            name=op.f("fk_satellite_tasks_township_id_townships"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satellite_tasks")),
        sa.UniqueConstraint(
            "batch_id", "change_polygon_id", name=op.f("uq_satellite_tasks_batch_id")
        ),
    )
    op.create_index(
        op.f("ix_satellite_tasks_area_id"), "satellite_tasks", ["area_id"], unique=False
    )
    op.create_index(
        "ix_satellite_tasks_batch_status", "satellite_tasks", ["batch_id", "status"], unique=False
    )
    op.create_index(
        op.f("ix_satellite_tasks_change_polygon_id"),
        "satellite_tasks",
        ["change_polygon_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_satellite_tasks_county_id"), "satellite_tasks", ["county_id"], unique=False
    )
    op.create_index(
        "ix_satellite_tasks_county_township",
        "satellite_tasks",
        ["county_id", "township_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_satellite_tasks_inspector_id"), "satellite_tasks", ["inspector_id"], unique=False
    )
    op.create_index(
        op.f("ix_satellite_tasks_target_id"), "satellite_tasks", ["target_id"], unique=False
    )
    op.create_geospatial_table(
        "satellite_results",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("verified_by", sa.Uuid(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patrol_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("proof_type", sa.String(length=24), nullable=True),
        sa.Column("approval_no", sa.String(length=100), nullable=False),
        sa.Column("approval_body", sa.String(length=100), nullable=False),
        sa.Column("approval_date", sa.Date(), nullable=True),
        sa.Column("approval_area_m2", sa.Float(), nullable=True),
        sa.Column("not_new_kind", sa.String(length=24), nullable=True),
        sa.Column("violator", sa.String(length=200), nullable=False),
        sa.Column("violator_type", sa.String(length=20), nullable=True),
        sa.Column("land_use", sa.String(length=16), nullable=True),
        sa.Column("construction_status", sa.String(length=16), nullable=True),
        sa.Column(
            "outline",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("overlay_areas", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("overlay_area_m2", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("evidence_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "construction_status IS NULL OR construction_status IN ('levelled', 'partly_built', 'fully_built')",
            name=op.f("ck_satellite_results_construction_status"),
        ),
        sa.CheckConstraint(
            "land_use IS NULL OR land_use IN ('housing', 'industrial', 'commercial', 'public', 'transport', 'water', 'mining', 'agricultural', 'other')",
            name=op.f("ck_satellite_results_land_use"),
        ),
        sa.CheckConstraint(
            "not_new_kind IS NULL OR not_new_kind IN ('agricultural_facility', 'temporary_use', 'rural_road', 'no_change', 'pre_existing', 'other')",
            name=op.f("ck_satellite_results_not_new_kind"),
        ),
        sa.CheckConstraint(
            "outcome IN ('legal', 'not_new', 'illegal')", name=op.f("ck_satellite_results_outcome")
        ),
        sa.CheckConstraint(
            "proof_type IS NULL OR proof_type IN ('farmland_conversion', 'land_swap', 'sea_area', 'unused_land', 'other')",
            name=op.f("ck_satellite_results_proof_type"),
        ),
        sa.CheckConstraint(
            "violator_type IS NULL OR violator_type IN ('person', 'organisation', 'village_collective', 'government')",
            name=op.f("ck_satellite_results_violator_type"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_satellite_results_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"],
            ["patrol_sessions.id"],
            name=op.f("fk_satellite_results_patrol_id_patrol_sessions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["satellite_tasks.id"],
            name=op.f("fk_satellite_results_task_id_satellite_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["verified_by"],
            ["users.id"],
            name=op.f("fk_satellite_results_verified_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satellite_results")),
    )
    op.create_index(
        op.f("ix_satellite_results_county_id"), "satellite_results", ["county_id"], unique=False
    )
    op.create_index(
        "ix_satellite_results_task_verified",
        "satellite_results",
        ["task_id", "verified_at"],
        unique=False,
    )
    op.create_foreign_key(
        "fk_satellite_tasks_result_id_satellite_results",
        "satellite_tasks",
        "satellite_results",
        ["result_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_table(
        "satellite_task_events",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_satellite_task_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_satellite_task_events_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["satellite_tasks.id"],
            name=op.f("fk_satellite_task_events_task_id_satellite_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_satellite_task_events")),
    )
    op.create_index(
        op.f("ix_satellite_task_events_county_id"),
        "satellite_task_events",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        "ix_satellite_task_events_task_at", "satellite_task_events", ["task_id", "at"], unique=False
    )
    op.drop_constraint(op.f("ck_cases_source_kind"), "cases", type_="check")
    op.create_check_constraint(
        op.f("ck_cases_source_kind"),
        "cases",
        "source_kind IN ('finding', 'change_polygon', 'tip_off', 'satellite', 'other')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_cases_source_kind"), "cases", type_="check")
    op.create_check_constraint(
        op.f("ck_cases_source_kind"),
        "cases",
        "source_kind IN ('finding', 'change_polygon', 'tip_off', 'other')",
    )
    op.drop_constraint(
        "fk_satellite_tasks_result_id_satellite_results", "satellite_tasks", type_="foreignkey"
    )
    op.drop_index("ix_satellite_task_events_task_at", table_name="satellite_task_events")
    op.drop_index(op.f("ix_satellite_task_events_county_id"), table_name="satellite_task_events")
    op.drop_table("satellite_task_events")
    op.drop_index("ix_satellite_results_task_verified", table_name="satellite_results")
    op.drop_index(op.f("ix_satellite_results_county_id"), table_name="satellite_results")
    op.drop_geospatial_table("satellite_results")
    op.drop_index(op.f("ix_satellite_tasks_target_id"), table_name="satellite_tasks")
    op.drop_index(op.f("ix_satellite_tasks_inspector_id"), table_name="satellite_tasks")
    op.drop_index("ix_satellite_tasks_county_township", table_name="satellite_tasks")
    op.drop_index(op.f("ix_satellite_tasks_county_id"), table_name="satellite_tasks")
    op.drop_index(op.f("ix_satellite_tasks_change_polygon_id"), table_name="satellite_tasks")
    op.drop_index("ix_satellite_tasks_batch_status", table_name="satellite_tasks")
    op.drop_index(op.f("ix_satellite_tasks_area_id"), table_name="satellite_tasks")
    op.drop_table("satellite_tasks")
    op.drop_index(op.f("ix_satellite_batches_layer_version_id"), table_name="satellite_batches")
    op.drop_index(op.f("ix_satellite_batches_county_id"), table_name="satellite_batches")
    op.drop_table("satellite_batches")
