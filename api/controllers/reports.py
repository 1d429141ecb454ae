"""Periodic statistics and reports (captains and admins).

``GetStatistics`` answers every figure of a period with the previous period and the same
period last year, in total and per group; ``CreateReport`` queues a report (202) or
generates an existing one anew; ``ListReports``/``GetReport`` show them with their period
and status; ``DownloadReport`` hands out one file (XLSX, PDF, or CSV with a byte-order mark),
recorded in the custody chain. Another county's report does not exist (404
``report_not_found``). Each handler is one service call and a mapping.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from api.deps import PATROL_CONFIG, Caller, Db, Settings_
from api.mapping import to_wire, to_wire_list
from evidence.cases.reports import DownloadView, ReportService
from evidence.cases.statistics import StatisticsService
from evidence.custody import CustodyLog
from infra.db import utcnow
from mobile_contract.v1 import reports as r

__all__ = ["ReportController", "StatisticsController"]


def provide_statistics(db: Db, state: State) -> StatisticsService:
    # ``state.clock`` (a fixed clock a test or a drill sets) replaces the server's when set
    return StatisticsService(db, config=PATROL_CONFIG, clock=state.get("clock") or utcnow)


def provide_reports(db: Db, settings: Settings_, state: State) -> ReportService:
    # downloads append to the custody chain, keyed like the evidence service's
    return ReportService(
        db,
        state.store,
        settings.reports,
        CustodyLog(settings.evidence.package_signing_key.encode()),
        clock=state.get("clock") or utcnow,
    )


Statistics_ = NamedDependency[StatisticsService]
Reports = NamedDependency[ReportService]


def _download(found: DownloadView) -> Response[bytes]:
    name = found.file_name
    plain = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "_" for ch in name)
    return Response(
        found.data,
        media_type=found.media_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
            ),
            "X-Content-Sha256": found.sha256,
        },
    )


class StatisticsController(Controller):
    path = "/statistics"
    tags = ["reports"]  # noqa: RUF012
    dependencies = {"statistics": Provide(provide_statistics, sync_to_thread=False)}  # noqa: RUF012

    @get("", operation_id="GetStatistics", summary="Figures of a period (captain, admin)")
    async def get_statistics(
        self,
        statistics: Statistics_,
        principal: Caller,
        *,
        period: FromQuery[r.StatisticsPeriodName | None] = None,
        date_: Annotated[date | None, QueryParameter(name="date")] = None,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
        group_by: FromQuery[r.StatisticsGroupName] = r.StatisticsGroupName.COUNTY,
        section: FromQuery[list[r.StatisticsSectionName] | None] = None,
    ) -> r.Statistics:
        """``period`` (week, month, quarter, half, year) with ``date``, or ``from`` and
        ``to``: each figure with ``previous`` and ``lastYear`` and the ``link`` of its list;
        ``groupBy`` township, area or person adds ``groups``; ``section`` limits the
        sections."""
        view = await statistics.figures(
            principal,
            period=None if period is None else period.value,
            day=date_,
            date_from=date_from,
            date_to=date_to,
            group_by=group_by.value,
            sections=[s.value for s in section] if section else None,
        )
        return to_wire(r.Statistics, view)


class ReportController(Controller):
    path = "/reports"
    tags = ["reports"]  # noqa: RUF012
    dependencies = {"reports": Provide(provide_reports, sync_to_thread=False)}  # noqa: RUF012

    @get("", operation_id="ListReports", summary="Reports with their period and status")
    async def list_reports(
        self,
        reports: Reports,
        principal: Caller,
        *,
        template: FromQuery[r.ReportTemplateName | None] = None,
        status: FromQuery[r.ReportStatusName | None] = None,
    ) -> list[r.Report]:
        """Newest period first."""
        rows = await reports.list_reports(
            principal,
            template=None if template is None else template.value,
            status=None if status is None else status.value,
        )
        return to_wire_list(r.Report, rows)

    @post(
        "",
        operation_id="CreateReport",
        status_code=HTTP_202_ACCEPTED,
        summary="Queue a report, or generate it anew (captain, admin)",
    )
    async def create_report(
        self, data: JSONBody[r.ReportCreate], reports: Reports, principal: Caller
    ) -> r.Report:
        """The report of ``template`` for the period containing ``date``, generated in the
        background (``status`` queued); asked again, the same report is generated anew."""
        view = await reports.request_report(
            principal,
            data.template.value,
            data.date,
            period=None if data.period is None else data.period.value,
        )
        return to_wire(r.Report, view)

    @get("/{report_id:uuid}", operation_id="GetReport", summary="One report")
    async def get_report(
        self, report_id: FromPath[uuid.UUID], reports: Reports, principal: Caller
    ) -> r.Report:
        """Its period, status, due date and files."""
        return to_wire(r.Report, await reports.get_report(principal, report_id))

    @get(
        "/{report_id:uuid}/file",
        operation_id="DownloadReport",
        summary="A report's file: XLSX, PDF or CSV (captain, admin)",
    )
    async def download_report(
        self,
        report_id: FromPath[uuid.UUID],
        reports: Reports,
        principal: Caller,
        file_format: Annotated[
            r.ReportFormatName, QueryParameter(name="format")
        ] = r.ReportFormatName.XLSX,
    ) -> Response[Any]:
        """The last generation's file (CSV: UTF-8 with a byte-order mark,
        ``text/csv; charset=utf-8``); recorded in the custody chain as an export."""
        return _download(await reports.download(principal, report_id, file_format.value))
