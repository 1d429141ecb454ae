"""Periodic reports: asked for, generated in the background, stored, listed, downloaded.

Templates (each for one kind of period, :data:`TEMPLATE_PERIODS`):

==========================  =======  ============================================================
template                    period   the document
==========================  =======  ============================================================
``monthly``                 month    the brigade's monthly report (大队月报): main figures beside
                                     last month and the same month last year, per township and
                                     per contract area
``quarterly_tables``        quarter  the quarterly statistics tables (季度统计报表): main
                                     figures with comparisons, per township, area and person
``annual_tables``           year     the same for a year (年度统计报表)
``joint_meeting_bulletin``  quarter  the county joint meeting's bulletin (联席会议通报): its
                                     member departments (a setting), the main figures, cases
                                     needing another department (power cut-offs for illegal
                                     mines, court enforcement and demolition support) and the
                                     referrals to the police with their state
==========================  =======  ============================================================

Flow: ``CreateReport`` (captains and admins) records the report (one per county, template and
period; asking again regenerates the same report) and queues ``reports:generate`` in the same
transaction; the worker marks it ``running``, computes the figures
(:mod:`evidence.cases.statistics`), writes XLSX, PDF and CSV (:mod:`.report_documents`) to the
object store under new keys and marks it ``done`` (or ``failed`` with the error).
``DownloadReport`` hands out one file; every download is an ``exported`` entry of the custody
chain.

Due dates (:class:`infra.settings.ReportSettings`): the monthly report by the 5th of the next
month, the quarterly tables and the bulletin by the 3rd of the next quarter's first month,
the annual tables by 5 January. The periodic ``reports:overdue`` raises a ``report_overdue``
alert for the latest period of each template whose due date has passed without a generated
report; generating it resolves the alert (``report_generated``).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.errors import InvalidReportError, ReportNotFoundError, ReportNotReadyError
from evidence.cases.report_documents import (
    XLSX_TYPE,
    Column,
    ReportDocument,
    Table,
    to_csv,
    to_pdf,
    to_xlsx,
)
from evidence.cases.report_models import (
    TEMPLATE_PERIODS,
    Report,
    ReportFormat,
    ReportStatus,
    ReportTemplate,
)
from evidence.cases.statistics import (
    SECTION_LABELS,
    StatisticsService,
    Values,
    system_reader,
)
from evidence.custody import CustodyAction, CustodyLog
from infra.db import utcnow
from infra.ids import uuid7
from infra.messages import label
from infra.objectstore import ObjectStore
from infra.scope import COUNTY_TZ, MANAGERS, Principal, require_role, scoped
from infra.settings import ReportSettings
from infra.tasks import defer_in_session
from patrol.alerts import REPORT_OVERDUE, raise_alert, resolve_alerts
from patrol.config import PatrolConfig
from patrol.field_models import PatrolAlert
from patrol.models import County
from patrol.periods import Period, period_of

__all__ = [
    "GENERATE_TASK",
    "MEDIA_TYPES",
    "TASK_NAMESPACE",
    "DownloadView",
    "ReportFileView",
    "ReportService",
    "ReportView",
    "build_document",
    "due_on",
    "generate_report",
    "raise_overdue_reports",
]

log = structlog.get_logger(__name__)

TASK_NAMESPACE = "reports"
GENERATE_TASK = "generate"
MEDIA_TYPES = {
    ReportFormat.XLSX.value: XLSX_TYPE,
    ReportFormat.PDF.value: "application/pdf",
    ReportFormat.CSV.value: "text/csv",  # the framework adds the one charset=utf-8
}


# -- views ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReportFileView:
    format: str
    file_name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ReportView:
    id: uuid.UUID
    template: str
    template_label: str
    period_kind: str
    period_key: str
    period_label: str
    date_from: date
    date_to: date
    status: str
    requested_at: datetime
    requested_by: uuid.UUID | None
    started_at: datetime | None
    generated_at: datetime | None
    generation: int
    error: str
    due_on: date
    overdue: bool
    files: tuple[ReportFileView, ...]


@dataclass(frozen=True, slots=True)
class DownloadView:
    file_name: str
    media_type: str
    data: bytes
    sha256: str


# -- due dates -----------------------------------------------------------------------------------
def due_on(template: str, period: Period, settings: ReportSettings) -> date:
    """The day a template's report for ``period`` is due."""
    last = period.end  # the last day of a month
    first = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    if template == ReportTemplate.MONTHLY.value:
        return first.replace(day=settings.monthly_due_day)
    if template == ReportTemplate.ANNUAL_TABLES.value:
        return first.replace(day=settings.annual_due_day)
    return first.replace(day=settings.quarterly_due_day)


