"""The captains' alerts feed (``ListAlerts``): rebounds at closed sites, overdue duty checks,
cases that a threshold screening suggests for criminal referral (``referral_suggested``, raised
by ``evidence.cases``; the security squad reads the feed too).

Alerts are raised by the domain (:func:`raise_alert`), idempotently: each has a
``dedupe_key`` unique in its county, so a replayed check or a second worker run adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db import utcnow
from infra.ids import uuid7
from infra.scope import Principal, Role, scoped
from patrol._access import MANAGERS, aware, require_manager
from patrol.errors import AlertNotFoundError
from patrol.field_models import PatrolAlert

__all__ = ["ALERT_KINDS", "REFERRAL_SUGGESTED", "AlertService", "raise_alert"]

log = structlog.get_logger(__name__)

REFERRAL_SUGGESTED = "referral_suggested"
ALERT_KINDS = ("site_reopening", "site_active_mining", "duty_overdue", REFERRAL_SUGGESTED)


async def raise_alert(
    db: AsyncSession,
    *,
    county_id: uuid.UUID,
    kind: str,
    severity: str,
    dedupe_key: str,
    message: str,
    site_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    duty_check_id: uuid.UUID | None = None,
    raised_at: datetime | None = None,
) -> bool:
    """Add an alert unless one with the same ``dedupe_key`` exists; ``True`` when added."""
    stmt = (
        insert(PatrolAlert)
        .values(
            id=uuid7(),
            county_id=county_id,
            kind=kind,
            severity=severity,
            dedupe_key=dedupe_key[:200],
            message=message,
            site_id=site_id,
            session_id=session_id,
            duty_check_id=duty_check_id,
            raised_at=raised_at or utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["county_id", "dedupe_key"])
    )
    result = await db.execute(stmt)
    added = bool(getattr(result, "rowcount", 0))
    if added:
        log.info("patrol.alert_raised", county=str(county_id), kind=kind, site_id=str(site_id))
    return added


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
        limit: int = 100,
    ) -> Sequence[PatrolAlert]:
        """Newest first (``ListAlerts``)."""
        if not principal.has_role(*MANAGERS, Role.SECURITY_SQUAD):
            require_manager(principal, "read the alerts feed")
        stmt = scoped(select(PatrolAlert), PatrolAlert, principal)
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
        """Mark an alert as seen (idempotent: the first acknowledgement is kept)."""
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
