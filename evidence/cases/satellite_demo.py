"""The demo satellite campaign: one quarterly batch over the demo change polygons, in every state.

The batch is the county's current change-polygon layer (the demo layers' quarter, see
:mod:`geofence.demo`), due by the schedule (report 60 days after the quarter, field results
10 days before). Each polygon becomes a task in the township and the smallest active contract
area containing its point on surface. A polygon in no area stays unassigned (and the first
two in areas too); the others get a ``change_polygon`` target in their area, listed in the
area's stored plans up to the due month (:meth:`patrol.areas.AreaService.add_target`), and
are moved on in turn to:

    assigned → verified (legal / not new / illegal) → sent back with a reason
             → passed → submitted; one passed illegal polygon became a case

Field results carry realistic fields (approval, kind of not-new construction, violator, use,
construction status) and the areas by land class from the overlay of the polygon with the
demo parcels (:func:`geofence.overlay.overlay_area`). Every step is an event of the task.
Idempotent: a county that has a satellite batch gets none added.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseInput, Party, open_case
from evidence.cases.satellite_models import (
    BatchKind,
    Outcome,
    SatelliteBatch,
    SatelliteResult,
    SatelliteTask,
    SatelliteTaskEvent,
    TaskStatus,
)
from geofence.enums import LayerKind
from geofence.models import ChangePolygon, LayerVersion
from geofence.overlay import overlay_area
from infra.db import utcnow
from infra.ids import uuid7
from infra.scope import Principal, Role
from infra.settings import SatelliteSettings
from patrol.accounts import principal_of
from patrol.areas import AreaService
from patrol.models import User

__all__ = ["DEMO_FLOW", "seed_demo_satellite"]

#: The states the polygons in contract areas are left in, in turn (after two unassigned).
DEMO_FLOW: tuple[tuple[str, str | None], ...] = (
    (TaskStatus.ASSIGNED, None),
    (TaskStatus.VERIFIED, Outcome.LEGAL),
    (TaskStatus.VERIFIED, Outcome.ILLEGAL),
    (TaskStatus.SENT_BACK, Outcome.NOT_NEW),
    (TaskStatus.PASSED, Outcome.ILLEGAL),
    (TaskStatus.PASSED, Outcome.NOT_NEW),
    (TaskStatus.SUBMITTED, Outcome.LEGAL),
    (TaskStatus.SUBMITTED, Outcome.ILLEGAL),
    (TaskStatus.VERIFIED, Outcome.NOT_NEW),
    (TaskStatus.ASSIGNED, None),
)  # fmt: skip
_UNASSIGNED_IN_AREAS = 2
_VIOLATORS = (("某建材公司", "organisation"), ("王某", "person"), ("某村村民委员会",
              "village_collective"), ("某物流公司", "organisation"))  # fmt: skip
_USES = ("industrial", "housing", "commercial", "transport")
_BUILD = ("fully_built", "partly_built", "levelled")
_NOT_NEW = ("agricultural_facility", "rural_road", "temporary_use", "no_change")
_REASONS = ("现场照片未能反映图斑全貌，请补拍四至照片", "核查结论与影像不符，请复核是否为新增建设")

_PLACES = text("""
SELECT p.id, p.monitoring_no, ST_X(pt.pt) AS lon, ST_Y(pt.pt) AS lat,
    (SELECT t.id FROM townships t WHERE t.county_id = :county AND ST_Covers(t.geom, pt.pt)
     ORDER BY t.code LIMIT 1) AS township_id,
    (SELECT a.id FROM patrol_areas a WHERE a.county_id = :county AND a.active
       AND ST_Covers(a.geom, pt.pt) ORDER BY ST_Area(a.geom), a.code LIMIT 1) AS area_id,
    (SELECT a.leader_id FROM patrol_areas a WHERE a.county_id = :county AND a.active
       AND ST_Covers(a.geom, pt.pt) ORDER BY ST_Area(a.geom), a.code LIMIT 1) AS leader_id
