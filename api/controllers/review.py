"""Review for captains and admins: a month's coverage, who is patrolling now, the alerts feed,
and exports (coverage as CSV, routes as GeoJSON)."""

from __future__ import annotations

import codecs
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.status_codes import HTTP_200_OK

from api.controllers.patrol import Limit
from api.deps import PATROL_CONFIG, Alerts, Caller, Coverage
from api.mapping import to_wire
from api.problems import content_language, request_lang
from infra.messages import Lang, render
from mobile_contract.v1 import patrol as c
from patrol.field_models import PatrolAlert
from patrol.plans import month_of

__all__ = ["ReviewController"]


def _alert(a: PatrolAlert, lang: Lang) -> c.Alert:
    """An alert with its message in ``lang`` (rows raised without ``params`` keep their
    stored Chinese text)."""
    message = a.message if a.params is None else render(f"alert.{a.kind}", lang, a.params)
    return to_wire(c.Alert, a, message=message, patrol_id=a.session_id)


def _attachment(
    body: bytes | str, media_type: str, filename: str, lang: Lang | None = None
) -> Response[Any]:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if lang is not None:
        headers |= content_language(lang)
    return Response(body, media_type=media_type, headers=headers)


class ReviewController(Controller):
    path = ""
    tags = ["patrol"]  # noqa: RUF012

    @get("/coverage", operation_id="GetCoverage", summary="A month's coverage (captain, admin)")
    async def get_coverage(
        self, coverage: Coverage, principal: Caller, month: FromQuery[str | None] = None
    ) -> c.Coverage:
        """Per area: patrols against quota, weeks, km, hours, nights, targets, five-to-one;
        per inspector."""
        cov = await coverage.get_coverage(principal, month_of(month, PATROL_CONFIG))
        return to_wire(c.Coverage, cov, month=f"{cov.month:%Y-%m}")

    @get(
        "/live-status",
        operation_id="GetLiveStatus",
        summary="Who is patrolling now (captain, admin)",
    )
    async def get_live_status(self, coverage: Coverage, principal: Caller) -> c.LiveStatus:
        """Patrolling now / patrolled today / not patrolled today, per person."""
        return to_wire(c.LiveStatus, await coverage.get_live_board(principal))

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
        media_type="text/csv",
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
        ``Accept-Language`` prefers English. UTF-8 with a byte-order mark, so that Excel on a
        Chinese Windows machine reads the names right (``text/csv; charset=utf-8``)."""
        first = month_of(month, PATROL_CONFIG)
        lang = request_lang(request)
        text = await coverage.export_coverage_csv(principal, first, lang=lang)
        body = codecs.BOM_UTF8 + text.encode("utf-8")
        return _attachment(body, "text/csv", f"coverage-{first:%Y-%m}.csv", lang)

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
