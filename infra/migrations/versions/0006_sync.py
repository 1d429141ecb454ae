"""sync: change feed with its triggers, pull streams, manifests, pending pages, push receipts

Revision ID: 0006_sync
Revises: 0002_geofence, 0003_patrol

The triggers need the geofence and patrol tables, so this revision follows both branches
(as a merge: ``down_revision = 0001`` with ``depends_on`` on the two made Alembic 1.20 drop
``0001`` from the version table twice when upgrading an empty database to ``heads``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_sync"
down_revision: str | Sequence[str] | None = ("0002_geofence", "0003_patrol")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose writes can change what some phone should hold (see sync.collections).
TRACKED = (
    "users",
    "patrol_areas",
    "patrol_area_members",
    "patrol_targets",
    "patrol_plans",
    "patrol_plan_inspectors",
    "patrol_sessions",
    "patrol_findings",
    "geofence_layer_versions",
    "geofence_mine_sites",
    "geofence_roster_members",
)

NOTE_CHANGE = """
CREATE FUNCTION sync_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_changes (county_id, tbl, xid, noted_at)
    SELECT DISTINCT county_id, TG_TABLE_NAME, pg_current_xact_id()::text::bigint, now()
    FROM changed_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "sync_changes",
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column("tbl", sa.Text(), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("county_id", "tbl", "xid", name=op.f("pk_sync_changes")),
    )
    op.create_index(
        "ix_sync_changes_county_xid", "sync_changes", ["county_id", "xid"], unique=False
    )
    op.create_table(
        "sync_streams",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_pull_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_seq", sa.Integer(), nullable=False),
        sa.Column("issued_seq", sa.Integer(), nullable=False),
        sa.Column("pending_seq", sa.Integer(), nullable=True),
        sa.Column("pending_snapshot", sa.Text(), nullable=True),
        sa.Column("pending_dirty", sa.Integer(), nullable=False),
        sa.Column("pending_scope_day", sa.Text(), nullable=True),
        sa.Column("base_snapshot", sa.Text(), nullable=True),
        sa.Column("base_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dirty", sa.Integer(), nullable=False),
        sa.Column("scope_day", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_sync_streams_county_id_counties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sync_streams_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_streams")),
    )
    op.create_index(op.f("ix_sync_streams_county_id"), "sync_streams", ["county_id"], unique=False)
    op.create_index(op.f("ix_sync_streams_user_id"), "sync_streams", ["user_id"], unique=False)
    for table in ("sync_manifest", "sync_pending"):
        op.create_table(
            table,
            sa.Column("stream_id", sa.Uuid(), nullable=False),
            sa.Column("collection", sa.SmallInteger(), nullable=False),
            sa.Column("record_id", sa.Uuid(), nullable=False),
            sa.Column("version", sa.BigInteger(), nullable=table == "sync_pending"),
            sa.ForeignKeyConstraint(
                ["stream_id"],
                ["sync_streams.id"],
                name=op.f(f"fk_{table}_stream_id_sync_streams"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(
                "stream_id", "collection", "record_id", name=op.f(f"pk_{table}")
            ),
        )
    op.create_table(
        "sync_receipts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("op_id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column("op_hash", sa.LargeBinary(), nullable=False),
        sa.Column("receipt", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_sync_receipts_county_id_counties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sync_receipts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "op_id", name=op.f("pk_sync_receipts")),
    )
    op.create_index(
        op.f("ix_sync_receipts_county_id"), "sync_receipts", ["county_id"], unique=False
    )
    op.create_index(
        op.f("ix_sync_receipts_created_at"), "sync_receipts", ["created_at"], unique=False
    )
    op.execute(NOTE_CHANGE)
    for table in TRACKED:
        for event, ref in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER sync_{event.lower()}_{table} AFTER {event} ON {table} "
                f"REFERENCING {ref} TABLE AS changed_rows "
                "FOR EACH STATEMENT EXECUTE FUNCTION sync_note_change()"
            )


def downgrade() -> None:
    for table in TRACKED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS sync_{event}_{table} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS sync_note_change()")
    op.drop_index(op.f("ix_sync_receipts_created_at"), table_name="sync_receipts")
    op.drop_index(op.f("ix_sync_receipts_county_id"), table_name="sync_receipts")
    op.drop_table("sync_receipts")
    op.drop_table("sync_pending")
    op.drop_table("sync_manifest")
    op.drop_index(op.f("ix_sync_streams_user_id"), table_name="sync_streams")
    op.drop_index(op.f("ix_sync_streams_county_id"), table_name="sync_streams")
    op.drop_table("sync_streams")
    op.drop_index("ix_sync_changes_county_xid", table_name="sync_changes")
    op.drop_table("sync_changes")
