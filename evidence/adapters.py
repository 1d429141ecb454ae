"""The evidence ports implemented over geofence and patrol (wired by the composition root).

* :class:`GeofenceLocationChecker` — the location check at intake is
  :func:`geofence.check_location`; its answer is stored as is, with the layer versions.
  Closed-mine-site features carry ``mine_site_id``. A position more than 10 km outside the
  county gets an empty answer marked ``outside_county`` (evidence is flagged, never refused).
  Whether the county covers the position is :func:`geofence.county_covers`, from memory.
* :class:`PatrolTrackContext` — the linked patrol's own track near the capture time and its
  contract area, so intake can flag ``track_far`` and ``outside_patrol_area``.
* :class:`SiteReviewListener` — evidence taken at a closed-mine site (found by the location
  check, or linked by the phone) raises that site's rebound review in the captains' alerts
  feed, once per evidence and site.
* :class:`PatrolVisitListener` — the position of evidence linked to a patrol counts as a visit
  to the patrol targets it reaches.
* :func:`visible_evidence_ids` — which evidence a caller may name in a target's verification
  result (:data:`patrol.verification.EvidenceLookup`): the evidence need-to-know rule.

Listeners never refuse evidence: a patrol or site the server does not know (yet) is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.access import caller_of, evidence_visible
from evidence.models import Evidence, Upload
from evidence.ports import TrackFix
from geofence import OutsideCountyError, check_location, county_covers
from infra.errors import NotFoundError
from infra.scope import Principal, scoped
from patrol.field_models import ContractArea, PatrolSession, TrackPoint
from patrol.sessions import PatrolService
from patrol.site_review import SITE_REVIEW_FLAG, raise_site_reviews

__all__ = [
    "GeofenceLocationChecker",
    "PatrolTrackContext",
    "PatrolVisitListener",
    "SiteReviewListener",
    "visible_evidence_ids",
]

log = structlog.get_logger(__name__)

_MAX_CHECK_ACCURACY_M = 10_000.0  # geofence's limit; a worse fix is checked at this radius


class GeofenceLocationChecker:
    """A :class:`~evidence.ports.LocationChecker` over :func:`geofence.check_location`."""

    async def check(
        self,
        session: AsyncSession,
        county_id: uuid.UUID,
        lon: float,
        lat: float,
        accuracy_m: float,
    ) -> Mapping[str, Any]:
        radius = min(max(accuracy_m, 0.0), _MAX_CHECK_ACCURACY_M)
        try:
            result = await check_location(session, county_id, lon, lat, radius)
        except OutsideCountyError:
            return {
                "lon": lon,
                "lat": lat,
                "accuracy_m": radius,
                "crs": "wgs84",
                "input_lon": lon,
                "input_lat": lat,
                "outside_county": True,
                "features": [],
                "layer_versions": [],
                "checker": "geofence",
            }
        answer = result.to_json()  # mine-site features carry mine_site_id
        answer["checker"] = "geofence"
        return answer

    async def in_county(
        self, session: AsyncSession, county_id: uuid.UUID, lon: float, lat: float
    ) -> bool | None:
        """From the boundary the geofence index keeps (:func:`geofence.county_covers`)."""
        return await county_covers(session, county_id, lon, lat)


class PatrolTrackContext:
    """A :class:`~evidence.ports.PatrolContext` over patrol's sessions, tracks and areas.

    A point is in a line or point contract area (a river reach, a site) when it lies within
    ``corridor_m`` of it, plus the fix's accuracy.
    """

    def __init__(self, *, corridor_m: float = 200.0) -> None:
        self._corridor_m = corridor_m

    async def track_fix_near(
        self,
        session: AsyncSession,
        county_id: uuid.UUID,
        patrol_session_id: uuid.UUID,
        at: datetime,
        *,
        window_s: float,
    ) -> TrackFix | None:
        window = timedelta(seconds=window_s)
        gap = func.abs(func.extract("epoch", TrackPoint.t - at))
        stmt = (
            select(
                func.ST_X(TrackPoint.geom),
                func.ST_Y(TrackPoint.geom),
                TrackPoint.accuracy_m,
                TrackPoint.t,
            )
            .where(
                TrackPoint.session_id == patrol_session_id,
                TrackPoint.county_id == county_id,
                TrackPoint.t >= at - window,
                TrackPoint.t <= at + window,
            )
            .order_by(gap, TrackPoint.t)
            .limit(1)
        )
        row = (await session.execute(stmt)).first()
        if row is None:
            return None
        return TrackFix(lon=float(row[0]), lat=float(row[1]), accuracy_m=float(row[2]), at=row[3])

    async def in_patrol_area(
        self,
        session: AsyncSession,
        county_id: uuid.UUID,
        patrol_session_id: uuid.UUID,
        *,
        lon: float,
        lat: float,
        accuracy_m: float,
    ) -> bool | None:
        point = func.geography(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326))
        stmt = (
            select(
                func.ST_DWithin(func.geography(ContractArea.geom), point, accuracy_m),
                func.ST_DWithin(
                    func.geography(ContractArea.geom), point, accuracy_m + self._corridor_m
                ),
                func.ST_Dimension(ContractArea.geom),
            )
            .join(PatrolSession, PatrolSession.area_id == ContractArea.id)
            .where(
                PatrolSession.id == patrol_session_id,
                PatrolSession.county_id == county_id,
                ContractArea.county_id == county_id,
            )
        )
        row = (await session.execute(stmt)).first()
        if row is None:
            return None
        within, within_corridor, dimension = row
        return bool(within_corridor if int(dimension) < 2 else within)


class SiteReviewListener:
    """Raise the rebound review of every closed-mine site the evidence was taken at
    (:func:`patrol.site_review.raise_site_reviews`, the way findings raise it too).

    The review is an alert in the captains' feed (``site_rebound_review``, medium severity):
    a photo at a site is a reason to look at it, not proof of mining, so it is neither a
    ``site_reopening`` alert nor a change of the site's register status (a captain decides,
    a five-to-one duty check reporting activity or a finding recorded there moves it).
    """

    async def evidence_accepted(self, session: AsyncSession, evidence: Evidence) -> list[str]:
        upload = await session.get(Upload, evidence.id)
        reviewed = await raise_site_reviews(
            session,
            county_id=evidence.county_id,
            site_ids=_site_ids(evidence, upload),
            source="evidence",
            source_id=evidence.id,
            raised_at=evidence.captured_at,
        )
        return [SITE_REVIEW_FLAG] if reviewed else []


class PatrolVisitListener:
    """Count the position of patrol-linked evidence as a visit to the patrol's targets."""

    def __init__(self, principal: Principal) -> None:
        self._principal = principal

    async def evidence_accepted(self, session: AsyncSession, evidence: Evidence) -> list[str]:
        upload = await session.get(Upload, evidence.id)
        patrol_id = upload.patrol_session_id if upload is not None else None
        if patrol_id is None:
            return []
        try:
            reached = await PatrolService(session).record_location_visit(
                self._principal,
                patrol_id,
                lon=evidence.lon,
                lat=evidence.lat,
                at=evidence.captured_at,
                source="evidence",
            )
        except NotFoundError:  # the patrol has not synced yet
            return []
        if reached:
            log.info(
                "evidence.targets_visited",
                evidence_id=str(evidence.id),
                patrol_id=str(patrol_id),
                targets=len(reached),
            )
        return []


def _site_ids(evidence: Evidence, upload: Upload | None) -> set[uuid.UUID]:
    ids: set[uuid.UUID] = set()
    for feature in (evidence.location_check or {}).get("features") or []:
        if isinstance(feature, dict) and feature.get("mine_site_id"):
            try:
                ids.add(uuid.UUID(str(feature["mine_site_id"])))
            except ValueError:
                continue
    if upload is not None and upload.mine_site_id is not None:
        ids.add(upload.mine_site_id)
    return ids


async def visible_evidence_ids(
    session: AsyncSession, principal: Principal, evidence_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``evidence_ids`` the caller may read (:func:`evidence.access.evidence_visible`,
    in the caller's county): accepted evidence, or an upload under way (a phone names its
    evidence before the bytes have arrived); aborted uploads are none."""
    if not evidence_ids:
        return set()
    stmt = scoped(
        select(Upload.id).outerjoin(Evidence, Evidence.id == Upload.id), Upload, principal
    ).where(
        Upload.id.in_(list(evidence_ids)),
        Upload.status != "aborted",
        evidence_visible(caller_of(principal)),
    )
    return set((await session.execute(stmt)).scalars().all())
