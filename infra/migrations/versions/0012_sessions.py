"""accounts: session epochs, refresh-token families, login attempts per address

Revision ID: 0012_sessions
Revises: 0011_case_teams

* ``users.session_epoch``: every access token carries the epoch it was minted in; a password
  reset, a disable or a role change moves it on, which ends the user's access tokens at once.
* ``refresh_tokens.family_id``: the login a refresh token descends from by rotation (existing
  tokens start their own family); reusing a rotated token revokes the whole family.
* ``login_failures`` replaces ``login_throttle`` (keyed by username only, so anyone could lock
  anyone out): attempts are counted per client address and per address and username. The
  old counts are dropped; they last minutes anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sessions"
down_revision: str | Sequence[str] | None = "0011_case_teams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("refresh_tokens", sa.Column("family_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE refresh_tokens SET family_id = id")
    op.alter_column("refresh_tokens", "family_id", nullable=False)
    op.create_index(
        op.f("ix_refresh_tokens_family_id"), "refresh_tokens", ["family_id"], unique=False
    )
    op.drop_index("ix_login_throttle_locked_until", table_name="login_throttle")
    op.drop_table("login_throttle")
    op.create_table(
        "login_failures",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", "username", name=op.f("pk_login_failures")),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_throttle")),
    )
    op.create_index(
        "ix_login_throttle_locked_until", "login_throttle", ["locked_until"], unique=False
    )
    op.drop_index(op.f("ix_refresh_tokens_family_id"), table_name="refresh_tokens")
    op.drop_column("refresh_tokens", "family_id")
    op.drop_column("users", "session_epoch")