FROM geofence_change_polygons p CROSS JOIN LATERAL (SELECT ST_PointOnSurface(p.geom) AS pt) pt
WHERE p.layer_version_id = :version ORDER BY p.feature_no
""")


@dataclass(frozen=True, slots=True)
class _Run:
    session: AsyncSession
    county_id: uuid.UUID
    captain: Principal
    batch: SatelliteBatch
    now: datetime


def _quarter_end(year: int, quarter: int) -> date:
    first_next = date(year + quarter // 4, quarter % 4 * 3 + 1, 1)
    return first_next - timedelta(days=1)


async def _captain(session: AsyncSession, county_id: uuid.UUID) -> Principal | None:
    user = await session.scalar(
        select(User)
        .where(User.county_id == county_id, User.role == Role.CAPTAIN.value, User.active)
        .order_by(User.username)
        .limit(1)
    )
    return None if user is None else principal_of(user)


def _event(run: _Run, task: SatelliteTask, kind: str, at: datetime, **kw: Any) -> None:
    run.session.add(
        SatelliteTaskEvent(
            id=uuid7(), county_id=run.county_id, task_id=task.id, kind=kind, at=at,
            actor_id=kw.pop("actor", run.captain.user_id), reason=kw.pop("reason", ""),
            details=kw,
        )
    )  # fmt: skip


def _fields(outcome: str, n: int, area_m2: float, at: datetime) -> dict[str, Any]:
    """The result's fields for ``outcome`` (the ``n``-th of its kind)."""
    if outcome == Outcome.LEGAL:
        return {
            "proof_type": "farmland_conversion" if n % 2 == 0 else "land_swap",
            "approval_no": f"示范政地〔{at.year - 1}〕{30 + n}号",
            "approval_body": "示范省人民政府" if n % 2 == 0 else "示范市人民政府",
            "approval_date": (at - timedelta(days=300 + 20 * n)).date(),
            "approval_area_m2": round(area_m2 * 1.1, 2),
            "note": "用地手续齐全，实地建设范围未超出批准范围",
        }
    if outcome == Outcome.NOT_NEW:
        return {"not_new_kind": _NOT_NEW[n % len(_NOT_NEW)], "note": "经核实不属于新增建设用地"}
    violator, kind = _VIOLATORS[n % len(_VIOLATORS)]
    return {
        "violator": violator,
        "violator_type": kind,
        "land_use": _USES[n % len(_USES)],
        "construction_status": _BUILD[n % len(_BUILD)],
        "note": "未经批准擅自占地建设",
    }


async def _result(
    run: _Run, task: SatelliteTask, cp: ChangePolygon, outcome: str, *, n: int, at: datetime
) -> None:
    overlay = await overlay_area(run.session, run.county_id, to_shape(cp.geom))  # type: ignore[arg-type]
    areas = {c.land_class.value: round(c.area_m2, 2) for c in overlay.land_classes}
    result = SatelliteResult(
        id=uuid7(), county_id=run.county_id, task_id=task.id,
        verified_by=task.inspector_id or run.captain.user_id, verified_at=at, received_at=at,
        outcome=outcome, overlay_areas=areas, overlay_area_m2=round(overlay.area_m2, 2),
        evidence_ids=[], **_fields(outcome, n, overlay.area_m2, at),
    )  # fmt: skip
    run.session.add(result)
    await run.session.flush()
    task.result_id, task.outcome = result.id, outcome
    _event(run, task, "result_recorded", at, actor=result.verified_by, result_id=str(result.id),
           outcome=outcome, current=True, verified_at=at.isoformat())  # fmt: skip


async def _case(
    run: _Run, task: SatelliteTask, cp: ChangePolygon, where: tuple[float, float], at: datetime
) -> None:
    lon, lat = where
    result = await run.session.get(SatelliteResult, task.result_id)
    assert result is not None  # set just before
    kind = "organisation" if result.violator_type == "organisation" else "person"
    case = await open_case(
        run.session, run.captain,
        CaseInput(
            cause=f"卫片图斑{task.monitoring_no}未经批准擅自占地建设",
            violation_kind="land_occupation",
            lon=lon, lat=lat, source_kind="satellite", source_id=task.id,
            parties=[Party(result.violator, kind)],
            surveyed_geometry=mapping(to_shape(cp.geom)),  # type: ignore[arg-type]
        ),
    )  # fmt: skip
    task.case_id = case.id
    _event(run, task, "case_opened", at, case_id=str(case.id), case_no=case.case_no)


