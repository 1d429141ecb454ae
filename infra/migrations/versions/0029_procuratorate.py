"""the procuratorate role: read-only supervision of administrative-to-criminal transfers

Revision ID: 0029_procuratorate
Revises: 0028_case_documents

The procuratorate (检察监督) reads the county's referred cases, their steps, deadlines and
evidence packages, and nothing else (``api.guards`` opens only those operations to it); every
read is a ``procuratorate_viewed`` entry of the custody chain, which needs no schema change
(``custody_entries.action`` carries no CHECK constraint). Users' roles reference the ``roles``
table, so the role is one row there. Downgrade removes the role; it fails while a user still
holds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_procuratorate"
down_revision: str | Sequence[str] | None = "0028_case_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    roles = sa.table("roles", sa.column("name", sa.String), sa.column("description", sa.Text))
    op.bulk_insert(
        roles,
        [
            {
                "name": "procuratorate",
                "description": "reads referred cases, their steps, deadlines and packages; "
                "every read audited",
            }
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM roles WHERE name = 'procuratorate'")
