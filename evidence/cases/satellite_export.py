"""Exports of a satellite campaign batch: the national XLSX table and a GeoJSON layer.

* **XLSX** (openpyxl, write-only): "遥感监测图斑核查情况一览表" — a title row, a row naming
  the county, batch and export time, two header rows (merged groups: 行政区, 监测面积,
  核查结果, 合法用地, 非新增建设, 违法用地), one row per polygon (by township code, then
  monitoring number) and a totals row (合计). Areas in mu (2 decimals shown, 4 stored). A
  task whose result the review sent back has no standing result: its result columns stay
  empty and 备注 gives the reason (as in the figures, :mod:`evidence.cases.satellite_figures`).
* **GeoJSON**: a FeatureCollection, one feature per task with the change polygon and every
  attribute of the task, its current result (sent back or not: ``result_standing``), the
  review, the submission and the case.

Rows are read from the database in chunks and written to a temporary file (the workbook's
rows go through openpyxl's own temporary file), so memory stays bounded whatever the size
of the batch; the file is then streamed and removed. Each export is an ``exported`` entry
in the custody chain (subject: the batch; details: format, polygons, size and SHA-256).
Captains and admins export (:meth:`~evidence.cases.satellite_figures.SatelliteFiguresService.export`
checks the role and finds the batch).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any, Final

import msgspec
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.satellite_models import Outcome, SatelliteBatch, TaskStatus
from evidence.custody import CustodyAction, CustodyLog
from geofence.enums import LandClass
from geofence.overlay import to_mu
from infra.db import utcnow
from infra.messages import label
from infra.scope import COUNTY_TZ, Principal
from patrol.models import County

__all__ = ["EXPORT_FORMATS", "ExportFile", "export_batch"]

EXPORT_FORMATS: Final = ("xlsx", "geojson")
_CHUNK_ROWS = 500
_READ_BYTES = 256 * 1024
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GEOJSON_TYPE: Final = "application/geo+json"

# the vocabularies as the national table writes them
_PROOF = {
    "farmland_conversion": "农用地转用审批", "land_swap": "城乡建设用地增减挂钩",
    "sea_area": "海域使用权证", "unused_land": "未利用地审批", "other": "其他用地手续",
}  # fmt: skip
_NOT_NEW = {
    "agricultural_facility": "设施农用地", "temporary_use": "临时用地", "rural_road": "农村道路",
    "no_change": "实地未变化", "pre_existing": "以前年度已建", "other": "其他",
}  # fmt: skip
_VIOLATOR = {
    "person": "个人", "organisation": "企业、单位", "village_collective": "村集体",
    "government": "政府及部门",
}  # fmt: skip
_USE = {
    "housing": "住宅", "industrial": "工矿仓储", "commercial": "商服",
    "public": "公共管理与公共服务", "transport": "交通运输", "water": "水利设施",
    "mining": "采矿", "agricultural": "农业设施", "other": "其他",
}  # fmt: skip
_BUILD = {"levelled": "已平整未建", "partly_built": "在建", "fully_built": "已建成"}

# monitored areas by class: (header, land classes summed)
_MONITORED: tuple[tuple[str, tuple[LandClass, ...]], ...] = (
    ("农用地", (LandClass.PERMANENT_BASIC_FARMLAND, LandClass.CULTIVATED,
             LandClass.OTHER_FARMLAND)),
    ("其中耕地", (LandClass.PERMANENT_BASIC_FARMLAND, LandClass.CULTIVATED)),
    ("其中永久基本农田", (LandClass.PERMANENT_BASIC_FARMLAND,)),
    ("建设用地", (LandClass.CONSTRUCTION_APPROVED, LandClass.CONSTRUCTION_UNAPPROVED)),
    ("未利用地", (LandClass.UNUSED,)),
    ("其他", (LandClass.OTHER,)),
)  # fmt: skip
_KNOWN = {c.value for _, classes in _MONITORED for c in classes}

#: The two header rows: (group or ``None`` for a column spanning both rows, column names).
HEADER_GROUPS: Final[tuple[tuple[str | None, tuple[str, ...]], ...]] = (
    (None, ("序号",)),
    ("行政区", ("县级行政区", "乡镇")),
    (None, ("监测编号", "图斑面积（亩）")),
    ("监测面积（亩）", tuple(h for h, _ in _MONITORED)),
    ("核查结果（亩）", ("合法", "非新增建设", "违法")),
    ("合法用地", ("用地手续类型", "批准文号", "批准机关", "批准日期", "批准面积（亩）")),
    ("非新增建设", ("类型",)),
    ("违法用地", ("违法主体", "主体类型", "用途", "建设状态", "占用耕地面积（亩）",
                  "占用永久基本农田面积（亩）")),
    (None, ("核查人", "核查时间", "审核状态", "上报时间", "立案编号", "备注")),
)  # fmt: skip
COLUMNS: Final = tuple(name for _, names in HEADER_GROUPS for name in names)
_TITLE = "遥感监测图斑核查情况一览表"
# columns summed in the totals row (0-based), in m²
_SUMMED = (4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 18, 24, 25)
_HEADER_ROWS = 4  # title, subtitle, two header rows

_ROWS = text("""
SELECT t.id, t.monitoring_no, t.status, t.due_on, t.township_id, t.area_id, t.inspector_id,
       t.target_id, t.assigned_at, t.assigned_by, t.reviewed_at, t.reviewed_by, t.review_note,
       t.submitted_at, t.submitted_by, t.case_id, t.change_polygon_id,
       coalesce(w.code, '') AS township_code, coalesce(w.name, '') AS township,
       p.area_m2 AS polygon_m2, p.monitored_areas,
       CASE WHEN CAST(:geometry AS boolean) THEN ST_AsGeoJSON(p.geom, 7) END AS geometry,
       r.id AS result_id, r.outcome, r.proof_type, r.approval_no, r.approval_body,
       r.approval_date, r.approval_area_m2, r.not_new_kind, r.violator, r.violator_type,
       r.land_use, r.construction_status, r.overlay_areas, r.overlay_area_m2, r.note,
       r.verified_at, r.verified_by, r.patrol_id, r.evidence_ids,
       coalesce(vu.display_name, '') AS verifier, coalesce(ru.display_name, '') AS reviewer,
       coalesce(su.display_name, '') AS submitter, coalesce(c.case_no, '') AS case_no
