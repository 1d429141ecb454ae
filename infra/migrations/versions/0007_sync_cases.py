"""sync: cases in the pull scope (change-feed triggers on the case tables); one head again

Revision ID: 0007_sync_cases
Revises: 0004_evidence, 0005_cases, 0006_sync

Writes to cases, their evidence links, referral flags and referrals are noted in
``sync_changes`` like those of the patrol and geofence tables (``sync_note_change`` of
``0006_sync``). Streams that exist already have never compared the new ``cases``
collection (bit 7), so it is marked dirty for them. The revision also merges the three
branches, so ``heads`` is one revision again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_sync_cases"
down_revision: str | Sequence[str] | None = ("0004_evidence", "0005_cases", "0006_sync")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACKED = ("cases", "case_evidence", "referral_flags", "referrals")
# bit 7 (128) of the dirty masks is the "cases" collection of sync.collections
MARK_CASES_DIRTY = (
    "UPDATE sync_streams SET dirty = dirty | 128, pending_dirty = pending_dirty | 128"
)


def upgrade() -> None:
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
