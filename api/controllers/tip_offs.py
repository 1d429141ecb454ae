"""12336 tip-offs (clues): intake, the county flow, the reporter's identity, the figures; and
the county's working-day calendar that the flow's deadlines count on.

The clue desk, captains and admins work clues; the reporter's identity is read by the desk
and captains only, every read logged in the custody chain; another county's clue does not
exist (404 ``tip_off_not_found``). The calendar is read by the desk, captains and admins and
kept by the county admin. Every handler is one call of the tip-off service
(:class:`~evidence.cases.tip_offs.TipOffService`) and a mapping.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from api.deps import Caller, TipOffs
from api.mapping import to_wire, to_wire_list
from evidence.cases import tip_offs as tf
from mobile_contract.v1 import tip_offs as t

__all__ = ["TipOffController", "WorkCalendarController"]

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]


def _tip_off(v: tf.TipOffView) -> t.TipOff:
    return to_wire(t.TipOff, v)


def _input(d: t.TipOffCreate) -> tf.TipOffInput:
    r = d.reporter
    return tf.TipOffInput(
        channel=d.channel.value,
        received_at=d.received_at,
        facts=d.facts,
        clue_type=d.clue_type.value,
        location_text=d.location_text,
        lon=d.lon,
        lat=d.lat,
        polygon=d.polygon,
        crs=d.crs.value,
        township_id=d.township_id,
        reported_party=d.reported_party,
        reporter=None if r is None else tf.ReporterInput(r.name, r.phone, r.id_no, r.address),
        evidence_ids=d.evidence_ids,
    )


class TipOffController(Controller):
    path = "/tip-offs"
    tags = ["tip-offs"]  # noqa: RUF012

    @get("", operation_id="ListTipOffs", summary="The clue desk's list of tip-offs")
    async def list_tip_offs(
        self,
        tip_offs: TipOffs,
        principal: Caller,
        *,
        status: FromQuery[list[t.TipOffStatusName] | None] = None,
        channel: FromQuery[list[t.TipOffChannelName] | None] = None,
        clue_type: FromQuery[list[t.ClueTypeName] | None] = None,
        township_id: FromQuery[uuid.UUID | None] = None,
        received_from: FromQuery[datetime | None] = None,
        received_to: FromQuery[datetime | None] = None,
        overdue: FromQuery[bool | None] = None,
        duplicates: FromQuery[bool | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[t.TipOffSummary]:
        """Newest received first. ``overdue=true``: clues with a step past its due time;
        ``receivedFrom`` (inclusive) and ``receivedTo`` (exclusive) bound the time received."""
        rows = await tip_offs.list_tip_offs(
            principal,
            status=[s.value for s in status] if status else None,
            channel=[c.value for c in channel] if channel else None,
            clue_type=[c.value for c in clue_type] if clue_type else None,
            township_id=township_id,
            received_from=received_from,
            received_to=received_to,
            overdue=overdue,
            duplicates=duplicates,
            limit=limit,
            offset=offset,
        )
        return to_wire_list(t.TipOffSummary, rows)

    @post("", operation_id="OpenTipOff", summary="Register a tip-off (clue desk, captains, admins)")
    async def open_tip_off(
        self, data: JSONBody[t.TipOffCreate], tip_offs: TipOffs, principal: Caller
    ) -> t.TipOff:
        """Acknowledged with a receipt number (``12336-<county code>-<yyyymmdd>-<seq>``);
        deadlines set from the province's working days; a repeat of an open clue nearby about
        the same party is linked (``duplicateOf``)."""
        return _tip_off(await tip_offs.open_tip_off(principal, _input(data)))

    @get("/figures", operation_id="GetTipOffFigures", summary="Counts for a period")
    async def figures(
        self,
        tip_offs: TipOffs,
        principal: Caller,
        *,
        period: FromQuery[str | None] = None,
        date_: Annotated[date | None, QueryParameter(name="date")] = None,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
    ) -> t.TipOffFigures:
        """``period`` (week, month, quarter, year) with ``date``, or ``from`` and ``to``: by
        channel, type, township, status and timeliness; a duplicate counts once."""
        view = await tip_offs.figures(
            principal, period=period, day=date_, date_from=date_from, date_to=date_to
        )
        return to_wire(t.TipOffFigures, view)

    @get("/{tip_off_id:uuid}", operation_id="GetTipOff", summary="One tip-off")
    async def get_tip_off(
        self, tip_off_id: FromPath[uuid.UUID], tip_offs: TipOffs, principal: Caller
    ) -> t.TipOff:
        """Its steps (due, done, late), evidence and history; never the reporter."""
        return _tip_off(await tip_offs.get_tip_off(principal, tip_off_id))

    @get(
        "/{tip_off_id:uuid}/reporter",
        operation_id="GetTipOffReporter",
        summary="The reporter's identity (clue desk, captains; logged)",
    )
    async def get_reporter(
        self, tip_off_id: FromPath[uuid.UUID], tip_offs: TipOffs, principal: Caller
    ) -> t.TipOffReporter:
        """Every read is an entry of the custody chain (who, when, which clue)."""
        return to_wire(t.TipOffReporter, await tip_offs.get_reporter(principal, tip_off_id))

    @post(
        "/{tip_off_id:uuid}/decision",
        operation_id="DecideTipOff",
        status_code=HTTP_200_OK,
        summary="Accept, refuse or transfer",
    )
    async def decide(
        self,
        tip_off_id: FromPath[uuid.UUID],
        data: JSONBody[t.TipOffDecision],
        tip_offs: TipOffs,
        principal: Caller,
    ) -> t.TipOff:
        """Refusing needs an exclusion reason (422 ``refusal_reason_required``), a transfer
        the authority (422 ``transfer_to_required``); only a received clue is decided."""
        view = await tip_offs.decide(
            principal,
            tip_off_id,
            decision=data.decision.value,
            refusal_reason=None if data.refusal_reason is None else data.refusal_reason.value,
            transfer_to=data.transfer_to,
            note=data.note,
        )
        return _tip_off(view)

    @post(
        "/{tip_off_id:uuid}/verification",
        operation_id="AssignTipOffVerification",
        status_code=HTTP_200_OK,
        summary="Send an accepted tip-off for field verification (a patrol target)",
    )
    async def assign_verification(
        self,
        tip_off_id: FromPath[uuid.UUID],
        data: JSONBody[t.TipOffVerificationAssign],
        tip_offs: TipOffs,
        principal: Caller,
    ) -> t.TipOff:
        """A ``tip_off`` target named by receipt number and clue type, in the active area
        containing the clue, or ``areaId``, or the area nearest the clue that ``inspectorId`` leads
        or belongs to (422 ``no_area_for_tip_off`` when none does)."""
        view = await tip_offs.assign_verification(
            principal, tip_off_id, area_id=data.area_id, inspector_id=data.inspector_id
        )
        return _tip_off(view)

    @post(
        "/{tip_off_id:uuid}/handling",
        operation_id="HandleTipOff",
        status_code=HTTP_200_OK,
        summary="Record the handling of a verified tip-off",
    )
    async def handle(
        self,
        tip_off_id: FromPath[uuid.UUID],
        data: JSONBody[t.TipOffHandling],
        tip_offs: TipOffs,
        principal: Caller,
    ) -> t.TipOff:
        """A stop order or no violation; a case is opened with ``OpenCaseFromTipOff``."""
        view = await tip_offs.handle(
            principal, tip_off_id, handling=data.handling.value, note=data.note
        )
        return _tip_off(view)

    @post(
        "/{tip_off_id:uuid}/case",
        operation_id="OpenCaseFromTipOff",
        status_code=HTTP_200_OK,
        summary="Open a case from a verified tip-off",
    )
    async def open_case(
        self,
        tip_off_id: FromPath[uuid.UUID],
        data: JSONBody[t.TipOffCaseCreate],
        tip_offs: TipOffs,
        principal: Caller,
    ) -> t.TipOff:
        """Facts, location, reported party and evidence go to the case (source: the clue);
        the clue names the case and its handling is ``case_opened``."""
        view = await tip_offs.open_case(
            principal,
            tip_off_id,
            violation_kind=data.violation_kind.value,
            cause=data.cause,
            evidence_ids=data.evidence_ids,
        )
        return _tip_off(view)

    @post(
        "/{tip_off_id:uuid}/feedback",
        operation_id="RecordTipOffFeedback",
        status_code=HTTP_200_OK,
        summary="Record the feedback to the reporter; the tip-off is closed",
    )
    async def feedback(
        self,
        tip_off_id: FromPath[uuid.UUID],
        data: JSONBody[t.TipOffFeedback],
        tip_offs: TipOffs,
        principal: Caller,
    ) -> t.TipOff:
        """After a refusal, a transfer or the handling: channel, time and content."""
        view = await tip_offs.feedback(
            principal, tip_off_id, channel=data.channel.value, content=data.content, at=data.at
        )
        return _tip_off(view)


class WorkCalendarController(Controller):
    path = "/work-calendar"
    tags = ["tip-offs"]  # noqa: RUF012

    @get("", operation_id="ListHolidays", summary="Holidays and make-up working days")
    async def list_days(
        self,
        tip_offs: TipOffs,
        principal: Caller,
        *,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
    ) -> list[t.CalendarDay]:
        """By date; other days follow the week (Monday to Friday are working days)."""
        rows = await tip_offs.list_holidays(principal, since=date_from, until=date_to)
        return to_wire_list(t.CalendarDay, rows)

    @post(
        "",
        operation_id="PutHoliday",
        status_code=HTTP_200_OK,
        summary="Mark a holiday or a make-up working day (admin)",
    )
    async def put_day(
        self, data: JSONBody[t.CalendarDayPut], tip_offs: TipOffs, principal: Caller
    ) -> t.CalendarDay:
        """A holiday falls on a weekday, a make-up working day on a weekend (422
        ``invalid_calendar_day``); deadlines already set stay as they are."""
        view = await tip_offs.put_holiday(principal, data.day, data.kind.value, data.name)
        return to_wire(t.CalendarDay, view)

    @delete(
        "/{day:date}",
        operation_id="DeleteHoliday",
        status_code=HTTP_204_NO_CONTENT,
        summary="The day follows the week again (admin)",
    )
    async def delete_day(self, day: FromPath[date], tip_offs: TipOffs, principal: Caller) -> None:
        """404 ``holiday_not_found`` when the day has no entry."""
        await tip_offs.delete_holiday(principal, day)