FROM satellite_tasks t
JOIN geofence_change_polygons p ON p.id = t.change_polygon_id
LEFT JOIN townships w ON w.id = t.township_id
LEFT JOIN satellite_results r ON r.id = t.result_id
LEFT JOIN users vu ON vu.id = r.verified_by
LEFT JOIN users ru ON ru.id = t.reviewed_by
LEFT JOIN users su ON su.id = t.submitted_by
LEFT JOIN cases c ON c.id = t.case_id
WHERE t.county_id = :county AND t.batch_id = :batch
ORDER BY w.code NULLS LAST, t.monitoring_no, t.id
""")


@dataclass(slots=True)
class ExportFile:
    """A finished export in a temporary file. Stream it with :meth:`chunks` (exactly once;
    the file is closed and gone afterwards) or :meth:`close` it."""

    file_name: str
    media_type: str
    size: int
    sha256: str
    polygons: int
    _file: IO[bytes] = field(repr=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            await asyncio.to_thread(self._file.seek, 0)
            while chunk := await asyncio.to_thread(self._file.read, _READ_BYTES):
                yield chunk
        finally:
            self._file.close()

    def close(self) -> None:
        self._file.close()


# -- cell values -----------------------------------------------------------------------------------
def _local(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")


def _day(d: date | None) -> str:
    return "" if d is None else d.isoformat()


def _m2(areas: Any, classes: Sequence[LandClass]) -> float:
    if not isinstance(areas, dict):
        return 0.0
    return sum(float(areas.get(c.value) or 0.0) for c in classes)


def _other_m2(areas: Any) -> float:
    """Monitored area in ``other`` and in classes the table has no column for."""
    if not isinstance(areas, dict):
        return 0.0
    return sum(float(v or 0.0) for k, v in areas.items() if k not in _KNOWN) + float(
        areas.get(LandClass.OTHER.value) or 0.0
    )


def _standing(r: Any) -> bool:
    return r.result_id is not None and r.status != TaskStatus.SENT_BACK.value


def _remark(r: Any) -> str:
    parts = []
    if r.status == TaskStatus.SENT_BACK.value:
        parts.append(f"审核退回：{r.review_note}" if r.review_note else "审核退回")
    elif r.review_note:
        parts.append(f"审核意见：{r.review_note}")
    if _standing(r) and r.note:
        parts.append(r.note)
    return "；".join(parts)


def table_row(r: Any) -> list[Any]:
    """One polygon's row of the national table, areas in m² (converted when written)."""
    monitored = [
        _other_m2(r.monitored_areas)
        if classes == (LandClass.OTHER,)
        else _m2(r.monitored_areas, classes)
        for _, classes in _MONITORED
    ]
    standing = _standing(r)
    outcome = r.outcome if standing else None
    area = float(r.overlay_area_m2 or 0.0)
    legal, not_new, illegal = (
        outcome == Outcome.LEGAL.value, outcome == Outcome.NOT_NEW.value,
        outcome == Outcome.ILLEGAL.value,
    )  # fmt: skip
    cultivated = (LandClass.PERMANENT_BASIC_FARMLAND, LandClass.CULTIVATED)
    return [
        None,  # 序号, numbered when written
        None,  # 县级行政区, filled when written
        r.township or "（未落入乡镇）",
        r.monitoring_no,
        float(r.polygon_m2 or 0.0),
        *monitored,
        area if legal else None,
        area if not_new else None,
        area if illegal else None,
        _PROOF.get(r.proof_type or "", "") if legal else "",
        r.approval_no if legal else "",
        r.approval_body if legal else "",
        _day(r.approval_date) if legal else "",
        float(r.approval_area_m2) if legal and r.approval_area_m2 is not None else None,
        _NOT_NEW.get(r.not_new_kind or "", "") if not_new else "",
        r.violator if illegal else "",
        _VIOLATOR.get(r.violator_type or "", "") if illegal else "",
        _USE.get(r.land_use or "", "") if illegal else "",
        _BUILD.get(r.construction_status or "", "") if illegal else "",
        _m2(r.overlay_areas, cultivated) if illegal else None,
        _m2(r.overlay_areas, (LandClass.PERMANENT_BASIC_FARMLAND,)) if illegal else None,
        r.verifier if standing else "",
        _local(r.verified_at) if standing else "",
        label("satellite_task_status", r.status, "zh"),
        _local(r.submitted_at),
        r.case_no,
        _remark(r),
    ]


