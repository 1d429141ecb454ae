"""The demo satellite batch: every state over the demo change polygons, realistic results
with overlay areas, targets in the areas' plans, a case, events, and seeded once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from shapely.geometry import box
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.models import Case
from evidence.cases.satellite_demo import seed_demo_satellite
from evidence.cases.satellite_figures import SatelliteFiguresService
from evidence.cases.satellite_models import SatelliteResult, SatelliteTask, SatelliteTaskEvent
from evidence.custody import CustodyLog
from geofence import seed_demo_layers
from infra.scope import Role
from infra.settings import SatelliteSettings
from patrol import AreaService, PlanService
from patrol.field_models import MonthlyPlan, PatrolTarget
from tests import clock
from tests.conftest import CountyFixture


async def test_demo_batch_has_every_state(
    db: AsyncSession, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    county = await make_county()
    captain = county.principal(Role.CAPTAIN)
    outline = box(112.0, 28.4, 112.2, 28.6)
    await seed_demo_layers(db, county.id, outline, parcel_side_m=400.0)
    # one contract area over most of the county (polygons outside it stay unassigned)
    ring = [[112.0, 28.4], [112.15, 28.4], [112.15, 28.6], [112.0, 28.6], [112.0, 28.4]]
    area = await AreaService(db).create_area(
        captain, code="S1", name="卫片示范片区", grade=1,
        geometry={"type": "Polygon", "coordinates": [ring]},
        leader_id=county.users[Role.INSPECTOR].id,
    )  # fmt: skip
    # this month's plan is stored before the batch: its targets must join it
    await PlanService(db).upsert_plan(captain, area.id, clock.this_month(), target_ids=[])
    batch_id = await seed_demo_satellite(db, county.id)
    await db.commit()
    assert batch_id is not None
    tasks = (
        await db.scalars(select(SatelliteTask).where(SatelliteTask.batch_id == batch_id))
    ).all()
    assert len(tasks) == 40
    states = Counter(t.status for t in tasks)
    assert set(states) == {"unassigned", "assigned", "verified", "sent_back", "passed", "submitted"}
    outcomes = {(t.status, t.outcome) for t in tasks}
    assert {("verified", "legal"), ("verified", "illegal"), ("verified", "not_new")} <= outcomes
    assert {("passed", "illegal"), ("submitted", "legal"), ("submitted", "illegal")} <= outcomes
    # assigned ones have a change_polygon target in their area, listed in its stored plans
    assigned = [t for t in tasks if t.status != "unassigned"]
    assert assigned and all(t.area_id == area.id and t.target_id for t in assigned)
    targets = (await db.scalars(select(PatrolTarget).where(PatrolTarget.area_id == area.id))).all()
    assert {t.id for t in targets} >= {t.target_id for t in assigned}
    assert {t.kind for t in targets} == {"change_polygon"}
    plans = (await db.scalars(select(MonthlyPlan).where(MonthlyPlan.area_id == area.id))).all()
    assert plans
    for plan in plans:
        assert {t.target_id for t in assigned} <= set(plan.target_ids)
    # results: realistic fields and the overlay areas of the polygon
    results = {
        r.id: r
        for r in await db.scalars(
            select(SatelliteResult).where(SatelliteResult.county_id == county.id)
        )
    }
    for t in tasks:
        if t.result_id is None:
            continue
        r = results[t.result_id]
        assert r.overlay_area_m2 > 0 and r.overlay_areas
        assert sum(r.overlay_areas.values()) <= r.overlay_area_m2 + 0.1
        if r.outcome == "legal":
            assert r.approval_no and r.proof_type and r.approval_date
        elif r.outcome == "illegal":
            assert r.violator and r.land_use and r.construction_status
        else:
            assert r.not_new_kind
    sent_back = [t for t in tasks if t.status == "sent_back"]
    assert all(t.review_note for t in sent_back)
    # one illegal polygon became a case naming it as its source
    [with_case] = [t for t in tasks if t.case_id is not None]
    case = await db.get(Case, with_case.case_id)
    assert case is not None and case.source_kind == "satellite" and case.source_id == with_case.id
    assert with_case.outcome == "illegal"
    # events for each step
    events = (
        await db.scalars(
            select(SatelliteTaskEvent).where(SatelliteTaskEvent.county_id == county.id)
        )
    ).all()
    kinds = Counter(e.kind for e in events)
    reviews = Counter(e.details["decision"] for e in events if e.kind == "reviewed")
    assert kinds["created"] == 40 and kinds["assigned"] == len(assigned)
    assert kinds["result_recorded"] == len([t for t in tasks if t.result_id is not None])
    assert reviews["send_back"] == len(sent_back) and kinds["case_opened"] == 1
    assert reviews["pass"] == states["passed"] + states["submitted"]
    assert kinds["submitted"] == states["submitted"]
    # the figures read it; the demo is seeded once
    service = SatelliteFiguresService(db, SatelliteSettings(), CustodyLog())
    figures = await service.figures(captain, batch_id)
    assert figures.total.polygons == 40 and figures.total.illegal > 0
    assert figures.total.cultivated_ratio is None or 0 <= figures.total.cultivated_ratio <= 1
    assert await seed_demo_satellite(db, county.id) is None
