"""case documents: generated PDFs of the case file, their number counters, their scans

Revision ID: 0028_case_documents
Revises: 0027_reports

* ``case_documents``: one generated document (kind, 文号, step, stored PDF with SHA-256,
  size and pages, whether it carries an ID number, the facts it states, who and when).
* ``case_document_counters``: the last number per county, kind and year (no gaps).
* ``case_document_scans``: signed and stamped scans of printed documents.

``case_steps.document_id`` (from ``0026_procedure``) names the step's document.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028_case_documents"
down_revision: str | Sequence[str] | None = "0027_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "filing_approval", "inspection_record", "inquiry_record", "stop_order", "penalty_notice",
    "hearing_notice", "decision", "service_receipt", "closing_approval", "referral_letter",
)  # fmt: skip


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.create_table(
        "case_documents",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("doc_no", sa.String(length=80), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=True),
        sa.Column("referral_id", sa.Uuid(), nullable=True),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("contains_id_numbers", sa.Boolean(), nullable=False),
        sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("generated_by", sa.Uuid(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(_in("kind", KINDS), name=op.f("ck_case_documents_kind")),
        _fk("case_documents", "case_id", "cases"),
        _fk("case_documents", "step_id", "case_steps"),
        _fk("case_documents", "referral_id", "referrals"),
        _fk("case_documents", "generated_by", "users"),
        _fk("case_documents", "county_id", "counties"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_documents")),
    )
    op.create_index(
        op.f("ix_case_documents_county_id"), "case_documents", ["county_id"], unique=False
    )
    op.create_index("ix_case_documents_case", "case_documents", ["case_id", "generated_at"])
    op.create_index(
        "uq_case_documents_doc_no", "case_documents", ["county_id", "doc_no"], unique=True
    )
    op.create_table(
        "case_document_counters",
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_no", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        _fk("case_document_counters", "county_id", "counties"),
        sa.PrimaryKeyConstraint(
            "county_id", "kind", "year", name=op.f("pk_case_document_counters")
        ),
    )
    op.create_index(
        op.f("ix_case_document_counters_county_id"),
        "case_document_counters",
        ["county_id"],
        unique=False,
    )
    op.create_table(
        "case_document_scans",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("attached_by", sa.Uuid(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "media_type IN ('application/pdf', 'image/jpeg', 'image/png')",
            name=op.f("ck_case_document_scans_media_type"),
        ),
        _fk("case_document_scans", "document_id", "case_documents"),
        _fk("case_document_scans", "case_id", "cases"),
        _fk("case_document_scans", "attached_by", "users"),
        _fk("case_document_scans", "county_id", "counties"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_document_scans")),
    )
    op.create_index(op.f("ix_case_document_scans_county_id"), "case_document_scans", ["county_id"])
    op.create_index(
        op.f("ix_case_document_scans_document_id"), "case_document_scans", ["document_id"]
    )


def downgrade() -> None:
    op.drop_table("case_document_scans")
    op.drop_table("case_document_counters")
    op.drop_table("case_documents")
