"""The captains' alerts feed (``ListAlerts``): rebounds at closed sites, overdue duty checks,
cases that a threshold screening suggests for criminal referral (``referral_suggested``, raised
by ``evidence.cases.cases``; the security squad reads the feed too).

Alerts are raised by the domain (:func:`raise_alert`), idempotently: each has a
``dedupe_key`` unique in its county, so a replayed check or a second worker run adds nothing.

Alerts resolve themselves when their cause ends (:func:`resolve_alerts`); the alert stays in
the feed's history with ``resolved_at`` (never before it was raised) and a ``resolution``
code, apart from a person's acknowledgement. What ends each cause (see
:mod:`patrol.duty`):

========================  ==========================================================
kind                      resolved when (``resolution``)
========================  ==========================================================
``duty_overdue``          the member checks in after their last known check
                          (``member_checked_in``), or the worker finds them no longer
                          overdue (``no_longer_overdue``) or off the roster
                          (``member_off_roster``)
``site_reopening``,       the site's register status is back to closed or remediated
``site_active_mining``    (``site_cleared``) or the site is retired (``site_retired``)
``site_rebound_review``   a five-to-one check of the site at or after the alert
                          (``site_checked``), or the site is retired (``site_retired``)
``referral_suggested``    not here: ``evidence`` owns its cause (the suggestion being
                          superseded or the referral decided) and calls
                          :func:`resolve_alerts`
``petition_overdue``      not here: ``evidence.cases.petitions`` raises it for a
                          petition step past its statutory date and resolves it when
                          the step is recorded (``petition_step_done``)
``tip_off_overdue``       not here: ``evidence.cases.tip_offs`` raises it for a clue's
                          late step and resolves it when the step is done
                          (``tip_off_step_done``)
``report_overdue``        not here: ``evidence.cases.reports`` raises it for a report
                          not produced by its due date and resolves it when the report
                          is generated (``report_generated``)
``case_step_overdue``     not here: ``evidence.cases.procedure`` raises it for a case's
                          statutory step past its due time (filing, decision,
                          service) and resolves it when the step is recorded or the
                          case ends (``case_step_done``)
========================  ==========================================================

``ListAlerts`` shows open alerts by default; ``state`` asks for resolved ones or all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db import utcnow
from infra.ids import uuid7
from infra.messages import DEFAULT_LANG, render
from infra.scope import Principal, Role, require_role, scoped
from patrol._access import MANAGERS, aware, require_manager
from patrol.errors import AlertNotFoundError, InvalidPatrolInputError
from patrol.field_models import PatrolAlert

__all__ = [
    "ALERT_KINDS",
    "ALERT_STATES",
    "CASE_STEP_OVERDUE",
    "PETITION_OVERDUE",
    "REFERRAL_SUGGESTED",
    "REPORT_OVERDUE",
    "RESOLUTIONS",
    "TIP_OFF_OVERDUE",
    "AlertService",
    "raise_alert",
    "resolve_alerts",
]

log = structlog.get_logger(__name__)

REFERRAL_SUGGESTED = "referral_suggested"
PETITION_OVERDUE = "petition_overdue"
TIP_OFF_OVERDUE = "tip_off_overdue"
REPORT_OVERDUE = "report_overdue"
CASE_STEP_OVERDUE = "case_step_overdue"
ALERT_KINDS = (
    "site_reopening",
    "site_active_mining",
    "duty_overdue",
    "site_rebound_review",
    REFERRAL_SUGGESTED,
    PETITION_OVERDUE,
    TIP_OFF_OVERDUE,
    REPORT_OVERDUE,
    CASE_STEP_OVERDUE,
)
ALERT_STATES = ("open", "resolved", "all")
RESOLUTIONS = (
    "member_checked_in",
    "no_longer_overdue",
    "member_off_roster",
    "site_cleared",
    "site_retired",
    "site_checked",
    "suggestion_superseded",
    "referral_decided",
    "petition_step_done",
    "tip_off_step_done",
    "report_generated",
    "case_step_done",
)


async def raise_alert(
    db: AsyncSession,
    *,
    county_id: uuid.UUID,
    kind: str,
    severity: str,
    dedupe_key: str,
    params: Mapping[str, Any] | None = None,
    message: str | None = None,
    site_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    duty_check_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
    raised_at: datetime | None = None,
) -> bool:
    """Add an alert unless one with the same ``dedupe_key`` exists; ``True`` when added.

    ``params`` are the facts the catalogue's ``alert.<kind>`` text names; it is rendered in
    each reader's language, and stored in Chinese as ``message`` (unless one is given)."""
    if message is None:
        message = render(f"alert.{kind}", DEFAULT_LANG, params)
    stmt = (
        insert(PatrolAlert)
        .values(
            id=uuid7(),
            county_id=county_id,
            kind=kind,
            severity=severity,
            dedupe_key=dedupe_key[:200],
            message=message,
            params=None if params is None else dict(params),
            site_id=site_id,
            session_id=session_id,
            duty_check_id=duty_check_id,
            member_id=member_id,
            raised_at=raised_at or utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["county_id", "dedupe_key"])
    )
    result = await db.execute(stmt)
    added = bool(getattr(result, "rowcount", 0))
    if added:
        log.info("patrol.alert_raised", county=str(county_id), kind=kind, site_id=str(site_id))
    return added


