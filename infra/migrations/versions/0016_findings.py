"""findings: the location check, land use and screening of each finding

Revision ID: 0016_findings
Revises: 0015_capture_source

* ``patrol_findings`` keeps what the location check said when the finding was recorded
  (``location_check``, the same answer evidence stores, with the layer versions used), the
  land class under its position, the occupied area by land class (``areas_by_class``, m²,
  and where the figures came from, ``areas_source``), its flags (``at_mine_site``,
  ``mine_site_review``), its walked outline if the phone sent one, and the screening
  suggestions current for it (``screening``). Existing findings start with empty values.
* ``referral_suggestions`` now screens findings too: exactly one of ``case_id`` and
  ``finding_id`` (finding ids are plain UUIDs: ``patrol`` migrates on its own), one current
  suggestion per finding and rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0016_findings"
down_revision: str | Sequence[str] | None = "0015_capture_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = postgresql.JSONB(astext_type=sa.Text())
_EMPTY = sa.text("'{}'::jsonb")


def upgrade() -> None:
    for name in ("location_check", "areas_by_class", "areas_source", "screening"):
        op.add_column(
            "patrol_findings", sa.Column(name, _JSON, server_default=_EMPTY, nullable=False)
        )
    op.add_column("patrol_findings", sa.Column("land_class", sa.String(length=32), nullable=True))
    op.add_column(
        "patrol_findings",
        sa.Column(
            "flags",
            postgresql.ARRAY(sa.String(length=40)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )
    op.add_column(
        "patrol_findings",
        sa.Column(
            "outline",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
    )
    op.alter_column("referral_suggestions", "case_id", existing_type=sa.Uuid(), nullable=True)
    op.add_column("referral_suggestions", sa.Column("finding_id", sa.Uuid(), nullable=True))
    op.create_index(
        op.f("ix_referral_suggestions_finding_id"),
        "referral_suggestions",
        ["finding_id"],
        unique=False,
    )
    op.create_check_constraint(
        op.f("ck_referral_suggestions_one_subject"),
        "referral_suggestions",
        "(case_id IS NULL) <> (finding_id IS NULL)",
    )
    op.create_index(
        "uq_referral_suggestions_current_finding",
        "referral_suggestions",
        ["finding_id", "rule_id"],
        unique=True,
        postgresql_where="superseded_at IS NULL AND finding_id IS NOT NULL",
    )


def downgrade() -> None:
    op.execute("DELETE FROM referral_suggestions WHERE finding_id IS NOT NULL")
    op.drop_index(
        "uq_referral_suggestions_current_finding",
        table_name="referral_suggestions",
        postgresql_where="superseded_at IS NULL AND finding_id IS NOT NULL",
    )
    op.drop_constraint(
        op.f("ck_referral_suggestions_one_subject"), "referral_suggestions", type_="check"
    )
    op.drop_index(op.f("ix_referral_suggestions_finding_id"), table_name="referral_suggestions")
    op.drop_column("referral_suggestions", "finding_id")
    op.alter_column("referral_suggestions", "case_id", existing_type=sa.Uuid(), nullable=False)
    for name in ("outline", "flags", "land_class", "screening", "areas_source", "areas_by_class",
                 "location_check"):  # fmt: skip
        op.drop_column("patrol_findings", name)
