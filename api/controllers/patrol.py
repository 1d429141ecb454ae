"""Field work: areas and targets, rules and plans, patrols and tracks, duty checks, review.

Phones start and end patrols, sign in, record findings and send track batches, each under an
id they minted (PUT or POST to the id's path, safe to replay). Captains and admins shape
areas, rules and plans and read coverage, live status, alerts and exports; the domain
enforces who may do what.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from geoalchemy2.shape import to_shape
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from shapely.geometry import mapping

import patrol as p
from api.deps import (
    PATROL_CONFIG,
    Alerts,
    Areas,
    Caller,
    Coverage,
    Duty,
    Patrols,
    Plans,
    Tracks,
)
from api.problems import content_language, request_lang
from geofence import to_mu
from infra import error_codes as codes
from infra.db import utcnow
from infra.messages import Lang, render
from mobile_contract.v1 import patrol as c
from mobile_contract.v1.cases import Suggestion
from mobile_contract.v1.evidence import LocationCheck
from mobile_contract.v1.geofence import LandClassName
from patrol.finding_checks import place_of

__all__ = [
    "AreaController",
    "DutyController",
    "PatrolController",
    "PlanController",
    "ReviewController",
]

Limit = Annotated[int, QueryParameter(ge=1, le=1000)]


# -- parsing ---------------------------------------------------------------------------------


def _month(value: str | None) -> date:
    """``YYYY-MM`` as the first of the month; none means this month in the county."""
    if value is None:
        return utcnow().astimezone(PATROL_CONFIG.tz).date().replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise p.InvalidPatrolInputError(
            "month must look like 2026-11", code=codes.INVALID_MONTH, field="month"
        ) from None


def _mmdd(value: str | None) -> int | None:
    return None if value is None else int(value.replace("-", ""))


def _attachment(
    body: bytes | str, media_type: str, filename: str, lang: Lang | None = None
) -> Response[Any]:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if lang is not None:
        headers |= content_language(lang)
    return Response(body, media_type=media_type, headers=headers)


# -- mapping ---------------------------------------------------------------------------------


def _geojson(geom: Any) -> dict[str, Any]:
    return dict(mapping(to_shape(geom)))


def _xy(geom: Any) -> tuple[float, float]:
    point = to_shape(geom)
    return float(point.x), float(point.y)


def _area(a: p.ContractArea, members: dict[uuid.UUID, list[uuid.UUID]]) -> c.Area:
    return c.Area(
        id=a.id,
        code=a.code,
        name=a.name,
        grade=a.grade,
        geometry=_geojson(a.geom),
        leader_id=a.leader_id,
        member_ids=members.get(a.id, []),
        township_ids=list(a.township_ids or []),
        village_ids=list(a.village_ids or []),
        active=a.active,
        created_at=a.created_at,
        updated_at=a.updated_at,
    )


def _target(t: p.PatrolTarget, lon: float, lat: float) -> c.Target:
    return c.Target(
        id=t.id,
        area_id=t.area_id,
        kind=c.TargetKindName(t.kind),
        name=t.name,
        lon=lon,
        lat=lat,
        visit_radius_m=t.visit_radius_m,
        ref_id=t.ref_id,
        active=t.active,
    )


def _day(value: int | None) -> str | None:
    return None if value is None else f"{value // 100:02d}-{value % 100:02d}"


def _rule(r: p.FrequencyRule) -> c.FrequencyRule:
    return c.FrequencyRule(
        id=r.id,
        name=r.name,
        area_id=r.area_id,
        grade=r.grade,
        season_start=_day(r.season_start),
        season_end=_day(r.season_end),
        min_per_month=r.min_per_month,
        min_per_week=r.min_per_week,
        min_night_per_month=r.min_night_per_month,
        min_night_per_week=r.min_night_per_week,
        priority=r.priority,
    )


def _requirement(r: p.Requirement) -> c.Requirement:
    return c.Requirement(
        min_per_month=r.min_per_month,
        min_per_week=r.min_per_week,
        min_night_per_month=r.min_night_per_month,
        min_night_per_week=r.min_night_per_week,
        source=r.source,
        rule_id=r.rule_id,
    )


def _plan(v: p.PlanView) -> c.Plan:
    return c.Plan(
        plan_id=v.plan_id,
        area_id=v.area_id,
        area_code=v.area_code,
        area_name=v.area_name,
        grade=v.grade,
        month=f"{v.month:%Y-%m}",
        requirement=_requirement(v.requirement),
        targets=[
            c.PlanTarget(
                id=t.id,
                kind=c.TargetKindName(t.kind),
                name=t.name,
                lon=t.lon,
                lat=t.lat,
                visit_radius_m=t.visit_radius_m,
                ref_id=t.ref_id,
            )
            for t in v.targets
        ],
        inspector_ids=v.inspector_ids,
        note=v.note,
    )


def _patrol(s: p.PatrolSession) -> c.Patrol:
    return c.Patrol(
        id=s.id,
        area_id=s.area_id,
        inspector_id=s.inspector_id,
        companion_ids=list(s.companion_ids or []),
        plan_id=s.plan_id,
        started_at=s.started_at,
        ended_at=s.ended_at,
        end_reason=s.end_reason,
        note=s.note,
        has_violation=s.has_violation,
        point_count=s.point_count,
        last_point_at=s.last_point_at,
        distance_m=s.distance_m,
        duration_s=s.duration_s,
        moving_s=s.moving_s,
        is_night=s.is_night,
        used_point_count=s.used_point_count,
        poor_accuracy_count=s.poor_accuracy_count,
        speed_flagged_count=s.speed_flagged_count,
        first_fix_at=s.first_fix_at,
        last_fix_at=s.last_fix_at,
    )


def _sign_in(s: p.SignIn) -> c.SignIn:
    lon, lat = _xy(s.geom)
    return c.SignIn(
        id=s.id,
        patrol_id=s.session_id,
        user_id=s.user_id,
        at=s.at,
        method=c.SignInMethodName(s.method),
        lon=lon,
        lat=lat,
        accuracy_m=s.accuracy_m,
        reason_code=c.ManualReasonName(s.reason_code) if s.reason_code else None,
        village_id=s.village_id,
        address=s.address,
        targets_reached=list(s.reached_target_ids or []),
        nearest_target_id=s.nearest_target_id,
        nearest_target_m=s.nearest_target_m,
        far_from_targets=s.far_from_targets,
    )


def _finding(f: p.Finding) -> c.Finding:
    lon, lat = _xy(f.geom)
    area = f.occupied_area_m2
    place = msgspec.structs.asdict(
        msgspec.convert(place_of(f), _FindingPlace, from_attributes=True)
    )
    return c.Finding(
        id=f.id,
        patrol_id=f.session_id,
        reported_by=f.reported_by,
        found_at=f.found_at,
        project_name=f.project_name,
        builder=f.builder,
        construction_started_on=f.construction_started_on,
        construction_status=c.ConstructionStatusName(f.construction_status),
        occupied_area_m2=area,
        occupied_area_mu=None if area is None else round(to_mu(area), 4),
        lon=lon,
        lat=lat,
        accuracy_m=f.accuracy_m,
        township_id=f.township_id,
        village_id=f.village_id,
        note=f.note,
        **place,
    )


class _FindingPlace(msgspec.Struct, kw_only=True):
    """The part of ``c.Finding`` that :func:`patrol.finding_checks.place_of` gives."""

    outline: dict[str, Any] | None
    land_class: LandClassName | None
    land_class_label: str | None
    land_use: list[c.FindingLandUse]
    land_use_basis: str | None
    mine_site_ids: list[uuid.UUID]
    flags: list[str]
    location_check: LocationCheck | None
    suggestions: list[Suggestion]


def _appended(r: p.AppendResult, lang: Lang) -> c.AppendResult:
    rejected = [
        c.RejectedPoint(id=x.id, reason=x.reason, detail=render(x.reason, lang, None, x.detail))
        for x in r.rejected
    ]
    return c.AppendResult(
        patrol_id=r.patrol_id,
        received=r.received,
        stored=r.stored,
        duplicates=r.duplicates,
        rejected=rejected,
        point_count=r.point_count,
    )


def _check(d: p.DutyCheck) -> c.DutyCheck:
    return c.DutyCheck(
        id=d.id,
        site_id=d.site_id,
        member_id=d.member_id,
        recorded_by=d.recorded_by,
        checked_at=d.checked_at,
        status=c.DutyCheckStatusName(d.status),
        is_night=d.is_night,
        note=d.note,
        evidence_ids=list(d.evidence_ids or []),
    )


def _site_duty(s: p.SiteDuty) -> c.SiteDuty:
    return c.SiteDuty(
        site_id=s.site_id,
        site_name=s.site_name,
        last_status=s.last_status,
        last_status_at=s.last_status_at,
        overdue_count=s.overdue_count,
        members=[
            c.MemberDuty(
                member_id=m.member.member_id,
                role=m.member.role,
                name=m.member.name,
                user_id=m.member.user_id,
                cycle_days=m.member.cycle_days,
                last_check_at=m.last_check_at,
                due_at=m.due_at,
                overdue=m.overdue,
                checks_in_period=m.checks_in_period,
                required_in_period=m.required_in_period,
            )
            for m in s.members
        ],
    )


def _compliance(d: p.DutyCompliance | None) -> c.DutyCompliance | None:
    if d is None:
        return None
    return c.DutyCompliance(
        sites=d.sites,
        members=d.members,
        members_compliant=d.members_compliant,
        members_overdue=d.members_overdue,
        sites_flagged=d.sites_flagged,
        ratio=d.ratio,
    )


def _area_coverage(a: p.AreaCoverage) -> c.AreaCoverage:
    return c.AreaCoverage(
        area_id=a.area_id,
        code=a.code,
        name=a.name,
        grade=a.grade,
        requirement=_requirement(a.requirement),
        patrols=a.patrols,
        night_patrols=a.night_patrols,
        quota_met=a.quota_met,
        night_met=a.night_met,
        weeks_met=a.weeks_met,
        weeks_total=a.weeks_total,
        weeks=[
            c.WeekCoverage(
                week_start=w.week_start,
                patrols=w.patrols,
                night_patrols=w.night_patrols,
                required=w.required,
                required_night=w.required_night,
                met=w.met,
            )
            for w in a.weeks
        ],
        distance_km=a.distance_km,
        hours=a.hours,
        patrols_with_findings=a.patrols_with_findings,
        targets_visited=a.targets_visited,
        targets_not_visited=a.targets_not_visited,
        inspector_ids=a.inspector_ids,
        duty=_compliance(a.duty),
    )


def _coverage(cov: p.Coverage) -> c.Coverage:
    return c.Coverage(
        month=f"{cov.month:%Y-%m}",
        patrols=cov.patrols,
        distance_km=cov.distance_km,
        hours=cov.hours,
        areas=[_area_coverage(a) for a in cov.areas],
        inspectors=[
            c.InspectorCoverage(
                user_id=i.user_id,
                name=i.name,
                patrols=i.patrols,
                night_patrols=i.night_patrols,
                distance_km=i.distance_km,
                hours=i.hours,
                area_ids=i.area_ids,
            )
            for i in cov.inspectors
        ],
        duty=_compliance(cov.duty),
    )


def _live(people: list[p.LiveInspector]) -> c.LiveStatus:
    rows = [
        c.LiveInspector(
            user_id=x.user_id,
            name=x.name,
            status=c.LiveStatusName(x.status),
            patrol_id=x.patrol_id,
            area_id=x.area_id,
            last_seen_at=x.last_seen_at,
            lon=x.lon,
            lat=x.lat,
            patrols_today=x.patrols_today,
            distance_today_m=x.distance_today_m,
        )
        for x in people
    ]
    count = {s: sum(1 for r in rows if r.status is s) for s in c.LiveStatusName}
    return c.LiveStatus(
        as_of=utcnow(),
        patrolling=count[c.LiveStatusName.PATROLLING],
        patrolled_today=count[c.LiveStatusName.PATROLLED_TODAY],
        not_today=count[c.LiveStatusName.NOT_TODAY],
        inspectors=rows,
    )


def _alert(a: p.PatrolAlert, lang: Lang) -> c.Alert:
    """An alert with its message in ``lang`` (rows raised without ``params`` keep their
    stored Chinese text)."""
    message = a.message if a.params is None else render(f"alert.{a.kind}", lang, a.params)
    return c.Alert(
        id=a.id,
        kind=a.kind,
        severity=a.severity,
        message=message,
        site_id=a.site_id,
        patrol_id=a.session_id,
        duty_check_id=a.duty_check_id,
        member_id=a.member_id,
        raised_at=a.raised_at,
        acknowledged_at=a.acknowledged_at,
        acknowledged_by=a.acknowledged_by,
        resolved_at=a.resolved_at,
        resolution=a.resolution,
    )


# -- controllers -----------------------------------------------------------------------------


class AreaController(Controller):
    path = ""
    tags = ["patrol"]  # noqa: RUF012

    @get("/areas", operation_id="ListAreas", summary="Contract areas of the county")
    async def list_areas(
        self,
        areas: Areas,
        principal: Caller,
        mine_only: FromQuery[bool] = False,
        include_inactive: FromQuery[bool] = False,
    ) -> list[c.Area]:
        """By code: captains and admins every area, others the areas they lead or belong
        to; ``mine_only`` keeps the areas the caller leads or belongs to."""
        rows = await areas.list_areas(
            principal, mine_only=mine_only, include_inactive=include_inactive
        )
        members = await areas.member_ids_of(principal, [a.id for a in rows])
        return [_area(a, members) for a in rows]

    @post("/areas", operation_id="CreateArea", summary="Create a contract area (captain, admin)")
    async def create_area(
        self, data: JSONBody[c.AreaCreate], areas: Areas, principal: Caller
    ) -> c.Area:
        """A polygon, line or point in WGS84 with grade, leader, members and places."""
        area = await areas.create_area(
            principal,
            code=data.code,
            name=data.name,
            grade=data.grade,
            geometry=data.geometry,
            leader_id=data.leader_id,
            member_ids=data.member_ids,
            township_ids=data.township_ids,
            village_ids=data.village_ids,
        )
        return _area(area, await areas.member_ids_of(principal, [area.id]))

    @get("/areas/{area_id:uuid}", operation_id="GetArea", summary="One contract area")
    async def get_area(
        self, area_id: FromPath[uuid.UUID], areas: Areas, principal: Caller
    ) -> c.Area:
        """An area of the caller's county with its members."""
        area = await areas.get_area(principal, area_id)
        return _area(area, await areas.member_ids_of(principal, [area.id]))

    @patch(
        "/areas/{area_id:uuid}",
        operation_id="UpdateArea",
        summary="Change a contract area (captain, admin)",
    )
    async def update_area(
        self,
        area_id: FromPath[uuid.UUID],
        data: JSONBody[c.AreaUpdate],
        areas: Areas,
        principal: Caller,
    ) -> c.Area:
        """Fields left out stay; ``memberIds`` replaces the team; ``active: false`` retires."""
        area = await areas.update_area(
            principal,
            area_id,
            name=data.name,
            grade=data.grade,
            geometry=data.geometry,
            leader_id=data.leader_id,
            member_ids=data.member_ids,
            township_ids=data.township_ids,
            village_ids=data.village_ids,
            active=data.active,
        )
        return _area(area, await areas.member_ids_of(principal, [area.id]))

    @post(
        "/areas/{area_id:uuid}/targets",
        operation_id="AddTarget",
        summary="Add a target to an area (captain, admin)",
    )
    async def add_target(
        self,
        area_id: FromPath[uuid.UUID],
        data: JSONBody[c.TargetCreate],
        areas: Areas,
        principal: Caller,
    ) -> c.Target:
        """A closed site, change polygon, tip-off or custom point, visited within a radius."""
        target = await areas.add_target(
            principal,
            area_id,
            kind=data.kind.value,
            name=data.name,
            lon=data.lon,
            lat=data.lat,
            visit_radius_m=data.visit_radius_m,
            ref_id=data.ref_id,
        )
        return _target(target, *_xy(target.geom))

    @get(
        "/areas/{area_id:uuid}/targets",
        operation_id="ListTargets",
        summary="Active targets of an area",
    )
    async def list_targets(
        self, area_id: FromPath[uuid.UUID], areas: Areas, principal: Caller
    ) -> list[c.Target]:
        """By name."""
        return [_target(t, x, y) for t, x, y in await areas.list_targets(principal, area_id)]

    @delete(
        "/targets/{target_id:uuid}",
        operation_id="DeactivateTarget",
        status_code=HTTP_204_NO_CONTENT,
        summary="Retire a target (captain, admin)",
    )
    async def deactivate_target(
        self, target_id: FromPath[uuid.UUID], areas: Areas, principal: Caller
    ) -> None:
        """The target leaves plans and coverage; past visits stay recorded."""
        await areas.deactivate_target(principal, target_id)


