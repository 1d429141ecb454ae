"""Satellite batches (卫片批次): import a batch of change polygons, make its tasks, assign them.

A batch is imported as a new version of the county's change-polygon layer by the layer
importer (:func:`geofence.importer.import_layer`: GeoJSON, zipped Shapefile, GeoPackage; any
CRS it reads, CGCS2000 and its Gauss-Krüger zones included), and then every stored polygon
becomes one :class:`~evidence.cases.satellite_models.SatelliteTask`, in the same
transaction (:func:`create_tasks`, set-based SQL):

* township: the township whose code the polygon's township-code field (``XZQDM``,
  ``乡镇代码``; ``fieldMap`` ``township_code``) names, else the township containing the
  polygon's representative point (``ST_PointOnSurface``);
* contract area: the smallest active area containing that point. With one, the task is
  ``assigned`` and the polygon becomes a ``change_polygon`` patrol target of the area (a
  radius covering the polygon, due on the task's due day) that enters the area's stored
  plans from this month to the due month; without one, it is ``unassigned`` for a captain
  to assign (:meth:`SatelliteBatchService.assign_tasks`).

Due dates follow the schedule (:func:`schedule`) unless given: a monthly batch is reported
up by the last day of the next month (月清), a quarterly one ``quarter_report_days`` after
its quarter ends, a special one ``quarter_report_days`` after the import day; field results
are due ``review_days`` before that, and that is every task's due day.

A new version of the change-polygon layer replaces the layer whole; the polygons that
earlier batches' tasks still wait on (not yet submitted) are carried into it
(:func:`carry_forward`), so the map, the location checks, the tiles and the phones' layer
keep them.

A dry run imports and places everything inside a savepoint, reports it, and rolls the
savepoint back: it stores nothing, and its figures are those the import would produce.

Files above the layer settings' ``import_job_bytes`` are refused (``invalid_satellite_batch``,
``reason: file_too_large``): the background import job has no hook yet to create the tasks.

Who: captains and admins (:func:`~evidence.cases.satellite_access.require_manager`).
"""

from __future__ import annotations

import asyncio
import calendar
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.errors import (
    InvalidSatelliteBatchError,
    SatelliteBatchExistsError,
    SatelliteBatchNotFoundError,
    SatelliteTaskNotFoundError,
    SatelliteTaskSubmittedError,
)
from evidence.cases.satellite_access import require_manager
from evidence.cases.satellite_models import (
    BatchKind,
    SatelliteBatch,
    SatelliteTask,
    SatelliteTaskEvent,
    TaskStatus,
)
from geofence import importer
from geofence.enums import LayerKind
from geofence.errors import InvalidFieldMapError, InvalidGeometryError
from geofence.importer import ImportSummary, import_layer
from geofence.layers import current_versions
from geofence.models import LayerVersion
from infra import error_codes as codes
from infra.db import utcnow
from infra.errors import InvalidInputError, NotFoundError
from infra.ids import uuid7
from infra.scope import COUNTY_TZ, Principal, Role, scoped
from infra.settings import SatelliteSettings
from patrol.areas import nearest_area_of
from patrol.field_models import ContractArea, PatrolTarget
from patrol.models import User

__all__ = [
    "AreaCount",
    "AssignedTask",
    "BatchImport",
    "BatchInput",
    "BatchView",
    "SatelliteBatchService",
    "TownshipCount",
    "carry_forward",
    "create_tasks",
    "parse_field_map",
    "schedule",
]

log = structlog.get_logger(__name__)

_FIELD_ROLES = (Role.INSPECTOR.value, Role.JOINT_TEAM.value)
_MAX_RADIUS_M = 10_000.0  # the largest visit radius a target may have (patrol.areas)
_REPEATED_CAP = 1000


# -- inputs and views -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchInput:
    """A batch as the captain describes it; due dates default to :func:`schedule`."""

    name: str
    kind: str
    year: int
    quarter: int | None = None
    month: int | None = None
    verify_due_on: date | None = None
    report_due_on: date | None = None


@dataclass(frozen=True, slots=True)
class TownshipCount:
    township_id: uuid.UUID | None
    name: str
    tasks: int


