"""Coverage review for captains: quotas, weeks, km, hours, nights, targets, duty, people.

Everything here reads per-patrol summaries (kept by :mod:`patrol.tracks`), never raw points,
so a county-month costs a handful of indexed queries whatever the number of points.

Counting rules:

* a patrol counts when it has ended and lasted at least ``config.min_counted_s``; it belongs
  to the local day, week and month it started in (``config.timezone``);
* the weeks of a month are the Monday-first weeks whose Thursday falls in it (so every week
  belongs to exactly one month, as in ISO 8601) and count the patrols of the whole week;
  a week still running that has not yet met its minimum is reported as ``met = None``;
* the days of a month (a calendar of the area's patrols) are the local days with counted
  patrols, in order;
* a patrol's crew (inspector and companions) each get the patrol, its distance and time.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from infra import error_codes as codes
from infra.db import utcnow
from infra.messages import DEFAULT_LANG, Lang, label
from infra.scope import Principal, scoped
from patrol._access import require_manager
from patrol.config import PatrolConfig
from patrol.duty import DutyCompliance, DutyRoster, DutyService
from patrol.errors import InvalidPatrolInputError
from patrol.field_models import (
    AreaMember,
    ContractArea,
    FrequencyRule,
    MonthlyPlan,
    PatrolSession,
    PatrolTarget,
    TargetVisit,
)
from patrol.models import User
from patrol.plans import Requirement, first_of_month, resolve_requirement
from patrol.tracks import refresh_summary, show_current_figures

__all__ = [
    "COVERAGE_CSV_COLUMNS",
    "AreaCoverage",
    "Coverage",
    "CoverageService",
    "DayCoverage",
    "InspectorCoverage",
    "LiveBoard",
    "LiveInspector",
    "WeekCoverage",
    "month_weeks",
]

#: The coverage CSV's columns (the English header); the Chinese names are in
#: ``infra.messages.LABELS["coverage_csv"]``.
COVERAGE_CSV_COLUMNS = (
    "kind",
    "id",
    "code",
    "name",
    "patrols",
    "quota",
    "quota_met",
    "night_patrols",
    "night_required",
    "weeks_met",
    "weeks_total",
    "distance_km",
    "hours",
    "targets_visited",
    "targets_planned",
    "duty_compliance",
)


@dataclass(slots=True)
class WeekCoverage:
    week_start: date
    patrols: int
    night_patrols: int
    required: int
    required_night: int
    met: bool | None


@dataclass(frozen=True, slots=True)
class DayCoverage:
    """A local day of the month with counted patrols (the days without are left out)."""

    day: date
    patrols: int
    night_patrols: int


@dataclass(slots=True)
class AreaCoverage:
    area_id: uuid.UUID
    code: str
    name: str
    grade: int
    requirement: Requirement
    patrols: int = 0
    night_patrols: int = 0
    quota_met: bool = False
    night_met: bool = False
    weeks: list[WeekCoverage] = field(default_factory=list)
    days: list[DayCoverage] = field(default_factory=list)
    distance_km: float = 0.0
    hours: float = 0.0
    patrols_with_findings: int = 0
    targets_visited: list[uuid.UUID] = field(default_factory=list)
    targets_not_visited: list[uuid.UUID] = field(default_factory=list)
    inspector_ids: list[uuid.UUID] = field(default_factory=list)
    duty: DutyCompliance | None = None

    @property
    def weeks_met(self) -> int:
        return sum(1 for w in self.weeks if w.met)

    @property
    def weeks_total(self) -> int:
        return len(self.weeks)


@dataclass(slots=True)
class InspectorCoverage:
    user_id: uuid.UUID
    name: str
    patrols: int = 0
    night_patrols: int = 0
    distance_km: float = 0.0
    hours: float = 0.0
    area_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass(slots=True)
class Coverage:
    """``GetCoverage``: one county and month."""

    county_id: uuid.UUID
    month: date
    areas: list[AreaCoverage]
    inspectors: list[InspectorCoverage]
    duty: DutyCompliance | None
    patrols: int
    distance_km: float
    hours: float


@dataclass(frozen=True, slots=True)
class LiveInspector:
    """``GetLiveStatus``: ``patrolling`` (red), ``patrolled_today`` (blue), ``not_today``."""

    user_id: uuid.UUID
    name: str
    status: str
    patrol_id: uuid.UUID | None
    area_id: uuid.UUID | None
    last_seen_at: datetime | None
    lon: float | None
    lat: float | None
    patrols_today: int
    distance_today_m: float


@dataclass(frozen=True, slots=True)
class LiveBoard:
    """``GetLiveStatus``: everyone of :class:`LiveInspector` as of a time, with the counts."""

    as_of: datetime
    inspectors: list[LiveInspector]

    def _count(self, status: str) -> int:
        return sum(1 for x in self.inspectors if x.status == status)

    @property
    def patrolling(self) -> int:
        return self._count("patrolling")

    @property
    def patrolled_today(self) -> int:
        return self._count("patrolled_today")

    @property
    def not_today(self) -> int:
        return self._count("not_today")


def month_weeks(month: date) -> list[date]:
    """Mondays of the weeks whose Thursday falls in ``month``."""
    first = first_of_month(month)
    monday = first - timedelta(days=first.weekday())
    if (monday + timedelta(days=3)).month != first.month:
        monday += timedelta(days=7)
    weeks = []
    while (monday + timedelta(days=3)).month == first.month:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


@dataclass(slots=True)
class _Row:
    id: uuid.UUID
    area_id: uuid.UUID
    crew: list[uuid.UUID]
    local_day: date
    is_night: bool
    distance_m: float
    duration_s: float
    has_violation: bool


class CoverageService:
    """Read models for captains and admins of one county."""

    def __init__(
        self,
        db: AsyncSession,
        *,
        roster: DutyRoster | None = None,
        config: PatrolConfig | None = None,
    ) -> None:
        self.db = db
        self.roster = roster
        self.config = config or PatrolConfig()

    def _local_midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.config.tz).astimezone(UTC)

    async def _patrols(self, principal: Principal, start: date, end: date) -> list[_Row]:
        """Counted patrols started in local days ``[start, end)``."""
        lo, hi = self._local_midnight(start), self._local_midnight(end)
        stale = scoped(select(PatrolSession), PatrolSession, principal).where(
            PatrolSession.started_at >= lo,
            PatrolSession.started_at < hi,
            PatrolSession.ended_at.is_not(None),
            PatrolSession.summary_stale,
        )
        for patrol in (await self.db.execute(stale)).scalars().all():
            await refresh_summary(self.db, patrol, self.config)
        stmt = scoped(
            select(
                PatrolSession.id,
                PatrolSession.area_id,
                PatrolSession.inspector_id,
                PatrolSession.companion_ids,
                PatrolSession.started_at,
                PatrolSession.is_night,
                PatrolSession.distance_m,
                PatrolSession.duration_s,
                PatrolSession.has_violation,
            ),
            PatrolSession,
            principal,
        ).where(
            PatrolSession.started_at >= lo,
            PatrolSession.started_at < hi,
            PatrolSession.ended_at.is_not(None),
            PatrolSession.duration_s >= self.config.min_counted_s,
        )
        tz = self.config.tz
        return [
            _Row(
                r[0],
                r[1],
                [r[2], *[c for c in (r[3] or []) if c != r[2]]],
                r[4].astimezone(tz).date(),
                r[5],
                r[6],
                r[7],
                r[8],
            )
            for r in (await self.db.execute(stmt)).all()
        ]

    async def get_coverage(
        self, principal: Principal, month: date, *, now: datetime | None = None
    ) -> Coverage:
        """Per area and inspector for a month (``GetCoverage``); captains and admins.

        Five-to-one figures count a member overdue at the end of the month (or ``now``
        while the month runs) as not compliant (:class:`patrol.duty.DutyCompliance`).
        """
        require_manager(principal, "review coverage")
        now = now or utcnow()
        month = first_of_month(month)
        weeks = month_weeks(month)
        end_month = _next_month(month)
        span_start = min(month, weeks[0]) if weeks else month
        span_end = max(end_month, weeks[-1] + timedelta(days=7)) if weeks else end_month
        rows = await self._patrols(principal, span_start, span_end)
        areas = (
            (
                await self.db.execute(
                    scoped(select(ContractArea), ContractArea, principal)
                    .where(ContractArea.active)
                    .order_by(ContractArea.code)
                )
            )
            .scalars()
            .all()
        )
        rules = (
            (await self.db.execute(scoped(select(FrequencyRule), FrequencyRule, principal)))
            .scalars()
            .all()
        )
        plans = {
            p.area_id: p
            for p in (
                await self.db.execute(
                    scoped(select(MonthlyPlan), MonthlyPlan, principal).where(
                        MonthlyPlan.month == month
                    )
                )
            )
            .scalars()
            .all()
        }
        in_month = [r for r in rows if month <= r.local_day < end_month]
        visited = await self._visited(principal, [r.id for r in in_month])
        targets, sites = await self._targets(principal)
        duty_by_area = await self._duty(principal, month, end_month, sites, now)
        today = now.astimezone(self.config.tz).date()
        result: list[AreaCoverage] = []
        for area in areas:
            plan = plans.get(area.id)
            req = _plan_requirement(plan) or resolve_requirement(rules, area, month, self.config)
            mine = [r for r in in_month if r.area_id == area.id]
            cov = AreaCoverage(
                area_id=area.id,
                code=area.code,
                name=area.name,
                grade=area.grade,
                requirement=req,
                patrols=len(mine),
                night_patrols=sum(1 for r in mine if r.is_night),
                distance_km=round(sum(r.distance_m for r in mine) / 1000, 3),
                hours=round(sum(r.duration_s for r in mine) / 3600, 3),
                patrols_with_findings=sum(1 for r in mine if r.has_violation),
                inspector_ids=sorted({c for r in mine for c in r.crew}),
                duty=duty_by_area.get(area.id),
                days=_days(mine),
            )
            cov.quota_met = cov.patrols >= req.min_per_month
            cov.night_met = cov.night_patrols >= req.min_night_per_month
            for monday in weeks:
                wreq = (
                    req
                    if plan is not None
                    else resolve_requirement(rules, area, monday, self.config)
                )
                wk = [
                    r
                    for r in rows
                    if r.area_id == area.id and monday <= r.local_day < monday + timedelta(days=7)
                ]
                nights = sum(1 for r in wk if r.is_night)
                met: bool | None = (
                    len(wk) >= wreq.min_per_week and nights >= wreq.min_night_per_week
                )
                if not met and monday + timedelta(days=7) > today:
                    met = None
                cov.weeks.append(
                    WeekCoverage(
                        monday, len(wk), nights, wreq.min_per_week, wreq.min_night_per_week, met
                    )
                )
            planned = plan.target_ids if plan is not None else targets.get(area.id, [])
            seen = visited.get(area.id, set())
            cov.targets_visited = [t for t in planned if t in seen]
            cov.targets_not_visited = [t for t in planned if t not in seen]
            result.append(cov)
        inspectors = await self._inspectors(principal, in_month)
        duty = None
        if self.roster is not None:
            duty = await DutyService(self.db, self.roster, config=self.config).compliance(
                principal.county_id,
                self._local_midnight(month),
                self._local_midnight(end_month),
                now=now,
            )
        return Coverage(
            county_id=principal.county_id,
            month=month,
            areas=result,
            inspectors=inspectors,
            duty=duty,
            patrols=len(in_month),
            distance_km=round(sum(r.distance_m for r in in_month) / 1000, 3),
            hours=round(sum(r.duration_s for r in in_month) / 3600, 3),
        )

    async def _visited(
        self, principal: Principal, patrol_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, set[uuid.UUID]]:
        if not patrol_ids:
            return {}
        stmt = scoped(
            select(PatrolTarget.area_id, TargetVisit.target_id)
            .join(PatrolTarget, PatrolTarget.id == TargetVisit.target_id)
            .distinct(),
            TargetVisit,
            principal,
        ).where(TargetVisit.session_id.in_(list(patrol_ids)))
        out: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for area_id, target_id in (await self.db.execute(stmt)).all():
            out[area_id].add(target_id)
        return out

    async def _targets(
        self, principal: Principal
    ) -> tuple[dict[uuid.UUID, list[uuid.UUID]], dict[uuid.UUID, set[uuid.UUID]]]:
        """Active target ids per area, and the mine-site ids among them per area."""
        stmt = (
            scoped(
                select(
                    PatrolTarget.area_id, PatrolTarget.id, PatrolTarget.kind, PatrolTarget.ref_id
                ),
                PatrolTarget,
                principal,
            )
            .where(PatrolTarget.active)
            .order_by(PatrolTarget.name, PatrolTarget.id)
        )
        out: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        sites: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for area_id, target_id, kind, ref_id in (await self.db.execute(stmt)).all():
            out[area_id].append(target_id)
            if kind == "mine_site" and ref_id is not None:
                sites[area_id].add(ref_id)
        return out, sites

    async def _duty(
        self,
        principal: Principal,
        month: date,
        end_month: date,
        sites_by_area: dict[uuid.UUID, set[uuid.UUID]],
        now: datetime,
    ) -> dict[uuid.UUID, DutyCompliance]:
        if self.roster is None or not sites_by_area:
            return {}
        service = DutyService(self.db, self.roster, config=self.config)
        start, end = self._local_midnight(month), self._local_midnight(end_month)
        return {
            area_id: await service.compliance(principal.county_id, start, end, sites, now=now)
            for area_id, sites in sites_by_area.items()
            if sites
        }

    async def _inspectors(
        self, principal: Principal, rows: Sequence[_Row]
    ) -> list[InspectorCoverage]:
        people: dict[uuid.UUID, InspectorCoverage] = {}
        ids = {c for r in rows for c in r.crew}
        names: dict[uuid.UUID, str] = {}
        if ids:
            stmt = scoped(select(User.id, User.display_name), User, principal).where(
                User.id.in_(ids)
            )
            names = dict((await self.db.execute(stmt)).all())
        areas: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for r in rows:
            for c in r.crew:
                p = people.setdefault(c, InspectorCoverage(c, names.get(c, "")))
                p.patrols += 1
                p.night_patrols += int(r.is_night)
                p.distance_km += r.distance_m / 1000
                p.hours += r.duration_s / 3600
                areas[c].add(r.area_id)
        for p in people.values():
            p.distance_km = round(p.distance_km, 3)
            p.hours = round(p.hours, 3)
            p.area_ids = sorted(areas[p.user_id])
        return sorted(people.values(), key=lambda p: (p.name, str(p.user_id)))

    async def get_live_board(
        self, principal: Principal, *, now: datetime | None = None
    ) -> LiveBoard:
        """:meth:`get_live_status` with its time and counts."""
        now = now or utcnow()
        return LiveBoard(as_of=now, inspectors=await self.get_live_status(principal, now=now))

    async def get_live_status(
        self, principal: Principal, *, now: datetime | None = None
    ) -> list[LiveInspector]:
        """Who is patrolling now, who patrolled today, who has not (``GetLiveStatus``).

        People listed: inspectors, leaders and members of active areas, and anyone with a
        patrol today. The distance today counts patrols in progress as far as they have
        walked (:func:`patrol.tracks.show_current_figures`, which writes nothing).
        """
        require_manager(principal, "see live patrol status")
        now = now or utcnow()
        today = now.astimezone(self.config.tz).date()
        lo, hi = self._local_midnight(today), self._local_midnight(today + timedelta(days=1))
        sessions = (
            (
                await self.db.execute(
                    scoped(select(PatrolSession), PatrolSession, principal)
                    .where(
                        or_(
                            PatrolSession.ended_at.is_(None),
                            (PatrolSession.started_at >= lo) & (PatrolSession.started_at < hi),
                        )
                    )
                    .order_by(PatrolSession.started_at)
                )
            )
            .scalars()
            .all()
        )
        leaders = select(ContractArea.leader_id).where(
            ContractArea.county_id == principal.county_id, ContractArea.active
        )
        members = (
            select(AreaMember.user_id)
            .join(ContractArea, ContractArea.id == AreaMember.area_id)
            .where(AreaMember.county_id == principal.county_id, ContractArea.active)
        )
        crew_ids = {c for s in sessions for c in [s.inspector_id, *(s.companion_ids or [])]}
        users = (
            await self.db.execute(
                scoped(select(User.id, User.display_name), User, principal)
                .where(
                    User.active,
                    or_(
                        User.role == "inspector",
                        User.id.in_(leaders),
                        User.id.in_(members),
                        User.id.in_(crew_ids),
                    ),
                )
                .order_by(User.display_name, User.id)
            )
        ).all()
        open_ids = [s.id for s in sessions if s.ended_at is None]
        last_fix: dict[uuid.UUID, tuple[float, float]] = {}
        if open_ids:
            last_fix = await self._last_fixes(open_ids)
        for s in sessions:
            await show_current_figures(self.db, s, self.config)
        out = []
        for user_id, name in users:
            mine = [
                s
                for s in sessions
                if user_id == s.inspector_id or user_id in (s.companion_ids or [])
            ]
            running = [s for s in mine if s.ended_at is None]
            todays = [s for s in mine if lo <= s.started_at < hi]
            current = running[-1] if running else (todays[-1] if todays else None)
            status = "patrolling" if running else "patrolled_today" if todays else "not_today"
            fix = last_fix.get(current.id) if current is not None else None
            out.append(
                LiveInspector(
                    user_id=user_id,
                    name=name,
                    status=status,
                    patrol_id=current.id if current else None,
                    area_id=current.area_id if current else None,
                    last_seen_at=(current.last_point_at or current.started_at) if current else None,
                    lon=fix[0] if fix else None,
                    lat=fix[1] if fix else None,
                    patrols_today=len(todays),
                    distance_today_m=round(sum(s.distance_m for s in todays), 2),
                )
            )
        return out

    async def _last_fixes(
        self, patrol_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[float, float]]:
        conn = await self.db.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        rows = await driver.fetch(
            "SELECT DISTINCT ON (session_id) session_id, ST_X(geom), ST_Y(geom) "
            "FROM patrol_track_points WHERE session_id = ANY($1::uuid[]) "
            "ORDER BY session_id, t DESC",
            list(patrol_ids),
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    # -- exports -----------------------------------------------------------------------------
    async def export_coverage_csv(
        self, principal: Principal, month: date, *, lang: Lang = DEFAULT_LANG
    ) -> str:
        """The month's coverage as CSV: one row per area, then one per inspector; the header
        row in ``lang`` (English: the column codes of :data:`COVERAGE_CSV_COLUMNS`)."""
        cov = await self.get_coverage(principal, month)
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow([label("coverage_csv", column, lang) for column in COVERAGE_CSV_COLUMNS])
        for a in cov.areas:
            out.writerow(
                [
                    "area",
                    a.area_id,
                    a.code,
                    a.name,
                    a.patrols,
                    a.requirement.min_per_month,
                    int(a.quota_met),
                    a.night_patrols,
                    a.requirement.min_night_per_month,
                    a.weeks_met,
                    a.weeks_total,
                    a.distance_km,
                    a.hours,
                    len(a.targets_visited),
                    len(a.targets_visited) + len(a.targets_not_visited),
                    "" if a.duty is None else a.duty.ratio,
                ]
            )
        for p in cov.inspectors:
            out.writerow(
                [
                    "inspector",
                    p.user_id,
                    "",
                    p.name,
                    p.patrols,
                    "",
                    "",
                    p.night_patrols,
                    "",
                    "",
                    "",
                    p.distance_km,
                    p.hours,
                    "",
                    "",
                    "",
                ]
            )
        return buf.getvalue()

    async def export_tracks_geojson(
        self,
        principal: Principal,
        *,
        start: date,
        end: date,
        area_id: uuid.UUID | None = None,
        inspector_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """Routes of the patrols started in local days ``[start, end)`` (at most 31 days) as a
        GeoJSON FeatureCollection, one LineString per patrol with its summary (a patrol in
        progress as far as it has walked); points with poor accuracy, and points timed after
        the patrol's end, are left out."""
        require_manager(principal, "export tracks")
        if not timedelta(0) < end - start <= timedelta(days=31):
            raise InvalidPatrolInputError(
                "the export covers 1 to 31 days", code=codes.INVALID_PERIOD, field="end"
            )
        lo, hi = self._local_midnight(start), self._local_midnight(end)
        stmt = scoped(select(PatrolSession), PatrolSession, principal).where(
            PatrolSession.started_at >= lo, PatrolSession.started_at < hi
        )
        if area_id is not None:
            stmt = stmt.where(PatrolSession.area_id == area_id)
        if inspector_id is not None:
            stmt = stmt.where(PatrolSession.inspector_id == inspector_id)
        patrols = (await self.db.execute(stmt.order_by(PatrolSession.started_at))).scalars().all()
        lines: dict[uuid.UUID, Any] = {}
        if patrols:
            conn = await self.db.connection()
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            rows = await driver.fetch(
                "SELECT p.session_id, ST_AsGeoJSON(ST_MakeLine(p.geom ORDER BY p.t), 6) "
                "FROM patrol_track_points p JOIN patrol_sessions s ON s.id = p.session_id "
                "WHERE p.session_id = ANY($1::uuid[]) AND p.accuracy_m <= $2 "
                "AND (s.ended_at IS NULL OR p.t <= s.ended_at) GROUP BY p.session_id",
                [p.id for p in patrols],
                self.config.max_accuracy_m,
            )
            lines = {r[0]: json.loads(r[1]) for r in rows}
        for p in patrols:
            await show_current_figures(self.db, p, self.config)
        features = [
            {
                "type": "Feature",
                "geometry": lines.get(p.id),
                "properties": {
                    "patrol_id": str(p.id),
                    "area_id": str(p.area_id),
                    "inspector_id": str(p.inspector_id),
                    "started_at": p.started_at.isoformat(),
                    "ended_at": p.ended_at.isoformat() if p.ended_at else None,
                    "distance_m": p.distance_m,
                    "duration_s": p.duration_s,
                    "is_night": p.is_night,
                    "has_violation": p.has_violation,
                },
            }
            for p in patrols
        ]
        return {"type": "FeatureCollection", "features": features}


def _days(rows: Sequence[_Row]) -> list[DayCoverage]:
    """The local days of ``rows`` in order, each with its patrols and night patrols."""
    by_day: dict[date, list[_Row]] = defaultdict(list)
    for r in rows:
        by_day[r.local_day].append(r)
    return [
        DayCoverage(day, len(rs), sum(1 for r in rs if r.is_night))
        for day, rs in sorted(by_day.items())
    ]


def _plan_requirement(plan: MonthlyPlan | None) -> Requirement | None:
    if plan is None:
        return None
    return Requirement(
        plan.quota, plan.min_per_week, plan.min_night, plan.min_night_per_week, source="plan"
    )
