"""patrol: contract areas, targets, frequency rules, plans, sessions, track points,
sign-ins, findings, target visits, five-to-one duty checks, alerts

Revision ID: 0003_patrol
Revises: 0001_foundation
Create Date: 2026-11-21 23:29:24.720683
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0003_patrol"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table(
        "patrol_track_points",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column("t", sa.DateTime(timezone=True), nullable=False),
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
        sa.Column("accuracy_m", sa.REAL(), nullable=False),
        sa.Column("speed_mps", sa.REAL(), nullable=True),
        sa.Column("heading_deg", sa.REAL(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("session_id", "id", name=op.f("pk_patrol_track_points")),
    )
    op.create_table(
        "patrol_alerts",
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("duty_check_id", sa.Uuid(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
            name=op.f("fk_patrol_alerts_acknowledged_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_alerts_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_alerts")),
        sa.UniqueConstraint("county_id", "dedupe_key", name=op.f("uq_patrol_alerts_county_id")),
    )
    op.create_index(
        op.f("ix_patrol_alerts_county_id"), "patrol_alerts", ["county_id"], unique=False
    )
    op.create_index(
        "ix_patrol_alerts_county_raised", "patrol_alerts", ["county_id", "raised_at"], unique=False
    )
    op.create_geospatial_table(
        "patrol_areas",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("grade", sa.SmallInteger(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("leader_id", sa.Uuid(), nullable=False),
        sa.Column("township_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("village_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
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
        sa.CheckConstraint("grade BETWEEN 1 AND 3", name=op.f("ck_patrol_areas_grade")),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_areas_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["leader_id"],
            ["users.id"],
            name=op.f("fk_patrol_areas_leader_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_areas")),
        sa.UniqueConstraint("county_id", "code", name=op.f("uq_patrol_areas_county_id")),
    )
    op.create_geospatial_index(
        "idx_patrol_areas_geom",
        "patrol_areas",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_patrol_areas_county_id"), "patrol_areas", ["county_id"], unique=False)
    op.create_index(op.f("ix_patrol_areas_leader_id"), "patrol_areas", ["leader_id"], unique=False)
    op.create_table(
        "patrol_duty_checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("is_night", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("evidence_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_duty_checks_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["users.id"],
            name=op.f("fk_patrol_duty_checks_recorded_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_duty_checks")),
    )
    op.create_index(
        "ix_patrol_duty_checks_county_checked",
        "patrol_duty_checks",
        ["county_id", "checked_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_patrol_duty_checks_county_id"), "patrol_duty_checks", ["county_id"], unique=False
    )
    op.create_index(
        "ix_patrol_duty_checks_site_checked",
        "patrol_duty_checks",
        ["site_id", "checked_at"],
        unique=False,
    )
    op.create_table(
        "patrol_area_members",
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["patrol_areas.id"],
            name=op.f("fk_patrol_area_members_area_id_patrol_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_area_members_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_patrol_area_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("area_id", "user_id", name=op.f("pk_patrol_area_members")),
    )
    op.create_index(
        op.f("ix_patrol_area_members_county_id"), "patrol_area_members", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_patrol_area_members_user_id"), "patrol_area_members", ["user_id"], unique=False
    )
    op.create_table(
        "patrol_frequency_rules",
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("grade", sa.SmallInteger(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("season_start", sa.SmallInteger(), nullable=True),
        sa.Column("season_end", sa.SmallInteger(), nullable=True),
        sa.Column("min_per_month", sa.SmallInteger(), nullable=False),
        sa.Column("min_per_week", sa.SmallInteger(), nullable=False),
        sa.Column("min_night_per_month", sa.SmallInteger(), nullable=False),
        sa.Column("min_night_per_week", sa.SmallInteger(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
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
            "(season_start IS NULL) = (season_end IS NULL)",
            name=op.f("ck_patrol_frequency_rules_season_pair"),
        ),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["patrol_areas.id"],
            name=op.f("fk_patrol_frequency_rules_area_id_patrol_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_frequency_rules_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_frequency_rules")),
    )
    op.create_index(
        op.f("ix_patrol_frequency_rules_area_id"),
        "patrol_frequency_rules",
        ["area_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_patrol_frequency_rules_county_id"),
        "patrol_frequency_rules",
        ["county_id"],
        unique=False,
    )
    op.create_table(
        "patrol_plans",
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("quota", sa.SmallInteger(), nullable=False),
        sa.Column("min_per_week", sa.SmallInteger(), nullable=False),
        sa.Column("min_night", sa.SmallInteger(), nullable=False),
        sa.Column("min_night_per_week", sa.SmallInteger(), nullable=False),
        sa.Column("target_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["patrol_areas.id"],
            name=op.f("fk_patrol_plans_area_id_patrol_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_plans_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_patrol_plans_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_plans")),
        sa.UniqueConstraint("area_id", "month", name=op.f("uq_patrol_plans_area_id")),
    )
    op.create_index(op.f("ix_patrol_plans_county_id"), "patrol_plans", ["county_id"], unique=False)
    op.create_geospatial_table(
        "patrol_targets",
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
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
        sa.Column("visit_radius_m", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
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
        sa.CheckConstraint("visit_radius_m > 0", name=op.f("ck_patrol_targets_visit_radius_m")),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["patrol_areas.id"],
            name=op.f("fk_patrol_targets_area_id_patrol_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_targets_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_targets")),
    )
    op.create_geospatial_index(
        "idx_patrol_targets_geom",
        "patrol_targets",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_patrol_targets_area_id"), "patrol_targets", ["area_id"], unique=False)
    op.create_index(
        op.f("ix_patrol_targets_county_id"), "patrol_targets", ["county_id"], unique=False
    )
    op.create_index("ix_patrol_targets_ref_id", "patrol_targets", ["ref_id"], unique=False)
    op.create_table(
        "patrol_plan_inspectors",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_plan_inspectors_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["patrol_plans.id"],
            name=op.f("fk_patrol_plan_inspectors_plan_id_patrol_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_patrol_plan_inspectors_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "user_id", name=op.f("pk_patrol_plan_inspectors")),
    )
    op.create_index(
        op.f("ix_patrol_plan_inspectors_county_id"),
        "patrol_plan_inspectors",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_patrol_plan_inspectors_user_id"),
        "patrol_plan_inspectors",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "patrol_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("inspector_id", sa.Uuid(), nullable=False),
        sa.Column("companion_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("has_violation", sa.Boolean(), nullable=False),
        sa.Column("point_count", sa.Integer(), nullable=False),
        sa.Column("last_point_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary_stale", sa.Boolean(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("moving_s", sa.Float(), nullable=False),
        sa.Column("is_night", sa.Boolean(), nullable=False),
        sa.Column("used_point_count", sa.Integer(), nullable=False),
        sa.Column("poor_accuracy_count", sa.Integer(), nullable=False),
        sa.Column("speed_flagged_count", sa.Integer(), nullable=False),
        sa.Column("first_fix_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fix_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["patrol_areas.id"],
            name=op.f("fk_patrol_sessions_area_id_patrol_areas"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_sessions_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"],
            ["users.id"],
            name=op.f("fk_patrol_sessions_inspector_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["patrol_plans.id"],
            name=op.f("fk_patrol_sessions_plan_id_patrol_plans"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_sessions")),
    )
    op.create_index(
        op.f("ix_patrol_sessions_area_id"), "patrol_sessions", ["area_id"], unique=False
    )
    op.create_index(
        op.f("ix_patrol_sessions_county_id"), "patrol_sessions", ["county_id"], unique=False
    )
    op.create_index(
        "ix_patrol_sessions_county_started",
        "patrol_sessions",
        ["county_id", "started_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_patrol_sessions_inspector_id"), "patrol_sessions", ["inspector_id"], unique=False
    )
    op.create_index(
        "ix_patrol_sessions_open",
        "patrol_sessions",
        ["county_id"],
        unique=False,
        postgresql_where="ended_at IS NULL",
    )
    op.create_geospatial_table(
        "patrol_findings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("reported_by", sa.Uuid(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("project_name", sa.String(length=200), nullable=False),
        sa.Column("builder", sa.String(length=200), nullable=False),
        sa.Column("construction_started_on", sa.Date(), nullable=True),
        sa.Column("construction_status", sa.String(length=20), nullable=False),
        sa.Column("occupied_area_m2", sa.Float(), nullable=True),
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
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("township_id", sa.Uuid(), nullable=True),
        sa.Column("village_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_findings_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"],
            ["users.id"],
            name=op.f("fk_patrol_findings_reported_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["patrol_sessions.id"],
            name=op.f("fk_patrol_findings_session_id_patrol_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["township_id"],
            ["townships.id"],
            name=op.f("fk_patrol_findings_township_id_townships"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["villages.id"],
            name=op.f("fk_patrol_findings_village_id_villages"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_findings")),
    )
    op.create_geospatial_index(
        "idx_patrol_findings_geom",
        "patrol_findings",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_patrol_findings_county_id"), "patrol_findings", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_patrol_findings_session_id"), "patrol_findings", ["session_id"], unique=False
    )
    op.create_geospatial_table(
        "patrol_sign_ins",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
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
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("reason_code", sa.String(length=30), nullable=True),
        sa.Column("village_id", sa.Uuid(), nullable=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "method = 'gps' OR (reason_code IS NOT NULL AND village_id IS NOT NULL)",
            name=op.f("ck_patrol_sign_ins_manual_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_sign_ins_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["patrol_sessions.id"],
            name=op.f("fk_patrol_sign_ins_session_id_patrol_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_patrol_sign_ins_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["villages.id"],
            name=op.f("fk_patrol_sign_ins_village_id_villages"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_sign_ins")),
    )
    op.create_index(
        op.f("ix_patrol_sign_ins_county_id"), "patrol_sign_ins", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_patrol_sign_ins_session_id"), "patrol_sign_ins", ["session_id"], unique=False
    )
    op.create_table(
        "patrol_target_visits",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("min_distance_m", sa.Float(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_target_visits_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["patrol_sessions.id"],
            name=op.f("fk_patrol_target_visits_session_id_patrol_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["patrol_targets.id"],
            name=op.f("fk_patrol_target_visits_target_id_patrol_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "session_id", "target_id", "source", name=op.f("pk_patrol_target_visits")
        ),
    )
    op.create_index(
        op.f("ix_patrol_target_visits_county_id"),
        "patrol_target_visits",
        ["county_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_patrol_target_visits_target_id"),
        "patrol_target_visits",
        ["target_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_patrol_target_visits_target_id"), table_name="patrol_target_visits")
    op.drop_index(op.f("ix_patrol_target_visits_county_id"), table_name="patrol_target_visits")
    op.drop_table("patrol_target_visits")
    op.drop_index(op.f("ix_patrol_sign_ins_session_id"), table_name="patrol_sign_ins")
    op.drop_index(op.f("ix_patrol_sign_ins_county_id"), table_name="patrol_sign_ins")
    op.drop_geospatial_table("patrol_sign_ins")
    op.drop_index(op.f("ix_patrol_findings_session_id"), table_name="patrol_findings")
    op.drop_index(op.f("ix_patrol_findings_county_id"), table_name="patrol_findings")
    op.drop_geospatial_index(
        "idx_patrol_findings_geom",
        table_name="patrol_findings",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("patrol_findings")
    op.drop_index(
        "ix_patrol_sessions_open", table_name="patrol_sessions", postgresql_where="ended_at IS NULL"
    )
    op.drop_index(op.f("ix_patrol_sessions_inspector_id"), table_name="patrol_sessions")
    op.drop_index("ix_patrol_sessions_county_started", table_name="patrol_sessions")
    op.drop_index(op.f("ix_patrol_sessions_county_id"), table_name="patrol_sessions")
    op.drop_index(op.f("ix_patrol_sessions_area_id"), table_name="patrol_sessions")
    op.drop_table("patrol_sessions")
    op.drop_index(op.f("ix_patrol_plan_inspectors_user_id"), table_name="patrol_plan_inspectors")
    op.drop_index(op.f("ix_patrol_plan_inspectors_county_id"), table_name="patrol_plan_inspectors")
    op.drop_table("patrol_plan_inspectors")
    op.drop_index("ix_patrol_targets_ref_id", table_name="patrol_targets")
    op.drop_index(op.f("ix_patrol_targets_county_id"), table_name="patrol_targets")
    op.drop_index(op.f("ix_patrol_targets_area_id"), table_name="patrol_targets")
    op.drop_geospatial_index(
        "idx_patrol_targets_geom",
        table_name="patrol_targets",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("patrol_targets")
    op.drop_index(op.f("ix_patrol_plans_county_id"), table_name="patrol_plans")
    op.drop_table("patrol_plans")
    op.drop_index(op.f("ix_patrol_frequency_rules_county_id"), table_name="patrol_frequency_rules")
    op.drop_index(op.f("ix_patrol_frequency_rules_area_id"), table_name="patrol_frequency_rules")
    op.drop_table("patrol_frequency_rules")
    op.drop_index(op.f("ix_patrol_area_members_user_id"), table_name="patrol_area_members")
    op.drop_index(op.f("ix_patrol_area_members_county_id"), table_name="patrol_area_members")
    op.drop_table("patrol_area_members")
    op.drop_index("ix_patrol_duty_checks_site_checked", table_name="patrol_duty_checks")
    op.drop_index(op.f("ix_patrol_duty_checks_county_id"), table_name="patrol_duty_checks")
    op.drop_index("ix_patrol_duty_checks_county_checked", table_name="patrol_duty_checks")
    op.drop_table("patrol_duty_checks")
    op.drop_index(op.f("ix_patrol_areas_leader_id"), table_name="patrol_areas")
    op.drop_index(op.f("ix_patrol_areas_county_id"), table_name="patrol_areas")
    op.drop_geospatial_index(
        "idx_patrol_areas_geom",
        table_name="patrol_areas",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("patrol_areas")
    op.drop_index("ix_patrol_alerts_county_raised", table_name="patrol_alerts")
    op.drop_index(op.f("ix_patrol_alerts_county_id"), table_name="patrol_alerts")
    op.drop_table("patrol_alerts")
    op.drop_geospatial_table("patrol_track_points")
