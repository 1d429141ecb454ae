"""Patrol sessions (巡查日志): start, sign in, findings, end, and closing forgotten ones.

Every write is addressed by an id the phone minted (UUIDv7), so a replay returns what is
stored instead of failing, and a replay that disagrees with what is stored is a 409
(``id_reused``, ``patrol_already_ended``). A patrol closed automatically still accepts the
phone's own end time when it arrives.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import structlog
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from infra import error_codes as codes
from infra.db import utcnow
from infra.geometry import check_lon_lat
from infra.scope import Principal, scoped
from patrol._access import (
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
    SignIn,
)
from patrol.finding_checks import (
    VISIT_SOURCE,
    FindingChecks,
    FindingScreener,
    Place,
    parse_outline,
)
from patrol.findings import (
    CONSTRUCTION_STATUSES,
    FindingEdit,
    FindingEdited,
    check_finding_fields,
    edit_finding,
)
from patrol.models import User, Village
from patrol.policy import PATROL_READ, finding_read, read_clause
from patrol.tracks import EARTH_RADIUS_M, refresh_summary, show_current_figures

__all__ = [
    "CONSTRUCTION_STATUSES",
    "MANUAL_REASONS",
    "PATROL_STATUSES",
    "SIGN_IN_METHODS",
    "EndPatrolInput",
    "FindingInput",
    "PatrolService",
    "SignInInput",
    "StartPatrolInput",
    "auto_close_stale_patrols",
]

log = structlog.get_logger(__name__)

_Row = TypeVar("_Row", SignIn, Finding)

SIGN_IN_METHODS = ("gps", "manual")
#: The ``status`` filter of :meth:`PatrolService.list_patrols`: under way, or ended.
PATROL_STATUSES = ("ongoing", "ended")
MANUAL_REASONS = ("no_gps_fix", "device_fault", "indoor", "signal_blocked", "other")


@dataclass(frozen=True, slots=True)
class _Fix:
    lon: float
    lat: float
    accuracy_m: float | None


class PatrolService:
    """Start, sign in, record findings, edit them, end; reads of one patrol (county- and
    crew-scoped).

    Each action takes one input (:class:`StartPatrolInput`, :class:`SignInInput`,
    :class:`FindingInput`, :class:`~patrol.findings.FindingEdit`, :class:`EndPatrolInput`):
    REST and sync build the same one. ``start_patrol``, ``sign_in``, ``record_finding`` and
    ``end_patrol`` take its fields as keyword arguments (the demo, scripts and tests).
    """

    def __init__(
        self,
        db: AsyncSession,
        *,
        config: PatrolConfig | None = None,
        screener: FindingScreener | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``screener``: the referral screening of findings (``patrol.finding_checks``; the
        app wires the threshold rules in, without it findings are not screened). ``clock``:
        the server's time, which the phone's times may run ahead of by at most
        ``future_tolerance_s`` (tests fix it)."""
        self.db = db
        self.config = config or PatrolConfig()
        self.clock = clock
        self.checks = FindingChecks(db, screener)

    def _not_future(self, value: datetime, field: str) -> datetime:
        value = aware(value, field)
        if value > self.clock() + timedelta(seconds=self.config.future_tolerance_s):
            raise InvalidPatrolInputError(
                f"{field} is more than 5 minutes in the future",
                code=codes.INVALID_TIME,
                field=field,
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
        """:meth:`start` with the fields of :class:`StartPatrolInput` as arguments."""
        item = StartPatrolInput(patrol_id=patrol_id, area_id=area_id, started_at=started_at,
                                companion_ids=tuple(companion_ids), note=note)  # fmt: skip
        return await self.start(principal, item)

    async def start(self, principal: Principal, item: StartPatrolInput) -> PatrolSession:
        """Start a patrol of an area the caller leads or belongs to (``StartPatrol``).

        Replaying the same start returns the stored patrol. The same id with another area or
        inspector is ``id_reused``; another person's area is ``not_area_member``.
        """
        patrol_id, area_id = item.patrol_id, item.area_id
        started_at = self._not_future(item.started_at, "started_at")
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
                code=codes.AREA_INACTIVE,
                area_id=str(area_id),
            )
        await ensure_may_patrol(self.db, principal, area)
        companions = [c for c in dict.fromkeys(item.companion_ids) if c != principal.user_id]
        if companions:
            stmt = scoped(select(User.id), User, principal).where(User.id.in_(companions))
            if set((await self.db.execute(stmt)).scalars().all()) != set(companions):
                raise InvalidPatrolInputError(
                    "unknown companions for this county",
                    code=codes.UNKNOWN_USER,
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
            note=item.note,
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
        """:meth:`end` with the fields of :class:`EndPatrolInput` as arguments."""
        item = EndPatrolInput(patrol_id=patrol_id, ended_at=ended_at, note=note)
        return await self.end(principal, item)

    async def end(self, principal: Principal, item: EndPatrolInput) -> PatrolSession:
        """End the caller's patrol and compute its summary (``EndPatrol``).

        Ending again with the same time returns the stored patrol; with another time it is
        ``patrol_already_ended``. A patrol that was closed automatically takes the phone's end.
        """
        patrol_id, note = item.patrol_id, item.note
        ended_at = self._not_future(item.ended_at, "ended_at")
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
                "ended_at is before started_at", code=codes.INVALID_TIME, field="ended_at"
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
        """One patrol: its crew, its area's leader, captains and admins may read it."""
        patrol = await load_patrol(self.db, principal, patrol_id)
        await ensure_patrol_reader(self.db, principal, patrol)
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
        status: str | None = None,
        limit: int = 200,
    ) -> Sequence[PatrolSession]:
        """Patrols by start time, newest first: those the caller may read
        (:data:`patrol.policy.PATROL_READ`); ``status`` keeps the ``ongoing`` (not ended) or
        the ``ended`` ones. Patrols in progress show their figures as far as they have walked
        (:func:`patrol.tracks.show_current_figures`)."""
        stmt = scoped(select(PatrolSession), PatrolSession, principal).where(
            read_clause(PATROL_READ, PatrolSession.__tablename__, principal)
        )
        if since is not None:
            stmt = stmt.where(PatrolSession.started_at >= aware(since, "since"))
        if until is not None:
            stmt = stmt.where(PatrolSession.started_at < aware(until, "until"))
        if area_id is not None:
            stmt = stmt.where(PatrolSession.area_id == area_id)
        if inspector_id is not None:
            stmt = stmt.where(PatrolSession.inspector_id == inspector_id)
        if status is not None:
            if status not in PATROL_STATUSES:
                raise InvalidPatrolInputError(
                    f"status must be one of {', '.join(PATROL_STATUSES)}",
                    code=codes.INVALID_STATUS,
                    field="status",
                )
            ended = PatrolSession.ended_at.is_not(None)
            stmt = stmt.where(ended if status == "ended" else ~ended)
        stmt = stmt.order_by(PatrolSession.started_at.desc()).limit(max(1, min(limit, 1000)))
        patrols = (await self.db.execute(stmt)).scalars().all()
        for patrol in patrols:
            await show_current_figures(self.db, patrol, self.config)
        return patrols

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
        sign-in. A GPS sign-in records what it reached (:meth:`sign_in_many`).
        """
        item = SignInInput(
            patrol_id=patrol_id, sign_in_id=sign_in_id, at=at, method=method, lon=lon, lat=lat,
            accuracy_m=accuracy_m, reason_code=reason_code, village_id=village_id,
            address=address,
        )  # fmt: skip
        return (await self.sign_in_many(principal, [item]))[0][0]

    async def sign_in_many(
        self, principal: Principal, items: Sequence[SignInInput]
    ) -> list[tuple[SignIn, bool]]:
        """Several sign-ins on one patrol at once (a phone's backlog), all or none.

        The rules of :meth:`sign_in` apply to each; the first that breaks one raises. Returns
        each sign-in with whether it was stored before (a replay). Ids must be distinct.

        A GPS sign-in is measured against the active targets of the patrol's area (distances
        on the sphere, to the centimetre): a target is *reached* when the sign-in lies within
        its visit radius (the radius covers a polygon target; the fix's accuracy does not
        widen it), which counts as a visit; the nearest target and its distance are stored,
        and the sign-in is flagged ``far_from_targets`` when that distance exceeds
        ``config.sign_in_far_m`` (1 km by default). An area without targets flags nothing. A
        manual sign-in reaches nothing and is never flagged (it stands at its village).
        These are stored with the sign-in as they were when it was made.
        """
        patrol_id = _one_patrol(items)
        _distinct([i.sign_in_id for i in items], "sign_in_id")
        checked: list[tuple[SignInInput, datetime, _Fix | None]] = []
        for item in items:
            at = self._not_future(item.at, "at")
            if item.method not in SIGN_IN_METHODS:
                raise InvalidPatrolInputError("method must be gps or manual", field="method")
            if item.method == "manual":
                if (
                    not item.reason_code
                    or item.reason_code not in MANUAL_REASONS
                    or item.village_id is None
                ):
                    raise InvalidPatrolInputError(
                        "a manual sign-in needs a reason code "
                        f"({', '.join(MANUAL_REASONS)}) and a village",
                        code=codes.MANUAL_SIGN_IN_NEEDS_REASON,
                        field="reason_code",
                    )
                checked.append((item, at, None))
            else:
                checked.append((item, at, _fix(item.lon, item.lat, item.accuracy_m)))
        patrol, existing = await self._writable_many(
            principal, patrol_id, SignIn, [(i.sign_in_id, at) for i, at, _ in checked]
        )
        targets = None
        if any(fix is not None and i.sign_in_id not in existing for i, _, fix in checked):
            targets = await self._area_targets(patrol)
        out: list[tuple[SignIn, bool]] = []
        hits: list[tuple[uuid.UUID, datetime, float]] = []
        for item, at, fix in checked:
            if item.sign_in_id in existing:
                out.append((existing[item.sign_in_id], True))
                continue
            reach = _Reach((), None)
            if fix is None:  # manual: placed inside its village
                assert item.village_id is not None  # checked above
                geom = await self._village_point(principal, item.village_id)
                accuracy_m, reason_code = None, item.reason_code
            else:
                geom = from_shape(Point(fix.lon, fix.lat), srid=4326)
                accuracy_m, reason_code = item.accuracy_m, None
                assert targets is not None  # loaded above for new GPS sign-ins
                reach = targets.reach(fix.lon, fix.lat)
                hits.extend((target_id, at, dist) for target_id, dist in reach.reached)
            nearest_id, nearest_m = reach.nearest or (None, None)
            row = SignIn(
                id=item.sign_in_id,
                county_id=principal.county_id,
                session_id=patrol.id,
                user_id=principal.user_id,
                at=at,
                method=item.method,
                geom=geom,
                accuracy_m=accuracy_m,
                reason_code=reason_code,
                village_id=item.village_id,
                address=item.address,
                reached_target_ids=[target_id for target_id, _ in reach.reached],
                nearest_target_id=nearest_id,
                nearest_target_m=nearest_m,
                far_from_targets=nearest_m is not None and nearest_m > self.config.sign_in_far_m,
            )
            self.db.add(row)
            out.append((row, False))
        await self.db.flush()
        await self._record_visits(patrol, hits, "sign_in")
        for row, replayed in out:
            if not replayed and row.far_from_targets:
                log.info(
                    "patrol.sign_in_far",
                    patrol_id=str(patrol.id),
                    county=str(patrol.county_id),
                    nearest_target_m=row.nearest_target_m,
                )
        return out

    async def list_sign_ins(self, principal: Principal, patrol_id: uuid.UUID) -> Sequence[SignIn]:
        """The sign-ins of a patrol the caller may read (``ListSignIns``), in time order,
        each with the targets it reached and its far-from-targets flag."""
        patrol = await load_patrol(self.db, principal, patrol_id)
        await ensure_patrol_reader(self.db, principal, patrol)
        stmt = select(SignIn).where(SignIn.session_id == patrol.id).order_by(SignIn.at, SignIn.id)
        return (await self.db.execute(stmt)).scalars().all()

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
        outline: Mapping[str, Any] | None = None,
    ) -> Finding:
        """Record a finding on a patrol (``RecordFinding``) and mark the patrol as having one.

        Township and village are taken from the position when not given. The finding is
        checked against the reference layers, counts as a visit of the targets it reaches,
        raises the rebound review of closed-mine sites it is at and is screened against the
        referral thresholds (:mod:`patrol.finding_checks`); ``outline`` is its walked
        boundary (GeoJSON), overlaid for the occupied area by land class.
        """
        item = FindingInput(
            patrol_id=patrol_id, finding_id=finding_id, found_at=found_at,
            project_name=project_name, construction_status=construction_status, lon=lon,
            lat=lat, accuracy_m=accuracy_m, builder=builder,
            construction_started_on=construction_started_on, occupied_area_m2=occupied_area_m2,
            township_id=township_id, village_id=village_id, note=note, outline=outline,
        )  # fmt: skip
        return (await self.record_findings(principal, [item]))[0][0]

    async def record_findings(
        self, principal: Principal, items: Sequence[FindingInput]
    ) -> list[tuple[Finding, bool]]:
        """Several findings on one patrol at once, all or none (the rules of
        :meth:`record_finding` for each). Returns each finding with whether it was stored
        before (a replay). Ids must be distinct."""
        patrol_id = _one_patrol(items)
        _distinct([i.finding_id for i in items], "finding_id")
        checked: list[tuple[FindingInput, datetime, _Fix]] = []
        outlines = {i.finding_id: parse_outline(i.outline) for i in items if i.outline}
        for item in items:
            found_at = self._not_future(item.found_at, "found_at")
            check_finding_fields(
                construction_status=item.construction_status,
                occupied_area_m2=item.occupied_area_m2,
                project_name=item.project_name,
            )
            checked.append((item, found_at, _fix(item.lon, item.lat, item.accuracy_m)))
        patrol, existing = await self._writable_many(
            principal, patrol_id, Finding, [(i.finding_id, at) for i, at, _ in checked]
        )
        new = [(i, at, fix) for i, at, fix in checked if i.finding_id not in existing]
        await self._check_villages(
            principal, {i.village_id for i, _, _ in new if i.village_id is not None}
        )
        places = await self._places_of(
            principal, [fix for i, _, fix in new if i.township_id is None or i.village_id is None]
        )
        located = dict(zip(
            [i.finding_id for i, _, _ in new],
            await self.checks.locate(principal.county_id, [
                Place(fix.lon, fix.lat, fix.accuracy_m, i.occupied_area_m2,
                      outlines.get(i.finding_id))
                for i, _, fix in new
            ]),
            strict=True,
        ))  # fmt: skip
        out: list[tuple[Finding, bool]] = []
        for item, found_at, fix in checked:
            if item.finding_id in existing:
                out.append((existing[item.finding_id], True))
                continue
            township_id, village_id = item.township_id, item.village_id
            place = places.get((fix.lon, fix.lat))
            if place is not None and (township_id is None or village_id is None):
                found_village, village_township, found_township = place
                if village_id is None and found_village is not None:
                    village_id = found_village
                    township_id = township_id or village_township
                township_id = township_id or found_township
            row = Finding(
                id=item.finding_id,
                county_id=principal.county_id,
                session_id=patrol.id,
                reported_by=principal.user_id,
                found_at=found_at,
                project_name=item.project_name,
                builder=item.builder,
                construction_started_on=item.construction_started_on,
                construction_status=item.construction_status,
                occupied_area_m2=item.occupied_area_m2,
                geom=from_shape(Point(fix.lon, fix.lat), srid=4326),
                accuracy_m=fix.accuracy_m,
                township_id=township_id,
                village_id=village_id,
                note=item.note,
            )
            located[item.finding_id].store(row)
            if item.finding_id in outlines:
                row.outline = from_shape(outlines[item.finding_id], srid=4326)
            out.append((row, False))
        if new:
            fresh = [row for row, replay in out if not replay]
            await self.checks.assess(principal, [(row, located[row.id]) for row in fresh])
            self.db.add_all(fresh)
            patrol.has_violation = True
            await self.db.flush()
            fixes = [(fix.lon, fix.lat, at) for _, at, fix in new]
            await self._visits_at_many(patrol, fixes, VISIT_SOURCE)
        return out

    async def update_finding(self, principal: Principal, edit: FindingEdit) -> FindingEdited:
        """Edit a finding last seen at a version (:func:`patrol.findings.edit_finding`): its
        reporter, its patrol's crew, captains and admins; a conflict is an answer, not an
        error."""
        return await edit_finding(self.db, self.checks, principal, edit)

    async def finding_versions(
        self, principal: Principal, finding_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, int]:
        """The versions (``xmin``) of findings of the caller's county, by id (one query)."""
        rows = await self.db.execute(
            _VERSIONS_SQL, {"ids": list(finding_ids), "c": principal.county_id}
        )
        return {r[0]: r[1] for r in rows}

    async def list_findings(self, principal: Principal, patrol_id: uuid.UUID) -> Sequence[Finding]:
        """The findings of the patrol the caller may read (:func:`patrol.policy.finding_read`,
        the rule the sync pull applies): all of them for its readers; for others (the
        security squad) those of their view. A caller who reads neither the patrol nor any
        of its findings is refused (``not_patrol_owner``)."""
        patrol = await load_patrol(self.db, principal, patrol_id)
        stmt = (
            select(Finding)
            .where(
                Finding.session_id == patrol.id,
                read_clause(finding_read(), Finding.__tablename__, principal),
            )
            .order_by(Finding.found_at)
        )
        rows = (await self.db.execute(stmt)).scalars().all()
        if not rows:
            await ensure_patrol_reader(self.db, principal, patrol)
        return rows

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
        return await self._visits_at_many(patrol, [(lon, lat, aware(at, "at"))], source)

    # -- helpers -----------------------------------------------------------------------------
    async def _writable_many(
        self,
        principal: Principal,
        patrol_id: uuid.UUID,
        model: type[_Row],
        rows: Sequence[tuple[uuid.UUID, datetime]],
    ) -> tuple[PatrolSession, dict[uuid.UUID, _Row]]:
        """The patrol, writable by the caller, and which of the rows ``(id, time)`` exist.

        An id stored on another patrol is ``id_reused``; a new row timed after the patrol's
        end is ``patrol_already_ended``.
        """
        patrol = await load_patrol(self.db, principal, patrol_id)
        ensure_patrol_writer(principal, patrol)
        ids = [row_id for row_id, _ in rows]
        found = (await self.db.execute(select(model).where(model.id.in_(ids)))).scalars()
        existing = {row.id: row for row in found}
        for row in existing.values():
            if row.county_id != principal.county_id or row.session_id != patrol.id:
                raise IdReusedError("this id is already used", id=str(row.id))
        tolerance = timedelta(seconds=self.config.future_tolerance_s)
        for row_id, at in rows:
            if row_id in existing or patrol.ended_at is None:
                continue
            if at > patrol.ended_at + tolerance:
                raise PatrolAlreadyEndedError(
                    "this patrol ended before that time",
                    patrol_id=str(patrol.id),
                    ended_at=patrol.ended_at.isoformat(),
                )
        return patrol, existing

    async def _village_point(self, principal: Principal, village_id: uuid.UUID) -> object:
        stmt = scoped(select(func.ST_PointOnSurface(Village.geom)), Village, principal).where(
            Village.id == village_id
        )
        point = (await self.db.execute(stmt)).scalar_one_or_none()
        if point is None:
            raise VillageNotFoundError("village not found", village_id=str(village_id))
        return point

    async def _check_villages(self, principal: Principal, village_ids: set[uuid.UUID]) -> None:
        if not village_ids:
            return
        stmt = scoped(select(Village.id), Village, principal).where(Village.id.in_(village_ids))
        missing = village_ids - set((await self.db.execute(stmt)).scalars())
        if missing:
            raise VillageNotFoundError("village not found", village_id=str(min(missing)))

    async def _places_of(
        self, principal: Principal, fixes: Sequence[_Fix]
    ) -> dict[tuple[float, float], tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]]:
        """Per position: the village under it, that village's township, the township under it
        (one round trip for all)."""
        if not fixes:
            return {}
        rows = await self.db.execute(
            _PLACES_SQL,
            {
                "c": principal.county_id,
                "lons": [f.lon for f in fixes],
                "lats": [f.lat for f in fixes],
            },
        )
        return {(lon, lat): (v, vt, t) for lon, lat, v, vt, t in rows}

    async def _area_targets(self, patrol: PatrolSession) -> _Targets:
        rows = await self.db.execute(
            _AREA_TARGETS_SQL, {"area": patrol.area_id, "c": patrol.county_id}
        )
        return _Targets.of([(r[0], r[1], r[2], r[3]) for r in rows])

    async def _visits_at_many(
        self, patrol: PatrolSession, fixes: Sequence[tuple[float, float, datetime]], source: str
    ) -> list[uuid.UUID]:
        """Record visits to the patrol's targets within reach of any of ``fixes`` (lon, lat,
        time); returns the targets reached. One query finds them, one statement stores them."""
        targets = await self._area_targets(patrol)
        hits = [
            (target_id, at, dist)
            for lon, lat, at in fixes
            for target_id, dist in targets.reach(lon, lat).reached
        ]
        return await self._record_visits(patrol, hits, source)

    async def _record_visits(
        self, patrol: PatrolSession, hits: Sequence[tuple[uuid.UUID, datetime, float]], source: str
    ) -> list[uuid.UUID]:
        """Store visits ``(target, time, distance)``: per target the earliest time and the
        nearest distance (one statement); returns the targets visited."""
        best: dict[uuid.UUID, tuple[datetime, float]] = {}
        for target_id, at, dist in hits:
            first, nearest = best.get(target_id, (at, dist))
            best[target_id] = (min(first, at), min(nearest, dist))
        if best:
            await self.db.execute(
                _VISIT_SQL,
                [
                    {"s": patrol.id, "t": target_id, "src": source, "at": at,
                     "d": round(dist, 2), "c": patrol.county_id}
                    for target_id, (at, dist) in best.items()
                ],
            )  # fmt: skip
        return list(best)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartPatrolInput:
    """Start a patrol (:meth:`PatrolService.start`): REST, sync and the demo alike."""

    patrol_id: uuid.UUID
    area_id: uuid.UUID
    started_at: datetime
    companion_ids: tuple[uuid.UUID, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndPatrolInput:
    """End a patrol (:meth:`PatrolService.end`); ``note`` ``None`` keeps the start's note."""

    patrol_id: uuid.UUID
    ended_at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInInput:
    """One sign-in (:meth:`PatrolService.sign_in_many`): by GPS (``lon``, ``lat``,
    ``accuracy_m``), or ``manual`` with a reason code (:data:`MANUAL_REASONS`) and a
    village."""

    patrol_id: uuid.UUID
    sign_in_id: uuid.UUID
    at: datetime
    method: str = "gps"
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    reason_code: str | None = None
    village_id: uuid.UUID | None = None
    address: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingInput:
    """One finding (:meth:`PatrolService.record_findings`); the fields a finding may hold
    are checked by :func:`patrol.findings.check_finding_fields`."""

    patrol_id: uuid.UUID
    finding_id: uuid.UUID
    found_at: datetime
    project_name: str
    construction_status: str
    lon: float
    lat: float
    accuracy_m: float | None = None
    builder: str = ""
    construction_started_on: date | None = None
    occupied_area_m2: float | None = None
    township_id: uuid.UUID | None = None
    village_id: uuid.UUID | None = None
    note: str = ""
    outline: Mapping[str, Any] | None = None


def _one_patrol(items: Sequence[SignInInput] | Sequence[FindingInput]) -> uuid.UUID:
    patrols = {i.patrol_id for i in items}
    if len(patrols) != 1:
        raise InvalidPatrolInputError("a batch is of one patrol", field="patrol_id")
    return patrols.pop()


def _distinct(ids: Sequence[uuid.UUID], field: str) -> None:
    if len(set(ids)) != len(ids):
        raise InvalidPatrolInputError(f"the same {field} twice in one batch", field=field)


# The active targets of an area (an area holds tens of them, so every position is measured
# against all of them: the nearest one matters even when it is far).
_AREA_TARGETS_SQL = text(
    "SELECT id, ST_X(geom), ST_Y(geom), visit_radius_m FROM patrol_targets "
    "WHERE area_id = :area AND county_id = :c AND active ORDER BY id"
)
_PLACES_SQL = text(
    "SELECT p.lon, p.lat, v.id, v.township_id, (SELECT t.id FROM townships t "
    "WHERE t.county_id = :c AND ST_Intersects(t.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), "
    "4326)) LIMIT 1) "
    "FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) AS p(lon, lat) "
    "LEFT JOIN LATERAL (SELECT v.id, v.township_id FROM villages v WHERE v.county_id = :c "
    "AND ST_Intersects(v.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)) LIMIT 1) v "
    "ON true"
)
_VERSIONS_SQL = text(
    "SELECT id, xmin::text::bigint FROM patrol_findings WHERE id = ANY(:ids) AND county_id = :c"
)
_VISIT_SQL = text(
    "INSERT INTO patrol_target_visits "
    "(session_id, target_id, source, first_at, min_distance_m, county_id) "
    "VALUES (:s, :t, :src, :at, :d, :c) ON CONFLICT (session_id, target_id, "
    "source) DO UPDATE SET first_at = least(patrol_target_visits.first_at, "
    "excluded.first_at), min_distance_m = least("
    "patrol_target_visits.min_distance_m, excluded.min_distance_m)"
)


@dataclass(frozen=True, slots=True)
class _Reach:
    """What one position reached: ``(target, metres)`` within their radius, nearest first;
    the nearest target whatever its distance (``None`` without targets)."""

    reached: Sequence[tuple[uuid.UUID, float]]
    nearest: tuple[uuid.UUID, float] | None


@dataclass(frozen=True, slots=True)
class _Targets:
    """An area's active targets as arrays, to measure positions against all of them."""

    ids: list[uuid.UUID]
    lons: np.ndarray[Any, Any]
    lats: np.ndarray[Any, Any]
    radii: np.ndarray[Any, Any]

    @classmethod
    def of(cls, rows: Sequence[tuple[uuid.UUID, float, float, float]]) -> _Targets:
        return cls(
            [r[0] for r in rows],
            np.radians(np.array([r[1] for r in rows], dtype=float)),
            np.radians(np.array([r[2] for r in rows], dtype=float)),
            np.array([r[3] for r in rows], dtype=float),
        )

    def reach(self, lon: float, lat: float) -> _Reach:
        """Distances on the sphere (as :func:`patrol.tracks.haversine_m`), to the centimetre;
        a target is reached when the distance is at most its radius."""
        if not self.ids:
            return _Reach((), None)
        p1, dl = math.radians(lat), self.lons - math.radians(lon)
        a = (
            np.sin((self.lats - p1) / 2) ** 2
            + math.cos(p1) * np.cos(self.lats) * np.sin(dl / 2) ** 2
        )
        dist = np.round(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))), 2)
        nearest = int(np.argmin(dist))
        # only the targets reached are sorted and listed (498 positions x 400 targets: 21 ms
        # instead of 80 ms walking every target in Python)
        hit = np.flatnonzero(dist <= self.radii)
        hit = hit[np.argsort(dist[hit], kind="stable")]
        reached = [(self.ids[i], float(dist[i])) for i in hit.tolist()]
        return _Reach(reached, (self.ids[nearest], float(dist[nearest])))


def _fix(lon: float | None, lat: float | None, accuracy_m: float | None) -> _Fix:
    if lon is None or lat is None:
        raise InvalidPatrolInputError(
            "a GPS position (lon, lat) is required", code=codes.INVALID_COORDINATES, field="lon"
        )
    check_lon_lat(lon, lat)
    if accuracy_m is not None and not (math.isfinite(accuracy_m) and 0 <= accuracy_m <= 10_000):
        raise InvalidPatrolInputError(
            "accuracy must be between 0 and 10000 m",
            code=codes.INVALID_ACCURACY,
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
