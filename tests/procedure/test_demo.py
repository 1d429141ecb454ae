"""The demo cases at several stages of the penalty procedure: a hearing held, an extension, a
filing overdue (with its alert), beside the referred case of the referral demo."""

from __future__ import annotations

from litestar import Litestar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.demo import seed_demo_cases
from evidence.cases.procedure import ProcedureService, raise_overdue_alerts
from evidence.cases.procedure_demo import seed_demo_procedure
from infra.settings import ProcedureSettings
from patrol.field_models import PatrolAlert
from tests import clock
from tests.worlds import build_world, fresh_province


async def test_demo_cases_walk_the_procedure(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(session_factory, app.state.tokens, province=fresh_province())
    settings, now = ProcedureSettings(), clock.NOW
    async with session_factory() as db:
        farmland, mining, late = await seed_demo_cases(db, world.county_id)
        touched = await seed_demo_procedure(db, world.county_id, settings, now=now)
        raised, _ = await raise_overdue_alerts(db, now, settings)
        await db.commit()
    assert touched[:2] == [farmland, mining] and raised >= 1
    async with session_factory() as db:
        service = ProcedureService(db, settings, clock=lambda: now)
        heard = await service.get_procedure(world.captain, farmland)
        assert (heard.stage, heard.major) == ("notice", True)
        assert "decision" in heard.next_steps
        decision = next(d for d in heard.deadlines if d.step == "decision")
        assert decision.days_paused == 18.0  # the hearing, asked 28 days ago, held 10 days ago
        extended = await service.get_procedure(world.captain, mining)
        decision = next(d for d in extended.deadlines if d.step == "decision")
        assert (decision.days_allowed, decision.days_paused) == (120, 20.0)
        overdue = await service.get_procedure(world.captain, touched[2])
        filing = next(d for d in overdue.deadlines if d.step == "filing")
        assert (overdue.stage, filing.overdue) == ("clue", True)
        referred = await service.get_procedure(world.captain, late)
        assert referred.status == "referred"
        alerts = (
            await db.scalars(
                select(PatrolAlert.dedupe_key).where(
                    PatrolAlert.county_id == world.county_id,
                    PatrolAlert.kind == "case_step_overdue",
                )
            )
        ).all()
        assert f"case_step_overdue:{touched[2]}:filing" in alerts
        # a second seeding changes nothing
        assert await seed_demo_procedure(db, world.county_id, settings, now=now) == []