@dataclass(frozen=True, slots=True)
class AreaCount:
    area_id: uuid.UUID | None
    code: str
    name: str
    tasks: int


@dataclass(frozen=True, slots=True)
class BatchView:
    """A batch with its schedule, layer version and task counts (by status, overdue)."""

    id: uuid.UUID
    name: str
    kind: str
    year: int
    quarter: int | None
    month: int | None
    layer_version_id: uuid.UUID
    layer_version_no: int
    verify_due_on: date
    report_due_on: date
    polygons: int
    created_by: uuid.UUID
    created_at: datetime
    task_count: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    overdue: int = 0


@dataclass(frozen=True, slots=True)
class BatchImport:
    """What an import did (or, ``dry_run``, would do)."""

    dry_run: bool
    summary: ImportSummary
    batch: BatchView | None
    task_count: int
    by_township: list[TownshipCount]
    by_area: list[AreaCount]
    unassigned: int
    repeated_monitoring_nos: list[str]


@dataclass(frozen=True, slots=True)
class AssignedTask:
    id: uuid.UUID
    status: str
    area_id: uuid.UUID | None
    inspector_id: uuid.UUID | None
    target_id: uuid.UUID | None


# -- the schedule -----------------------------------------------------------------------------


def _bad(detail: str, **extra: Any) -> InvalidSatelliteBatchError:
    return InvalidSatelliteBatchError(detail, **extra)


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def schedule(
    kind: str,
    year: int,
    *,
    quarter: int | None,
    month: int | None,
    today: date,
    settings: SatelliteSettings,
) -> tuple[date, date]:
    """``(verify_due_on, report_due_on)`` of a batch by the schedule."""
    if kind == BatchKind.MONTHLY.value and month is not None:
        next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        report = _last_day(next_year, next_month)
    elif kind == BatchKind.QUARTERLY.value and quarter is not None:
        report = _last_day(year, quarter * 3) + timedelta(days=settings.quarter_report_days)
    else:
        report = today + timedelta(days=settings.quarter_report_days)
    return report - timedelta(days=settings.review_days), report


def _period(kind: str, quarter: int | None, month: int | None) -> int | None:
    """The batch's quarter (a monthly batch's is its month's), after checking the period."""
    if quarter is not None and not 1 <= quarter <= 4:
        raise _bad("quarter must be 1-4", field="quarter")
    if month is not None and not 1 <= month <= 12:
        raise _bad("month must be 1-12", field="month")
    if kind == BatchKind.QUARTERLY.value:
        if quarter is None:
            raise _bad("a quarterly batch needs its quarter", field="quarter")
        if month is not None:
            raise _bad("a quarterly batch has no month", field="month")
    if kind == BatchKind.MONTHLY.value:
        if month is None:
            raise _bad("a monthly batch needs its month", field="month")
        if quarter is not None and quarter != (month - 1) // 3 + 1:
            raise _bad("the quarter does not hold the month", field="quarter")
        quarter = (month - 1) // 3 + 1
    return quarter


def _checked(data: BatchInput, today: date, settings: SatelliteSettings) -> BatchInput:
    """``data`` validated, with its quarter and due dates."""
    name = data.name.strip()
    if not name or len(name) > 100:
        raise _bad("a batch needs a name of 1 to 100 characters", field="name")
    try:
        kind = BatchKind(data.kind).value
    except ValueError as exc:
        raise _bad("kind must be quarterly, monthly or special", field="kind") from exc
    if not 2000 <= data.year <= 2100:
        raise _bad("year must be within 2000-2100", field="year")
    quarter = _period(kind, data.quarter, data.month)
    verify, report = schedule(
        kind, data.year, quarter=quarter, month=data.month, today=today, settings=settings
    )
    if data.report_due_on is not None:
        report = data.report_due_on
        verify = report - timedelta(days=settings.review_days)
    if data.verify_due_on is not None:
        verify = data.verify_due_on
    if verify > report:
        raise _bad("field results must be due on or before the report date", field="verifyDueOn")
    return replace(
        data, name=name, kind=kind, quarter=quarter, verify_due_on=verify, report_due_on=report
    )


