"""petitions (信访): the register, reviews, events and the registration counter

Revision ID: 0021_petitions
Revises: 0020_target_verification

``petitions`` holds each petition with its petitioner (read only through ``GetPetitioner``)
and its handling steps with their statutory dates (county-local days); ``petition_reviews``
the requests for review (复查) and re-review (复核) and their answers; ``petition_events``
who did what, when (``seq``: the order recorded); ``petition_counters`` the last
registration number of each county's year. ``clue_id`` and the township ids are plain UUIDs
(the clue tables migrate on their own). ``patrol_alerts.kind`` has no check constraint: the
new alert kind ``petition_overdue`` needs no change there.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021_petitions"
down_revision: str | Sequence[str] | None = "0020_target_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "petition_counters",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_petition_counters_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("county_id", "year", name=op.f("pk_petition_counters")),
    )
    op.create_index(
        op.f("ix_petition_counters_county_id"), "petition_counters", ["county_id"], unique=False
    )
    op.create_table(
        "petitions",
        sa.Column("reg_no", sa.String(length=40), nullable=False),
        sa.Column("form", sa.String(length=10), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("people_count", sa.Integer(), nullable=False),
        sa.Column("group_petition", sa.Boolean(), nullable=False),
        sa.Column("township_id", sa.Uuid(), nullable=True),
        sa.Column("clue_id", sa.Uuid(), nullable=True),
        sa.Column("registered_by", sa.Uuid(), nullable=False),
        sa.Column("petitioner_name", sa.String(length=100), nullable=False),
        sa.Column("petitioner_phone", sa.String(length=40), nullable=False),
        sa.Column("petitioner_id_no", sa.String(length=40), nullable=False),
        sa.Column("petitioner_address", sa.String(length=300), nullable=False),
        sa.Column("decision_due_on", sa.Date(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("decision_notice", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("office", sa.String(length=200), nullable=False),
        sa.Column("office_township_id", sa.Uuid(), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.Uuid(), nullable=True),
        sa.Column("reply_due_on", sa.Date(), nullable=True),
        sa.Column("extension_days", sa.Integer(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=False),
        sa.Column("extension_notice", sa.String(length=200), nullable=False),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extended_by", sa.Uuid(), nullable=True),
        sa.Column("reply_content", sa.Text(), nullable=False),
        sa.Column("reply_delivery", sa.String(length=10), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_by", sa.Uuid(), nullable=True),
        sa.Column("next_step", sa.String(length=20), nullable=True),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.CheckConstraint(
            "form IN ('letter', 'visit', 'phone', 'online')", name=op.f("ck_petitions_form")
        ),
        sa.CheckConstraint(
            "status IN ('registered', 'not_accepted', 'accepted', 'assigned', 'replied', "
            "'review_requested', 'reviewed', 're_review_requested', 're_reviewed')",
            name=op.f("ck_petitions_status"),
        ),
        sa.CheckConstraint(
            "extension_days IS NULL OR extension_days BETWEEN 1 AND 30",
            name=op.f("ck_petitions_extension_days"),
        ),
        sa.CheckConstraint("people_count >= 1", name=op.f("ck_petitions_people_count")),
        sa.CheckConstraint(
            "category IN ('suggestion', 'complaint_accusation', 'appeal_request')",
            name=op.f("ck_petitions_category"),
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["users.id"],
            name=op.f("fk_petitions_assigned_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_petitions_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["extended_by"],
            ["users.id"],
            name=op.f("fk_petitions_extended_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_petitions_decided_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["replied_by"],
            ["users.id"],
            name=op.f("fk_petitions_replied_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"],
            ["users.id"],
            name=op.f("fk_petitions_registered_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petitions")),
        sa.UniqueConstraint("county_id", "reg_no", name=op.f("uq_petitions_county_id")),
    )
    op.create_index(op.f("ix_petitions_county_id"), "petitions", ["county_id"], unique=False)
    op.create_index(
        op.f("ix_petitions_county_next_due"),
        "petitions",
        ["county_id", "next_due_on"],
        unique=False,
    )
    op.create_index(
        op.f("ix_petitions_county_received"),
        "petitions",
        ["county_id", "received_at"],
        unique=False,
    )
    op.create_table(
        "petition_reviews",
        sa.Column("petition_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("request_due_on", sa.Date(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("answer_due_on", sa.Date(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("delivery", sa.String(length=10), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "level IN ('review', 're_review')", name=op.f("ck_petition_reviews_level")
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_petition_reviews_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_petition_reviews_requested_by_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_petition_reviews_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["users.id"],
            name=op.f("fk_petition_reviews_answered_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petition_reviews")),
        sa.UniqueConstraint("petition_id", "level", name=op.f("uq_petition_reviews_petition_id")),
    )
    op.create_index(
        op.f("ix_petition_reviews_county_id"), "petition_reviews", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_petition_reviews_petition_id"), "petition_reviews", ["petition_id"], unique=False
    )
    op.create_table(
        "petition_events",
        sa.Column("petition_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_petition_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_petition_events_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_petition_events_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petition_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_petition_events_seq")),
    )
    op.create_index(
        op.f("ix_petition_events_county_id"), "petition_events", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_petition_events_petition_at"),
        "petition_events",
        ["petition_id", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("petition_events")
    op.drop_table("petition_reviews")
    op.drop_table("petitions")
    op.drop_table("petition_counters")