async def resolve_alerts(
    db: AsyncSession,
    *,
    county_id: uuid.UUID,
    where: ColumnElement[bool],
    resolution: str,
    at: datetime | None = None,
) -> int:
    """Resolve the county's open alerts matching ``where``: their cause ended at ``at``
    (now when not given; an alert is never resolved before it was raised). Resolved alerts
    keep everything else; resolving is done once. Returns how many were resolved."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown alert resolution {resolution!r}")
    stmt = (
        update(PatrolAlert)
        .where(PatrolAlert.county_id == county_id, PatrolAlert.resolved_at.is_(None), where)
        .values(
            resolved_at=func.greatest(PatrolAlert.raised_at, at or utcnow()),
            resolution=resolution,
        )
        .returning(PatrolAlert.id, PatrolAlert.kind)
        .execution_options(synchronize_session="fetch")
    )
    rows = (await db.execute(stmt)).all()
    for alert_id, kind in rows:
        log.info(
            "patrol.alert_resolved",
            county=str(county_id),
            alert_id=str(alert_id),
            kind=kind,
            resolution=resolution,
        )
    return len(rows)


class AlertService:
    """Captains and admins read and acknowledge their county's alerts."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def list_alerts(
        self,
        principal: Principal,
        *,
        since: datetime | None = None,
        kinds: Sequence[str] | None = None,
        unacknowledged_only: bool = False,
        site_id: uuid.UUID | None = None,
        state: str = "open",
        limit: int = 100,
    ) -> Sequence[PatrolAlert]:
        """Newest first (``ListAlerts``): open alerts, or with ``state`` the resolved ones
        or all; the security squad's feed leaves out ``petition_overdue`` and
        ``case_step_overdue``."""
        require_role(principal, *MANAGERS, Role.SECURITY_SQUAD, action="read the alerts feed")
        if state not in ALERT_STATES:
            raise InvalidPatrolInputError(
                f"state must be one of {', '.join(ALERT_STATES)}", field="state"
            )
        stmt = scoped(select(PatrolAlert), PatrolAlert, principal)
        if principal.has_role(Role.SECURITY_SQUAD):
            # petitions are not the squad's to read (the clue desk, captains and admins), nor
            # the deadlines of every case's administrative procedure or the reports' (captains
            # and admins)
            stmt = stmt.where(
                PatrolAlert.kind.not_in([PETITION_OVERDUE, CASE_STEP_OVERDUE, REPORT_OVERDUE])
            )
        if state == "open":
            stmt = stmt.where(PatrolAlert.resolved_at.is_(None))
        elif state == "resolved":
            stmt = stmt.where(PatrolAlert.resolved_at.is_not(None))
        if since is not None:
            stmt = stmt.where(PatrolAlert.raised_at >= aware(since, "since"))
        if kinds:
            stmt = stmt.where(PatrolAlert.kind.in_(list(kinds)))
        if unacknowledged_only:
            stmt = stmt.where(PatrolAlert.acknowledged_at.is_(None))
        if site_id is not None:
            stmt = stmt.where(PatrolAlert.site_id == site_id)
        stmt = stmt.order_by(PatrolAlert.raised_at.desc(), PatrolAlert.id.desc())
        return (await self.db.execute(stmt.limit(max(1, min(limit, 1000))))).scalars().all()

    async def acknowledge_alert(self, principal: Principal, alert_id: uuid.UUID) -> PatrolAlert:
        """Mark an alert as seen (idempotent: the first acknowledgement is kept). A resolved
        alert may still be acknowledged; acknowledging never resolves one."""
        require_manager(principal, "acknowledge alerts")
        stmt = scoped(select(PatrolAlert), PatrolAlert, principal).where(PatrolAlert.id == alert_id)
        alert = (await self.db.execute(stmt)).scalar_one_or_none()
        if alert is None:
            raise AlertNotFoundError("alert not found", alert_id=str(alert_id))
        if alert.acknowledged_at is None:
            alert.acknowledged_at = utcnow()
            alert.acknowledged_by = principal.user_id
            await self.db.flush()
        return alert
