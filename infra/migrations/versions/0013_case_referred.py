"""cases: a case follows its referral (status ``referred``, ``cases.referred_from``)

Revision ID: 0013_case_referred
Revises: 0012_sessions

A case with a referral under way is ``referred`` (移送公安); ``referred_from`` keeps the
status it had, where it returns when the head or the police turn the referral down. The
status check gains ``referred``, and ``referred_from`` is set exactly while a case is
referred.

Cases that already have a referral the police have not turned down (latest referral
reported, approved, transferred, received, police_filed, reconsideration or handed_over)
and that are not finished become ``referred`` now, each with a ``status`` entry in its
history. Streams compare the ``cases`` collection again (bit 7): the records now carry the
referral's step times and lateness.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from infra.ids import uuid7

revision: str = "0013_case_referred"
down_revision: str | Sequence[str] | None = "0012_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = (
    "clue",
    "filed",
    "investigating",
    "decided",
    "executing",
    "closed",
    "suspended",
    "terminated",
    "withdrawn",
)
NEW_STATUSES = (*OLD_STATUSES, "referred")
FOLLOWING = (
    "reported",
    "approved",
    "transferred",
    "received",
    "police_filed",
    "reconsideration",
    "handed_over",
)
# bit 7 (128) of the dirty masks is the "cases" collection of sync.collections
MARK_CASES_DIRTY = (
    "UPDATE sync_streams SET dirty = dirty | 128, pending_dirty = pending_dirty | 128"
)


def _status_check(statuses: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def upgrade() -> None:
    op.add_column("cases", sa.Column("referred_from", sa.String(length=16), nullable=True))
    op.drop_constraint(op.f("ck_cases_status"), "cases", type_="check")
    op.create_check_constraint(op.f("ck_cases_status"), "cases", _status_check(NEW_STATUSES))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            """
            SELECT c.id, c.county_id, c.status, r.id AS referral_id, r.status AS referral_status
            FROM cases c
            JOIN LATERAL (SELECT r.id, r.status FROM referrals r WHERE r.case_id = c.id
                          ORDER BY r.created_at DESC, r.id DESC LIMIT 1) r ON true
            WHERE c.status NOT IN ('closed', 'terminated', 'withdrawn')
              AND r.status = ANY(:following)
            """
        ),
        {"following": list(FOLLOWING)},
    ).all()
    for case_id, county_id, status, referral_id, referral_status in rows:
        conn.execute(
            sa.text(
                "UPDATE cases SET referred_from = status, status = 'referred', "
                "status_changed_at = now() WHERE id = :id"
            ),
            {"id": case_id},
        )
        details = {
            "from": status,
            "to": "referred",
            "reason": "案件移送中（数据迁移）",
            "referral_id": str(referral_id),
            "referral_status": referral_status,
        }
        conn.execute(
            sa.text(
                "INSERT INTO case_events (id, county_id, case_id, kind, at, details) "
                "VALUES (:id, :county, :case, 'status', now(), CAST(:details AS jsonb))"
            ),
            {
                "id": uuid7(),
                "county": county_id,
                "case": case_id,
                "details": json.dumps(details, ensure_ascii=False),
            },
        )
    op.create_check_constraint(
        op.f("ck_cases_referred_from"),
        "cases",
        "(status = 'referred') = (referred_from IS NOT NULL)",
    )
    op.execute(MARK_CASES_DIRTY)


def downgrade() -> None:
    op.drop_constraint(op.f("ck_cases_referred_from"), "cases", type_="check")
    op.execute(
        "UPDATE cases SET status = referred_from, status_changed_at = now() "
        "WHERE status = 'referred'"
    )
    op.drop_constraint(op.f("ck_cases_status"), "cases", type_="check")
    op.create_check_constraint(op.f("ck_cases_status"), "cases", _status_check(OLD_STATUSES))
    op.drop_column("cases", "referred_from")
