"""The demo cases: above the threshold, near a closed site, and a late referral."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import get_case, list_cases
from evidence.cases.demo import seed_demo_cases
from evidence.cases.referrals import overdue_steps
from tests.worlds import World


async def test_demo_cases(db: AsyncSession, world: World) -> None:
    farmland, mining, late = await seed_demo_cases(db, world.county_id)
    await db.commit()

    view = await get_case(db, world.captain, farmland)
    assert view.areas.basic_farmland_mu > 5
    assert view.areas.source["basis"] == "demo_assumed_basic_farmland"  # no parcels layer
    assert [s.rule_code for s in view.suggestions] == ["342.basic_farmland"]
    view = await get_case(db, world.captain, mining)
    assert [s.rule_code for s in view.suggestions] == ["343.ore_value"]

    [step] = await overdue_steps(db, world.squad)
    assert step.case_id == late and step.step == "decision"
    assert step.overdue_s > 86400
    # the squad sees the two suggested cases (read-only until flagged) and the referred one
    assert {c.id for c in await list_cases(db, world.squad)} == {farmland, mining, late}

    assert await seed_demo_cases(db, world.county_id) == [farmland, mining, late]
