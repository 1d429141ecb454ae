"""Flags and referrals: the procedure with its timers, steps out of order, who sees what."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseInput, CaseView, get_case, list_cases, open_case
from evidence.cases.errors import (
    CaseNotFlaggedError,
    CaseNotFoundError,
    MissingMaterialsError,
    ReconsiderationClosedError,
    ReferralAlreadyOpenError,
    ReferralNotFoundError,
    StepOutOfOrderError,
    TeamTooSmallError,
    UnknownTeamMemberError,
)
from evidence.cases.models import CaseEvent, Referral, ReferralFlag
from evidence.cases.referrals import (
    Material,
    ReferralView,
    create_referral,
    flag_for_referral,
    get_referral,
    list_referrals,
    overdue_steps,
    record_decision,
    record_handover,
    record_police_decision,
    record_police_receipt,
    record_transfer,
    request_reconsideration,
)
from infra.errors import PermissionDeniedError
from tests import clock
from tests.cases.conftest import LAT, LON, make_finding
from tests.worlds import World

MATERIALS = [
    Material("referral_letter", "涉嫌犯罪案件移送书", "移字〔2026〕1号"),
    Material("investigation_report", "涉嫌犯罪案件情况的调查报告"),
    Material("items_list", "涉案物品清单"),
]


async def a_case(db: AsyncSession, world: World, cause: str = "非法占地") -> CaseView:
    data = CaseInput(cause=cause, violation_kind="land_occupation", lon=LON, lat=LAT)
    view = await open_case(db, world.captain, data)
    await db.commit()
    return view


async def flagged_case(db: AsyncSession, world: World) -> CaseView:
    view = await a_case(db, world)
    # a captain flags: the squad cannot flag a case it cannot see yet
    await flag_for_referral(db, world.captain, case_id=view.id, reason="占用基本农田超过5亩")
    await db.commit()
    return view


async def counts(db: AsyncSession, *counties: uuid.UUID) -> tuple[int | None, ...]:
    """Referrals, case events and flags of these counties (not of the whole table: other
    tests may write theirs at the same time)."""
    return tuple(
        [
            await db.scalar(
                select(func.count()).select_from(model).where(model.county_id.in_(counties))
            )
            for model in (Referral, CaseEvent, ReferralFlag)
        ]
    )


async def test_full_procedure_with_timers(db: AsyncSession, world: World) -> None:
    case = await flagged_case(db, world)
    t0 = clock.now() - timedelta(days=20)
    ref = await create_referral(
        db, world.squad, case.id, team_ids=world.team, report="经核实，涉嫌非法占用农用地罪", at=t0
    )
    assert ref.status == "reported"
    assert ref.next_step == "decision"
    assert ref.decision_due_at == t0 + timedelta(days=3)
    ref = await record_decision(db, world.captain, ref.id, approved=True, at=t0 + timedelta(days=1))
    assert ref.transfer_due_at == t0 + timedelta(days=2)
    t1 = t0 + timedelta(days=1, hours=20)
    ref = await record_transfer(
        db, world.squad, ref.id, police_unit="县公安局", materials=MATERIALS, at=t1
    )
    assert ref.status == "transferred" and len(ref.materials) == 3
    assert ref.receipt_due_at == t1 + timedelta(days=3)
    assert (ref.next_step, ref.next_due_at) == ("police_receipt", t1 + timedelta(days=3))
    ref = await record_police_receipt(
        db, world.squad, ref.id, receipt_no="回执001", at=t1 + timedelta(hours=1)
    )
    assert ref.police_decision_due_at == t1 + timedelta(days=3, hours=1)
    ref = await record_police_decision(
        db, world.squad, ref.id, filed=False, reason="证据不足", at=t1 + timedelta(days=2)
    )
    assert ref.status == "not_filed"
    assert ref.next_step == "reconsideration_request"
    assert ref.reconsideration_due_at == t1 + timedelta(days=5)
    assert ref.next_due_at == t1 + timedelta(days=5)
    ref = await request_reconsideration(
        db, world.captain, ref.id, reason="面积经测绘已核实", at=t1 + timedelta(days=3)
    )
    assert ref.reconsideration_decision_due_at == t1 + timedelta(days=6)
    ref = await record_police_decision(
        db, world.squad, ref.id, filed=True, decision_no="立字1号", at=t1 + timedelta(days=5)
    )
    assert ref.status == "police_filed" and ref.reconsideration_result == "filed"
    assert ref.handover_due_at == t1 + timedelta(days=8)
    ref = await record_handover(
        db, world.squad, ref.id, items=[Material("item", "挖掘机钥匙")], at=t1 + timedelta(days=6)
    )
    await db.commit()
    assert ref.status == "handed_over"
    assert ref.next_step is None and not ref.overdue and ref.closed_at is not None

    events = (
        await db.scalars(
            select(CaseEvent.kind).where(CaseEvent.referral_id == ref.id).order_by(CaseEvent.at)
        )
    ).all()
    assert events == [
        "referral.reported",
        "referral.decision",
        "referral.transfer",
        "referral.police_receipt",
        "referral.police_decision",
        "referral.reconsideration_request",
        "referral.reconsideration_decision",
        "referral.handover",
    ]
    assert [r.id for r in await list_referrals(db, world.squad, status=["handed_over"])] == [ref.id]


async def test_overdue_steps_feed(db: AsyncSession, world: World) -> None:
    late = await flagged_case(db, world)
    fresh = await flagged_case(db, world)
    now = clock.now()
    old = await create_referral(
        db, world.squad, late.id, team_ids=world.team, report="报告", at=now - timedelta(days=5)
    )
    new = await create_referral(db, world.squad, fresh.id, team_ids=world.team, report="报告")
    await db.commit()
    feed = await overdue_steps(db, world.squad)
    assert [(s.referral_id, s.step) for s in feed] == [(old.id, "decision")]
    assert feed[0].overdue_s == pytest.approx(2 * 86400, abs=120)
    assert feed[0].case_no == late.case_no
    assert [r.id for r in await list_referrals(db, world.captain, overdue=True)] == [old.id]
    assert [r.id for r in await list_referrals(db, world.captain, overdue=False)] == [new.id]
    # approving late is recorded as late, and the next timer starts (24 h to transfer)
    ref = await record_decision(db, world.captain, old.id, approved=True)
    assert not ref.overdue and ref.next_step == "transfer"
    event = await db.scalar(
        select(CaseEvent.details).where(
            CaseEvent.referral_id == old.id, CaseEvent.kind == "referral.decision"
        )
    )
    assert event is not None and event["late"] is True
    # a day later the transfer is overdue
    later = await overdue_steps(db, world.captain, now=clock.now() + timedelta(hours=25))
    assert ("transfer", old.id) in [(s.step, s.referral_id) for s in later]
    await db.commit()


async def test_team_of_one_officer_is_refused_and_nothing_is_stored(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    before = await counts(db, world.county_id)
    with pytest.raises(TeamTooSmallError) as info:
        await create_referral(
            db, world.squad, case.id, team_ids=[world.squad.user_id], report="报告"
        )
    assert info.value.code == "team_too_small"
    with pytest.raises(TeamTooSmallError):  # the same officer twice is still one
        await create_referral(
            db,
            world.squad,
            case.id,
            team_ids=[world.squad.user_id, world.squad.user_id],
            report="报告",
        )
    with pytest.raises(UnknownTeamMemberError):
        await create_referral(
            db, world.squad, case.id, team_ids=[world.squad.user_id, uuid.uuid4()], report="报告"
        )
    await db.commit()
    assert await counts(db, world.county_id) == before


async def test_steps_out_of_order_are_refused_and_nothing_changes(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    ref = await create_referral(db, world.squad, case.id, team_ids=world.team, report="报告")
    await db.commit()
    before = await counts(db, world.county_id)
    with pytest.raises(StepOutOfOrderError) as info:
        await record_transfer(db, world.squad, ref.id, police_unit="县公安局", materials=MATERIALS)
    assert info.value.code == "step_out_of_order"
    assert info.value.extra["expected_step"] == "decision"
    with pytest.raises(StepOutOfOrderError):
        await record_police_decision(db, world.squad, ref.id, filed=True)
    with pytest.raises(StepOutOfOrderError):
        await record_handover(db, world.squad, ref.id, items=[Material("item", "x")])
    with pytest.raises(StepOutOfOrderError):
        await request_reconsideration(db, world.captain, ref.id, reason="r")
    with pytest.raises(PermissionDeniedError):  # the head's decision is not the squad's
        await record_decision(db, world.squad, ref.id, approved=True)
    with pytest.raises(ReferralAlreadyOpenError):
        await create_referral(db, world.squad, case.id, team_ids=world.team, report="报告")
    ref = await record_decision(db, world.captain, ref.id, approved=True)
    with pytest.raises(StepOutOfOrderError):
        await record_decision(db, world.captain, ref.id, approved=False, note="再议")
    with pytest.raises(MissingMaterialsError) as missing:
        await record_transfer(
            db, world.squad, ref.id, police_unit="县公安局", materials=MATERIALS[:1]
        )
    assert missing.value.extra["missing"] == ["investigation_report", "items_list"]
    await db.commit()
    stored = await get_referral(db, world.squad, ref.id)
    assert stored.status == "approved" and stored.transferred_at is None
    after = await counts(db, world.county_id)
    assert after[0] == before[0] and after[1] == (before[1] or 0) + 1  # only the decision event


async def test_reconsideration_window_closes_after_three_days(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    t0 = clock.now() - timedelta(days=10)
    ref = await received_referral(db, world, case.id, t0)
    ref = await record_police_decision(
        db, world.squad, ref.id, filed=False, reason="不构成犯罪", at=t0 + timedelta(days=1)
    )
    assert await overdue_steps(db, world.squad) == []  # asking is optional, never overdue
    with pytest.raises(ReconsiderationClosedError):
        await request_reconsideration(db, world.captain, ref.id, reason="迟了")
    await db.commit()


async def received_referral(
    db: AsyncSession, world: World, case_id: uuid.UUID, at: datetime
) -> ReferralView:
    """The squad's referral of ``case_id``, approved, handed over and received by the police,
    every step at ``at``."""
    ref = await create_referral(db, world.squad, case_id, team_ids=world.team, report="报告", at=at)
    await record_decision(db, world.captain, ref.id, approved=True, at=at)
    await record_transfer(
        db, world.squad, ref.id, police_unit="县公安局", materials=MATERIALS, at=at
    )
    return await record_police_receipt(db, world.squad, ref.id, at=at)


async def refused_referral(db: AsyncSession, world: World, t0: datetime) -> uuid.UUID:
    """A referral the police refused to file at ``t0``, received at ``t0`` minus a day."""
    case = await flagged_case(db, world)
    ref = await received_referral(db, world, case.id, t0 - timedelta(days=1))
    ref = await record_police_decision(db, world.squad, ref.id, filed=False, reason="否", at=t0)
    assert ref.reconsideration_due_at == t0 + timedelta(days=3)
    return ref.id


async def test_reconsideration_window_is_open_at_three_days_and_closed_one_second_later(
    db: AsyncSession, world: World
) -> None:
    t0 = clock.now() - timedelta(days=10)
    edge = await refused_referral(db, world, t0)
    ref = await request_reconsideration(
        db, world.captain, edge, reason="在期限内", at=t0 + timedelta(days=3)
    )
    assert ref.status == "reconsideration"
    assert ref.reconsideration_decision_due_at == t0 + timedelta(days=6)
    late = await refused_referral(db, world, t0)
    with pytest.raises(ReconsiderationClosedError):
        await request_reconsideration(
            db, world.captain, late, reason="迟了", at=t0 + timedelta(days=3, seconds=1)
        )
    assert (await get_referral(db, world.squad, late)).status == "not_filed"
    await db.commit()


async def test_receipt_is_late_one_second_after_three_days(db: AsyncSession, world: World) -> None:
    t0 = clock.now() - timedelta(days=10)
    lateness = []
    for after in (timedelta(days=3), timedelta(days=3, seconds=1)):
        case = await flagged_case(db, world)
        ref = await create_referral(
            db, world.squad, case.id, team_ids=world.team, report="报告", at=t0
        )
        await record_decision(db, world.captain, ref.id, approved=True, at=t0)
        ref = await record_transfer(
            db, world.squad, ref.id, police_unit="县公安局", materials=MATERIALS, at=t0
        )
        assert ref.receipt_due_at == t0 + timedelta(days=3)
        await record_police_receipt(db, world.squad, ref.id, at=t0 + after)
        details = await db.scalar(
            select(CaseEvent.details).where(
                CaseEvent.referral_id == ref.id, CaseEvent.kind == "referral.police_receipt"
            )
        )
        lateness.append(details)
    assert lateness[0]["late"] is False
    assert (lateness[1]["late"], lateness[1]["late_by_s"]) == (True, 1)
    await db.commit()


async def test_referral_needs_a_flag_and_a_case_of_the_county(
    db: AsyncSession, world: World, other_world: Callable[[], Awaitable[World]]
) -> None:
    plain = await a_case(db, world)
    with pytest.raises(CaseNotFlaggedError):
        await create_referral(db, world.captain, plain.id, team_ids=world.team, report="报告")
    flagged = await flagged_case(db, world)
    ref = await create_referral(db, world.squad, flagged.id, team_ids=world.team, report="报告")
    await db.commit()

    other = await other_world()
    before = await counts(db, world.county_id, other.county_id)
    with pytest.raises(CaseNotFoundError):
        await create_referral(db, other.squad, flagged.id, team_ids=other.team, report="报告")
    with pytest.raises(CaseNotFoundError):
        await flag_for_referral(db, other.squad, case_id=plain.id, reason="跨县")
    with pytest.raises(ReferralNotFoundError):
        await record_decision(db, other.captain, ref.id, approved=True)
    with pytest.raises(ReferralNotFoundError):
        await get_referral(db, other.squad, ref.id)
    assert await list_referrals(db, other.captain) == []
    assert await overdue_steps(db, other.captain, now=clock.now() + timedelta(days=9)) == []
    await db.commit()
    assert await counts(db, world.county_id, other.county_id) == before


async def test_squad_sees_only_flagged_and_referred_cases(db: AsyncSession, world: World) -> None:
    plain = await a_case(db, world, "未标记案件")
    flagged = await flagged_case(db, world)
    referred = await flagged_case(db, world)
    await create_referral(db, world.squad, referred.id, team_ids=world.team, report="报告")
    await db.commit()

    seen = {c.id for c in await list_cases(db, world.squad)}
    assert seen == {flagged.id, referred.id}
    assert plain.id not in seen
    with pytest.raises(CaseNotFoundError):
        await get_case(db, world.squad, plain.id)
    assert (await get_case(db, world.squad, flagged.id)).flagged
    assert {c.id for c in await list_cases(db, world.squad, referred=True)} == {referred.id}
    # captains see all three; filters narrow them
    assert {c.id for c in await list_cases(db, world.captain)} >= {plain.id, flagged.id}
    assert plain.id in {c.id for c in await list_cases(db, world.captain, flagged=False)}
    # inspectors neither flag nor see referrals
    with pytest.raises(PermissionDeniedError):
        await flag_for_referral(db, world.inspector, case_id=plain.id, reason="x")
    with pytest.raises(PermissionDeniedError):
        await list_referrals(db, world.inspector)


async def test_flagged_finding_makes_its_case_visible_to_the_squad(
    db: AsyncSession, world: World
) -> None:
    finding_id = await make_finding(db, world)
    await flag_for_referral(db, world.captain, finding_id=finding_id, reason="疑似非法采矿")
    data = CaseInput(
        cause="非法采矿",
        violation_kind="illegal_mining",
        lon=LON,
        lat=LAT,
        source_kind="finding",
        source_id=finding_id,
    )
    view = await open_case(db, world.captain, data)
    await db.commit()
    assert [c.id for c in await list_cases(db, world.squad)] == [view.id]
    assert (await get_case(db, world.squad, view.id)).flags[0].finding_id == finding_id