def _overdue_key(county_id: uuid.UUID, template: str, period_key: str) -> str:
    return f"{REPORT_OVERDUE}:{county_id}:{template}:{period_key}"


def _period(row: Report) -> Period:
    return Period(row.period_kind, row.period_start, row.period_end)


def _view(row: Report, settings: ReportSettings, today: date) -> ReportView:
    p = _period(row)
    due = due_on(row.template, p, settings)
    files = tuple(
        ReportFileView(fmt, str(f["file_name"]), int(f["size"]), str(f["sha256"]))
        for fmt, f in sorted(row.files.items())
    )
    return ReportView(
        id=row.id,
        template=row.template,
        template_label=label("report_template", row.template, "zh"),
        period_kind=row.period_kind,
        period_key=row.period_key,
        period_label=p.label,
        date_from=row.period_start,
        date_to=row.period_end,
        status=row.status,
        requested_at=row.requested_at,
        requested_by=row.requested_by,
        started_at=row.started_at,
        generated_at=row.generated_at,
        generation=row.generation,
        error=row.error,
        due_on=due,
        overdue=row.generated_at is None and today > due,
        files=files,
    )


# -- the service ---------------------------------------------------------------------------------
class ReportService:
    """Reports of one county for one request (the caller commits)."""

    def __init__(
        self,
        session: AsyncSession,
        store: ObjectStore,
        settings: ReportSettings,
        custody: CustodyLog,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self._store = store
        self._settings = settings
        self._custody = custody
        self._clock = clock

    def _today(self) -> date:
        return self._clock().astimezone(COUNTY_TZ).date()

    async def _load(
        self, principal: Principal, report_id: uuid.UUID, *, lock: bool = False
    ) -> Report:
        require_role(principal, *MANAGERS, action="read reports")
        stmt = scoped(select(Report), Report, principal).where(Report.id == report_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise ReportNotFoundError("report not found", report_id=str(report_id))
        return row

    async def list_reports(
        self,
        principal: Principal,
        *,
        template: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[ReportView]:
        """Newest period first."""
        require_role(principal, *MANAGERS, action="read reports")
        stmt = scoped(select(Report), Report, principal)
        if template is not None:
            stmt = stmt.where(Report.template == template)
        if status is not None:
            stmt = stmt.where(Report.status == status)
        stmt = stmt.order_by(Report.period_start.desc(), Report.template).limit(
            max(1, min(limit, 500))
        )
        today = self._today()
        return [_view(r, self._settings, today) for r in (await self.session.scalars(stmt)).all()]

    async def get_report(self, principal: Principal, report_id: uuid.UUID) -> ReportView:
        return _view(await self._load(principal, report_id), self._settings, self._today())

    async def request_report(
        self, principal: Principal, template: str, day: date, *, period: str | None = None
    ) -> ReportView:
        """The report of ``template`` for the period containing ``day`` (``period``, when
        given, must be the template's kind), queued for generation; asked again, the same
        report is generated anew."""
        require_role(principal, *MANAGERS, action="ask for reports")
        kind = TEMPLATE_PERIODS.get(template)
        if kind is None or (period is not None and period != kind):
            raise InvalidReportError(
                f"the {template} report is made for a {kind or 'known period'}", field="period"
            )
        p = period_of(kind, day)
        if p.start > self._today():
            raise InvalidReportError("the period has not begun", field="date")
        now = self._clock()
        stmt = (
            insert(Report)
            .values(
                id=uuid7(),
                county_id=principal.county_id,
                template=template,
                period_kind=p.kind,
                period_key=p.key,
                period_start=p.start,
                period_end=p.end,
                status=ReportStatus.QUEUED.value,
                requested_by=principal.user_id,
                requested_at=now,
                generation=0,
                error="",
                files={},
                options={"members": list(self._settings.joint_meeting_members)},
            )
            .on_conflict_do_update(
                index_elements=["county_id", "template", "period_key"],
                set_={
                    "status": ReportStatus.QUEUED.value,
                    "requested_by": principal.user_id,
                    "requested_at": now,
                    "error": "",
                    "options": {"members": list(self._settings.joint_meeting_members)},
                    "updated_at": now,
                },
            )
            .returning(Report.id)
        )
        report_id = (await self.session.execute(stmt)).scalar_one()
        await defer_in_session(
            self.session,
            f"{TASK_NAMESPACE}:{GENERATE_TASK}",
            {"report_id": str(report_id), "county_id": str(principal.county_id)},
            lock=f"report:{report_id}",
            queueing_lock=f"report:{report_id}",
        )
        log.info("report.requested", county=str(principal.county_id), template=template,
                 period=p.key)  # fmt: skip
        row = await self._load(principal, report_id)
        await self.session.refresh(row)
        return _view(row, self._settings, self._today())

    async def download(self, principal: Principal, report_id: uuid.UUID, fmt: str) -> DownloadView:
        """One file of the report's last generation; an ``exported`` custody entry."""
        row = await self._load(principal, report_id)
        entry = row.files.get(fmt)
        if entry is None:  # while it is generated again, the last generation is handed out
            raise ReportNotReadyError(
                "the report is not generated yet", state=row.status, report_id=str(row.id)
            )
        chunks = [c async for c in self._store.aiter_chunks(str(entry["key"]))]
        data = b"".join(chunks)
        sha256 = hashlib.sha256(data).hexdigest()
        await self._custody.append(
            self.session,
            county_id=principal.county_id,
            action=CustodyAction.EXPORTED,
            subject_id=row.id,
            actor_id=principal.user_id,
            details={
                "kind": "report",
                "template": row.template,
                "period": row.period_key,
                "generation": row.generation,
                "format": fmt,
                "bytes": len(data),
                "sha256": sha256,
            },
            at=self._clock(),
        )
        return DownloadView(str(entry["file_name"]), MEDIA_TYPES[fmt], data, sha256)


# -- the documents -------------------------------------------------------------------------------
_GROUP_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("巡查", "次数", "patrols.count"),
    ("巡查", "夜间", "patrols.night"),
    ("巡查", "里程（公里）", "patrols.distance_km"),
    ("巡查", "时长（小时）", "patrols.hours"),
    ("巡查发现", "违法行为（处）", "findings.count"),
    ("巡查发现", "占地（亩）", "findings.area_mu"),
    ("制止", "责令停止（起）", "stops.count"),
    ("举报信访", "举报线索（件）", "tip_offs.count"),
    ("举报信访", "信访（件）", "petitions.count"),
    ("卫片图斑", "核查（个）", "satellite.verified"),
    ("卫片图斑", "违法面积（亩）", "satellite.illegal_mu"),
    ("案件", "新增", "cases.opened"),
    ("案件", "立案", "cases.filed"),
    ("案件", "结案", "cases.closed"),
    ("处罚执行", "罚没款决定（元）", "cases.fines_decided_yuan"),
    ("处罚执行", "收缴（元）", "cases.fines_collected_yuan"),
    ("处罚执行", "拆除（亩）", "cases.demolished_mu"),
    ("处罚执行", "复耕（亩）", "cases.farmland_restored_mu"),
    ("移送公安", "移送", "referrals.transferred"),
    ("移送公安", "公安立案", "referrals.accepted"),
)
_GROUP_NAMES = {"township": "乡镇", "area": "片区", "person": "人员"}
_GROUP_NOTES = {
    "township": (
        "注：巡查按片区所辖乡镇计（一个片区跨多个乡镇时各计一次），案件和移送按案件位置所在乡镇计。"
    ),
    "area": "注：案件和移送按案件位置所在片区计；信访不分片区统计。",
    "person": (
        "注：巡查计巡查员，发现计报告人，卫片计核查人，案件计立案登记人；举报和信访不分人员统计。"
    ),
}
_REFERRAL_STATUS = {
    "reported": "待审批",
    "rejected": "未批准",
    "approved": "已批准待移送",
    "transferred": "已移送待回执",
    "received": "公安已接收",
    "police_filed": "公安已立案",
    "not_filed": "公安不予立案",
    "reconsideration": "复议中",
    "closed_not_filed": "不予立案（办结）",
    "handed_over": "已移交涉案物品",
}
_CASE_STATUS = {
    "clue": "线索",
    "filed": "已立案",
    "investigating": "调查取证",
    "decided": "已作出决定",
    "executing": "执行中",
    "suspended": "中止",
    "referred": "移送公安",
}
_VIOLATION = {
    "land_occupation": "非法占用农用地",
    "land_transfer": "非法转让土地使用权",
    "illegal_mining": "非法采矿",
    "destructive_mining": "破坏性采矿",
    "illegal_construction": "违法建设",
    "other": "其他",
}


def _num(v: float | None) -> float | int | None:
    if v is None:
        return None
    return int(v) if float(v).is_integer() else round(float(v), 2)


def _change(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return "—"
    diff = value - base
    if base == 0:
        return f"{_num(diff):+}" if diff else "0"
    return f"{_num(diff):+}（{diff / base * 100:+.1f}%）"


def _main_table(view: Any, *, compact: bool) -> Table:
    cols = [Column("序号"), Column("类别"), Column("指标"), Column("单位")]
    cols += [Column(n, "数值") for n in ("本期", "上期", "去年同期")]
    cols += [Column(n, "增减") for n in ("比上期", "比去年同期")]
    table = Table(
        f"主要指标（{view.period.label}）",
        cols,
        note=f"上期：{view.previous.label}；去年同期：{view.last_year.label}。",
    )
    n = 0
    for f in view.figures:
        breakdown = f.key.count(".") > 1
        if breakdown and (compact or not any((f.value, f.previous, f.last_year))):
            continue
        n += 1
        table.rows.append([
            n, SECTION_LABELS[f.section], f.label, f.unit,
            "—" if f.value is None else _num(f.value),
            "—" if f.previous is None else _num(f.previous),
            "—" if f.last_year is None else _num(f.last_year),
            _change(f.value, f.previous), _change(f.value, f.last_year),
        ])  # fmt: skip
    if view.missing:
        table.note += " 标“—”的指标尚无记录可统计。"
    return table


def _group_table(
    group_by: str, period: Period, values: Values, names: dict[str, str], totals: dict[str, Any]
) -> Table:
    what = _GROUP_NAMES[group_by]
    cols = [Column("序号"), Column(what)] + [Column(n, g) for g, n, _ in _GROUP_COLUMNS]
    table = Table(f"分{what}统计（{period.label}）", cols, note=_GROUP_NOTES[group_by])
    keys = sorted(values, key=lambda g: (g is None, names.get(g or "", ""), g or ""))
    for i, g in enumerate(keys, 1):
        figs = values[g]
        name = names.get(g, g) if g is not None else "（未关联）"
        table.rows.append([i, name, *(_num(figs.get(k)) for _, _, k in _GROUP_COLUMNS)])
    table.total = ["合计", "", *(_num(totals.get(k)) for _, _, k in _GROUP_COLUMNS)]
    return table


async def _assistance_table(
    session: AsyncSession, county_id: uuid.UUID, hi: datetime, members: Sequence[str]
) -> Table:
    def dept(keyword: str, fallback: str) -> str:
        return next((m for m in members if keyword in m), fallback)

    power, safety, court = (
        dept("供电", "供电部门"),
        dept("应急", "应急管理部门"),
        dept("法院", "人民法院"),
    )
    rows = await session.execute(
        text(
            """SELECT c.case_no, c.cause, c.violation_kind, c.status,
                      EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = c.id
                                 AND s.kind = 'court_enforcement') AS court,
                      EXISTS (SELECT 1 FROM case_penalties p WHERE p.case_id = c.id
                                 AND p.measures @> '[{"kind": "demolish"}]') AS demolish
                 FROM cases c
                WHERE c.county_id = :county AND c.created_at < :hi
                  AND c.status NOT IN ('closed', 'terminated', 'withdrawn')
                  AND (c.violation_kind IN ('illegal_mining', 'destructive_mining')
                       OR c.status = 'executing')
                ORDER BY c.case_no LIMIT 500"""
        ),
        {"county": county_id, "hi": hi},
    )
    cols = [Column(n) for n in ("序号", "案件编号", "案由", "违法类型", "案件状态")]
    cols += [Column("需配合事项", "协查协办"), Column("配合部门", "协查协办")]
    table = Table("需相关部门配合的案件", cols)
    for i, (no, cause, kind, status, enforced, demolish) in enumerate(rows, 1):
        needs, depts = [], []
        if kind in {"illegal_mining", "destructive_mining"}:
            needs.append("对非法采矿点停止供电、安全生产监管")
            depts += [power, safety]
        if enforced:
            needs.append("人民法院强制执行（已申请）")
            depts.append(court)
        elif status == "executing":
            needs.append("督促履行，逾期申请人民法院强制执行")
            depts.append(court)
        if demolish and status == "executing":
            needs.append("配合拆除违法建筑")
            depts.append(court)
        row = [i, no, cause, _VIOLATION.get(kind, kind), _CASE_STATUS.get(status, status)]
        table.rows.append([*row, "；".join(needs), "、".join(dict.fromkeys(depts))])
    table.note = (
        "注：非法采矿、破坏性采矿案件未结案的，提请停止供电并加强安全生产监管；进入执行阶段的，"
        "提请人民法院强制执行；处罚决定责令限期拆除的，提请配合拆除。"
    )
    return table


def _local(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(COUNTY_TZ).strftime("%Y-%m-%d")


async def _referral_table(
    session: AsyncSession, county_id: uuid.UUID, lo: datetime, hi: datetime
) -> Table:
    rows = await session.execute(
        text(
            """SELECT c.case_no, c.cause, f.status, f.reported_at, f.transferred_at,
                      f.transfer_due_at, f.police_unit
                 FROM referrals f JOIN cases c ON c.id = f.case_id
                WHERE f.county_id = :county AND f.reported_at < :hi
                  AND (f.closed_at IS NULL OR f.closed_at >= :lo)
                ORDER BY f.reported_at, c.case_no LIMIT 500"""
        ),
        {"county": county_id, "lo": lo, "hi": hi},
    )
    cols = [Column("序号"), Column("案件编号"), Column("案由"), Column("办理状态"),
            Column("报告日期", "移送"), Column("移送日期", "移送"), Column("是否按时", "移送"),
            Column("接收单位")]  # fmt: skip
    table = Table("涉嫌犯罪案件移送情况", cols)
    for i, (no, cause, status, reported, transferred, due, unit) in enumerate(rows, 1):
        timely = (
            "" if transferred is None else ("是" if due is None or transferred <= due else "否")
        )
        table.rows.append([i, no, cause, _REFERRAL_STATUS.get(status, status), _local(reported),
                           _local(transferred), timely, unit])  # fmt: skip
    return table


async def build_document(
    session: AsyncSession,
    row: Report,
    *,
    config: PatrolConfig | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> ReportDocument:
    """The document of a report, from the records as they are now."""
    county = await session.scalar(select(County.name).where(County.id == row.county_id)) or ""
    stats = StatisticsService(session, config=config, clock=clock)
    period = _period(row)
    bulletin = row.template == ReportTemplate.JOINT_MEETING_BULLETIN.value
    view = await stats.statistics(system_reader(row.county_id), period)
    totals = {f.key: f.value for f in view.figures}
    made = clock().astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")
    subtitle = (
        f"填报单位：{county}　统计期间：{period.label}（{period.start:%Y年%m月%d日}至"
        f"{period.end:%Y年%m月%d日}）　生成时间：{made}"
    )
    tables = [_main_table(view, compact=bulletin)]
    notes: list[str] = []
    if bulletin:
        members = [str(m) for m in row.options.get("members", [])]
        title = f"{county}自然资源执法联席会议通报（{period.label}）"
        notes.append("联席会议成员单位：" + "、".join(members))
        lo, hi = period.bounds(stats.config.tz)
        tables.append(await _assistance_table(session, row.county_id, hi, members))
        tables.append(await _referral_table(session, row.county_id, lo, hi))
    else:
        dims = ("township", "area") if row.template == ReportTemplate.MONTHLY.value else (
            "township", "area", "person")  # fmt: skip
        for dim in dims:
            values = await stats.values(row.county_id, period, dim)
            names = await stats.names(row.county_id, dim)
            tables.append(_group_table(dim, period, values, names, totals))
        title = {
            ReportTemplate.MONTHLY.value: f"{county}自然资源执法监察大队工作月报（{period.label}）",
            ReportTemplate.QUARTERLY_TABLES.value: (
                f"{county}自然资源执法监察统计报表（{period.label}）"
            ),
            ReportTemplate.ANNUAL_TABLES.value: (
                f"{county}自然资源执法监察年度统计报表（{period.label}）"
            ),
        }[row.template]
    return ReportDocument(title, subtitle, tables, notes, landscape=True)


# -- generation (the worker) ---------------------------------------------------------------------
def _file_stem(row: Report) -> str:
    return f"{label('report_template', row.template, 'zh')}-{row.period_key}"


async def generate_report(
    session_factory: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    report_id: uuid.UUID,
    *,
    config: PatrolConfig | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> str:
    """Generate a report's files and store them (``reports:generate``); the report ends
    ``done``, or ``failed`` with the error (which is raised again). Returns the status."""
    async with session_factory() as session:
        row = await session.get(Report, report_id, with_for_update=True)
        if row is None:
            return "missing"
        row.status = ReportStatus.RUNNING.value
        row.started_at = clock()
        await session.commit()
    try:
        async with session_factory() as session:
            row = await session.get(Report, report_id)
            assert row is not None
            doc = await build_document(session, row, config=config, clock=clock)
            await session.commit()  # stale patrol summaries refreshed on the way
            generation = row.generation + 1
            stem, county_id = _file_stem(row), row.county_id
        rendered = {
            ReportFormat.XLSX.value: await asyncio.to_thread(to_xlsx, doc),
            ReportFormat.PDF.value: await asyncio.to_thread(to_pdf, doc),
            ReportFormat.CSV.value: to_csv(doc),
        }
        files: dict[str, Any] = {}
        for fmt, data in rendered.items():
            key = f"reports/{county_id}/{report_id}/{generation}/{uuid7()}.{fmt}"
            await store.put_bytes(key, data, content_type=MEDIA_TYPES[fmt])
            files[fmt] = {
                "key": key,
                "file_name": f"{stem}.{fmt}",
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        async with session_factory() as session:
            row = await session.get(Report, report_id, with_for_update=True)
            assert row is not None
            row.files = files
            row.generation = generation
            row.status = ReportStatus.DONE.value
            row.generated_at = clock()
            row.error = ""
            await resolve_alerts(
                session,
                county_id=row.county_id,
                where=PatrolAlert.dedupe_key
                == _overdue_key(row.county_id, row.template, row.period_key),
                resolution="report_generated",
                at=clock(),
            )
            await session.commit()
    except Exception as exc:
        async with session_factory() as session:
            row = await session.get(Report, report_id, with_for_update=True)
            if row is not None:
                row.status = ReportStatus.FAILED.value
                row.error = f"{type(exc).__name__}: {exc}"[:2000]
                await session.commit()
        log.warning("report.failed", report_id=str(report_id), error=type(exc).__name__)
        raise
    log.info("report.generated", report_id=str(report_id), generation=generation)
    return ReportStatus.DONE.value


# -- due dates and their alerts ------------------------------------------------------------------
async def raise_overdue_reports(
    session: AsyncSession, county_id: uuid.UUID, settings: ReportSettings, *, now: datetime
) -> int:
    """A ``report_overdue`` alert for each template whose latest past-due period has no
    generated report (once per template and period). Returns how many were raised."""
    today = now.astimezone(COUNTY_TZ).date()
    raised = 0
    for template, kind in TEMPLATE_PERIODS.items():
        p = period_of(kind, today).previous()
        if today <= due_on(template, p, settings):
            p = p.previous()
        due = due_on(template, p, settings)
        done = await session.scalar(
            select(Report.id).where(
                Report.county_id == county_id,
                Report.template == template,
                Report.period_key == p.key,
                Report.generated_at.is_not(None),
            )
        )
        if done is not None:
            continue
        raised += await raise_alert(
            session,
            county_id=county_id,
            kind=REPORT_OVERDUE,
            severity="medium",
            dedupe_key=_overdue_key(county_id, template, p.key),
            params={"template": template, "period": p.label, "due_on": due.isoformat()},
            raised_at=now,
        )
    return raised
