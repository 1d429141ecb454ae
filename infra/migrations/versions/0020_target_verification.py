"""target verification: due dates of targets and the results of verifying them in the field

Revision ID: 0020_target_verification
Revises: 0019_clue_desk

* ``patrol_targets.due_on``: the county-local day by which a target should be verified
  (empty: no date). Existing targets have none.
* ``patrol_target_verifications``: what an inspector found at a target (``found``,
  ``not_found``, ``already_handled``), with the patrol it was verified on, the findings and
  evidence that support it, when it was verified and when the server received it. The id is
  the phone's; one current result per target (``superseded_at`` empty), the earlier ones kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020_target_verification"
down_revision: str | Sequence[str] | None = "0019_clue_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "patrol_target_verifications"


def upgrade() -> None:
    op.add_column("patrol_targets", sa.Column("due_on", sa.Date(), nullable=True))
    op.create_table(
        _TABLE,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("inspector_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("finding_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("findings_named", sa.Boolean(), nullable=False),
        sa.Column("evidence_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by", sa.Uuid(), nullable=True),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('found', 'not_found', 'already_handled')",
            name=op.f("ck_patrol_target_verifications_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_patrol_target_verifications_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"],
            ["users.id"],
            name=op.f("fk_patrol_target_verifications_inspector_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["patrol_sessions.id"],
            name=op.f("fk_patrol_target_verifications_session_id_patrol_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["patrol_targets.id"],
            name=op.f("fk_patrol_target_verifications_target_id_patrol_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_target_verifications")),
    )
    op.create_index(
        op.f("ix_patrol_target_verifications_county_id"), _TABLE, ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_patrol_target_verifications_session_id"), _TABLE, ["session_id"], unique=False
    )
    op.create_index(
        "ix_patrol_target_verifications_target", _TABLE, ["target_id", "verified_at"], unique=False
    )
    op.create_index(
        "uq_patrol_target_verifications_current",
        _TABLE,
        ["target_id"],
        unique=True,
        postgresql_where=sa.text("superseded_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_patrol_target_verifications_current",
        table_name=_TABLE,
        postgresql_where=sa.text("superseded_at IS NULL"),
    )
    op.drop_index("ix_patrol_target_verifications_target", table_name=_TABLE)
    op.drop_index(op.f("ix_patrol_target_verifications_session_id"), table_name=_TABLE)
    op.drop_index(op.f("ix_patrol_target_verifications_county_id"), table_name=_TABLE)
    op.drop_table(_TABLE)
    op.drop_column("patrol_targets", "due_on")
