"""The case service: the module functions behind one object bound to a session and a clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseInput
from evidence.cases.service import CaseService
from infra.objectstore import S3ObjectStore
from infra.settings import Settings
from tests import clock
from tests.cases.conftest import LAT, LON
from tests.worlds import World


async def test_the_service_answers_overdue_by_its_clock(
    db: AsyncSession, world: World, store: S3ObjectStore, settings: Settings
) -> None:
    now = CaseService(db, store, settings.evidence)
    later = CaseService(db, store, settings.evidence, clock=lambda: clock.now() + timedelta(days=4))
    data = CaseInput(cause="非法占地", violation_kind="land_occupation", lon=LON, lat=LAT)
    case = await now.open_case(world.captain, data)
    flag = await now.flag_for_referral(world.captain, case_id=case.id, reason="占用基本农田")
    assert [f.id for f in await now.list_flags(world.captain)] == [flag.id]
    ref = await now.create_referral(world.squad, case.id, team_ids=world.team, report="报告")
    await db.commit()
    assert (await now.get_case(world.captain, case.id)).status == "referred"

    # the head's decision is due in 3 days: not overdue now, overdue by the later clock
    assert await now.overdue_steps(world.captain) == []
    assert [(s.referral_id, s.step) for s in await later.overdue_steps(world.captain)] == [
        (ref.id, "decision")
    ]
    assert [r.overdue for r in await now.list_referrals(world.captain, case_id=case.id)] == [False]
    assert [r.id for r in await later.list_referrals(world.captain, overdue=True)] == [ref.id]
    # recording a step goes through the same functions (and the server's own time)
    decided = await now.record_decision(world.captain, ref.id, approved=True)
    assert decided.next_step == "transfer"
    await db.commit()