# -- the workbook ----------------------------------------------------------------------------------
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


class _Sheet:
    """The write-only sheet of the table, fed row by row (on a worker thread)."""

    def __init__(self, county: str, batch: SatelliteBatch, exported_at: datetime) -> None:
        self.book = Workbook(write_only=True)
        self.ws: WriteOnlyWorksheet = self.book.create_sheet("图斑核查")
        self.county = county
        self.count = 0
        self.sums = [0.0] * len(COLUMNS)
        self._text = self._cell(None)
        self._text.border = _BORDER
        self._number = self._cell(None, fmt="0.00")
        self._number.border = _BORDER
        width = len(COLUMNS)
        for i, name in enumerate(COLUMNS, 1):
            self.ws.column_dimensions[get_column_letter(i)].width = max(
                8, min(24, 2 * len(name) + 2)
            )
        self.ws.freeze_panes = f"A{_HEADER_ROWS + 1}"
        last = get_column_letter(width)
        title = self._cell(f"{county}{batch.name}{_TITLE}", bold=True, size=16)
        self.ws.append([title])
        self._merge(f"A1:{last}1")
        sub = f"填报单位：{county}　　批次：{batch.name}　　导出时间：{_local(exported_at)}"
        self.ws.append([self._cell(sub)])
        self._merge(f"A2:{last}2")
        self._headers()

    def _merge(self, ref: str) -> None:
        # the write-only sheet keeps the standard sheet's merged ranges (written at the end)
        self.ws.merged_cells.add(ref)  # type: ignore[attr-defined]

    def _cell(self, value: Any, *, bold: bool = False, size: int = 11, fmt: str = "") -> Any:
        cell = WriteOnlyCell(self.ws, value=value)
        cell.font = Font(bold=bold, size=size)
        cell.alignment = _CENTRE
        if fmt:
            cell.number_format = fmt
        return cell

    def _styled(self, value: Any, style: Any) -> Any:
        """A data cell in the style of a prototype: styling each of 300,000 cells anew
        costs seconds (openpyxl hashes every style object), copying the indices does not."""
        cell = WriteOnlyCell(self.ws, value=value)
        cell._style = copy(style)  # type: ignore[attr-defined]
        return cell

    def _headers(self) -> None:
        top: list[Any] = []
        bottom: list[Any] = []
        col = 1
        for group, names in HEADER_GROUPS:
            for name in names:
                if group is None:
                    top.append(self._cell(name, bold=True))
                    bottom.append(self._cell(None))
                    letter = get_column_letter(col)
                    self._merge(f"{letter}3:{letter}4")
                else:
                    top.append(self._cell(group if name == names[0] else None, bold=True))
                    bottom.append(self._cell(name, bold=True))
                col += 1
            if group is not None:
                first, last = get_column_letter(col - len(names)), get_column_letter(col - 1)
                if len(names) > 1:
                    self._merge(f"{first}3:{last}3")
        for cell in (*top, *bottom):
            cell.border = _BORDER
        self.ws.append(top)
        self.ws.append(bottom)

    def _write(self, values: list[Any]) -> None:
        text, number = self._text._style, self._number._style
        self.ws.append([
            self._styled(to_mu(float(v), 4), number)
            if i in _SUMMED and v is not None
            else self._styled(v, text)
            for i, v in enumerate(values)
        ])  # fmt: skip

    def add(self, rows: Sequence[Any]) -> None:
        for r in rows:
            values = table_row(r)
            self.count += 1
            values[0], values[1] = self.count, self.county
            for i in _SUMMED:
                if values[i] is not None:
                    self.sums[i] += float(values[i])
            self._write(values)

    def finish(self, out: IO[bytes]) -> None:
        totals: list[Any] = [None] * len(COLUMNS)
        totals[0] = "合计"
        totals[3] = f"{self.count}个图斑"
        for i in _SUMMED:
            totals[i] = self.sums[i]
        self._write(totals)
        self.book.save(out)


