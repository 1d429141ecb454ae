"""Petitions (信访): the statutory dates at their exact edges, the extension, review and
re-review windows, the group flag, the gapless register, the clue opener, overdue alerts,
who sees what (and the custody entry of every read of a petitioner), lists and figures.

Dates are county-local calendar days (UTC+8): a petition received at 09:30 on 5 January
2026 in the county has its decision due on 20 January, on time until 23:59:59.999999 that
day (15:59:59.999999 UTC) and late from 00:00 on the 21st (16:00 UTC). The periods are
written out here, not read from the code under test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.worker import TASK_NAMES
from evidence.cases import petitions as pt
from evidence.cases.errors import (
    InvalidPetitionError,
    PetitionAlreadyExtendedError,
    PetitionReviewsExhaustedError,
    PetitionStepOutOfOrderError,
)
from evidence.cases.petition_demo import seed_demo_petitions
from evidence.cases.petition_models import PetitionCounter
from evidence.cases.petition_tasks import run_petition_jobs
from evidence.models import CustodyEntry
from infra.errors import PermissionDeniedError
from infra.scope import Principal, Role
from patrol import PatrolAlert
from tests import clock
from tests.conftest import CountyFixture
from tests.worlds import World

Client = AsyncTestClient[Litestar]
API = "/api/v1"

T0 = datetime(2026, 1, 5, 1, 30, 15, 250_000, tzinfo=UTC)  # 09:30 on 5 January in the county
US = timedelta(microseconds=1)


def end_of(day: date) -> datetime:
    """The last instant of a county-local day (UTC)."""
    return datetime(day.year, day.month, day.day, 16, tzinfo=UTC) - US


def start_of(day: date) -> datetime:
    """The first instant of a county-local day (UTC)."""
    return datetime(day.year, day.month, day.day, 16, tzinfo=UTC) - timedelta(days=1)


def desk(world: World) -> Principal:
    return world.county.principal(Role.CLUE_DESK)


def _input(
    received_at: datetime = T0,
    *,
    people: int = 1,
    category: str = "appeal_request",
    form: str = "letter",
    township_id: uuid.UUID | None = None,
) -> pt.PetitionInput:
    return pt.PetitionInput(
        form=form,
        category=category,
        received_at=received_at,
        subject="反映邻村非法占用耕地建房",
        content="村东头有人占用耕地建房，请依法查处。",
        petitioner=pt.Petitioner("赵六", "13800000000", "430000199001011234", "河西村3组"),
        people_count=people,
        township_id=township_id,
    )


async def register(
    db: AsyncSession, world: World, received_at: datetime = T0, **kw: Any
) -> pt.PetitionView:
    return await pt.register_petition(
        db, desk(world), _input(received_at, **kw), now=received_at + timedelta(hours=1)
    )


async def accepted(db: AsyncSession, world: World, at: datetime) -> pt.PetitionView:
    p = await register(db, world, at - timedelta(days=2))
    return await pt.decide_petition(db, world.captain, p.id, accept=True, at=at, now=at)


async def replied(db: AsyncSession, world: World, at: datetime) -> pt.PetitionView:
    p = await accepted(db, world, at - timedelta(days=20))
    return await pt.reply_petition(
        db, desk(world), p.id, content="经核查，已立案查处。", delivery="mail", at=at, now=at
    )


def step(view: pt.PetitionView, name: str) -> pt.PetitionStepView:
    [found] = [s for s in view.steps if s.step == name]
    return found


@pytest.fixture
def opener() -> Iterator[list[pt.PetitionView]]:
    """A stand-in for the tip-off intake: records what it was given, answers a clue id."""
    seen: list[pt.PetitionView] = []

    async def open_clue(
        session: AsyncSession, principal: Principal, view: pt.PetitionView
    ) -> uuid.UUID:
        del session, principal
        seen.append(view)
        return uuid.UUID(int=len(seen))

    previous = pt.register_petition_clue_opener(open_clue)
    yield seen
    pt.register_petition_clue_opener(previous)


# -- registration --------------------------------------------------------------------------------
async def test_registration_numbers_run_per_county_and_year_without_gaps(
    db: AsyncSession, world: World, other_world: Any
) -> None:
    code = world.county.county.admin_code
    views = [await register(db, world) for _ in range(3)]
    assert [v.reg_no for v in views] == [f"XF-{code}-2026-{n:05d}" for n in (1, 2, 3)]
    assert views[0].received_on == date(2026, 1, 5)
    assert views[0].decision_due_on == date(2026, 1, 20)
    assert (views[0].next_step, views[0].next_due_on) == ("decision", date(2026, 1, 20))
    other = await other_world()
    first = await register(db, other)
    assert first.reg_no == f"XF-{other.county.county.admin_code}-2026-00001"
    # the year is the county's: 16:00 UTC on 31 December is already next year there
    new_year = await register(db, world, datetime(2026, 12, 31, 15, tzinfo=UTC))
    assert new_year.reg_no == f"XF-{code}-2027-00001"
    await db.commit()


async def test_concurrent_registrations_and_a_rolled_back_one_leave_no_gap(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    async def one(commit: bool) -> str:
        async with session_factory() as session:
            view = await register(session, world)
            if commit:
                await session.commit()
            else:
                await session.rollback()
            return view.reg_no

    await one(commit=False)  # its number is given back
    numbers = await asyncio.gather(*(one(commit=True) for _ in range(6)))
    seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert seqs == [1, 2, 3, 4, 5, 6]
    async with session_factory() as session:
        counter = await session.get(PetitionCounter, (world.county_id, 2026))
        assert counter is not None and counter.last_seq == 6


@pytest.mark.parametrize(("people", "group"), [(4, False), (5, True), (6, True), (1, False)])
async def test_a_group_petition_is_five_people_or_more(
    db: AsyncSession, world: World, people: int, group: bool
) -> None:
    view = await register(db, world, people=people)
    assert (view.people_count, view.group_petition) == (people, group)
    await db.commit()


async def test_registration_checks_its_input(db: AsyncSession, world: World) -> None:
    with pytest.raises(InvalidPetitionError) as naive:
        await register(db, world, T0.replace(tzinfo=None))
    assert naive.value.code == "invalid_time"
    with pytest.raises(InvalidPetitionError) as future:
        await pt.register_petition(db, desk(world), _input(T0 + timedelta(minutes=6)), now=T0)
    assert future.value.code == "invalid_time"
    blank = pt.PetitionInput("letter", "suggestion", T0, "  ", "内容", pt.Petitioner("甲"))
    with pytest.raises(InvalidPetitionError) as subject:
        await pt.register_petition(db, desk(world), blank, now=T0)
    assert subject.value.code == "invalid_petition"
    for role in (Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD):
        with pytest.raises(PermissionDeniedError):
            await pt.register_petition(db, world.county.principal(role), _input(), now=T0)


async def test_a_complaint_opens_a_clue_through_the_registered_opener(
    db: AsyncSession, world: World, opener: list[pt.PetitionView]
) -> None:
    complaint = await register(db, world, category="complaint_accusation")
    suggestion = await register(db, world, category="suggestion")
    assert [v.id for v in opener] == [complaint.id]
    assert complaint.clue_id == uuid.UUID(int=1)
    assert suggestion.clue_id is None
    stored = await pt.get_petition(db, world.captain, complaint.id, now=T0)
    assert stored.clue_id == uuid.UUID(int=1)
    assert [e.kind for e in stored.events] == ["registered", "clue_opened"]
    await db.commit()


async def test_without_an_opener_a_complaint_is_registered_alone(
    db: AsyncSession, world: World
) -> None:
    previous = pt.register_petition_clue_opener(None)
    try:
        view = await register(db, world, category="complaint_accusation")
    finally:
        pt.register_petition_clue_opener(previous)
    assert view.clue_id is None


# -- the acceptance decision: 15 days of receipt --------------------------------------------------
@pytest.mark.parametrize(
    ("at", "late"),
    [
        (end_of(date(2026, 1, 19)), False),  # a day early
        (start_of(date(2026, 1, 20)), False),
        (end_of(date(2026, 1, 20)), False),  # the last microsecond of the due date
        (start_of(date(2026, 1, 21)), True),  # a microsecond later
        (end_of(date(2026, 1, 21)), True),  # a day late
    ],
)
async def test_the_decision_is_due_15_days_after_receipt(
    db: AsyncSession, world: World, at: datetime, late: bool
) -> None:
    p = await register(db, world)
    assert p.decision_due_on == date(2026, 1, 20)
    view = await pt.decide_petition(db, desk(world), p.id, accept=True, at=at, now=at)
    decision = step(view, "decision")
    assert (decision.due_on, decision.done_at, decision.late) == (date(2026, 1, 20), at, late)
    assert view.late is late
    events = (await pt.get_petition(db, world.captain, p.id, now=at)).events
    assert events[-1].kind == "decided"
    assert events[-1].details["late"] is late
    assert events[-1].actor_id == desk(world).user_id
    await db.commit()


async def test_an_undecided_petition_is_overdue_from_the_day_after_its_due_date(
    db: AsyncSession, world: World
) -> None:
    p = await register(db, world)
    edge = end_of(date(2026, 1, 20))
    on_time = await pt.get_petition(db, world.captain, p.id, now=edge)
    assert not on_time.overdue and not step(on_time, "decision").overdue
    late = await pt.get_petition(db, world.captain, p.id, now=edge + US)
    assert late.overdue and step(late, "decision").overdue
    assert [
        s.petition_id for s in await pt.overdue_petition_steps(db, world.county_id, now=edge)
    ] == []
    overdue = await pt.overdue_petition_steps(db, world.county_id, now=edge + US)
    assert [(s.petition_id, s.step, s.due_on) for s in overdue] == [
        (p.id, "decision", date(2026, 1, 20))
    ]
    await db.commit()


async def test_a_refusal_needs_its_reason_and_ends_the_petition(
    db: AsyncSession, world: World
) -> None:
    p = await register(db, world)
    at = T0 + timedelta(days=3)
    with pytest.raises(InvalidPetitionError) as missing:
        await pt.decide_petition(db, desk(world), p.id, accept=False, at=at, now=at)
    assert missing.value.code == "reason_required"
    view = await pt.decide_petition(
        db, desk(world), p.id, accept=False, reason="不属于本机关职权范围，已告知向法院起诉",
        notice="书面告知", at=at, now=at,
    )  # fmt: skip
    assert (view.status, view.next_step, view.accepted, view.overdue) == (
        "not_accepted",
        None,
        False,
        False,
    )
    assert [s.step for s in view.steps] == ["decision"]
    with pytest.raises(PetitionStepOutOfOrderError):
        await pt.reply_petition(db, desk(world), p.id, content="答复", delivery="mail", now=at)
    with pytest.raises(InvalidPetitionError) as before:
        p2 = await register(db, world)
        await pt.decide_petition(db, desk(world), p2.id, accept=True, at=T0 - US, now=at)
    assert before.value.code == "invalid_time"


# -- the reply: 60 days of acceptance, extendable once by up to 30 --------------------------------
ACCEPTED_AT = datetime(2026, 2, 2, 3, tzinfo=UTC)  # 2 February in the county
REPLY_DUE = date(2026, 4, 3)  # 2 February + 60 days


@pytest.mark.parametrize(
    ("at", "late"),
    [
        (end_of(REPLY_DUE - timedelta(days=1)), False),
        (end_of(REPLY_DUE), False),
        (start_of(REPLY_DUE + timedelta(days=1)), True),
        (end_of(REPLY_DUE + timedelta(days=1)), True),
    ],
)
async def test_the_reply_is_due_60_days_after_acceptance(
    db: AsyncSession, world: World, at: datetime, late: bool
) -> None:
    p = await accepted(db, world, ACCEPTED_AT)
    assert (p.status, p.reply_due_on, p.next_step) == ("accepted", REPLY_DUE, "reply")
    assert not (await pt.get_petition(db, desk(world), p.id, now=end_of(REPLY_DUE))).overdue
    assert (await pt.get_petition(db, desk(world), p.id, now=end_of(REPLY_DUE) + US)).overdue
    view = await pt.reply_petition(
        db, world.admin, p.id, content="答复意见", delivery="in_person", at=at, now=at
    )
    assert (step(view, "reply").due_on, step(view, "reply").late) == (REPLY_DUE, late)
    assert (view.status, view.next_step) == ("replied", "review_request")
    assert view.next_due_on == pt.county_day(at) + timedelta(days=30)
    await db.commit()


async def test_one_extension_of_at_most_30_days_moves_the_reply_date(
    db: AsyncSession, world: World
) -> None:
    p = await accepted(db, world, ACCEPTED_AT)
    at = ACCEPTED_AT + timedelta(days=50)
    with pytest.raises(InvalidPetitionError) as too_long:
        await pt.extend_petition(db, world.captain, p.id, days=31, reason="复杂", at=at, now=at)
    assert too_long.value.code == "petition_extension_too_long"
    with pytest.raises(InvalidPetitionError) as no_reason:
        await pt.extend_petition(db, world.captain, p.id, days=30, reason=" ", at=at, now=at)
    assert no_reason.value.code == "reason_required"
    view = await pt.extend_petition(
        db, world.captain, p.id, days=30, reason="需会同规划部门现场测量", notice="电话告知",
        at=at, now=at,
    )  # fmt: skip
    extended_due = REPLY_DUE + timedelta(days=30)
    assert (view.extension_days, view.reply_due_on, view.next_due_on) == (
        30,
        extended_due,
        extended_due,
    )
    with pytest.raises(PetitionAlreadyExtendedError):
        await pt.extend_petition(db, world.captain, p.id, days=1, reason="再延", at=at, now=at)
    # the old date has passed, the new one not yet
    assert not (await pt.get_petition(db, desk(world), p.id, now=end_of(extended_due))).overdue
    assert (
        await pt.get_petition(db, desk(world), p.id, now=start_of(extended_due + timedelta(days=1)))
    ).overdue
    on_edge = end_of(extended_due)
    view = await pt.reply_petition(
        db, desk(world), p.id, content="答复", delivery="mail", at=on_edge, now=on_edge
    )
    assert step(view, "reply").late is False
    await db.commit()


async def test_the_heads_instruction_assigns_a_handling_office(
    db: AsyncSession, world: World
) -> None:
    p = await accepted(db, world, ACCEPTED_AT)
    at = ACCEPTED_AT + timedelta(hours=3)
    view = await pt.assign_petition(
        db, world.captain, p.id, office="西镇国土所", instruction="请西镇国土所十日内核实",
        township_id=world.township.id, at=at, now=at,
    )  # fmt: skip
    assert (view.status, view.office, view.office_township_id, view.assigned_by) == (
        "assigned",
        "西镇国土所",
        world.township.id,
        world.captain.user_id,
    )
    assert view.next_step == "reply"  # the reply's date is unchanged by the assignment
    with pytest.raises(InvalidPetitionError):
        await pt.assign_petition(db, world.captain, p.id, office="队", instruction=" ", now=at)
    await db.commit()


# -- review and re-review: 30 days to ask, 30 days to answer --------------------------------------
REPLIED_AT = datetime(2026, 5, 4, 2, tzinfo=UTC)  # 4 May in the county
WINDOW = date(2026, 6, 3)  # 4 May + 30 days


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (end_of(WINDOW - timedelta(days=1)), True),
        (end_of(WINDOW), True),
        (start_of(WINDOW + timedelta(days=1)), False),
        (end_of(WINDOW + timedelta(days=1)), False),
    ],
)
async def test_review_may_be_asked_within_30_days_of_the_reply(
    db: AsyncSession, world: World, at: datetime, open_: bool
) -> None:
    p = await replied(db, world, REPLIED_AT)
    assert (p.next_step, p.next_due_on) == ("review_request", WINDOW)
    if not open_:
        with pytest.raises(InvalidPetitionError) as closed:
            await pt.request_review(db, desk(world), p.id, level="review", at=at, now=at)
        assert closed.value.code == "petition_review_window_closed"
        assert closed.value.extra["due_on"] == WINDOW.isoformat()
        return
    view = await pt.request_review(
        db, desk(world), p.id, level="review", reason="对处理结果不服", at=at, now=at
    )
    answer_due = pt.county_day(at) + timedelta(days=30)
    assert (view.status, view.next_step, view.next_due_on) == (
        "review_requested",
        "review_answer",
        answer_due,
    )
    [review] = view.reviews
    assert (review.level, review.request_due_on, review.answer_due_on) == (
        "review",
        WINDOW,
        answer_due,
    )
    await db.commit()


async def test_review_then_re_review_each_answered_within_30_days_and_no_third_level(
    db: AsyncSession, world: World
) -> None:
    p = await replied(db, world, REPLIED_AT)
    with pytest.raises(PetitionStepOutOfOrderError) as early:
        await pt.request_review(db, desk(world), p.id, level="re_review", now=REPLIED_AT)
    assert early.value.extra["expected_step"] == "review_request"
    asked = REPLIED_AT + timedelta(days=10)  # 14 May: the answer is due 13 June
    await pt.request_review(db, desk(world), p.id, level="review", at=asked, now=asked)
    answer_due = date(2026, 6, 13)
    assert not (await pt.get_petition(db, desk(world), p.id, now=end_of(answer_due))).overdue
    assert (await pt.get_petition(db, desk(world), p.id, now=end_of(answer_due) + US)).overdue
    late = start_of(answer_due + timedelta(days=1))
    view = await pt.answer_review(
        db, world.captain, p.id, level="review", answer="维持原处理意见", at=late, now=late
    )
    assert step(view, "review_answer").late is True and view.late
    assert (view.status, view.next_step, view.next_due_on) == (
        "reviewed",
        "re_review_request",
        answer_due + timedelta(days=31),
    )
    # re-review: the window runs from the review answer's date (14 June)
    window = date(2026, 7, 14)
    with pytest.raises(InvalidPetitionError) as closed:
        at = start_of(window + timedelta(days=1))
        await pt.request_review(db, desk(world), p.id, level="re_review", at=at, now=at)
    assert closed.value.code == "petition_review_window_closed"
    at = end_of(window)
    view = await pt.request_review(db, desk(world), p.id, level="re_review", at=at, now=at)
    assert (view.next_step, view.next_due_on) == ("re_review_answer", window + timedelta(days=30))
    on_time = end_of(window + timedelta(days=30))
    view = await pt.answer_review(
        db, desk(world), p.id, level="re_review", answer="复核维持", at=on_time, now=on_time
    )
    assert (view.status, view.next_step, view.overdue) == ("re_reviewed", None, False)
    assert step(view, "re_review_answer").late is False
    assert [s.step for s in view.steps] == [
        "decision", "reply", "review_request", "review_answer", "re_review_request",
        "re_review_answer",
    ]  # fmt: skip
    for level in ("review", "re_review"):
        with pytest.raises(PetitionReviewsExhaustedError):
            await pt.request_review(db, desk(world), p.id, level=level, now=on_time)
    await db.commit()


# -- overdue alerts ------------------------------------------------------------------------------
async def _alerts(db: AsyncSession, world: World) -> list[PatrolAlert]:
    rows = await db.scalars(
        select(PatrolAlert)
        .where(PatrolAlert.county_id == world.county_id, PatrolAlert.kind == "petition_overdue")
        .order_by(PatrolAlert.raised_at)
    )
    return list(rows)


async def test_overdue_steps_raise_one_alert_each_resolved_when_the_step_is_done(
    db: AsyncSession, world: World
) -> None:
    p = await register(db, world)
    due = date(2026, 1, 20)
    assert await pt.raise_overdue_alerts(db, world.county_id, now=end_of(due)) == (0, 0)
    assert await pt.raise_overdue_alerts(db, world.county_id, now=end_of(due) + US) == (1, 0)
    assert await pt.raise_overdue_alerts(db, world.county_id, now=end_of(due) + US) == (0, 0)
    [alert] = await _alerts(db, world)
    assert alert.params == {"reg_no": p.reg_no, "step": "decision", "due_on": "2026-01-20"}
    assert p.reg_no in alert.message and "受理告知" in alert.message
    done = end_of(due) + timedelta(days=2)
    await pt.decide_petition(db, desk(world), p.id, accept=True, at=done, now=done)
    await db.refresh(alert)
    assert (alert.resolved_at, alert.resolution) == (done, "petition_step_done")
    await db.commit()


async def test_an_extension_resolves_the_replys_alert_and_it_comes_back_if_late_again(
    db: AsyncSession, world: World
) -> None:
    p = await accepted(db, world, ACCEPTED_AT)
    after = start_of(REPLY_DUE + timedelta(days=1))
    assert await pt.raise_overdue_alerts(db, world.county_id, now=after) == (1, 0)
    await pt.extend_petition(db, desk(world), p.id, days=10, reason="补充调查", now=after)
    assert await pt.raise_overdue_alerts(db, world.county_id, now=after) == (0, 1)
    [alert] = await _alerts(db, world)
    assert alert.resolution == "no_longer_overdue"
    again = start_of(REPLY_DUE + timedelta(days=11))
    assert await pt.raise_overdue_alerts(db, world.county_id, now=again) == (1, 0)
    await db.commit()


# -- reading -------------------------------------------------------------------------------------
async def test_lists_filter_and_page_50_in_a_stable_order(db: AsyncSession, world: World) -> None:
    base = datetime(2026, 3, 1, 2, tzinfo=UTC)
    views = [
        await register(db, world, base + timedelta(minutes=i), form="visit" if i % 2 else "phone")
        for i in range(52)
    ]
    await pt.decide_petition(
        db, desk(world), views[0].id, accept=True, now=base + timedelta(days=1)
    )
    now = base + timedelta(days=40)  # every undecided one is overdue
    every = pt.PetitionFilters(received_from=date(2026, 3, 1), received_to=date(2026, 3, 1))
    first = await pt.list_petitions(db, desk(world), every, page=1, now=now)
    second = await pt.list_petitions(db, desk(world), every, page=2, now=now)
    assert (len(first.items), first.has_more, len(second.items), second.has_more) == (
        50,
        True,
        2,
        False,
    )
    newest_first = [v.id for v in reversed(views)]
    assert [v.id for v in (*first.items, *second.items)] == newest_first
    overdue = pt.PetitionFilters(overdue=True, received_from=date(2026, 3, 1))
    page = await pt.list_petitions(db, desk(world), overdue, page=2, now=now)
    assert views[0].id not in {v.id for v in page.items} and len(page.items) == 1
    timely = pt.PetitionFilters(overdue=False, received_from=date(2026, 3, 1))
    assert [v.id for v in (await pt.list_petitions(db, desk(world), timely, now=now)).items] == [
        views[0].id
    ]
    visits = pt.PetitionFilters(form="visit", status=["registered"], received_to=date(2026, 3, 1))
    assert {v.form for v in (await pt.list_petitions(db, desk(world), visits, now=now)).items} == {
        "visit"
    }
    await db.commit()


async def test_figures_count_by_form_category_township_status_and_timeliness(
    db: AsyncSession, world: World
) -> None:
    at = datetime(2026, 8, 3, 2, tzinfo=UTC)  # a Monday in the county
    a = await register(db, world, at, form="visit", category="complaint_accusation", people=7)
    await register(db, world, at, form="letter", township_id=world.township.id)
    c = await register(db, world, at + timedelta(days=1), form="letter", category="suggestion")
    await register(db, world, datetime(2026, 7, 30, 2, tzinfo=UTC))  # another month
    await pt.decide_petition(db, desk(world), a.id, accept=True, at=at, now=at)
    late = at + timedelta(days=20)
    await pt.decide_petition(db, desk(world), c.id, accept=True, at=late, now=late)
    now = at + timedelta(days=25)  # 28 August: the second is overdue, the third was late
    f = await pt.petition_figures(db, world.captain, period="month", now=now)
    assert (f.received_from, f.received_to, f.total) == (date(2026, 8, 1), date(2026, 8, 31), 3)
    assert f.by_form == {"letter": 2, "visit": 1, "phone": 0, "online": 0}
    assert f.by_category == {"suggestion": 1, "complaint_accusation": 1, "appeal_request": 1}
    assert f.by_status["accepted"] == 2 and f.by_status["registered"] == 1
    assert (f.on_time, f.late, f.group_petitions) == (1, 2, 1)
    assert {t.township_id: t.count for t in f.by_township} == {None: 2, world.township.id: 1}
    week = await pt.petition_figures(db, world.captain, period="week", now=at)
    assert (week.received_from, week.received_to, week.total) == (
        date(2026, 8, 3),
        date(2026, 8, 9),
        3,
    )
    span = await pt.petition_figures(
        db, world.captain, received_from=date(2026, 7, 1), received_to=date(2026, 9, 30), now=now
    )
    quarter = await pt.petition_figures(db, world.captain, period="quarter", now=now)
    assert span.total == quarter.total == 4
    assert (quarter.received_from, quarter.received_to) == (date(2026, 7, 1), date(2026, 9, 30))
    year = await pt.petition_figures(db, world.captain, period="year", now=now)
    assert (year.received_from, year.received_to) == (date(2026, 1, 1), date(2026, 12, 31))
    await db.commit()


# -- over HTTP: who sees what, and the custody chain ----------------------------------------------
def _body(**extra: Any) -> dict[str, Any]:
    return {
        "form": "visit",
        "category": "appeal_request",
        "receivedAt": clock.ago(hours=1).isoformat(),
        "subject": "要求退还被占土地",
        "content": "本人承包地被占用，请求处理。",
        "petitioner": {"name": "钱七", "phone": "13900000000", "idNo": "43000019800101123X",
                       "address": "东镇河湾村"},
        **extra,
    }  # fmt: skip


async def test_only_the_desk_and_captains_read_the_petitioner_and_each_read_is_in_custody(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    resp = await client.post(
        f"{API}/petitions", json=_body(peopleCount=5), headers=county.headers(Role.CLUE_DESK)
    )
    assert resp.status_code == 201, resp.text
    petition = resp.json()
    assert petition["groupPetition"] is True
    pid = petition["id"]
    secrets = ("钱七", "13900000000", "43000019800101123X", "东镇河湾村")
    for role in Role:
        got = await client.get(f"{API}/petitions/{pid}", headers=county.headers(role))
        listed = await client.get(f"{API}/petitions", headers=county.headers(role))
        readers = {Role.CLUE_DESK, Role.CAPTAIN, Role.ADMIN}
        want = 200 if role in readers else 403
        assert (got.status_code, listed.status_code) == (want, want), (role, got.text)
        if want == 403:
            assert got.json()["code"] == "role_not_allowed"
            continue
        for text in (got.text, listed.text):
            assert not any(s in text for s in secrets), role
        who = await client.get(f"{API}/petitions/{pid}/petitioner", headers=county.headers(role))
        if role is Role.ADMIN:
            assert who.status_code == 403 and who.json()["code"] == "role_not_allowed"
        else:
            assert who.status_code == 200, who.text
            assert who.json()["name"] == "钱七" and who.json()["idNo"] == "43000019800101123X"
    async with session_factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry)
                .where(CustodyEntry.county_id == county.id)
                .order_by(CustodyEntry.seq)
            )
        ).all()
    assert [(e.action, e.subject_id, e.actor_id) for e in entries] == [
        ("petitioner_viewed", uuid.UUID(pid), county.users[Role.CAPTAIN].id),
        ("petitioner_viewed", uuid.UUID(pid), county.users[Role.CLUE_DESK].id),
    ]  # the order of Role: captain before the clue desk
    for e in entries:
        assert not any(s in str(e.details) for s in secrets)
    missing = await client.get(
        f"{API}/petitions/{uuid.uuid4()}/petitioner", headers=county.headers(Role.CAPTAIN)
    )
    assert missing.status_code == 404 and missing.json()["code"] == "petition_not_found"


async def test_every_refusal_of_the_flow_over_http(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    h = county.headers(Role.CLUE_DESK)

    async def post(path: str, body: Any, status: int = 200) -> Any:
        resp = await client.post(f"{API}/petitions{path}", json=body, headers=h)
        assert resp.status_code == status, resp.text
        return resp.json()

    def ago(days: float) -> str:
        return clock.ago(days=days).isoformat()

    assert (await post("", _body(subject="  "), 422))["code"] == "invalid_petition"
    stray = _body(townshipId=str(uuid.uuid4()))
    assert (await post("", stray, 404))["code"] == "township_not_found"
    pid = (await post("", _body(receivedAt=ago(100)), 201))["id"]
    reply = {"content": "答复", "delivery": "mail"}
    out_of_order = await post(f"/{pid}/reply", reply, 409)
    assert out_of_order["code"] == "petition_step_out_of_order"
    assert out_of_order["details"]["expectedStep"] == "decision"
    assert (await post(f"/{pid}/decision", {"accept": False}, 422))["code"] == "reason_required"
    await post(f"/{pid}/decision", {"accept": True, "at": ago(95)})
    too_long = await post(f"/{pid}/extension", {"days": 31, "reason": "复杂"}, 422)
    assert too_long["code"] == "petition_extension_too_long"
    await post(f"/{pid}/extension", {"days": 30, "reason": "复杂", "at": ago(90)})
    again = await post(f"/{pid}/extension", {"days": 5, "reason": "再延"}, 409)
    assert again["code"] == "petition_already_extended"
    await post(f"/{pid}/reply", {**reply, "at": ago(45)})
    closed = await post(f"/{pid}/review-requests", {"level": "review"}, 422)
    assert closed["code"] == "petition_review_window_closed"
    await post(f"/{pid}/review-requests", {"level": "review", "at": ago(20)})
    await post(f"/{pid}/review-answers", {"level": "review", "answer": "维持", "at": ago(10)})
    await post(f"/{pid}/review-requests", {"level": "re_review", "at": ago(5)})
    await post(f"/{pid}/review-answers", {"level": "re_review", "answer": "维持"})
    third = await post(f"/{pid}/review-requests", {"level": "review"}, 409)
    assert third["code"] == "petition_reviews_exhausted"
    got = await client.get(f"{API}/petitions/{pid}", headers=h)
    assert [e["kind"] for e in got.json()["events"]] == [
        "registered", "decided", "extended", "replied", "review_requested", "review_answered",
        "re_review_requested", "re_review_answered",
    ]  # fmt: skip
    bad_period = await client.get(
        f"{API}/petitions/figures",
        params={"period": "month", "receivedFrom": "2026-01-01"},
        headers=h,
    )
    assert bad_period.status_code == 422 and bad_period.json()["code"] == "invalid_petition"


# -- the demo county -----------------------------------------------------------------------------
async def test_demo_petitions(db: AsyncSession, world: World) -> None:
    now = clock.NOW
    ids = await seed_demo_petitions(db, world.county_id, now=now)
    views = [await pt.get_petition(db, world.captain, i, now=now) for i in ids]
    assert [v.status for v in views] == [
        "registered", "assigned", "assigned", "review_requested", "registered"
    ]  # fmt: skip
    waiting, group, extended, review, overdue = views
    assert not waiting.overdue and overdue.overdue
    assert group.group_petition and group.office.endswith("国土资源所")
    assert extended.extension_days == 30 and not extended.overdue
    assert [r.level for r in review.reviews] == ["review"]
    assert [
        s.petition_id for s in await pt.overdue_petition_steps(db, world.county_id, now=now)
    ] == [overdue.id]
    assert await seed_demo_petitions(db, world.county_id, now=now) == ids
    await db.commit()


async def test_the_hourly_task_alerts_every_county_once(
    session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    assert "petitions:overdue" in TASK_NAMES
    async with session_factory() as session:
        p = await register(session, world)  # received in January: long overdue
        await session.commit()
    first = await run_petition_jobs(session_factory)
    assert first["failed"] == 0 and first["raised"] >= 1
    await run_petition_jobs(session_factory)
    async with session_factory() as session:
        [alert] = await _alerts(session, world)
        assert alert.params is not None and alert.params["reg_no"] == p.reg_no
        assert alert.resolved_at is None


async def test_the_squad_does_not_see_petition_alerts(
    client: Client, make_county: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    county: CountyFixture = await make_county()
    resp = await client.post(
        f"{API}/petitions",
        json=_body(receivedAt=clock.ago(days=40).isoformat()),
        headers=county.headers(Role.CLUE_DESK),
    )
    assert resp.status_code == 201, resp.text
    async with session_factory() as session:
        assert await pt.raise_overdue_alerts(session, county.id) == (1, 0)
        await session.commit()
    kinds: dict[Role, list[str]] = {}
    for role in (Role.CAPTAIN, Role.ADMIN, Role.SECURITY_SQUAD):
        feed = await client.get(f"{API}/alerts", headers=county.headers(role))
        assert feed.status_code == 200, feed.text
        kinds[role] = [a["kind"] for a in feed.json()]
    assert kinds == {
        Role.CAPTAIN: ["petition_overdue"],
        Role.ADMIN: ["petition_overdue"],
        Role.SECURITY_SQUAD: [],
    }
