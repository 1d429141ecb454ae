"""Rebound review of closed-mine sites (死灰复燃): the one way evidence, findings and duty
checks raise it.

* :func:`raise_site_reviews` — something recorded at closed sites (evidence taken there, a
  finding recorded there) raises each site's rebound review in the captains' feed
  (``site_rebound_review``, medium severity), once per record and site.
* :func:`mark_site_for_review` — moves a site's register status up to ``signs_of_reopening``
  or ``reopened`` (never down; a captain clears it by hand). A five-to-one duty check that
  reports activity marks its site (``patrol.duty``), and so does a finding recorded at a
  site: a violation found there is a sign of reopening. Evidence alone does not: a photo at a
  site is a reason to look, not proof of mining.

Retired sites are skipped. The site register belongs to ``geofence``; rows are read and
written through it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.mines import set_site_status
from geofence.models import MineSite
from infra.scope import Principal
from patrol.alerts import raise_alert

__all__ = [
    "SITE_REVIEW_ALERT",
    "SITE_REVIEW_FLAG",
    "STATUS_RANK",
    "mark_site_for_review",
    "raise_site_reviews",
]

log = structlog.get_logger(__name__)

SITE_REVIEW_ALERT = "site_rebound_review"
#: The flag a record that raised a review carries.
SITE_REVIEW_FLAG = "mine_site_review"

#: Register status -> rank: a review never moves a site down; rank 0 is a closed site.
STATUS_RANK = {"remediated": 0, "closed": 0, "signs_of_reopening": 1, "reopened": 2}


async def raise_site_reviews(
    db: AsyncSession,
    *,
    county_id: uuid.UUID,
    site_ids: Collection[uuid.UUID],
    source: str,
    source_id: uuid.UUID,
    raised_at: datetime,
    session_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Raise the rebound review of each site in ``site_ids`` (of the county, not retired)
    for the record ``source_id`` (``source``: ``evidence`` or ``finding``); idempotent per
    record and site. Returns the sites reviewed, by id."""
    if not site_ids:
        return []
    rows = (
        await db.execute(
            select(MineSite.id, MineSite.name, MineSite.code)
            .where(
                MineSite.county_id == county_id,
                MineSite.id.in_(sorted(site_ids)),
                MineSite.retired.is_(False),
            )
            .order_by(MineSite.id)
        )
    ).all()
    for site_id, name, code in rows:
        await raise_alert(
            db,
            county_id=county_id,
            kind=SITE_REVIEW_ALERT,
            severity="medium",
            dedupe_key=f"{source}:{source_id}:{site_id}",
            params={"site": name or code, "source": source},
            site_id=site_id,
            session_id=session_id,
            raised_at=raised_at,
        )
        log.info(
            "patrol.site_review_raised",
            source=source,
            source_id=str(source_id),
            site_id=str(site_id),
            county=str(county_id),
        )
    return [site_id for site_id, _, _ in rows]


async def mark_site_for_review(
    db: AsyncSession,
    principal: Principal,
    site_id: uuid.UUID,
    *,
    status: str = "signs_of_reopening",
) -> bool:
    """Move the site's register status up to ``status`` (``signs_of_reopening`` or
    ``reopened``), never down; ``True`` when it moved. A retired or unknown site, or one of
    another county, is left alone."""
    target = STATUS_RANK.get(status)
    if target is None or target == 0:
        return False
    current = await db.scalar(
        select(MineSite.status).where(
            MineSite.id == site_id,
            MineSite.county_id == principal.county_id,
            MineSite.retired.is_(False),
        )
    )
    if current is None or STATUS_RANK.get(str(current), 0) >= target:
        return False
    await set_site_status(db, principal, site_id, status)
    log.info(
        "patrol.site_marked",
        site_id=str(site_id),
        county=str(principal.county_id),
        status=status,
    )
    return True
