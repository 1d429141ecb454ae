"""Two people acting on one referral at once: the second waits for the first's transaction
(the referral and its case are locked while a step is recorded) and then answers from what
the first stored, instead of writing over it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.cases import change_status, get_case
from evidence.cases.models import Referral
from evidence.cases.referrals import (
    create_referral,
    record_decision,
    record_police_decision,
    request_reconsideration,
)
from infra.errors import DomainError
from tests import clock
from tests.cases.test_referrals import flagged_case, received_referral
from tests.worlds import World


async def _after_waiting(
    session_factory: async_sessionmaker[AsyncSession], first: AsyncSession, call: Awaitable[Any]
) -> asyncio.Task[Any]:
    """Start ``call`` in another session, let it reach the lock held by ``first``'s open
    transaction, then commit ``first``; the task finishes after that."""
    task = asyncio.ensure_future(call)
    async with session_factory() as watch:
        for _ in range(500):
            waiting = await watch.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            if waiting or task.done():
                break
            await asyncio.sleep(0.01)
    assert not task.done()  # it waits for the first transaction
    await first.commit()
    await asyncio.wait([task])
    return task


async def test_a_second_report_on_one_case_waits_and_finds_the_first_referral_open(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as db:
        case = await flagged_case(db, world)
    async with session_factory() as first, session_factory() as second:
        ref = await create_referral(first, world.squad, case.id, team_ids=world.team, report="甲")
        again = create_referral(second, world.captain, case.id, team_ids=world.team, report="乙")
        late = await _after_waiting(session_factory, first, again)
        with pytest.raises(DomainError) as caught:
            late.result()
        assert (caught.value.code, dict(caught.value.extra)) == (
            "referral_already_open",
            {"referral_id": str(ref.id)},
        )
        await second.rollback()
    async with session_factory() as db:
        reports = await db.scalars(select(Referral.report).where(Referral.case_id == case.id))
        assert reports.all() == ["甲"]


async def test_a_second_decision_on_one_referral_waits_and_finds_it_decided(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    t0 = clock.now() - timedelta(days=1)
    async with session_factory() as db:
        case = await flagged_case(db, world)
        ref = await create_referral(
            db, world.squad, case.id, team_ids=world.team, report="报告", at=t0
        )
        await db.commit()
    async with session_factory() as first, session_factory() as second:
        await record_decision(first, world.captain, ref.id, approved=True, at=t0)
        refusal = record_decision(second, world.admin, ref.id, approved=False, note="否", at=t0)
        late = await _after_waiting(session_factory, first, refusal)
        with pytest.raises(DomainError) as caught:
            late.result()
        assert (caught.value.code, dict(caught.value.extra)) == (
            "step_out_of_order",
            {"status": "approved", "step": "decision", "expected_step": "transfer"},
        )
        await second.rollback()
    async with session_factory() as db:
        stored = await db.get(Referral, ref.id)
        assert stored is not None
        assert (stored.status, stored.decision, stored.decided_by) == (
            "approved",
            "approved",
            world.captain.user_id,
        )
        assert (await get_case(db, world.captain, case.id)).status == "referred"


async def test_a_reconsideration_asked_while_the_case_is_withdrawn_waits_and_is_refused(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    t0 = clock.now() - timedelta(days=1)
    async with session_factory() as db:
        case = await flagged_case(db, world)
        ref = await received_referral(db, world, case.id, t0)
        await record_police_decision(db, world.squad, ref.id, filed=False, reason="否", at=t0)
        await db.commit()
        back = (await get_case(db, world.captain, case.id)).status
    assert back == "clue"  # the police returned the case
    async with session_factory() as first, session_factory() as second:
        await change_status(first, world.captain, case.id, "withdrawn", reason="撤销")
        asked = request_reconsideration(second, world.captain, ref.id, reason="再议")
        late = await _after_waiting(session_factory, first, asked)
        with pytest.raises(DomainError) as caught:
            late.result()
        assert (caught.value.code, dict(caught.value.extra)) == (
            "case_closed",
            {"status": "withdrawn"},
        )
        await second.rollback()
    async with session_factory() as db:
        assert (await get_case(db, world.captain, case.id)).status == "withdrawn"
        status = await db.scalar(select(Referral.status).where(Referral.id == ref.id))
        assert status == "not_filed"
