"""Patrol sessions (巡查日志): start, sign in, findings, end, and closing forgotten ones.

Every write is addressed by an id the phone minted (UUIDv7), so a replay returns what is
stored instead of failing, and a replay that disagrees with what is stored is a 409
(``id_reused``, ``patrol_already_ended``). A patrol closed automatically still accepts the
phone's own end time when it arrives.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

import structlog
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db import utcnow
from infra.geometry import check_lon_lat
from infra.scope import Principal, scoped
from patrol._access import (
    MANAGERS,
    aware,
    ensure_may_patrol,
    ensure_patrol_reader,
    ensure_patrol_writer,
    load_area,
    load_patrol,
)
from patrol.config import PatrolConfig
from patrol.errors import (
    IdReusedError,
    InvalidPatrolInputError,
    PatrolAlreadyEndedError,
    VillageNotFoundError,
)
from patrol.field_models import (
    Finding,
    MonthlyPlan,
    PatrolSession,
    PatrolTarget,
    SignIn,
)
from patrol.models import User, Village
from patrol.tracks import EARTH_RADIUS_M, haversine_m, refresh_summary

__all__ = [
    "CONSTRUCTION_STATUSES",
    "MANUAL_REASONS",
    "PatrolService",
    "auto_close_stale_patrols",
]

log = structlog.get_logger(__name__)

_Row = TypeVar("_Row", SignIn, Finding)

CONSTRUCTION_STATUSES = ("levelled", "partly_built", "fully_built", "other")
MANUAL_REASONS = ("no_gps_fix", "device_fault", "indoor", "signal_blocked", "other")


@dataclass(frozen=True, slots=True)
class _Fix:
    lon: float
    lat: float
    accuracy_m: float | None


class PatrolService:
    """Start, sign in, record findings, end; reads of one patrol (county- and crew-scoped)."""

    def __init__(self, db: AsyncSession, *, config: PatrolConfig | None = None) -> None:
        self.db = db
        self.config = config or PatrolConfig()

    def _not_future(self, value: datetime, field: str) -> datetime:
        value = aware(value, field)
        if value > utcnow() + timedelta(seconds=self.config.future_tolerance_s):
            raise InvalidPatrolInputError(
                f"{field} is more than 5 minutes in the future", code="invalid_time", field=field
            )
        return value

    async def start_patrol(
        self,
        principal: Principal,
        patrol_id: uuid.UUID,
        *,
        area_id: uuid.UUID,
        started_at: datetime,
        companion_ids: Sequence[uuid.UUID] = (),
        note: str = "",
    ) -> PatrolSession:
        """Start a patrol of an area the caller leads or belongs to (``StartPatrol``).

        Replaying the same start returns the stored patrol. The same id with another area or
        inspector is ``id_reused``; another person's area is ``not_area_member``.
        """
        started_at = self._not_future(started_at, "started_at")
        existing = await self.db.get(PatrolSession, patrol_id)
        if existing is not None:
            if (existing.county_id, existing.inspector_id, existing.area_id) != (
                principal.county_id,
                principal.user_id,
                area_id,
            ):
                raise IdReusedError("this patrol id is already used", patrol_id=str(patrol_id))
            return existing
        area = await load_area(self.db, principal, area_id)
        if not area.active:
            raise InvalidPatrolInputError(
                "this contract area is no longer active",
                code="area_inactive",
                area_id=str(area_id),
            )
        await ensure_may_patrol(self.db, principal, area)
        companions = [c for c in dict.fromkeys(companion_ids) if c != principal.user_id]
        if companions:
            stmt = scoped(select(User.id), User, principal).where(User.id.in_(companions))
            if set((await self.db.execute(stmt)).scalars().all()) != set(companions):
                raise InvalidPatrolInputError(
                    "unknown companions for this county",
                    code="unknown_user",
                    field="companion_ids",
                )
        local = started_at.astimezone(self.config.tz)
        plan_stmt = select(MonthlyPlan.id).where(
            MonthlyPlan.area_id == area.id, MonthlyPlan.month == date(local.year, local.month, 1)
        )
        plan_id = (await self.db.execute(plan_stmt)).scalar_one_or_none()
        patrol = PatrolSession(
            id=patrol_id,
            county_id=principal.county_id,
            area_id=area.id,
            inspector_id=principal.user_id,
            companion_ids=companions,
            plan_id=plan_id,
            started_at=started_at,
            note=note,
            has_violation=False,
            point_count=0,
            summary_stale=False,
            distance_m=0.0,
            duration_s=0.0,
            moving_s=0.0,
            is_night=False,
            used_point_count=0,
            poor_accuracy_count=0,
            speed_flagged_count=0,
        )
        self.db.add(patrol)
        await self.db.flush()
        log.info(
            "patrol.started",
            patrol_id=str(patrol_id),
            county=str(principal.county_id),
            area_id=str(area.id),
        )
        return patrol

    async def end_patrol(
        self,
        principal: Principal,
        patrol_id: uuid.UUID,
        *,
        ended_at: datetime,
        note: str | None = None,
    ) -> PatrolSession:
        """End the caller's patrol and compute its summary (``EndPatrol``).

        Ending again with the same time returns the stored patrol; with another time it is
        ``patrol_already_ended``. A patrol that was closed automatically takes the phone's end.
        """
        ended_at = self._not_future(ended_at, "ended_at")
        patrol = await load_patrol(self.db, principal, patrol_id, for_update=True)
        ensure_patrol_writer(principal, patrol)
        if patrol.ended_at is not None and patrol.end_reason != "auto_closed":
            if patrol.ended_at == ended_at:
                return patrol
            raise PatrolAlreadyEndedError(
                "this patrol has already ended",
                patrol_id=str(patrol_id),
                ended_at=patrol.ended_at.isoformat(),
            )
        if ended_at < patrol.started_at:
            raise InvalidPatrolInputError(
                "ended_at is before started_at", code="invalid_time", field="ended_at"
            )
        patrol.ended_at = ended_at
        patrol.end_reason = "ended"
        if note is not None:
            patrol.note = note
        await refresh_summary(self.db, patrol, self.config)
        log.info(
            "patrol.ended",
            patrol_id=str(patrol_id),
            county=str(principal.county_id),
            distance_m=patrol.distance_m,
        )
        return patrol

    async def get_patrol(self, principal: Principal, patrol_id: uuid.UUID) -> PatrolSession:
        """One patrol: its crew, captains and admins may read it."""
        patrol = await load_patrol(self.db, principal, patrol_id)
        ensure_patrol_reader(principal, patrol)
        if patrol.summary_stale:
            await refresh_summary(self.db, patrol, self.config)
        return patrol

    async def list_patrols(
        self,
        principal: Principal,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        area_id: uuid.UUID | None = None,
        inspector_id: uuid.UUID | None = None,
        limit: int = 200,
    ) -> Sequence[PatrolSession]:
        """Patrols by start time, newest first; inspectors see their own only."""
        stmt = scoped(select(PatrolSession), PatrolSession, principal)
        if not principal.has_role(*MANAGERS):
            stmt = stmt.where(
                (PatrolSession.inspector_id == principal.user_id)
                | PatrolSession.companion_ids.contains([principal.user_id])
            )
        if since is not None:
            stmt = stmt.where(PatrolSession.started_at >= aware(since, "since"))
        if until is not None:
            stmt = stmt.where(PatrolSession.started_at < aware(until, "until"))
        if area_id is not None:
            stmt = stmt.where(PatrolSession.area_id == area_id)
        if inspector_id is not None:
            stmt = stmt.where(PatrolSession.inspector_id == inspector_id)
        stmt = stmt.order_by(PatrolSession.started_at.desc()).limit(max(1, min(limit, 1000)))
        return (await self.db.execute(stmt)).scalars().all()

    async def sign_in(
        self,
        principal: Principal,
        patrol_id: uuid.UUID,
        sign_in_id: uuid.UUID,
        *,
        at: datetime,
        method: str = "gps",
        lon: float | None = None,
        lat: float | None = None,
        accuracy_m: float | None = None,
        reason_code: str | None = None,
        village_id: uuid.UUID | None = None,
        address: str = "",
    ) -> SignIn:
        """Sign in on a patrol (``SignIn``): by GPS, or manual with a reason code and village.

        A manual sign-in is placed at a point inside its village. Replays return the stored
        sign-in; GPS sign-ins within a target's radius count as visits.
        """
        at = self._not_future(at, "at")
        if method not in ("gps", "manual"):
            raise InvalidPatrolInputError("method must be gps or manual", field="method")
        patrol, existing = await self._writable(principal, patrol_id, SignIn, sign_in_id, at)
        if existing is not None:
            return existing
        if method == "manual":
            if not reason_code or reason_code not in MANUAL_REASONS or village_id is None:
                raise InvalidPatrolInputError(
                    "a manual sign-in needs a reason code "
                    f"({', '.join(MANUAL_REASONS)}) and a village",
                    code="manual_sign_in_needs_reason",
                    field="reason_code",
                )
            geom = await self._village_point(principal, village_id)
            accuracy_m = None
        else:
            fix = _fix(lon, lat, accuracy_m)
            geom = from_shape(Point(fix.lon, fix.lat), srid=4326)
            reason_code = None
        row = SignIn(
            id=sign_in_id,
            county_id=principal.county_id,
            session_id=patrol.id,
            user_id=principal.user_id,
            at=at,
            method=method,
            geom=geom,
            accuracy_m=accuracy_m,
            reason_code=reason_code,
            village_id=village_id,
            address=address,
        )
        self.db.add(row)
        await self.db.flush()
        if method == "gps" and lon is not None and lat is not None:
            await self._visits_at(patrol, lon, lat, at, "sign_in")
        return row

    async def record_finding(
        self,
        principal: Principal,
        patrol_id: uuid.UUID,
        finding_id: uuid.UUID,
        *,
        found_at: datetime,
        project_name: str,
        construction_status: str,
        lon: float,
        lat: float,
        accuracy_m: float | None = None,
        builder: str = "",
        construction_started_on: date | None = None,
        occupied_area_m2: float | None = None,
        township_id: uuid.UUID | None = None,
        village_id: uuid.UUID | None = None,
        note: str = "",
    ) -> Finding:
        """Record a finding on a patrol (``RecordFinding``) and mark the patrol as having one.

        Township and village are taken from the position when not given.
        """
        found_at = self._not_future(found_at, "found_at")
        if construction_status not in CONSTRUCTION_STATUSES:
            raise InvalidPatrolInputError(
                f"construction_status must be one of {', '.join(CONSTRUCTION_STATUSES)}",
                code="invalid_status",
                field="construction_status",
            )
        if occupied_area_m2 is not None and not (
            math.isfinite(occupied_area_m2) and occupied_area_m2 >= 0
        ):
            raise InvalidPatrolInputError("occupied area must be ≥ 0", field="occupied_area_m2")
        fix = _fix(lon, lat, accuracy_m)
        patrol, existing = await self._writable(principal, patrol_id, Finding, finding_id, found_at)
        if existing is not None:
            return existing
        if village_id is not None:
            await self._village_point(principal, village_id)
        if township_id is None or village_id is None:
            township_id, village_id = await self._place_of(principal, fix, township_id, village_id)
        row = Finding(
            id=finding_id,
            county_id=principal.county_id,
            session_id=patrol.id,
            reported_by=principal.user_id,
            found_at=found_at,
            project_name=project_name,
            builder=builder,
            construction_started_on=construction_started_on,
            construction_status=construction_status,
            occupied_area_m2=occupied_area_m2,
            geom=from_shape(Point(fix.lon, fix.lat), srid=4326),
            accuracy_m=fix.accuracy_m,
            township_id=township_id,
            village_id=village_id,
            note=note,
        )
        self.db.add(row)
        patrol.has_violation = True
        await self.db.flush()
        return row

    async def list_findings(self, principal: Principal, patrol_id: uuid.UUID) -> Sequence[Finding]:
        patrol = await load_patrol(self.db, principal, patrol_id)
        ensure_patrol_reader(principal, patrol)
        stmt = select(Finding).where(Finding.session_id == patrol.id).order_by(Finding.found_at)
        return (await self.db.execute(stmt)).scalars().all()

    async def record_location_visit(
        self,
        principal: Principal,
        patrol_id: uuid.UUID,
        *,
        lon: float,
        lat: float,
        at: datetime,
        source: str = "evidence",
    ) -> list[uuid.UUID]:
        """Count a position (e.g. of evidence) as a visit to the targets it reaches.

        Returns the ids of the targets reached. Any reader of the patrol may call it, so
        evidence from a joint team member counts too.
        """
        if source not in ("evidence", "sign_in"):
            raise InvalidPatrolInputError("source must be evidence or sign_in", field="source")
        check_lon_lat(lon, lat)
        patrol = await load_patrol(self.db, principal, patrol_id)
        return await self._visits_at(patrol, lon, lat, aware(at, "at"), source)

    # -- helpers -----------------------------------------------------------------------------
    async def _writable(
        self,
        principal: Principal,
        patrol_id: uuid.UUID,
        model: type[_Row],
        row_id: uuid.UUID,
        at: datetime,
    ) -> tuple[PatrolSession, _Row | None]:
        patrol = await load_patrol(self.db, principal, patrol_id)
        ensure_patrol_writer(principal, patrol)
        existing = await self.db.get(model, row_id)
        if existing is not None:
            if existing.county_id != principal.county_id or existing.session_id != patrol.id:
                raise IdReusedError("this id is already used", id=str(row_id))
            return patrol, existing
        tolerance = timedelta(seconds=self.config.future_tolerance_s)
        if patrol.ended_at is not None and at > patrol.ended_at + tolerance:
            raise PatrolAlreadyEndedError(
                "this patrol ended before that time",
                patrol_id=str(patrol.id),
                ended_at=patrol.ended_at.isoformat(),
            )
        return patrol, None

    async def _village_point(self, principal: Principal, village_id: uuid.UUID) -> object:
        stmt = scoped(select(func.ST_PointOnSurface(Village.geom)), Village, principal).where(
            Village.id == village_id
        )
        point = (await self.db.execute(stmt)).scalar_one_or_none()
        if point is None:
            raise VillageNotFoundError("village not found", village_id=str(village_id))
        return point

    async def _place_of(
        self,
        principal: Principal,
        fix: _Fix,
        township_id: uuid.UUID | None,
        village_id: uuid.UUID | None,
    ) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        if village_id is not None and township_id is not None:
            return township_id, village_id
        # one round trip: the village under the point and, from it or on its own, the township
        row = (
            await self.db.execute(
                _PLACE_SQL,
                {"c": principal.county_id, "lon": fix.lon, "lat": fix.lat},
            )
        ).first()
        if row is None:
            return township_id, village_id
        if village_id is None and row[0] is not None:
            village_id = row[0]
            township_id = township_id or row[1]
        return township_id or row[2], village_id

    async def _visits_at(
        self, patrol: PatrolSession, lon: float, lat: float, at: datetime, source: str
    ) -> list[uuid.UUID]:
        stmt = select(
            PatrolTarget.id,
            PatrolTarget.visit_radius_m,
            func.ST_X(PatrolTarget.geom),
            func.ST_Y(PatrolTarget.geom),
        ).where(
            PatrolTarget.area_id == patrol.area_id,
            PatrolTarget.active,
            PatrolTarget.county_id == patrol.county_id,
            # A cheap planar pre-filter in degrees: a target within its radius on the sphere
            # is within radius / (metres per degree of longitude here) degrees of the point;
            # the margin covers the latitude change over 10 km. Haversine decides below.
            func.ST_DWithin(
                PatrolTarget.geom,
                func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326),
                (PatrolTarget.visit_radius_m * 1.01 + 1.0) * _degrees_per_metre(lat),
            ),
        )
        reached: list[uuid.UUID] = []
        visits: list[dict[str, object]] = []
        for target_id, radius, tlon, tlat in (await self.db.execute(stmt)).all():
            dist = haversine_m(lon, lat, tlon, tlat)
            if dist <= radius:
                reached.append(target_id)
                visits.append({"s": patrol.id, "t": target_id, "src": source, "at": at,
                               "d": round(dist, 2), "c": patrol.county_id})  # fmt: skip
        if visits:  # one statement for every target reached
            await self.db.execute(_VISIT_SQL, visits)
        return reached


_VISIT_SQL = text(
    "INSERT INTO patrol_target_visits "
    "(session_id, target_id, source, first_at, min_distance_m, county_id) "
    "VALUES (:s, :t, :src, :at, :d, :c) ON CONFLICT (session_id, target_id, "
    "source) DO UPDATE SET first_at = least(patrol_target_visits.first_at, "
    "excluded.first_at), min_distance_m = least("
    "patrol_target_visits.min_distance_m, excluded.min_distance_m)"
)
_PLACE_SQL = text(
    "SELECT v.id, v.township_id, (SELECT t.id FROM townships t WHERE t.county_id = :c "
    "AND ST_Intersects(t.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) LIMIT 1) "
    "FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT v.id, v.township_id FROM villages v "
    "WHERE v.county_id = :c AND ST_Intersects(v.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), "
    "4326)) LIMIT 1) v ON true"
)


def _degrees_per_metre(lat: float) -> float:
    """An upper bound of degrees per metre of ground distance near latitude ``lat``."""
    metres_per_degree = EARTH_RADIUS_M * math.pi / 180.0 * max(math.cos(math.radians(lat)), 0.05)
    return 1.0 / metres_per_degree


def _fix(lon: float | None, lat: float | None, accuracy_m: float | None) -> _Fix:
    if lon is None or lat is None:
        raise InvalidPatrolInputError(
            "a GPS position (lon, lat) is required", code="invalid_coordinates", field="lon"
        )
    check_lon_lat(lon, lat)
    if accuracy_m is not None and not (math.isfinite(accuracy_m) and 0 <= accuracy_m <= 10_000):
        raise InvalidPatrolInputError(
            "accuracy must be between 0 and 10000 m",
            code="invalid_accuracy",
            field="accuracy_m",
        )
    return _Fix(lon, lat, accuracy_m)


async def auto_close_stale_patrols(
    db: AsyncSession,
    *,
    config: PatrolConfig | None = None,
    now: datetime | None = None,
    limit: int = 500,
    county_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Close patrols idle for longer than ``config.auto_close_idle_s`` (of one county, or of
    all counties).

    The worker calls this periodically and commits. A closed patrol ends at its last point
    (or its start) with ``end_reason = "auto_closed"``; the phone's own end still wins later.
    """
    cfg = config or PatrolConfig()
    cutoff = (now or utcnow()) - timedelta(seconds=cfg.auto_close_idle_s)
    last_seen = func.coalesce(PatrolSession.last_point_at, PatrolSession.started_at)
    stmt = (
        select(PatrolSession)
        .where(PatrolSession.ended_at.is_(None), last_seen < cutoff)
        .order_by(PatrolSession.started_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if county_id is not None:
        stmt = stmt.where(PatrolSession.county_id == county_id)
    closed: list[uuid.UUID] = []
    for patrol in (await db.execute(stmt)).scalars().all():
        patrol.ended_at = max(patrol.last_point_at or patrol.started_at, patrol.started_at)
        patrol.end_reason = "auto_closed"
        await refresh_summary(db, patrol, cfg)
        closed.append(patrol.id)
        log.info("patrol.auto_closed", patrol_id=str(patrol.id), county=str(patrol.county_id))
    return closed
