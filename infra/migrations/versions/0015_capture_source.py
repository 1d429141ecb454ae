"""evidence: named capture-time sources; video share copies for videos accepted before

Revision ID: 0015_capture_source
Revises: 0014_alerts_sign_ins

* ``evidence.captured_at_source`` grows from 12 to 64 characters: it now names the tag the
  time came from (``exif:DateTimeOriginal``, ``xmp:photoshop:DateCreated``,
  ``quicktime:com.apple.quicktime.creationdate`` ...). Older rows keep ``file``,
  ``file_local`` and ``file_gps``.
* Videos got no location-stripped share copy before: their finished derivatives job is queued
  again, and the worker makes only the kinds still missing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_capture_source"
down_revision: str | Sequence[str] | None = "0014_alerts_sign_ins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "evidence",
        "captured_at_source",
        existing_type=sa.String(length=12),
        type_=sa.String(length=64),
        existing_nullable=False,
    )
    op.execute(
        """
        UPDATE evidence_jobs AS j SET status = 'queued', attempts = 0, run_after = now(),
               locked_until = NULL, last_error = NULL, updated_at = now()
          FROM evidence AS e
         WHERE j.evidence_id = e.id AND j.kind = 'derivatives' AND j.status = 'done'
           AND e.kind = 'video'
           AND NOT EXISTS (SELECT 1 FROM evidence_derivatives AS d
                            WHERE d.evidence_id = e.id AND d.kind = 'share')
        """
    )


def downgrade() -> None:
    op.execute("UPDATE evidence SET captured_at_source = left(captured_at_source, 12)")
    op.alter_column(
        "evidence",
        "captured_at_source",
        existing_type=sa.String(length=64),
        type_=sa.String(length=12),
        existing_nullable=False,
    )