# -- GeoJSON ---------------------------------------------------------------------------------------
def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (date, datetime)) else v


def _ids(v: Any) -> Any:
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, list):
        return [str(x) for x in v]
    return v


def feature_properties(r: Any) -> dict[str, Any]:
    """Every attribute of the task, its current result, review, submission and case."""
    result = None
    if r.result_id is not None:
        result = {
            "id": str(r.result_id), "outcome": r.outcome, "proof_type": r.proof_type,
            "approval_no": r.approval_no, "approval_body": r.approval_body,
            "approval_date": _iso(r.approval_date), "approval_area_m2": r.approval_area_m2,
            "not_new_kind": r.not_new_kind, "violator": r.violator,
            "violator_type": r.violator_type, "land_use": r.land_use,
            "construction_status": r.construction_status, "overlay_areas": r.overlay_areas,
            "overlay_area_m2": r.overlay_area_m2,
            "overlay_area_mu": to_mu(float(r.overlay_area_m2 or 0.0), 4),
            "note": r.note, "verified_at": _iso(r.verified_at), "verified_by": _ids(r.verified_by),
            "verifier": r.verifier, "patrol_id": _ids(r.patrol_id),
            "evidence_ids": _ids(list(r.evidence_ids or [])),
        }  # fmt: skip
    return {
        "task_id": str(r.id), "monitoring_no": r.monitoring_no,
        "change_polygon_id": str(r.change_polygon_id), "status": r.status,
        "status_label": label("satellite_task_status", r.status, "zh"),
        "due_on": _iso(r.due_on), "township_id": _ids(r.township_id),
        "township_code": r.township_code, "township": r.township, "area_id": _ids(r.area_id),
        "inspector_id": _ids(r.inspector_id), "target_id": _ids(r.target_id),
        "assigned_at": _iso(r.assigned_at), "assigned_by": _ids(r.assigned_by),
        "polygon_area_m2": r.polygon_m2, "polygon_area_mu": to_mu(float(r.polygon_m2 or 0.0), 4),
        "monitored_areas": r.monitored_areas, "result": result,
        "result_standing": _standing(r), "outcome": r.outcome if _standing(r) else None,
        "reviewed_at": _iso(r.reviewed_at), "reviewed_by": _ids(r.reviewed_by),
        "reviewer": r.reviewer, "review_note": r.review_note,
        "submitted_at": _iso(r.submitted_at), "submitted_by": _ids(r.submitted_by),
        "submitter": r.submitter, "case_id": _ids(r.case_id), "case_no": r.case_no or None,
    }  # fmt: skip


