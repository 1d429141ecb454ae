"""clues: 12336 tip-offs, their reporters, evidence, events and receipt numbers; the
county's working-day calendar

Revision ID: 0022_clues
Revises: 0021_petitions

* ``tip_offs``: one clue and its county flow (decision, field verification, handling,
  feedback) with the due time of each step; ``duplicate_of`` links a repeat of an open clue.
  ``ix_tip_offs_desk`` serves the desk's list (status, channel, township, received range).
* ``tip_off_reporters``: the reporter's identity, apart from the clue (read through one
  operation, every read in the custody chain).
* ``tip_off_evidence``, ``tip_off_events``: linked evidence and the clue's history.
* ``tip_off_receipt_counters``: the last receipt sequence per county and day.
* ``work_calendar_days``: holidays and make-up working days (调休) per county.
* ``evidence_uploads.tip_off_id``: evidence uploaded for a tip-off (a plain UUID, checked by the
  service, as ``case_id`` is).

The alert kind ``tip_off_overdue`` needs no schema change: ``patrol_alerts.kind`` carries no
CHECK constraint (the kinds are listed in ``patrol.alerts.ALERT_KINDS``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0022_clues"
down_revision: str | Sequence[str] | None = "0021_petitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tip_off_receipt_counters",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_tip_off_receipt_counters_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("county_id", "day", name=op.f("pk_tip_off_receipt_counters")),
    )
    op.create_index(
        op.f("ix_tip_off_receipt_counters_county_id"),
        "tip_off_receipt_counters",
        ["county_id"],
        unique=False,
    )
    op.create_table(
        "work_calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('holiday', 'workday')", name=op.f("ck_work_calendar_days_kind")
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_work_calendar_days_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_work_calendar_days_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("county_id", "day", name=op.f("pk_work_calendar_days")),
    )
    op.create_index(
        op.f("ix_work_calendar_days_county_id"), "work_calendar_days", ["county_id"], unique=False
    )
    op.create_geospatial_table(
        "tip_offs",
        sa.Column("receipt_no", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location_text", sa.Text(), nullable=False),
        sa.Column("crs", sa.String(length=8), nullable=False),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "area_geom",
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
        sa.Column("township_id", sa.Uuid(), nullable=True),
        sa.Column("reported_party", sa.Text(), nullable=False),
        sa.Column("party_key", sa.String(length=200), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("clue_type", sa.String(length=40), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("duplicate_of", sa.Uuid(), nullable=True),
        sa.Column("registered_by", sa.Uuid(), nullable=False),
        sa.Column("decide_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verify_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verify_due_on", sa.Date(), nullable=False),
        sa.Column("feedback_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("refusal_reason", sa.String(length=40), nullable=True),
        sa.Column("transfer_to", sa.String(length=200), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("area_id", sa.Uuid(), nullable=True),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.Uuid(), nullable=True),
        sa.Column("verification_outcome", sa.String(length=20), nullable=True),
        sa.Column("verification_note", sa.Text(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.Uuid(), nullable=True),
        sa.Column("verification_session_id", sa.Uuid(), nullable=True),
        sa.Column("finding_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("verification_evidence_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("handling", sa.String(length=20), nullable=True),
        sa.Column("handling_note", sa.Text(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.Uuid(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("feedback_channel", sa.String(length=20), nullable=True),
        sa.Column("feedback_content", sa.Text(), nullable=False),
        sa.Column("fed_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fed_back_by", sa.Uuid(), nullable=True),
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
            "channel IN ('phone_12336', 'letter', 'email', 'leadership', 'lower_level', 'media', 'transfer_12345', 'wechat', 'other')",
            name=op.f("ck_tip_offs_channel"),
        ),
        sa.CheckConstraint(
            "clue_type IN ('land_illegal_approval', 'land_illegal_occupation', 'land_illegal_transfer', 'land_farmland_destruction', 'land_other', 'mineral_illegal_exploration', 'mineral_illegal_mining', 'mineral_illegal_right_approval', 'mineral_illegal_right_transfer', 'mineral_other')",
            name=op.f("ck_tip_offs_clue_type"),
        ),
        sa.CheckConstraint("crs IN ('wgs84', 'gcj02')", name=op.f("ck_tip_offs_crs")),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('accept', 'refuse', 'transfer')",
            name=op.f("ck_tip_offs_decision"),
        ),
        sa.CheckConstraint(
            "feedback_channel IS NULL OR feedback_channel IN ('phone', 'sms', 'letter', 'email', 'wechat', 'in_person', 'other')",
            name=op.f("ck_tip_offs_feedback_channel"),
        ),
        sa.CheckConstraint(
            "handling IS NULL OR handling IN ('stop_order', 'case_opened', 'no_violation')",
            name=op.f("ck_tip_offs_handling"),
        ),
        sa.CheckConstraint(
            "refusal_reason IS NULL OR refusal_reason IN ('review_litigation_arbitration', 'official_discipline', 'ownership_compensation', 'state_secrets')",
            name=op.f("ck_tip_offs_refusal_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('received', 'accepted', 'refused', 'transferred', 'verifying', 'verified', 'handled', 'closed')",
            name=op.f("ck_tip_offs_status"),
        ),
        sa.CheckConstraint(
            "verification_outcome IS NULL OR verification_outcome IN ('found', 'not_found', 'already_handled')",
            name=op.f("ck_tip_offs_verification_outcome"),
        ),
        sa.CheckConstraint(
            "duplicate_of IS NULL OR duplicate_of <> id", name=op.f("ck_tip_offs_not_own_duplicate")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["users.id"],
            name=op.f("fk_tip_offs_assigned_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_tip_offs_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_tip_offs_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_tip_offs_decided_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"],
            ["tip_offs.id"],
            name=op.f("fk_tip_offs_duplicate_of_tip_offs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["fed_back_by"],
            ["users.id"],
            name=op.f("fk_tip_offs_fed_back_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["handled_by"],
            ["users.id"],
            name=op.f("fk_tip_offs_handled_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"],
            ["users.id"],
            name=op.f("fk_tip_offs_registered_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["township_id"],
            ["townships.id"],
            name=op.f("fk_tip_offs_township_id_townships"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["verified_by"],
            ["users.id"],
            name=op.f("fk_tip_offs_verified_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_offs")),
        sa.UniqueConstraint("county_id", "receipt_no", name=op.f("uq_tip_offs_county_id")),
    )
    op.create_geospatial_index(
        "idx_tip_offs_location",
        "tip_offs",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_tip_offs_county_id"), "tip_offs", ["county_id"], unique=False)
    op.create_index(
        "ix_tip_offs_county_received", "tip_offs", ["county_id", "received_at"], unique=False
    )
    op.create_index(
        "ix_tip_offs_desk",
        "tip_offs",
        ["county_id", "status", "channel", "township_id", "received_at"],
        unique=False,
    )
    op.create_index(op.f("ix_tip_offs_duplicate_of"), "tip_offs", ["duplicate_of"], unique=False)
    op.create_index(
        "ix_tip_offs_open_party",
        "tip_offs",
        ["county_id", "party_key"],
        unique=False,
        postgresql_where="status <> 'closed'",
    )
    op.create_index(op.f("ix_tip_offs_target_id"), "tip_offs", ["target_id"], unique=False)
    op.create_table(
        "tip_off_events",
        sa.Column("tip_off_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_tip_off_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_tip_off_events_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tip_off_id"],
            ["tip_offs.id"],
            name=op.f("fk_tip_off_events_tip_off_id_tip_offs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_off_events")),
    )
    op.create_index(
        op.f("ix_tip_off_events_county_id"), "tip_off_events", ["county_id"], unique=False
    )
    op.create_index(
        "ix_tip_off_events_tip_off_at", "tip_off_events", ["tip_off_id", "at"], unique=False
    )
    op.create_table(
        "tip_off_evidence",
        sa.Column("tip_off_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("linked_by", sa.Uuid(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_tip_off_evidence_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"],
            ["users.id"],
            name=op.f("fk_tip_off_evidence_linked_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tip_off_id"],
            ["tip_offs.id"],
            name=op.f("fk_tip_off_evidence_tip_off_id_tip_offs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tip_off_id", "evidence_id", name=op.f("pk_tip_off_evidence")),
    )
    op.create_index(
        op.f("ix_tip_off_evidence_county_id"), "tip_off_evidence", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_tip_off_evidence_evidence_id"), "tip_off_evidence", ["evidence_id"], unique=False
    )
    op.create_table(
        "tip_off_reporters",
        sa.Column("tip_off_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("id_no", sa.String(length=40), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_tip_off_reporters_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tip_off_id"],
            ["tip_offs.id"],
            name=op.f("fk_tip_off_reporters_tip_off_id_tip_offs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tip_off_id", name=op.f("pk_tip_off_reporters")),
    )
    op.create_index(
        op.f("ix_tip_off_reporters_county_id"), "tip_off_reporters", ["county_id"], unique=False
    )
    op.add_column("evidence_uploads", sa.Column("tip_off_id", sa.Uuid(), nullable=True))
    op.create_index(
        op.f("ix_evidence_uploads_tip_off_id"), "evidence_uploads", ["tip_off_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_evidence_uploads_tip_off_id"), table_name="evidence_uploads")
    op.drop_column("evidence_uploads", "tip_off_id")
    op.drop_index(op.f("ix_tip_off_reporters_county_id"), table_name="tip_off_reporters")
    op.drop_table("tip_off_reporters")
    op.drop_index(op.f("ix_tip_off_evidence_evidence_id"), table_name="tip_off_evidence")
    op.drop_index(op.f("ix_tip_off_evidence_county_id"), table_name="tip_off_evidence")
    op.drop_table("tip_off_evidence")
    op.drop_index("ix_tip_off_events_tip_off_at", table_name="tip_off_events")
    op.drop_index(op.f("ix_tip_off_events_county_id"), table_name="tip_off_events")
    op.drop_table("tip_off_events")
    op.drop_index(op.f("ix_tip_offs_target_id"), table_name="tip_offs")
    op.drop_index(
        "ix_tip_offs_open_party", table_name="tip_offs", postgresql_where="status <> 'closed'"
    )
    op.drop_index(op.f("ix_tip_offs_duplicate_of"), table_name="tip_offs")
    op.drop_index("ix_tip_offs_desk", table_name="tip_offs")
    op.drop_index("ix_tip_offs_county_received", table_name="tip_offs")
    op.drop_index(op.f("ix_tip_offs_county_id"), table_name="tip_offs")
    op.drop_geospatial_index(
        "idx_tip_offs_location",
        table_name="tip_offs",
        postgresql_using="gist",
        column_name="location",
    )
    op.drop_geospatial_table("tip_offs")
    op.drop_index(op.f("ix_work_calendar_days_county_id"), table_name="work_calendar_days")
    op.drop_table("work_calendar_days")
    op.drop_index(
        op.f("ix_tip_off_receipt_counters_county_id"), table_name="tip_off_receipt_counters"
    )
    op.drop_table("tip_off_receipt_counters")
