"""Referral timers at their exact edges, on fixed times: each open step's due time is the
statutory period after the step before it, to the microsecond; the step is not overdue at
that instant and is listed as overdue just after it (``overdue_steps`` with a fixed ``now``),
by whole seconds rounded up (as a late step's lateness is: a step overdue at all is never
shown as overdue by 0 s).

Periods (国务院令第310号, evidence.cases.referrals): the head's decision 3 days after the report,
transfer 24 h after approval, the police receipt 3 days after transfer, their decision
3 days after receipt, handover 3 days after filing; a reconsideration request is optional
and never overdue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.referrals import (
    ReferralView,
    create_referral,
    overdue_steps,
    record_decision,
    record_police_decision,
    record_police_receipt,
    record_transfer,
)
from tests.cases.test_referrals import MATERIALS, flagged_case
from tests.worlds import World

T0 = datetime(2026, 1, 5, 9, 30, 15, 250_000, tzinfo=UTC)  # fixed, with a fraction of a second
US = timedelta(microseconds=1)


async def _overdue_at(db: AsyncSession, world: World, now: datetime) -> list[tuple[str, int]]:
    return [(s.step, s.overdue_s) for s in await overdue_steps(db, world.squad, now=now)]


async def test_each_step_is_due_exactly_its_period_after_the_last_and_overdue_just_after(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    # each step is recorded a little after the last, at odd times; the periods are written
    # out here (not read from the code under test), so a changed period fails
    ref = await create_referral(db, world.squad, case.id, team_ids=world.team, report="报告", at=T0)
    rid = ref.id
    steps: list[tuple[str, Callable[[datetime], Awaitable[ReferralView]], timedelta]] = [
        ("transfer", lambda at: record_decision(db, world.captain, rid, approved=True, at=at),
         timedelta(hours=24)),
        ("police_receipt", lambda at: record_transfer(
            db, world.squad, rid, police_unit="县公安局", materials=MATERIALS, at=at),
         timedelta(days=3)),
        ("police_decision", lambda at: record_police_receipt(
            db, world.squad, rid, receipt_no="回执001", at=at), timedelta(days=3)),
        ("handover", lambda at: record_police_decision(
            db, world.squad, rid, filed=True, decision_no="立字1号", at=at), timedelta(days=3)),
    ]  # fmt: skip
    expected = [("decision", T0 + timedelta(days=3))]
    last = T0
    for i, (step, record, period) in enumerate(steps):
        step_now, due = expected[-1]
        assert (ref.next_step, ref.next_due_at) == (step_now, due)
        assert await _overdue_at(db, world, due) == []
        assert await _overdue_at(db, world, due + US) == [(step_now, 1)]
        assert await _overdue_at(db, world, due + timedelta(seconds=1)) == [(step_now, 1)]
        assert await _overdue_at(db, world, due + timedelta(seconds=1) + US) == [(step_now, 2)]
        assert await _overdue_at(db, world, due + timedelta(hours=2)) == [(step_now, 7200)]
        last = last + timedelta(hours=5 + i, seconds=17)
        ref = await record(last)
        expected.append((step, last + period))
    step_now, due = expected[-1]
    assert (ref.next_step, ref.next_due_at, ref.handover_due_at) == (step_now, due, due)
    assert await _overdue_at(db, world, due) == []
    assert await _overdue_at(db, world, due + US) == [("handover", 1)]
    await db.commit()


async def test_a_refusal_leaves_only_the_optional_request_which_is_never_overdue(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    ref = await create_referral(db, world.squad, case.id, team_ids=world.team, report="报告", at=T0)
    await record_decision(db, world.captain, ref.id, approved=True, at=T0)
    await record_transfer(
        db, world.squad, ref.id, police_unit="县公安局", materials=MATERIALS, at=T0
    )
    await record_police_receipt(db, world.squad, ref.id, at=T0)
    ref = await record_police_decision(
        db, world.squad, ref.id, filed=False, reason="不构成犯罪", at=T0 + US
    )
    await db.commit()
    assert ref.reconsideration_due_at == T0 + US + timedelta(days=3)
    assert await _overdue_at(db, world, ref.reconsideration_due_at + timedelta(days=1)) == []
