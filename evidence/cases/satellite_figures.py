"""The figures of a satellite campaign batch (卫片执法统计), per township and for the county.

For each township the batch's polygons fell in (by code), then the polygons in no township,
then the total:

* ``polygons`` and their monitored area; ``by_status`` (every :class:`TaskStatus`);
* ``verified``: tasks with a current field result that stands (``result_id`` set and not
  sent back: a result the review sent back is not counted until it is verified again);
* ``overdue``: the county-local day is past the task's ``due_on`` and the task has no
  result, or was sent back and not verified again (the clock is the service's, so a test or
  a drill that fixes the app's clock fixes this too; the due day itself is not overdue);
* per outcome (legal, not new, illegal) the count and the area of the current results
  (``satellite_results.overlay_area_m2``);
* illegal occupation of cultivated land (耕地: land classes ``cultivated`` and
  ``permanent_basic_farmland`` of ``overlay_areas``) and of permanent basic farmland;
  newly built land (``new_construction``: legal + illegal);
* the indicator that decides summons and accountability: the share of illegally occupied
  cultivated land in the cultivated land that new construction occupied, ``illegal
  cultivated / (legal cultivated + illegal cultivated)`` (``None`` when no new construction
  occupied cultivated land), ``over_threshold`` when above
  :attr:`~infra.settings.SatelliteSettings.ratio_threshold`.

Areas are m² in storage and mu here (4 decimals); the ratio is computed from m².
One set-based statement (grouping sets) computes every row.

Captains and admins read figures (:func:`~evidence.cases.satellite_access.require_manager`);
another county's batch does not exist (404 ``satellite_batch_not_found``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.errors import SatelliteBatchNotFoundError
from evidence.cases.satellite_access import require_manager
from evidence.cases.satellite_export import ExportFile, export_batch
from evidence.cases.satellite_models import Outcome, SatelliteBatch, TaskStatus
from evidence.custody import CustodyLog
from geofence.enums import LandClass
from geofence.overlay import to_mu
from infra.db import utcnow
from infra.scope import COUNTY_TZ, Principal, scoped
from infra.settings import SatelliteSettings

__all__ = [
    "CULTIVATED_CLASSES",
    "FigureRow",
    "SatelliteFiguresService",
    "SatelliteFiguresView",
    "load_batch",
]

#: 耕地 in the indicator: cultivated land, permanent basic farmland included.
CULTIVATED_CLASSES = (LandClass.CULTIVATED, LandClass.PERMANENT_BASIC_FARMLAND)


@dataclass(frozen=True, slots=True)
class FigureRow:
    """One township's figures (``township_id`` ``None``: the polygons in no township, or the
    total row when ``total``)."""

    township_id: uuid.UUID | None
    township_code: str
    name: str
    total: bool
    polygons: int
    polygon_area_mu: float
    verified: int
    overdue: int
    by_status: dict[str, int]
    legal: int
    legal_area_mu: float
    not_new: int
    not_new_area_mu: float
    illegal: int
    illegal_area_mu: float
    illegal_cultivated_mu: float
    illegal_basic_farmland_mu: float
    legal_cultivated_mu: float
    new_construction_mu: float
    cultivated_ratio: float | None
    over_threshold: bool


@dataclass(frozen=True, slots=True)
class SatelliteFiguresView:
    """A batch's figures on ``as_of`` (the county-local day overdue is counted on)."""

    batch_id: uuid.UUID
    batch_name: str
    kind: str
    year: int
    quarter: int | None
    month: int | None
    verify_due_on: date
    report_due_on: date
    as_of: date
    ratio_threshold: float
    townships: tuple[FigureRow, ...]
    total: FigureRow


def _num(column: str, land_class: LandClass) -> str:
    return f"coalesce(({column} ->> '{land_class.value}')::float8, 0)"


_STATUS_COUNTS = ",\n    ".join(
    f"count(*) FILTER (WHERE status = '{s.value}') AS st_{s.value}" for s in TaskStatus
)
_OUTCOME_SUMS = ",\n    ".join(
    f"count(*) FILTER (WHERE outcome = '{o.value}') AS n_{o.value},\n    "
    f"coalesce(sum(area_m2) FILTER (WHERE outcome = '{o.value}'), 0) AS a_{o.value},\n    "
    f"coalesce(sum(cult_m2) FILTER (WHERE outcome = '{o.value}'), 0) AS c_{o.value}"
    for o in Outcome
)
_CULT = " + ".join(_num("r.overlay_areas", c) for c in CULTIVATED_CLASSES)
_BASIC = _num("r.overlay_areas", LandClass.PERMANENT_BASIC_FARMLAND)