def _features(rows: Sequence[Any], out: IO[bytes], first: bool) -> None:
    for r in rows:
        if not first:
            out.write(b",\n")
        first = False
        out.write(b'{"type":"Feature","id":"' + str(r.id).encode() + b'","geometry":')
        out.write((r.geometry or "null").encode())
        out.write(b',"properties":' + msgspec.json.encode(feature_properties(r)) + b"}")


# -- the export ------------------------------------------------------------------------------------
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def _file_name(batch: SatelliteBatch, fmt: str) -> str:
    base = _UNSAFE.sub("_", batch.name).strip() or "卫片批次"
    return f"{base}图斑核查情况一览表.xlsx" if fmt == "xlsx" else f"{base}图斑核查.geojson"


def _digest(out: IO[bytes]) -> tuple[int, str]:
    out.flush()
    out.seek(0)
    h = hashlib.sha256()
    size = 0
    while chunk := out.read(_READ_BYTES):
        h.update(chunk)
        size += len(chunk)
    return size, h.hexdigest()


async def _write(
    session: AsyncSession, batch: SatelliteBatch, fmt: str, county: str, out: IO[bytes],
    *, clock: Callable[[], datetime],
) -> int:  # fmt: skip
    params = {"county": batch.county_id, "batch": batch.id, "geometry": fmt == "geojson"}
    stream = await session.stream(_ROWS.execution_options(yield_per=_CHUNK_ROWS), params)
    count = 0
    if fmt == "xlsx":
        sheet = await asyncio.to_thread(_Sheet, county, batch, clock())
        async for part in stream.partitions(_CHUNK_ROWS):
            await asyncio.to_thread(sheet.add, part)
        await asyncio.to_thread(sheet.finish, out)
        return sheet.count
    out.write(b'{"type":"FeatureCollection","name":' + msgspec.json.encode(batch.name))
    out.write(b',"batch_id":"' + str(batch.id).encode() + b'","features":[\n')
    async for part in stream.partitions(_CHUNK_ROWS):
        await asyncio.to_thread(_features, part, out, count == 0)
        count += len(part)
    out.write(b"\n]}\n")
    return count


async def export_batch(
    session: AsyncSession,
    principal: Principal,
    batch: SatelliteBatch,
    fmt: str,
    *,
    custody: CustodyLog,
    clock: Callable[[], datetime] = utcnow,
) -> ExportFile:
    """``batch`` (the caller's, found by the caller) as ``fmt`` (``xlsx`` or ``geojson``) in
    a temporary file, appended to the custody chain in the caller's transaction."""
    if fmt not in EXPORT_FORMATS:  # the contract's enum refuses others first
        msg = f"format must be one of {', '.join(EXPORT_FORMATS)}"
        raise ValueError(msg)
    county = await session.scalar(select(County.name).where(County.id == batch.county_id)) or ""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the ExportFile, closed by it
    try:
        count = await _write(session, batch, fmt, county, out, clock=clock)
        size, sha256 = await asyncio.to_thread(_digest, out)
        await custody.append(
            session,
            county_id=principal.county_id,
            action=CustodyAction.EXPORTED,
            subject_id=batch.id,
            actor_id=principal.user_id,
            details={"kind": "satellite_batch", "format": fmt, "polygons": count,
                     "bytes": size, "sha256": sha256},
            at=clock(),
        )  # fmt: skip
    except BaseException:
        out.close()
        raise
    media = XLSX_TYPE if fmt == "xlsx" else GEOJSON_TYPE
    return ExportFile(_file_name(batch, fmt), media, size, sha256, count, out)