class PlanController(Controller):
    path = ""
    tags = ["patrol"]  # noqa: RUF012

    @get("/frequency-rules", operation_id="ListFrequencyRules", summary="Patrol frequency rules")
    async def list_rules(self, plans: Plans, principal: Caller) -> list[c.FrequencyRule]:
        """Every rule of the county by name."""
        return [_rule(r) for r in await plans.list_rules(principal)]

    @put(
        "/frequency-rules/{rule_id:uuid}",
        operation_id="SetFrequencyRule",
        summary="Create or replace a frequency rule (captain, admin)",
    )
    async def set_rule(
        self,
        rule_id: FromPath[uuid.UUID],
        data: JSONBody[c.FrequencyRuleSet],
        plans: Plans,
        principal: Caller,
    ) -> c.FrequencyRule:
        """The most specific rule in season wins: area, then grade, then county."""
        rule = await plans.set_frequency_rule(
            principal,
            rule_id=rule_id,
            name=data.name,
            area_id=data.area_id,
            grade=data.grade,
            season_start=_mmdd(data.season_start),
            season_end=_mmdd(data.season_end),
            min_per_month=data.min_per_month,
            min_per_week=data.min_per_week,
            min_night_per_month=data.min_night_per_month,
            min_night_per_week=data.min_night_per_week,
            priority=data.priority,
        )
        return _rule(rule)

    @delete(
        "/frequency-rules/{rule_id:uuid}",
        operation_id="DeleteFrequencyRule",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a frequency rule (captain, admin)",
    )
    async def delete_rule(
        self, rule_id: FromPath[uuid.UUID], plans: Plans, principal: Caller
    ) -> None:
        """Stored plans keep their numbers."""
        await plans.delete_rule(principal, rule_id)

    @get("/plans", operation_id="ListPlans", summary="Every area's plan for a month")
    async def list_plans(
        self, plans: Plans, principal: Caller, month: FromQuery[str | None] = None
    ) -> list[c.Plan]:
        """Stored plans, or what the rules ask where none is stored (``month``: YYYY-MM).
        Captains and admins get every area; others the plans they may read (as GetMyPlan)."""
        return [_plan(v) for v in await plans.list_plans(principal, _month(month))]

    @get("/plans/mine", operation_id="GetMyPlan", summary="The caller's plans for a month")
    async def get_my_plan(
        self, plans: Plans, principal: Caller, month: FromQuery[str | None] = None
    ) -> list[c.Plan]:
        """Areas the caller leads, belongs to, or is assigned to by a plan; this month by
        default."""
        return [_plan(v) for v in await plans.get_my_plan(principal, _month(month))]

    @get(
        "/areas/{area_id:uuid}/plans/{month:str}",
        operation_id="GetPlan",
        summary="An area's plan for a month",
    )
    async def get_plan(
        self, area_id: FromPath[uuid.UUID], month: FromPath[str], plans: Plans, principal: Caller
    ) -> c.Plan:
        """``month`` is YYYY-MM; derived from the rules when none is stored. For the area's
        leader and members, the plan's inspectors, captains and admins."""
        return _plan(await plans.get_plan(principal, area_id, _month(month)))

    @put(
        "/areas/{area_id:uuid}/plans/{month:str}",
        operation_id="UpsertPlan",
        summary="Create or edit an area's plan for a month (captain, admin)",
    )
    async def upsert_plan(
        self,
        area_id: FromPath[uuid.UUID],
        month: FromPath[str],
        data: JSONBody[c.PlanUpdate],
        plans: Plans,
        principal: Caller,
    ) -> c.Plan:
        """A new plan takes the rule in force, every active target and the area's team."""
        view = await plans.upsert_plan(
            principal,
            area_id,
            _month(month),
            quota=data.quota,
            min_per_week=data.min_per_week,
            min_night=data.min_night,
            min_night_per_week=data.min_night_per_week,
            target_ids=data.target_ids,
            inspector_ids=data.inspector_ids,
            note=data.note,
        )
        return _plan(view)


