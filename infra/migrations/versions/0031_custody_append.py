"""a custody append waits for its county's turn, checks its guess of the head and writes the
entry in one statement

Revision ID: 0031_custody_append
Revises: 0030_mine_site_status_reason

``evidence_custody_append(lock, entry...)`` waits for the county's transaction-scoped advisory
lock, then reads the newest entry's ``(seq, entry_hash)``. When the entry it was given follows
that head (its ``seq`` one more, its ``prev_hash`` the head's hash) it inserts the entry and
answers ``appended``; otherwise (no guess given, or another transaction appended first) it
inserts nothing and answers the head, the lock still held, so the caller hashes its entry on
that head and inserts it itself. The function is VOLATILE: the read after the wait takes a
fresh snapshot and sees the entry the previous holder committed (one ``SELECT
pg_advisory_xact_lock(..), ...`` statement would read with the snapshot taken before the wait).

The lock is held from its grant to the commit. Granted inside this statement with the entry
written there too, a request holds it for one round trip (its COMMIT) instead of three (the
lock, the read of the head, the INSERT); under a burst of one county's evidence completes that
hold is what bounds them.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0031_custody_append"
down_revision: str | Sequence[str] | None = "0030_mine_site_status_reason"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION evidence_custody_append(
            p_lock bigint, p_id uuid, p_county uuid, p_seq bigint, p_subject uuid,
            p_action varchar, p_actor uuid, p_at timestamptz, p_details jsonb,
            p_prev varchar, p_hash varchar
        )
        RETURNS TABLE (head_seq bigint, head_hash varchar, appended boolean)
        LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            h_seq bigint;
            h_hash varchar;
        BEGIN
            PERFORM pg_advisory_xact_lock(p_lock);
            SELECT c.seq, c.entry_hash INTO h_seq, h_hash FROM evidence_custody c
            WHERE c.county_id = p_county ORDER BY c.seq DESC LIMIT 1;
            IF NOT FOUND THEN
                h_seq := 0;
                h_hash := repeat('0', 64);
            END IF;
            IF p_seq IS NOT NULL AND p_seq = h_seq + 1 AND p_prev = h_hash THEN
                INSERT INTO evidence_custody
                    (id, county_id, seq, subject_id, action, actor_id, at, details,
                     prev_hash, entry_hash)
                VALUES
                    (p_id, p_county, p_seq, p_subject, p_action, p_actor, p_at, p_details,
                     p_prev, p_hash);
                RETURN QUERY SELECT p_seq, p_hash, true;
            ELSE
                RETURN QUERY SELECT h_seq, h_hash, false;
            END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION evidence_custody_append(bigint, uuid, uuid, bigint, uuid, varchar, uuid,"
        " timestamptz, jsonb, varchar, varchar)"
    )
