"""cases: the case team (lead officer, members, joint police/land members)

Revision ID: 0011_case_teams
Revises: 0010_sync_pull_writes

``case_team_members`` holds who works a case and as what (``lead``, ``member``, ``joint``),
set by captains (``SetCaseTeam``). Team members see the case and all of its evidence; joint
police/land members may attach evidence to it (``evidence.access``).

The security squad now also sees cases that carry a screening suggestion, and team members
the cases of their teams: writes to ``case_team_members`` and ``referral_suggestions`` are
noted in ``sync_changes`` (``sync_note_change`` of ``0006_sync``) so the ``cases`` collection
of a pull is compared again, and every stream compares it once more (bit 7).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_case_teams"
down_revision: str | Sequence[str] | None = "0010_sync_pull_writes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = ("case_team_members", "referral_suggestions")
# bit 7 (128) of the dirty masks is the "cases" collection of sync.collections
MARK_CASES_DIRTY = (
    "UPDATE sync_streams SET dirty = dirty | 128, pending_dirty = pending_dirty | 128"
)


def upgrade() -> None:
    op.create_table(
        "case_team_members",
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role_in_team", sa.String(length=10), nullable=False),
        sa.Column("assigned_by", sa.Uuid(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role_in_team IN ('lead', 'member', 'joint')",
            name=op.f("ck_case_team_members_role_in_team"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_case_team_members_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_team_members_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_case_team_members_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["users.id"],
            name=op.f("fk_case_team_members_assigned_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_case_team_members")),
    )
    op.create_index(
        op.f("ix_case_team_members_user_id"), "case_team_members", ["user_id"], unique=False
    )
    op.create_index(
        op.f("ix_case_team_members_county_id"), "case_team_members", ["county_id"], unique=False
    )
    op.create_index(
        "uq_case_team_members_one_lead",
        "case_team_members",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("role_in_team = 'lead'"),
    )
    for table in TRACKED:
        for event, ref in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER sync_{event.lower()}_{table} AFTER {event} ON {table} "
                f"REFERENCING {ref} TABLE AS changed_rows "
                "FOR EACH STATEMENT EXECUTE FUNCTION sync_note_change()"
            )
    op.execute(MARK_CASES_DIRTY)


def downgrade() -> None:
    for table in TRACKED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS sync_{event}_{table} ON {table}")
    op.drop_index("uq_case_team_members_one_lead", table_name="case_team_members")
    op.drop_index(op.f("ix_case_team_members_county_id"), table_name="case_team_members")
    op.drop_index(op.f("ix_case_team_members_user_id"), table_name="case_team_members")
    op.drop_table("case_team_members")
