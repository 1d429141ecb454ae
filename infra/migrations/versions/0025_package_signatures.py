"""cases: packages signed with Ed25519 (``case_packages.signature_alg``, ``signing_key_id``)

Revision ID: 0025_package_signatures
Revises: 0024_satellite_satbatch

Packages are signed with the server's Ed25519 package key (its public half published) instead
of an HMAC under the server's secret. ``signature`` holds the base64 signature (88 characters;
the HMAC's hex was 64), ``signature_alg`` which scheme signed it (rows exported before are
``HMAC-SHA256``), ``signing_key_id`` the id of the public key that verifies it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_package_signatures"
down_revision: str | Sequence[str] | None = "0024_satellite_satbatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("case_packages", "signature", type_=sa.String(128), existing_type=sa.String(64))
    op.add_column(
        "case_packages",
        sa.Column("signature_alg", sa.String(20), nullable=False, server_default="HMAC-SHA256"),
    )
    op.add_column("case_packages", sa.Column("signing_key_id", sa.String(16), nullable=True))


def downgrade() -> None:
    # ``signature`` stays 128 wide: narrowing it would need the Ed25519 rows deleted, and the
    # record of an export is never deleted; the older code reads a wider column as well.
    op.drop_column("case_packages", "signing_key_id")
    op.drop_column("case_packages", "signature_alg")
