"""procedure: the administrative penalty procedure's steps, the penalty content, the major flag

Revision ID: 0026_procedure
Revises: 0025_package_signatures

* ``case_steps``: each step of a case's procedure in order (``seq`` per case), with its
  stage, time, recorder, details and the document it produced (``document_id``, empty until
  documents are generated).
* ``case_penalties``: one case's penalty content (parties, violations with their legal basis,
  measures, fines with the allowed range and who chose the amount).
* ``cases.major``: 重大案件, kept from the penalty (legal review and collective discussion
  before the decision).

The alert kind ``case_step_overdue`` needs no schema change: ``patrol_alerts.kind`` carries
no CHECK constraint.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026_procedure"
down_revision: str | Sequence[str] | None = "0025_package_signatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEP_KINDS = (
    "clue", "filing", "investigation", "legal_review", "collective_discussion", "notice",
    "statement", "hearing_requested", "hearing_notified", "hearing_held", "decision",
    "service", "execution", "court_enforcement", "closing", "clock_pause", "clock_resume",
    "suspend", "resume", "terminate", "withdraw", "extension_request", "extension_approval",
)  # fmt: skip
STAGES = (
    "clue", "filing", "investigation", "review", "notice", "decision", "service", "execution",
    "closing", "side",
)  # fmt: skip


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.add_column("cases", sa.Column("major", sa.Boolean(), server_default="false", nullable=False))
    op.create_table(
        "case_steps",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(_in("kind", STEP_KINDS), name=op.f("ck_case_steps_kind")),
        sa.CheckConstraint(_in("stage", STAGES), name=op.f("ck_case_steps_stage")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_steps_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"], ["counties.id"], name=op.f("fk_case_steps_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_case_steps_recorded_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_steps")),
    )  # fmt: skip
    op.create_index(op.f("ix_case_steps_county_id"), "case_steps", ["county_id"], unique=False)
    op.create_index("uq_case_steps_case_seq", "case_steps", ["case_id", "seq"], unique=True)
    op.create_table(
        "case_penalties",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("parties", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("violations", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("measures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fine_total_yuan", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("hearing_triggered", sa.Boolean(), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_penalties_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"], ["counties.id"], name=op.f("fk_case_penalties_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_case_penalties_updated_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_penalties")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_case_penalties_county_id"), "case_penalties", ["county_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_penalties_county_id"), table_name="case_penalties")
    op.drop_table("case_penalties")
    op.drop_index("uq_case_steps_case_seq", table_name="case_steps")
    op.drop_index(op.f("ix_case_steps_county_id"), table_name="case_steps")
    op.drop_table("case_steps")
    op.drop_column("cases", "major")
