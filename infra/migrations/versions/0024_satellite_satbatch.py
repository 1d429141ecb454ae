"""sync: satellite tasks in the pull scope (change-feed triggers on their tables)

Revision ID: 0024_satellite_satbatch
Revises: 0023_satellite

Writes to ``satellite_tasks`` and ``satellite_batches`` are noted in ``sync_changes``
(``sync_note_change`` of ``0006_sync``), so the new ``satellite_tasks`` collection of a pull
(bit 8 of the dirty masks) is compared again when they change; streams that exist already
compare it once.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024_satellite_satbatch"
down_revision: str | Sequence[str] | None = "0023_satellite"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = ("satellite_tasks", "satellite_batches")
# bit 8 (256) of the dirty masks is the "satellite_tasks" collection of sync.collections
MARK_TASKS_DIRTY = (
    "UPDATE sync_streams SET dirty = dirty | 256, pending_dirty = pending_dirty | 256"
)


def upgrade() -> None:
    for table in TRACKED:
        for event, ref in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER sync_{event.lower()}_{table} AFTER {event} ON {table} "
                f"REFERENCING {ref} TABLE AS changed_rows "
                "FOR EACH STATEMENT EXECUTE FUNCTION sync_note_change()"
            )
    op.execute(MARK_TASKS_DIRTY)


def downgrade() -> None:
    for table in TRACKED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS sync_{event}_{table} ON {table}")