async def _advance(
    run: _Run, task: SatelliteTask, cp: ChangePolygon, step: tuple[str, str | None], *, n: int,
    where: tuple[float, float], make_case: bool,
) -> bool:  # fmt: skip
    """Move an assigned task on to ``step``; whether it made the case."""
    status, outcome = step
    if outcome is None:
        return False
    start = run.now - timedelta(days=18) + timedelta(hours=5 * n)
    await _result(run, task, cp, outcome, n=n, at=start)
    task.status = TaskStatus.VERIFIED
    if status == TaskStatus.VERIFIED:
        return False
    task.reviewed_at, task.reviewed_by = start + timedelta(days=2), run.captain.user_id
    if status == TaskStatus.SENT_BACK:
        task.status, task.review_note = TaskStatus.SENT_BACK, _REASONS[n % len(_REASONS)]
        _event(run, task, "reviewed", task.reviewed_at, reason=task.review_note,
               decision="send_back", result_id=str(task.result_id))  # fmt: skip
        return False
    task.status = TaskStatus.PASSED
    _event(run, task, "reviewed", task.reviewed_at, decision="pass",
           result_id=str(task.result_id))  # fmt: skip
    made = False
    if make_case and outcome == Outcome.ILLEGAL:
        await _case(run, task, cp, where, start + timedelta(days=3))
        made = True
    if status == TaskStatus.SUBMITTED:
        task.status = TaskStatus.SUBMITTED
        task.submitted_at, task.submitted_by = start + timedelta(days=4), run.captain.user_id
        _event(run, task, "submitted", task.submitted_at)
    return made


async def seed_demo_satellite(
    session: AsyncSession, county_id: uuid.UUID, settings: SatelliteSettings | None = None
) -> uuid.UUID | None:
    """Add the demo batch to ``county_id`` (flushes; the caller commits); its id, or ``None``
    when the county has a batch already, no change polygons or no captain."""
    if await session.scalar(
        select(SatelliteBatch.id).where(SatelliteBatch.county_id == county_id).limit(1)
    ):
        return None
    settings = settings or SatelliteSettings()
    version = await session.scalar(
        select(LayerVersion)
        .where(LayerVersion.county_id == county_id, LayerVersion.kind == LayerKind.CHANGE_POLYGONS)
        .order_by(LayerVersion.version_no.desc())
        .limit(1)
    )
    captain = await _captain(session, county_id)
    if version is None or captain is None:
        return None
    polygons = {
        p.id: p
        for p in await session.scalars(
            select(ChangePolygon).where(ChangePolygon.layer_version_id == version.id)
        )
    }
    if not polygons:
        return None
    first = next(iter(polygons.values()))
    year, quarter = first.batch_year, first.batch_quarter
    report = _quarter_end(year, quarter) + timedelta(days=settings.quarter_report_days)
    verify = report - timedelta(days=settings.review_days)
    now = utcnow()
    batch = SatelliteBatch(
        id=uuid7(), county_id=county_id, name=f"{year}年第{quarter}季度卫片", year=year,
        quarter=quarter, kind=BatchKind.QUARTERLY, layer_version_id=version.id,
        verify_due_on=verify, report_due_on=report, polygons=len(polygons),
        created_by=captain.user_id,
    )  # fmt: skip
    session.add(batch)
    await session.flush()
    run = _Run(session, county_id, captain, batch, now - timedelta(days=1))
    areas = AreaService(session)
    in_areas = case_made = 0
    created = now - timedelta(days=25)
    for row in (await session.execute(_PLACES, {"county": county_id, "version": version.id})).all():
        task = SatelliteTask(
            id=uuid7(), county_id=county_id, batch_id=batch.id, change_polygon_id=row.id,
            monitoring_no=row.monitoring_no, township_id=row.township_id,
            status=TaskStatus.UNASSIGNED, due_on=verify, review_note="",
        )  # fmt: skip
        session.add(task)
        await session.flush()
        _event(run, task, "created", created, batch_id=str(batch.id))
        if row.area_id is None or in_areas < _UNASSIGNED_IN_AREAS:
            in_areas += row.area_id is not None
            continue
        target = await areas.add_target(
            captain, row.area_id, kind="change_polygon", name=row.monitoring_no,
            lon=float(row.lon), lat=float(row.lat), ref_id=row.id, due_on=verify,
        )  # fmt: skip
        assigned = created + timedelta(days=1)
        task.area_id, task.target_id, task.inspector_id = row.area_id, target.id, row.leader_id
        task.status, task.assigned_at, task.assigned_by = (
            TaskStatus.ASSIGNED, assigned, captain.user_id,
        )  # fmt: skip
        _event(run, task, "assigned", assigned, area_id=str(row.area_id),
               target_id=str(target.id))  # fmt: skip
        step = DEMO_FLOW[(in_areas - _UNASSIGNED_IN_AREAS) % len(DEMO_FLOW)]
        made = await _advance(
            run, task, polygons[row.id], step, n=in_areas,
            where=(float(row.lon), float(row.lat)), make_case=not case_made,
        )  # fmt: skip
        case_made += made
        in_areas += 1
    await session.flush()
    count = await session.scalar(
        select(func.count()).select_from(SatelliteTask).where(SatelliteTask.batch_id == batch.id)
    )
    batch.polygons = int(count or 0)
    await session.flush()
    return batch.id