def parse_field_map(value: str | None) -> dict[str, str]:
    """A field map as JSON (``{"monitoring_no": "JCBH"}``) or as ``k=v,k=v``."""
    raw = (value or "").strip()
    if not raw.startswith("{"):
        return importer.parse_field_map(raw, field="fieldMap")
    try:
        found = json.loads(raw)
    except ValueError as exc:
        raise InvalidFieldMapError("fieldMap is not valid JSON", field="fieldMap") from exc
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
        msg = "fieldMap maps attribute names to the file's field names (text)"
        raise InvalidFieldMapError(msg, field="fieldMap")
    return dict(found)


# -- task creation ------------------------------------------------------------------------------

# One statement: place every polygon of the batch's layer version (township by code, else by
# location; the smallest active area containing its representative point), then write the
# targets, the tasks and their first events, and put the targets into the areas' stored
# plans from this month to the due month. Ids are UUIDv7 minted by the caller, in arrays.
_CREATE_TASKS = text("""
WITH src AS (
    SELECT u.cp_id, u.task_id, u.target_id, u.event_id
    FROM unnest(CAST(:cp_ids AS uuid[]), CAST(:task_ids AS uuid[]),
                CAST(:target_ids AS uuid[]), CAST(:event_ids AS uuid[]))
         AS u(cp_id, task_id, target_id, event_id)
),
placed AS MATERIALIZED (
    SELECT s.*, p.monitoring_no, pt.pt,
        coalesce(
            (SELECT t.id FROM townships t
             WHERE t.county_id = :county AND CAST(:town_field AS text) <> ''
               AND t.code = nullif(btrim(p.attrs ->> CAST(:town_field AS text)), '')
             LIMIT 1),
            (SELECT t.id FROM townships t
             WHERE t.county_id = :county AND ST_Covers(t.geom, pt.pt)
             ORDER BY t.code LIMIT 1)) AS township_id,
        (SELECT a.id FROM patrol_areas a
         WHERE a.county_id = :county AND a.active AND ST_Covers(a.geom, pt.pt)
         ORDER BY ST_Area(a.geom), a.code LIMIT 1) AS area_id,
        least(CAST(:max_radius AS float8), greatest(10.0,
            ceil(ST_Length(geography(ST_LongestLine(pt.pt, p.geom))) + 5.0))) AS radius
    FROM src s
    JOIN geofence_change_polygons p ON p.id = s.cp_id
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(p.geom) AS pt) pt
),
targets AS (
    INSERT INTO patrol_targets (id, county_id, area_id, kind, ref_id, name, geom,
                                visit_radius_m, active, due_on, created_at, updated_at)
    SELECT target_id, :county, area_id, 'change_polygon', cp_id, monitoring_no, pt,
           radius, true, :due, :now, :now
    FROM placed WHERE area_id IS NOT NULL
    RETURNING id, area_id
),
tasks AS (
    INSERT INTO satellite_tasks (id, county_id, batch_id, change_polygon_id, monitoring_no,
                                 township_id, area_id, target_id, status, due_on,
                                 assigned_at, assigned_by, review_note, created_at, updated_at)
    SELECT task_id, :county, :batch, cp_id, monitoring_no, township_id, area_id,
           CASE WHEN area_id IS NULL THEN NULL ELSE target_id END,
           CASE WHEN area_id IS NULL THEN 'unassigned' ELSE 'assigned' END, :due,
           CASE WHEN area_id IS NULL THEN NULL ELSE CAST(:now AS timestamptz) END,
           CASE WHEN area_id IS NULL THEN NULL ELSE CAST(:actor AS uuid) END, '', :now, :now
    FROM placed
    RETURNING id
),
events AS (
    INSERT INTO satellite_task_events (id, county_id, task_id, kind, at, actor_id, reason,
                                       details)
    SELECT event_id, :county, task_id,
           CASE WHEN area_id IS NULL THEN 'created' ELSE 'assigned' END, :now, :actor, '',
           CASE WHEN area_id IS NULL THEN jsonb_build_object('batch_id', CAST(:batch AS text))
                ELSE jsonb_build_object('batch_id', CAST(:batch AS text),
                                        'area_id', area_id, 'target_id', target_id) END
    FROM placed
    RETURNING id
),
plans AS (
    UPDATE patrol_plans p SET target_ids = p.target_ids || n.ids, updated_at = :now
    FROM (SELECT area_id, array_agg(id ORDER BY id) AS ids FROM targets GROUP BY area_id) n
    WHERE p.area_id = n.area_id AND p.month >= :plan_from AND p.month <= :plan_to
    RETURNING p.id
)
SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM targets),
       (SELECT count(*) FROM events), (SELECT count(*) FROM plans)
""")

