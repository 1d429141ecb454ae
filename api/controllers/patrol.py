"""Patrols: start and end, sign-ins, findings, track points and the track for replay; and
the county's findings for review.

Phones start and end patrols, sign in, record findings and send track batches, each under an
id they minted (PUT or POST to the id's path, safe to replay); the domain enforces who may do
what. Captains and the security squad review findings across the county
(``ListCountyFindings``, :mod:`evidence.cases.findings`, the same read rule as a patrol's
findings). Areas, plans, duty checks and review are in the modules beside this one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from geoalchemy2.shape import to_shape
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

import patrol as p
from api.controllers import field_inputs as inputs
from api.deps import Caller, Cases, Patrols, Tracks
from api.problems import request_lang
from evidence.cases.findings import MAX_PAGE, FindingFilter
from geofence import to_mu
from infra.messages import Lang, render
from mobile_contract.v1 import patrol as c
from mobile_contract.v1.cases import Suggestion
from mobile_contract.v1.evidence import LocationCheck
from mobile_contract.v1.geofence import LandClassName
from patrol.finding_checks import place_of
from patrol.tracks import TrackPointsInput

__all__ = ["FindingController", "Limit", "PatrolController"]

#: A page size for the lists of field work.
Limit = Annotated[int, QueryParameter(ge=1, le=1000)]


# -- mapping ---------------------------------------------------------------------------------


def _xy(geom: Any) -> tuple[float, float]:
    point = to_shape(geom)
    return float(point.x), float(point.y)


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
        occupied_area_mu=None if area is None else to_mu(area, 4),
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


# -- controllers -----------------------------------------------------------------------------


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
        patrol = await patrols.start(principal, inputs.start_input(patrol_id, data))
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
        patrol = await patrols.end(principal, inputs.end_input(patrol_id, data))
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
        status: FromQuery[c.PatrolStatusName | None] = None,
        limit: Limit = 200,
    ) -> list[c.Patrol]:
        """By start time: captains and admins every patrol; others those they ran or joined,
        and the patrols of the areas they lead. ``status``: only those under way, or ended."""
        rows = await patrols.list_patrols(
            principal,
            since=since,
            until=until,
            area_id=area_id,
            inspector_id=inspector_id,
            status=status.value if status else None,
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
        item = inputs.sign_in_input(patrol_id, sign_in_id, data)
        ((row, _),) = await patrols.sign_in_many(principal, [item])
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
        item = inputs.finding_input(patrol_id, finding_id, data)
        ((row, _),) = await patrols.record_findings(principal, [item])
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
        batch = TrackPointsInput(patrol_id=patrol_id, points=data.points)
        result = await tracks.append(principal, batch)
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


class FindingController(Controller):
    path = "/findings"
    tags = ["patrol"]  # noqa: RUF012

    @get("", operation_id="ListCountyFindings", summary="Findings of the county, for review")
    async def list_county_findings(
        self,
        cases: Cases,
        principal: Caller,
        *,
        patrol_id: FromQuery[uuid.UUID | None] = None,
        area_id: FromQuery[uuid.UUID | None] = None,
        township_id: FromQuery[uuid.UUID | None] = None,
        reported_by: FromQuery[uuid.UUID | None] = None,
        found_from: FromQuery[datetime | None] = None,
        found_to: FromQuery[datetime | None] = None,
        suggested: FromQuery[bool | None] = None,
        flagged: FromQuery[bool | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
    ) -> c.FindingPage:
        """Newest first, the findings the caller may read (those ``ListFindings`` gives of
        each patrol): captains and admins all, inspectors those of their patrols and areas
        and their own, the security squad the flagged, the screened-in and the sources of its
        cases. ``suggested``: with (or without) a current screening suggestion; ``flagged``:
        flagged (or not) for referral; ``areaId`` the area of the finding's patrol."""
        filters = FindingFilter(
            patrol_id=patrol_id,
            area_id=area_id,
            township_id=township_id,
            reported_by=reported_by,
            found_from=found_from,
            found_to=found_to,
            suggested=suggested,
            flagged=flagged,
        )
        page = await cases.list_findings(principal, filters, limit=limit, cursor=cursor)
        return c.FindingPage(items=[_finding(f) for f in page.items], next_cursor=page.next_cursor)