# one pass over the batch's tasks: a group per township and the total (grouping sets)
_FIGURES = text(f"""
WITH t AS (
    SELECT t.township_id, t.status, t.due_on,
           (t.due_on < :today AND (t.result_id IS NULL OR t.status = 'sent_back')) AS late,
           p.area_m2 AS polygon_m2,
           CASE WHEN t.status <> 'sent_back' THEN r.outcome END AS outcome,
           coalesce(r.overlay_area_m2, 0) AS area_m2,
           {_CULT} AS cult_m2,
           {_BASIC} AS basic_m2
    FROM satellite_tasks t
    JOIN geofence_change_polygons p ON p.id = t.change_polygon_id
    LEFT JOIN satellite_results r ON r.id = t.result_id
    WHERE t.county_id = :county AND t.batch_id = :batch
), g AS (
    SELECT township_id, GROUPING(township_id) = 1 AS is_total,
    count(*) AS polygons,
    coalesce(sum(polygon_m2), 0) AS polygon_m2,
    count(*) FILTER (WHERE outcome IS NOT NULL) AS verified,
    count(*) FILTER (WHERE late) AS overdue,
    {_STATUS_COUNTS},
    {_OUTCOME_SUMS},
    coalesce(sum(basic_m2) FILTER (WHERE outcome = 'illegal'), 0) AS b_illegal
    FROM t GROUP BY GROUPING SETS ((township_id), ())
)
SELECT g.*, coalesce(w.code, '') AS township_code, coalesce(w.name, '') AS township_name
FROM g LEFT JOIN townships w ON w.id = g.township_id
ORDER BY g.is_total, w.code NULLS LAST, w.name
""")  # noqa: S608 - constant SQL built from the enums


def _mu(m2: float) -> float:
    return to_mu(float(m2), 4)


def _row(r: Any, threshold: float) -> FigureRow:
    legal_c, illegal_c = float(r.c_legal), float(r.c_illegal)
    occupied = legal_c + illegal_c
    ratio = illegal_c / occupied if occupied > 0 else None
    return FigureRow(
        township_id=None if r.is_total else r.township_id,
        township_code="" if r.is_total else r.township_code,
        name="" if r.is_total else r.township_name,
        total=bool(r.is_total),
        polygons=int(r.polygons),
        polygon_area_mu=_mu(r.polygon_m2),
        verified=int(r.verified),
        overdue=int(r.overdue),
        by_status={s.value: int(getattr(r, f"st_{s.value}")) for s in TaskStatus},
        legal=int(r.n_legal),
        legal_area_mu=_mu(r.a_legal),
        not_new=int(r.n_not_new),
        not_new_area_mu=_mu(r.a_not_new),
        illegal=int(r.n_illegal),
        illegal_area_mu=_mu(r.a_illegal),
        illegal_cultivated_mu=_mu(illegal_c),
        illegal_basic_farmland_mu=_mu(r.b_illegal),
        legal_cultivated_mu=_mu(legal_c),
        new_construction_mu=_mu(float(r.a_legal) + float(r.a_illegal)),
        cultivated_ratio=ratio,
        over_threshold=ratio is not None and ratio > threshold,
    )


def _empty_total() -> FigureRow:
    return FigureRow(
        None, "", "", True, 0, 0.0, 0, 0, {s.value: 0 for s in TaskStatus},
        0, 0.0, 0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, None, False,
    )  # fmt: skip


async def load_batch(
    session: AsyncSession, principal: Principal, batch_id: uuid.UUID
) -> SatelliteBatch:
    """The caller's county's batch (404 ``satellite_batch_not_found`` otherwise)."""
    stmt = scoped(select(SatelliteBatch), SatelliteBatch, principal)
    row = (await session.execute(stmt.where(SatelliteBatch.id == batch_id))).scalar_one_or_none()
    if row is None:
        raise SatelliteBatchNotFoundError("satellite batch not found", batch_id=str(batch_id))
    return row


class SatelliteFiguresService:
    """Campaign figures and exports of a county's batches, for one request (an export appends
    to the custody chain; the caller commits)."""

    def __init__(
        self,
        session: AsyncSession,
        settings: SatelliteSettings,
        custody: CustodyLog,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self._settings = settings
        self._custody = custody
        self._clock = clock

    def today(self) -> date:
        """The county-local day by the service's clock."""
        return self._clock().astimezone(COUNTY_TZ).date()

    async def figures(self, principal: Principal, batch_id: uuid.UUID) -> SatelliteFiguresView:
        """Per township (by code), the polygons in no township, and the total."""
        require_manager(principal, "read satellite campaign figures")
        batch = await load_batch(self.session, principal, batch_id)
        today = self.today()
        threshold = self._settings.ratio_threshold
        rows = await self.session.execute(
            _FIGURES, {"county": principal.county_id, "batch": batch.id, "today": today}
        )
        figures = [_row(r, threshold) for r in rows]
        total = next((f for f in figures if f.total), None) or _empty_total()
        return SatelliteFiguresView(
            batch_id=batch.id,
            batch_name=batch.name,
            kind=batch.kind,
            year=batch.year,
            quarter=batch.quarter,
            month=batch.month,
            verify_due_on=batch.verify_due_on,
            report_due_on=batch.report_due_on,
            as_of=today,
            ratio_threshold=threshold,
            townships=tuple(f for f in figures if not f.total),
            total=total,
        )

    async def export(self, principal: Principal, batch_id: uuid.UUID, fmt: str) -> ExportFile:
        """The batch as the national XLSX table or GeoJSON (:mod:`evidence.cases.satellite_export`),
        in a temporary file the caller streams; the export is in the custody chain."""
        require_manager(principal, "export satellite batches")
        batch = await load_batch(self.session, principal, batch_id)
        return await export_batch(
            self.session, principal, batch, fmt, custody=self._custody, clock=self._clock
        )
