"""Frequency rules as data, seasonal variants, monthly plans and GetMyPlan."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from infra.errors import PermissionDeniedError
from patrol.areas import AreaService
from patrol.errors import InvalidPatrolInputError
from patrol.plans import PlanService
from tests.worlds import World

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[110.5, 30.0], [111.0, 30.0], [111.0, 31.0], [110.5, 31.0], [110.5, 30.0]]],
}


async def test_rules_resolve_by_specificity_and_season(world: World, db: AsyncSession) -> None:
    plans = PlanService(db)
    east = await AreaService(db).create_area(
        world.captain,
        code="A2",
        name="east mines",
        grade=3,
        geometry=SQUARE,
        leader_id=world.inspector2.user_id,
        member_ids=[world.inspector.user_id],
    )
    # no rule: the built-in default (4 a month, 1 a week)
    req = await plans.requirement_for(world.captain, east.id, date(2026, 7, 1))
    assert (req.min_per_month, req.min_per_week, req.source) == (4, 1, "default")
    await plans.set_frequency_rule(world.captain, name="county", min_per_month=4, min_per_week=1)
    summer = await plans.set_frequency_rule(
        world.captain,
        name="mines summer",
        grade=3,
        season_start=401,
        season_end=1031,
        min_per_month=12,
        min_per_week=3,
        min_night_per_month=4,
        min_night_per_week=1,
    )
    await plans.set_frequency_rule(
        world.captain,
        name="mines winter",
        grade=3,
        season_start=1101,
        season_end=331,
        min_per_month=2,
        min_per_week=0,
    )
    req = await plans.requirement_for(world.captain, east.id, date(2026, 7, 1))
    assert (req.min_per_month, req.min_per_week, req.min_night_per_week) == (12, 3, 1)
    assert req.rule_id == summer.id
    req = await plans.requirement_for(world.captain, east.id, date(2027, 1, 15))
    assert (req.min_per_month, req.min_per_week) == (2, 0)
    # a grade-1 area gets the county rule
    req = await plans.requirement_for(world.captain, world.area.id, date(2026, 7, 1))
    assert (req.min_per_month, req.source) == (4, "rule")
    # an area rule beats the grade rule
    await plans.set_frequency_rule(
        world.captain, name="east special", area_id=east.id, min_per_month=8, min_per_week=2
    )
    req = await plans.requirement_for(world.captain, east.id, date(2026, 7, 1))
    assert req.min_per_month == 8


async def test_rule_validation_and_roles(world: World, db: AsyncSession) -> None:
    plans = PlanService(db)
    with pytest.raises(InvalidPatrolInputError) as err:
        await plans.set_frequency_rule(world.captain, name="x", season_start=401)
    assert err.value.code == "invalid_rule"
    with pytest.raises(InvalidPatrolInputError):
        await plans.set_frequency_rule(world.captain, name="x", season_start=1301, season_end=101)
    with pytest.raises(PermissionDeniedError):
        await plans.set_frequency_rule(world.inspector, name="x")


async def test_plan_defaults_edits_and_my_plan(world: World, db: AsyncSession) -> None:
    areas, plans = AreaService(db), PlanService(db)
    t1 = await areas.add_target(
        world.captain,
        world.area.id,
        kind="mine_site",
        name="old pit",
        lon=110.2,
        lat=30.2,
        visit_radius_m=80,
    )
    await areas.add_target(
        world.captain, world.area.id, kind="custom", name="bridge", lon=110.3, lat=30.3
    )
    derived = await plans.get_plan(world.inspector, world.area.id, date(2026, 11, 20))
    assert derived.plan_id is None and derived.month == date(2026, 11, 1)
    assert derived.requirement.min_per_month == 4 and len(derived.targets) == 2
    plan = await plans.upsert_plan(world.captain, world.area.id, date(2026, 11, 1), quota=6)
    assert plan.plan_id is not None
    assert (plan.requirement.min_per_month, plan.requirement.min_per_week) == (6, 1)
    assert plan.requirement.source == "plan"
    assert plan.inspector_ids == [world.inspector.user_id]
    assert {t.name for t in plan.targets} == {"old pit", "bridge"}
    edited = await plans.upsert_plan(
        world.captain,
        world.area.id,
        date(2026, 11, 1),
        target_ids=[t1.id],
        inspector_ids=[world.inspector.user_id, world.inspector2.user_id],
        note="focus",
    )
    assert edited.plan_id == plan.plan_id and edited.requirement.min_per_month == 6
    assert [t.id for t in edited.targets] == [t1.id] and edited.targets[0].visit_radius_m == 80
    # the other inspector is assigned by the plan only
    mine = await plans.get_my_plan(world.inspector2, date(2026, 11, 3))
    assert [p.area_id for p in mine] == [world.area.id]
    assert await plans.get_my_plan(world.inspector2, date(2026, 12, 3)) == []
    with pytest.raises(PermissionDeniedError):
        await plans.upsert_plan(world.inspector, world.area.id, date(2026, 11, 1), quota=1)
    await db.commit()