_TOWN_FIELD = text(
    "SELECT coalesce(report -> 'fields' ->> 'township_code', '') "
    "FROM geofence_layer_versions WHERE id = :version"
)


async def create_tasks(
    session: AsyncSession,
    batch: SatelliteBatch,
    *,
    actor_id: uuid.UUID | None = None,
    now: datetime | None = None,
    tz: Any = COUNTY_TZ,
) -> int:
    """One task per polygon of ``batch``'s layer version (see the module's docstring), with
    its target, plan entries and first event; returns how many tasks were made. The caller
    commits."""
    now = now or utcnow()
    cp_ids = list(
        (
            await session.scalars(
                text(
                    "SELECT id FROM geofence_change_polygons WHERE layer_version_id = :v "
                    "ORDER BY feature_no, id"
                ),
                {"v": batch.layer_version_id},
            )
        ).all()
    )
    if not cp_ids:
        return 0
    town_field = await session.scalar(_TOWN_FIELD, {"version": batch.layer_version_id})
    this_month = now.astimezone(tz).date().replace(day=1)
    due = batch.verify_due_on
    n = len(cp_ids)
    await session.execute(text("SET LOCAL jit = off"))
    row = (
        await session.execute(
            _CREATE_TASKS,
            {
                "cp_ids": cp_ids,
                "task_ids": [uuid7() for _ in range(n)],
                "target_ids": [uuid7() for _ in range(n)],
                "event_ids": [uuid7() for _ in range(n)],
                "county": batch.county_id,
                "batch": batch.id,
                "town_field": town_field or "",
                "max_radius": _MAX_RADIUS_M,
                "due": due,
                "now": now,
                "actor": actor_id,
                "plan_from": this_month,
                "plan_to": max(this_month, due.replace(day=1)),
            },
        )
    ).one()
    log.info("satellite.tasks_created", batch=str(batch.id), county=str(batch.county_id),
             tasks=int(row[0]), assigned=int(row[1]), plans=int(row[3]))  # fmt: skip
    return int(row[0])


# -- reports -------------------------------------------------------------------------------------

_BY_TOWNSHIP = text("""
SELECT t.township_id, coalesce(w.name, ''), count(*) FROM satellite_tasks t
LEFT JOIN townships w ON w.id = t.township_id
WHERE t.batch_id = :batch GROUP BY t.township_id, w.name, w.code ORDER BY w.code NULLS LAST
""")
_BY_AREA = text("""
SELECT t.area_id, coalesce(a.code, ''), coalesce(a.name, ''), count(*) FROM satellite_tasks t
LEFT JOIN patrol_areas a ON a.id = t.area_id
WHERE t.batch_id = :batch GROUP BY t.area_id, a.code, a.name ORDER BY a.code NULLS LAST
""")
# monitoring numbers of this batch already in a task of another batch of the county that is
# still open (not every task of it submitted)
_REPEATED = text("""
SELECT DISTINCT n.monitoring_no FROM satellite_tasks n
JOIN satellite_tasks o ON o.county_id = n.county_id AND o.monitoring_no = n.monitoring_no
                      AND o.batch_id <> n.batch_id
WHERE n.batch_id = :batch
  AND EXISTS (SELECT 1 FROM satellite_tasks x
              WHERE x.batch_id = o.batch_id AND x.status <> 'submitted')
ORDER BY n.monitoring_no LIMIT :cap
""")