class PatrolController(Controller):
    path = "/patrols"
    tags = ["patrol"]  # noqa: RUF012

    @put("/{patrol_id:uuid}", operation_id="StartPatrol", summary="Start a patrol")
    async def start_patrol(
        self,
        patrol_id: FromPath[uuid.UUID],
        data: JSONBody[c.PatrolStart],
        patrols: Patrols,
        principal: Caller,
    ) -> c.Patrol:
        """Of an area the caller leads or belongs to; a replay returns the stored patrol."""
        patrol = await patrols.start_patrol(
            principal,
            patrol_id,
            area_id=data.area_id,
            started_at=data.started_at,
            companion_ids=data.companion_ids,
            note=data.note,
        )
        return _patrol(patrol)

    @post(
        "/{patrol_id:uuid}/end",
        operation_id="EndPatrol",
        status_code=HTTP_200_OK,
        summary="End a patrol",
    )
    async def end_patrol(
        self,
        patrol_id: FromPath[uuid.UUID],
        data: JSONBody[c.PatrolEnd],
        patrols: Patrols,
        principal: Caller,
    ) -> c.Patrol:
        """Computes distance and time; the same end again is harmless, another is 409."""
        patrol = await patrols.end_patrol(
            principal, patrol_id, ended_at=data.ended_at, note=data.note
        )
        return _patrol(patrol)

    @get("/{patrol_id:uuid}", operation_id="GetPatrol", summary="One patrol")
    async def get_patrol(
        self, patrol_id: FromPath[uuid.UUID], patrols: Patrols, principal: Caller
    ) -> c.Patrol:
        """Its crew, the leader of its area, captains and admins may read it."""
        return _patrol(await patrols.get_patrol(principal, patrol_id))

    @get("", operation_id="ListPatrols", summary="Patrols, newest first")
    async def list_patrols(  # noqa: PLR0917 - query filters
        self,
        patrols: Patrols,
        principal: Caller,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        area_id: FromQuery[uuid.UUID | None] = None,
        inspector_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = 200,
    ) -> list[c.Patrol]:
        """By start time: captains and admins every patrol; others those they ran or joined,
        and the patrols of the areas they lead."""
        rows = await patrols.list_patrols(
            principal,
            since=since,
            until=until,
            area_id=area_id,
            inspector_id=inspector_id,
            limit=limit,
        )
        return [_patrol(s) for s in rows]

    @put(
        "/{patrol_id:uuid}/sign-ins/{sign_in_id:uuid}",
        operation_id="SignIn",
        summary="Sign in on a patrol",
    )
    async def sign_in(
        self,
        patrol_id: FromPath[uuid.UUID],
        sign_in_id: FromPath[uuid.UUID],
        data: JSONBody[c.SignInCreate],
        patrols: Patrols,
        principal: Caller,
    ) -> c.SignIn:
        """By GPS, or manual with a reason code and a village (placed inside the village).
        The reply names the targets reached, the nearest target and its distance, and flags
        a GPS sign-in far from every target of the area."""
        row = await patrols.sign_in(
            principal,
            patrol_id,
            sign_in_id,
            at=data.at,
            method=data.method.value,
            lon=data.lon,
            lat=data.lat,
            accuracy_m=data.accuracy_m,
            reason_code=data.reason_code.value if data.reason_code else None,
            village_id=data.village_id,
            address=data.address,
        )
        return _sign_in(row)

    @get(
        "/{patrol_id:uuid}/sign-ins",
        operation_id="ListSignIns",
        summary="Sign-ins of a patrol",
    )
    async def list_sign_ins(
        self, patrol_id: FromPath[uuid.UUID], patrols: Patrols, principal: Caller
    ) -> list[c.SignIn]:
        """In time order, each with the targets it reached and its far-from-targets flag;
        for the patrol's crew, its area's leader, captains and admins."""
        return [_sign_in(s) for s in await patrols.list_sign_ins(principal, patrol_id)]

    @put(
        "/{patrol_id:uuid}/findings/{finding_id:uuid}",
        operation_id="RecordFinding",
        summary="Record a finding on a patrol",
    )
    async def record_finding(
        self,
        patrol_id: FromPath[uuid.UUID],
        finding_id: FromPath[uuid.UUID],
        data: JSONBody[c.FindingCreate],
        patrols: Patrols,
        principal: Caller,
    ) -> c.Finding:
        """Project, builder, start date, construction status, occupied area and place."""
        row = await patrols.record_finding(
            principal,
            patrol_id,
            finding_id,
            found_at=data.found_at,
            project_name=data.project_name,
            construction_status=data.construction_status.value,
            lon=data.lon,
            lat=data.lat,
            accuracy_m=data.accuracy_m,
            builder=data.builder,
            construction_started_on=data.construction_started_on,
            occupied_area_m2=data.occupied_area_m2,
            township_id=data.township_id,
            village_id=data.village_id,
            note=data.note,
            outline=data.outline,
        )
        return _finding(row)

    @get(
        "/{patrol_id:uuid}/findings",
        operation_id="ListFindings",
        summary="Findings of a patrol",
    )
    async def list_findings(
        self, patrol_id: FromPath[uuid.UUID], patrols: Patrols, principal: Caller
    ) -> list[c.Finding]:
        """In the order they were found."""
        return [_finding(f) for f in await patrols.list_findings(principal, patrol_id)]

    @post(
        "/{patrol_id:uuid}/track",
        operation_id="AppendTrackPoints",
        status_code=HTTP_200_OK,
        summary="Append up to 10,000 track points",
    )
    async def append_track_points(
        self,
        patrol_id: FromPath[uuid.UUID],
        data: JSONBody[c.TrackBatch],
        tracks: Tracks,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> c.AppendResult:
        """Insert-only and idempotent by point id, any order; each point not stored is
        listed with its reason while the rest is stored."""
        result = await tracks.append_track_points(principal, patrol_id, data.points)
        return _appended(result, request_lang(request))

    @get(
        "/{patrol_id:uuid}/track",
        operation_id="GetTrack",
        summary="A patrol's track as GeoJSON for replay",
    )
    async def get_track(
        self,
        patrol_id: FromPath[uuid.UUID],
        tracks: Tracks,
        principal: Caller,
        include_points: FromQuery[bool] = False,
    ) -> c.TrackGeoJson:
        """The filtered route, then with ``include_points`` every fix with its status."""
        doc = await tracks.get_track(principal, patrol_id, include_points=include_points)
        return c.TrackGeoJson(type=doc["type"], features=doc["features"])


class DutyController(Controller):
    path = ""
    tags = ["patrol"]  # noqa: RUF012

    @put(
        "/duty-checks/{check_id:uuid}",
        operation_id="RecordDutyCheck",
        summary="Record a five-to-one check of a closed site",
    )
    async def record_duty_check(
        self,
        check_id: FromPath[uuid.UUID],
        data: JSONBody[c.DutyCheckCreate],
        duty: Duty,
        principal: Caller,
    ) -> c.DutyCheck:
        """Signs of reopening or active mining alert the captains and flag the site."""
        check = await duty.record_duty_check(
            principal,
            check_id,
            site_id=data.site_id,
            checked_at=data.checked_at,
            status=data.status.value,
            member_id=data.member_id,
            is_night=data.is_night,
            note=data.note,
            evidence_ids=data.evidence_ids,
        )
        return _check(check)

    @get("/duty-checks", operation_id="ListDutyChecks", summary="Five-to-one checks")
    async def list_duty_checks(
        self,
        duty: Duty,
        principal: Caller,
        site_id: FromQuery[uuid.UUID | None] = None,
        since: FromQuery[datetime | None] = None,
        limit: Limit = 200,
    ) -> list[c.DutyCheck]:
        """Newest first; inspectors see the checks they recorded."""
        rows = await duty.list_checks(principal, site_id=site_id, since=since, limit=limit)
        return [_check(d) for d in rows]

    @get(
        "/duty-status",
        operation_id="GetDutyStatus",
        summary="Who is overdue at which site (captain, admin)",
    )
    async def get_duty_status(
        self,
        duty: Duty,
        principal: Caller,
        start: FromQuery[datetime | None] = None,
        end: FromQuery[datetime | None] = None,
        site_id: FromQuery[uuid.UUID | None] = None,
    ) -> list[c.SiteDuty]:
        """Per site and member over ``[start, end)`` (the last 30 days by default)."""
        until = end or utcnow()
        rows = await duty.get_duty_status(
            principal,
            start=start or until - timedelta(days=30),
            end=until,
            site_ids=None if site_id is None else [site_id],
        )
        return [_site_duty(s) for s in rows]


class ReviewController(Controller):
    path = ""
    tags = ["patrol"]  # noqa: RUF012

    @get("/coverage", operation_id="GetCoverage", summary="A month's coverage (captain, admin)")
    async def get_coverage(
        self, coverage: Coverage, principal: Caller, month: FromQuery[str | None] = None
    ) -> c.Coverage:
        """Per area: patrols against quota, weeks, km, hours, nights, targets, five-to-one;
        per inspector."""
        return _coverage(await coverage.get_coverage(principal, _month(month)))

    @get(
        "/live-status",
        operation_id="GetLiveStatus",
        summary="Who is patrolling now (captain, admin)",
    )
    async def get_live_status(self, coverage: Coverage, principal: Caller) -> c.LiveStatus:
        """Patrolling now / patrolled today / not patrolled today, per person."""
        return _live(await coverage.get_live_status(principal))

    @get("/alerts", operation_id="ListAlerts", summary="The captains' alerts feed")
    async def list_alerts(  # noqa: PLR0917 - query filters
        self,
        alerts: Alerts,
        principal: Caller,
        request: Request[Any, Any, Any],
        since: FromQuery[datetime | None] = None,
        kind: FromQuery[list[c.AlertKindName] | None] = None,
        unacknowledged_only: FromQuery[bool] = False,
        site_id: FromQuery[uuid.UUID | None] = None,
        alert_state: Annotated[
            c.AlertStateName, QueryParameter(name="state")
        ] = c.AlertStateName.OPEN,
        limit: Limit = 100,
    ) -> list[c.Alert]:
        """Rebounds at closed sites, overdue duty checks and referral suggestions, newest
        first: open ones unless ``state`` asks for the resolved ones (with when and why their
        cause ended) or all."""
        rows = await alerts.list_alerts(
            principal,
            since=since,
            kinds=[k.value for k in kind] if kind else None,
            unacknowledged_only=unacknowledged_only,
            site_id=site_id,
            state=alert_state.value,
            limit=limit,
        )
        lang = request_lang(request)
        return [_alert(a, lang) for a in rows]

    @post(
        "/alerts/{alert_id:uuid}/acknowledge",
        operation_id="AcknowledgeAlert",
        status_code=HTTP_200_OK,
        summary="Mark an alert as seen (captain, admin)",
    )
    async def acknowledge_alert(
        self,
        alert_id: FromPath[uuid.UUID],
        alerts: Alerts,
        principal: Caller,
        request: Request[Any, Any, Any],
    ) -> c.Alert:
        """The first acknowledgement is kept."""
        alert = await alerts.acknowledge_alert(principal, alert_id)
        return _alert(alert, request_lang(request))

    @get(
        "/exports/coverage.csv",
        operation_id="ExportCoverageCsv",
        media_type="text/csv; charset=utf-8",
        summary="A month's coverage as CSV (captain, admin)",
    )
    async def export_coverage_csv(
        self,
        coverage: Coverage,
        principal: Caller,
        request: Request[Any, Any, Any],
        month: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """One row per area, then one per inspector; the header row in Chinese unless
        ``Accept-Language`` prefers English."""
        first = _month(month)
        lang = request_lang(request)
        body = await coverage.export_coverage_csv(principal, first, lang=lang)
        return _attachment(body, "text/csv; charset=utf-8", f"coverage-{first:%Y-%m}.csv", lang)

    @get(
        "/exports/tracks.geojson",
        operation_id="ExportTracksGeoJson",
        media_type="application/geo+json",
        summary="Routes of patrols in a period as GeoJSON (captain, admin)",
    )
    async def export_tracks_geojson(  # noqa: PLR0917 - query filters
        self,
        coverage: Coverage,
        principal: Caller,
        start: FromQuery[date],
        end: FromQuery[date],
        area_id: FromQuery[uuid.UUID | None] = None,
        inspector_id: FromQuery[uuid.UUID | None] = None,
    ) -> Response[Any]:
        """Patrols started in local days ``[start, end)`` (up to 31 days), one LineString
        each with its summary."""
        doc = await coverage.export_tracks_geojson(
            principal, start=start, end=end, area_id=area_id, inspector_id=inspector_id
        )
        name = f"tracks-{start:%Y%m%d}-{end:%Y%m%d}.geojson"
        return _attachment(msgspec.json.encode(doc), "application/geo+json", name)