async def _report(
    session: AsyncSession, batch_id: uuid.UUID
) -> tuple[list[TownshipCount], list[AreaCount], list[str]]:
    params = {"batch": batch_id}
    towns = [
        TownshipCount(r[0], r[1], int(r[2])) for r in await session.execute(_BY_TOWNSHIP, params)
    ]
    areas = [
        AreaCount(r[0], r[1], r[2], int(r[3])) for r in await session.execute(_BY_AREA, params)
    ]
    repeated = list(
        (await session.scalars(_REPEATED, {"batch": batch_id, "cap": _REPEATED_CAP})).all()
    )
    return towns, areas, repeated


# -- the service ---------------------------------------------------------------------------------


class SatelliteBatchService:
    """Satellite batches of a county, for one request (the caller commits)."""

    def __init__(
        self,
        session: AsyncSession,
        settings: SatelliteSettings,
        *,
        import_limit_bytes: int | None = None,
        tz: Any = COUNTY_TZ,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self._settings = settings
        self._limit = import_limit_bytes
        self._tz = tz
        self._clock = clock

    # -- import ----------------------------------------------------------------------------------
    async def create_batch(
        self,
        principal: Principal,
        data: BatchInput,
        path: Path,
        *,
        source_name: str,
        crs: str | None = None,
        field_map: Mapping[str, str] | None = None,
        layer: str | None = None,
        encoding: str | None = None,
        dry_run: bool = False,
    ) -> BatchImport:
        """Import ``path`` as the batch's change polygons and make their tasks (see the
        module's docstring); ``dry_run`` reports the same and stores nothing."""
        require_manager(principal, "import satellite batches")
        now = self._clock()
        checked = _checked(data, now.astimezone(self._tz).date(), self._settings)
        taken = await self.session.scalar(
            scoped(select(SatelliteBatch.id), SatelliteBatch, principal).where(
                SatelliteBatch.name == checked.name
            )
        )
        if taken is not None:
            raise SatelliteBatchExistsError("a batch of this name exists", field="name")
        size = (await asyncio.to_thread(path.stat)).st_size
        if self._limit is not None and size > self._limit:
            raise _bad(
                "the file is too large to import within the request; split the batch",
                field="file", reason="file_too_large", limit_bytes=self._limit,
            )  # fmt: skip
        options: dict[str, Any] = {
            "source_name": source_name, "crs": crs, "field_map": field_map, "layer": layer,
            "encoding": encoding,
        }  # fmt: skip
        if not dry_run:
            return await self._import(principal, checked, path, now, options, dry_run=False)
        savepoint = await self.session.begin_nested()
        try:
            return await self._import(principal, checked, path, now, options, dry_run=True)
        except InvalidGeometryError as exc:
            if exc.extra.get("reason") != "nothing_stored":
                raise
            await savepoint.rollback()
            summary = await import_layer(
                self.session, principal.county_id, path, LayerKind.CHANGE_POLYGONS.value,
                dry_run=True, created_by=principal.user_id, **options,
            )  # fmt: skip
            return BatchImport(True, summary, None, 0, [], [], 0, [])
        finally:
            if savepoint.is_active:
                await savepoint.rollback()

    async def _import(
        self,
        principal: Principal,
        data: BatchInput,
        path: Path,
        now: datetime,
        options: dict[str, Any],
        *,
        dry_run: bool,
    ) -> BatchImport:
        before = (await current_versions(self.session, principal.county_id)).get(
            LayerKind.CHANGE_POLYGONS
        )
        summary = await import_layer(
            self.session, principal.county_id, path, LayerKind.CHANGE_POLYGONS.value,
            created_by=principal.user_id, **options,
        )  # fmt: skip
        assert summary.layer_version_id is not None
        assert data.verify_due_on is not None and data.report_due_on is not None
        batch = SatelliteBatch(
            id=uuid7(), county_id=principal.county_id, name=data.name, kind=data.kind,
            year=data.year, quarter=data.quarter, month=data.month,
            layer_version_id=summary.layer_version_id, verify_due_on=data.verify_due_on,
            report_due_on=data.report_due_on, polygons=summary.stored,
            created_by=principal.user_id, created_at=now, updated_at=now,
        )  # fmt: skip
        self.session.add(batch)
        await self.session.flush()
        count = await create_tasks(
            self.session, batch, actor_id=principal.user_id, now=now, tz=self._tz
        )
        if before is not None and not dry_run:
            await carry_forward(self.session, batch, before[0])
        towns, areas, repeated = await _report(self.session, batch.id)
        unassigned = sum(a.tasks for a in areas if a.area_id is None)
        if dry_run:
            dry = replace(summary, layer_version_id=None, version_no=0, dry_run=True)
            return BatchImport(True, dry, None, count, towns, areas, unassigned, repeated)
        log.info("satellite.batch_imported", batch=str(batch.id), county=str(batch.county_id),
                 tasks=count, unassigned=unassigned)  # fmt: skip
        view = (await self._views(principal, [batch.id]))[0]
        return BatchImport(False, summary, view, count, towns, areas, unassigned, repeated)

    # -- reading ---------------------------------------------------------------------------------
    async def _views(
        self, principal: Principal, ids: Sequence[uuid.UUID] | None
    ) -> list[BatchView]:
        today = self._clock().astimezone(self._tz).date()
        stmt = (
            scoped(select(SatelliteBatch, LayerVersion.version_no), SatelliteBatch, principal)
            .join(LayerVersion, LayerVersion.id == SatelliteBatch.layer_version_id)
            .order_by(SatelliteBatch.created_at.desc(), SatelliteBatch.id.desc())
        )
        if ids is not None:
            stmt = stmt.where(SatelliteBatch.id.in_(list(ids)))
        rows = (await self.session.execute(stmt)).all()
        counts: dict[uuid.UUID, dict[str, int]] = {b.id: {} for b, _ in rows}
        overdue: dict[uuid.UUID, int] = {}
        if rows:
            late = SatelliteTask.status.in_(
                [TaskStatus.UNASSIGNED.value, TaskStatus.ASSIGNED.value, TaskStatus.SENT_BACK.value]
            ) & (SatelliteTask.due_on < today)
            found = await self.session.execute(
                select(
                    SatelliteTask.batch_id,
                    SatelliteTask.status,
                    func.count(),
                    func.count().filter(late),
                )
                .where(SatelliteTask.batch_id.in_(list(counts)))
                .group_by(SatelliteTask.batch_id, SatelliteTask.status)
            )
            for batch_id, status, n, n_late in found:
                counts[batch_id][status] = int(n)
                overdue[batch_id] = overdue.get(batch_id, 0) + int(n_late)
        return [
            BatchView(
                id=b.id,
                name=b.name,
                kind=b.kind,
                year=b.year,
                quarter=b.quarter,
                month=b.month,
                layer_version_id=b.layer_version_id,
                layer_version_no=int(no),
                verify_due_on=b.verify_due_on,
                report_due_on=b.report_due_on,
                polygons=b.polygons,
                created_by=b.created_by,
                created_at=b.created_at,
                task_count=sum(counts[b.id].values()),
                by_status={s.value: counts[b.id].get(s.value, 0) for s in TaskStatus},
                overdue=overdue.get(b.id, 0),
            )
            for b, no in rows
        ]

    async def list_batches(self, principal: Principal) -> list[BatchView]:
        """Every batch of the county, newest first, with its task counts."""
        require_manager(principal, "read satellite batches")
        return await self._views(principal, None)

    async def get_batch(self, principal: Principal, batch_id: uuid.UUID) -> BatchView:
        """One batch of the county; another county's is not found."""
        require_manager(principal, "read satellite batches")
        found = await self._views(principal, [batch_id])
        if not found:
            raise SatelliteBatchNotFoundError("satellite batch not found", batch_id=str(batch_id))
        return found[0]

    # -- assignment ------------------------------------------------------------------------------
    async def _check_inspector(self, principal: Principal, inspector_id: uuid.UUID) -> None:
        role = await self.session.scalar(
            scoped(select(User.role), User, principal).where(User.id == inspector_id)
        )
        if role not in _FIELD_ROLES:
            raise InvalidInputError(
                "the verifier must be an inspector or joint-team member of this county",
                code=codes.UNKNOWN_USER, field="inspectorId", user_ids=[str(inspector_id)],
            )  # fmt: skip

    async def _area_of_inspector(
        self, principal: Principal, inspector_id: uuid.UUID, point_wkt: str
    ) -> uuid.UUID:
        """The active area the inspector leads or belongs to nearest the point."""
        area_id = await nearest_area_of(self.session, principal, inspector_id, point_wkt)
        if area_id is None:
            raise InvalidInputError(
                "the inspector leads or belongs to no active patrol area; name one",
                code=codes.NO_AREA_FOR_SATELLITE_TASK, field="inspectorId",
            )  # fmt: skip
        return area_id

    async def _check_area(self, principal: Principal, area_id: uuid.UUID) -> None:
        found = await self.session.scalar(
            scoped(select(ContractArea.id), ContractArea, principal).where(
                ContractArea.id == area_id, ContractArea.active
            )
        )
        if found is None:
            raise NotFoundError("area not found", code=codes.AREA_NOT_FOUND, area_id=str(area_id))

    async def assign_tasks(
        self,
        principal: Principal,
        task_ids: Sequence[uuid.UUID],
        *,
        inspector_id: uuid.UUID,
        area_id: uuid.UUID | None = None,
    ) -> list[AssignedTask]:
        """Give tasks to an inspector (or joint-team member). A task with no area, or with
        another area than ``area_id``, gets a new target in ``area_id`` or else in the active
        area the inspector leads or belongs to nearest the polygon; its old target is
        retired. Submitted tasks are refused (an admin reopens them first)."""
        require_manager(principal, "assign satellite tasks")
        wanted = list(dict.fromkeys(task_ids))
        if not wanted:
            raise _bad("name at least one task", field="taskIds")
        rows = list(
            (
                await self.session.scalars(
                    scoped(select(SatelliteTask), SatelliteTask, principal)
                    .where(SatelliteTask.id.in_(wanted))
                    .order_by(SatelliteTask.id)
                    .with_for_update()
                )
            ).all()
        )
        if missing := set(wanted) - {r.id for r in rows}:
            raise SatelliteTaskNotFoundError(
                "satellite task not found", task_ids=sorted(str(m) for m in missing)
            )
        if submitted := [r for r in rows if r.status == TaskStatus.SUBMITTED.value]:
            raise SatelliteTaskSubmittedError(
                "submitted tasks change only after an admin reopens them",
                task_ids=[str(r.id) for r in submitted],
            )
        await self._check_inspector(principal, inspector_id)
        if area_id is not None:
            await self._check_area(principal, area_id)
        now = self._clock()
        out: list[AssignedTask] = []
        for row in rows:  # bounded by the request (taskIds); each may move its target
            await self._assign_one(principal, row, inspector_id, area_id, now)
            out.append(AssignedTask(row.id, row.status, row.area_id, row.inspector_id,
                                    row.target_id))  # fmt: skip
        await self.session.flush()
        return out

    async def _assign_one(
        self,
        principal: Principal,
        row: SatelliteTask,
        inspector_id: uuid.UUID,
        area_id: uuid.UUID | None,
        now: datetime,
    ) -> None:
        moved_from = row.area_id
        if row.area_id is None or (area_id is not None and area_id != row.area_id):
            point = await self.session.scalar(
                text(
                    "SELECT ST_AsText(ST_PointOnSurface(geom)) FROM geofence_change_polygons "
                    "WHERE id = :id"
                ),
                {"id": row.change_polygon_id},
            )
            target_area = area_id or await self._area_of_inspector(
                principal, inspector_id, str(point)
            )
            await self._move_target(row, target_area, now)
        row.inspector_id = inspector_id
        if row.status == TaskStatus.UNASSIGNED.value:
            row.status = TaskStatus.ASSIGNED.value
        row.assigned_at = now
        row.assigned_by = principal.user_id
        row.updated_at = now
        details = {
            "inspector_id": str(inspector_id),
            "area_id": str(row.area_id),
            "target_id": str(row.target_id),
        }
        if moved_from != row.area_id and moved_from is not None:
            details["from_area_id"] = str(moved_from)
        self.session.add(
            SatelliteTaskEvent(
                county_id=row.county_id, task_id=row.id, kind="assigned", at=now,
                actor_id=principal.user_id, reason="", details=details,
            )
        )  # fmt: skip

    async def _move_target(self, row: SatelliteTask, area_id: uuid.UUID, now: datetime) -> None:
        """Retire the task's target and put a new one in ``area_id`` (and its plans)."""
        if row.target_id is not None:
            await self.session.execute(
                update(PatrolTarget)
                .where(PatrolTarget.id == row.target_id, PatrolTarget.county_id == row.county_id)
                .values(active=False, updated_at=now)
            )
        target_id = uuid7()
        this_month = now.astimezone(self._tz).date().replace(day=1)
        await self.session.execute(
            _MOVE_TARGET,
            {
                "target": target_id, "county": row.county_id, "area": area_id,
                "cp": row.change_polygon_id, "name": row.monitoring_no, "due": row.due_on,
                "now": now, "max_radius": _MAX_RADIUS_M, "plan_from": this_month,
                "plan_to": max(this_month, row.due_on.replace(day=1)),
            },
        )  # fmt: skip
        row.area_id = area_id
        row.target_id = target_id


_MOVE_TARGET = text("""
WITH target AS (
    INSERT INTO patrol_targets (id, county_id, area_id, kind, ref_id, name, geom,
                                visit_radius_m, active, due_on, created_at, updated_at)
    SELECT :target, :county, :area, 'change_polygon', p.id, :name, pt.pt,
           least(CAST(:max_radius AS float8), greatest(10.0,
               ceil(ST_Length(geography(ST_LongestLine(pt.pt, p.geom))) + 5.0))),
           true, :due, :now, :now
    FROM geofence_change_polygons p CROSS JOIN LATERAL (SELECT ST_PointOnSurface(p.geom) AS pt) pt
    WHERE p.id = :cp
    RETURNING id, area_id
)
UPDATE patrol_plans p SET target_ids = array_append(p.target_ids, t.id), updated_at = :now
FROM target t
WHERE p.area_id = t.area_id AND p.month >= :plan_from AND p.month <= :plan_to
""")


async def carry_forward(
    session: AsyncSession, batch: SatelliteBatch, previous_version_id: uuid.UUID
) -> int:
    """Copy into ``batch``'s layer version the polygons of the previous current version that
    other batches' tasks still wait on (not yet submitted), so that a new batch does not take
    them off the map, the location checks, the tiles and the phones' layer (a new version of
    the change-polygon layer replaces it whole). The copies are new features (the tasks keep
    naming the rows they were made from); their ``attrs`` name the row copied. Returns how
    many were carried."""
    rows = (
        (
            await session.execute(
                text(
                    """
                SELECT cp.id FROM geofence_change_polygons cp
                WHERE cp.layer_version_id = :previous AND EXISTS (
                    SELECT 1 FROM satellite_tasks t
                    WHERE t.county_id = :county AND t.batch_id <> :batch
                      AND t.status <> 'submitted' AND t.monitoring_no = cp.monitoring_no)
                ORDER BY cp.feature_no
                """
                ),
                {"previous": previous_version_id, "county": batch.county_id, "batch": batch.id},
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return 0
    await session.execute(
        text(
            """
            INSERT INTO geofence_change_polygons (id, county_id, layer_version_id, feature_no,
                monitoring_no, batch_year, batch_quarter, monitored_areas, area_m2, attrs, geom)
            SELECT m.new, cp.county_id, :version,
                   (SELECT coalesce(max(feature_no), 0) FROM geofence_change_polygons
                    WHERE layer_version_id = :version) + m.n,
                   cp.monitoring_no, cp.batch_year, cp.batch_quarter, cp.monitored_areas,
                   cp.area_m2, cp.attrs || jsonb_build_object('carried_from', cp.id::text),
                   cp.geom
            FROM unnest(CAST(:old AS uuid[]), CAST(:new AS uuid[]))
                 WITH ORDINALITY AS m(old, new, n)
            JOIN geofence_change_polygons cp ON cp.id = m.old
            """
        ),
        {"version": batch.layer_version_id, "old": list(rows), "new": [uuid7() for _ in rows]},
    )
    log.info("satellite.polygons_carried", batch=str(batch.id), polygons=len(rows))
    return len(rows)
