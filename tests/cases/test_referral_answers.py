"""Referrals, answer by answer: every refusal with its code, its English detail (the text an
English-speaking caller reads) and its fields; a step dated before the one it follows; the
flags list; the referral lists, timers and overdue marks as of a given instant, at the due
instant and a microsecond after it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import get_case
from evidence.cases.models import CaseEvent
from evidence.cases.referrals import (
    Material,
    ReferralView,
    create_referral,
    flag_for_referral,
    get_referral,
    list_flags,
    list_referrals,
    overdue_steps,
    record_decision,
    record_handover,
    record_police_decision,
    record_police_receipt,
    record_transfer,
    request_reconsideration,
)
from infra.errors import DomainError
from infra.scope import Role
from tests import clock
from tests.cases.conftest import make_finding
from tests.cases.test_referrals import MATERIALS, a_case, flagged_case
from tests.worlds import World

ITEMS = [Material("item", "挖掘机钥匙")]


async def _refused(call: Awaitable[Any]) -> tuple[str, str, dict[str, object]]:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value.code, caught.value.detail, dict(caught.value.extra)


def _role(allowed: str, action: str) -> tuple[str, str, dict[str, object]]:
    roles = allowed.split(", ")
    return "role_not_allowed", f"only {allowed} may {action}", {"allowed_roles": roles}


def _out_of_order(status: str, step: str, expected: str | None) -> tuple[str, str, Any]:
    detail = f"cannot record {step} while the referral is {status}"
    extra = {"status": status, "step": step, "expected_step": expected}
    return "step_out_of_order", detail, extra


def _before(previous: datetime) -> tuple[str, str, dict[str, object]]:
    detail = f"at is before the previous step ({previous.astimezone(UTC).isoformat()})"
    return "invalid_time", detail, {"field": "at"}


async def test_flags_and_the_report_refuse_with_what_is_wrong(
    db: AsyncSession, world: World
) -> None:
    plain = await a_case(db, world)
    nowhere = uuid.uuid4()
    assert await _refused(
        flag_for_referral(db, world.inspector, case_id=plain.id, reason="x")
    ) == _role("security_squad, captain", "flag for referral")
    subject: tuple[str, str, dict[str, object]] = (
        "invalid_flag_subject",
        "flag exactly one of a case or a finding",
        {},
    )
    assert await _refused(flag_for_referral(db, world.captain, reason="x")) == subject
    both = flag_for_referral(db, world.captain, case_id=plain.id, finding_id=nowhere, reason="x")
    assert await _refused(both) == subject
    assert await _refused(flag_for_referral(db, world.captain, case_id=plain.id, reason=" ")) == (
        "reason_required",
        "a flag needs a reason",
        {"field": "reason"},
    )
    assert await _refused(flag_for_referral(db, world.captain, finding_id=nowhere, reason="x")) == (
        "finding_not_found",
        "finding not found",
        {"finding_id": str(nowhere)},
    )

    team = world.team
    assert await _refused(
        create_referral(db, world.inspector, plain.id, team_ids=team, report="报告")
    ) == _role("security_squad, captain", "refer cases")
    assert await _refused(
        create_referral(db, world.captain, plain.id, team_ids=team[:1], report="报告")
    ) == ("team_too_small", "a referral needs a team of at least two officers", {"team_size": 1})
    assert await _refused(
        create_referral(db, world.captain, plain.id, team_ids=[*team, nowhere], report="报告")
    ) == (
        "unknown_team_member",
        "team members must be active officers of this county",
        {"user_ids": [str(nowhere)]},
    )
    assert await _refused(
        create_referral(db, world.captain, plain.id, team_ids=team, report=" ")
    ) == ("report_required", "the referral needs the team's report", {"field": "report"})
    assert await _refused(
        create_referral(db, world.captain, plain.id, team_ids=team, report="报告")
    ) == ("case_not_flagged", "flag the case for referral first", {"case_id": str(plain.id)})

    flagged = await flagged_case(db, world)
    naive = datetime(2026, 11, 1, 8, 0)  # noqa: DTZ001 - the naive time refused
    assert await _refused(
        create_referral(db, world.squad, flagged.id, team_ids=team, report="报告", at=naive)
    ) == ("invalid_time", "at must carry a time zone offset", {"field": "at"})
    ahead = clock.now() + timedelta(minutes=6)
    assert await _refused(
        create_referral(db, world.squad, flagged.id, team_ids=team, report="报告", at=ahead)
    ) == ("invalid_time", "at is in the future", {"field": "at"})
    # a clock a few minutes ahead of the server's is taken as it is
    soon = clock.now() + timedelta(minutes=4)
    ref = await create_referral(db, world.squad, flagged.id, team_ids=team, report="报告", at=soon)
    assert ref.reported_at == soon
    assert await _refused(
        create_referral(db, world.squad, flagged.id, team_ids=team, report="报告")
    ) == ("referral_already_open", "the case has an open referral", {"referral_id": str(ref.id)})
    await db.rollback()


async def test_the_steps_refuse_with_what_is_wrong(db: AsyncSession, world: World) -> None:
    case = await flagged_case(db, world)
    t0 = clock.now() - timedelta(days=10)
    ref = await create_referral(db, world.squad, case.id, team_ids=world.team, report="报告", at=t0)
    nowhere = uuid.uuid4()
    assert await _refused(record_decision(db, world.squad, ref.id, approved=True)) == _role(
        "captain, admin", "decide on referrals"
    )
    procuratorate = world.county.principal(Role.PROCURATORATE)
    assert await _refused(
        record_transfer(db, procuratorate, ref.id, police_unit="县公安局", materials=MATERIALS)
    ) == _role("security_squad, captain, admin", "handle referrals")
    assert await _refused(record_decision(db, world.captain, nowhere, approved=True)) == (
        "referral_not_found",
        "referral not found",
        {"referral_id": str(nowhere)},
    )
    assert await _refused(
        record_transfer(db, world.squad, ref.id, police_unit="县公安局", materials=MATERIALS)
    ) == _out_of_order("reported", "transfer", "decision")
    assert await _refused(record_police_receipt(db, world.squad, ref.id)) == _out_of_order(
        "reported", "police_receipt", "decision"
    )
    assert await _refused(
        record_decision(db, world.captain, ref.id, approved=True, at=t0 - timedelta(seconds=1))
    ) == _before(t0)
    assert await _refused(record_decision(db, world.captain, ref.id, approved=False)) == (
        "reason_required",
        "a refusal needs its reason",
        {"field": "note"},
    )
    t1 = t0 + timedelta(days=1)
    ref = await record_decision(db, world.captain, ref.id, approved=True, at=t1)
    assert await _refused(
        record_decision(db, world.captain, ref.id, approved=True)
    ) == _out_of_order("approved", "decision", "transfer")

    def transfer(unit: str, materials: list[Material], at: datetime) -> Awaitable[ReferralView]:
        return record_transfer(
            db, world.squad, ref.id, police_unit=unit, materials=materials, at=at
        )

    assert await _refused(transfer("县公安局", MATERIALS, t1 - timedelta(seconds=1))) == _before(t1)
    assert await _refused(transfer(" ", MATERIALS, t1)) == (
        "police_unit_required",
        "name the police unit",
        {"field": "police_unit"},
    )
    odd = [MATERIALS[0], Material("photo", "照片")]
    assert await _refused(transfer("县公安局", odd, t1)) == (
        "invalid_material",
        "unknown material kind",
        {"field": "materials[1].kind"},
    )
    assert await _refused(transfer("县公安局", MATERIALS[1:], t1)) == (
        "missing_materials",
        "the transfer lacks required materials",
        {"missing": ["referral_letter"]},
    )
    t2 = t1 + timedelta(hours=2)
    await transfer("县公安局", MATERIALS, t2)
    assert await _refused(
        record_police_receipt(db, world.squad, ref.id, at=t2 - timedelta(seconds=1))
    ) == _before(t2)
    t3 = t2 + timedelta(hours=2)
    await record_police_receipt(db, world.squad, ref.id, at=t3)
    assert await _refused(record_handover(db, world.squad, ref.id, items=ITEMS)) == _out_of_order(
        "received", "handover", "police_decision"
    )
    assert await _refused(
        record_police_decision(db, world.squad, ref.id, filed=True, at=t3 - timedelta(seconds=1))
    ) == _before(t3)
    assert await _refused(record_police_decision(db, world.squad, ref.id, filed=False)) == (
        "reason_required",
        "a refusal to file needs the police's reason",
        {"field": "reason"},
    )
    t4 = t3 + timedelta(hours=2)
    ref = await record_police_decision(
        db, world.squad, ref.id, filed=False, reason="证据不足", at=t4
    )
    assert await _refused(
        request_reconsideration(db, world.captain, ref.id, reason="r", at=t4 - timedelta(seconds=1))
    ) == _before(t4)
    assert await _refused(
        request_reconsideration(db, world.captain, ref.id, reason=" ", at=t4)
    ) == (
        "reason_required",
        "say why the refusal should be reconsidered",
        {"field": "reason"},
    )
    due = t4 + timedelta(days=3)
    assert await _refused(
        request_reconsideration(
            db, world.captain, ref.id, reason="r", at=due + timedelta(microseconds=1)
        )
    ) == (
        "reconsideration_window_closed",
        "reconsideration must be asked within 3 days of the refusal",
        {"due_at": due.isoformat()},
    )
    t5 = t4 + timedelta(days=1)
    await request_reconsideration(db, world.captain, ref.id, reason="面积已核实", at=t5)
    assert await _refused(
        record_police_decision(db, world.squad, ref.id, filed=True, at=t5 - timedelta(seconds=1))
    ) == _before(t5)
    t6 = t5 + timedelta(hours=2)
    await record_police_decision(db, world.squad, ref.id, filed=True, at=t6)
    # the handover follows the answer to the reconsideration, not the first refusal
    assert await _refused(
        record_handover(db, world.squad, ref.id, items=ITEMS, at=t6 - timedelta(seconds=1))
    ) == _before(t6)
    assert await _refused(record_handover(db, world.squad, ref.id, items=[], at=t6)) == (
        "missing_materials",
        "list what was handed over",
        {"missing": ["items"]},
    )
    done = await record_handover(db, world.squad, ref.id, items=ITEMS, at=t6)
    assert done.status == "handed_over"
    await db.rollback()


async def test_a_handover_after_a_first_filing_follows_the_police_decision(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    t0 = clock.now() - timedelta(days=10)
    ref = await create_referral(db, world.squad, case.id, team_ids=world.team, report="报告", at=t0)
    await record_decision(db, world.captain, ref.id, approved=True, at=t0)
    await record_transfer(
        db, world.squad, ref.id, police_unit="县公安局", materials=MATERIALS, at=t0
    )
    await record_police_receipt(db, world.squad, ref.id, at=t0)
    filed = t0 + timedelta(days=1)
    await record_police_decision(db, world.squad, ref.id, filed=True, at=filed)
    assert await _refused(
        record_handover(db, world.squad, ref.id, items=ITEMS, at=filed - timedelta(seconds=1))
    ) == _before(filed)
    await db.rollback()


async def test_the_readers_of_referrals_flags_and_timers(db: AsyncSession, world: World) -> None:
    nowhere = uuid.uuid4()
    readers = "security_squad, captain, admin, procuratorate"
    assert await _refused(get_referral(db, world.inspector, nowhere)) == _role(
        readers, "see referrals"
    )
    assert await _refused(list_referrals(db, world.inspector)) == _role(readers, "see referrals")
    assert await _refused(overdue_steps(db, world.inspector)) == _role(
        readers, "see referral timers"
    )
    assert await _refused(list_flags(db, world.inspector)) == _role(
        "security_squad, captain, admin", "see referral flags"
    )
    assert await _refused(get_referral(db, world.captain, nowhere)) == (
        "referral_not_found",
        "referral not found",
        {"referral_id": str(nowhere)},
    )


async def test_flags_are_listed_newest_first_and_by_findings_on_request(
    db: AsyncSession, world: World
) -> None:
    finding = await make_finding(db, world)
    on_case = await flagged_case(db, world)
    on_finding = await flag_for_referral(db, world.captain, finding_id=finding, reason="疑似")
    await db.commit()
    flags = await list_flags(db, world.squad)
    assert [(f.case_id, f.finding_id) for f in flags] == [(None, finding), (on_case.id, None)]
    only = await list_flags(db, world.admin, findings_only=True)
    assert [f.id for f in only] == [on_finding.id]


async def test_overdue_is_past_the_due_instant_as_of_the_time_asked(
    db: AsyncSession, world: World
) -> None:
    t0 = clock.now() - timedelta(days=1)
    refs = []
    for start in (t0, t0 - timedelta(hours=1)):  # the second falls due an hour earlier
        case = await flagged_case(db, world)
        refs.append(
            await create_referral(
                db, world.squad, case.id, team_ids=world.team, report="报告", at=start
            )
        )
    later, earlier = refs
    due = later.decision_due_at
    assert due == t0 + timedelta(days=3)
    just_after = due + timedelta(microseconds=1)
    # a refusal by the police, whose optional reconsideration window ran out long ago
    refused = await flagged_case(db, world)
    old = clock.now() - timedelta(days=20)
    gone = await create_referral(
        db, world.squad, refused.id, team_ids=world.team, report="报告", at=old
    )
    await record_decision(db, world.captain, gone.id, approved=True, at=old)
    await record_transfer(
        db, world.squad, gone.id, police_unit="县公安局", materials=MATERIALS, at=old
    )
    await record_police_receipt(db, world.squad, gone.id, at=old)
    await record_police_decision(db, world.squad, gone.id, filed=False, reason="否", at=old)
    # a rejected one: no next step, never overdue
    closed_case = await flagged_case(db, world)
    closed = await create_referral(
        db, world.squad, closed_case.id, team_ids=world.team, report="报告", at=old
    )
    await record_decision(db, world.captain, closed.id, approved=False, note="证据不足", at=old)
    await db.commit()

    at_due = await overdue_steps(db, world.captain, now=due)
    assert [(s.referral_id, s.overdue_s) for s in at_due] == [(earlier.id, 3600)]
    after = await overdue_steps(db, world.captain, now=just_after)
    assert [(s.referral_id, s.overdue_s) for s in after] == [(earlier.id, 3601), (later.id, 1)]
    assert after[1].case_no == (await get_referral(db, world.squad, later.id)).case_no

    assert not (await get_referral(db, world.squad, later.id, now=due)).overdue
    assert (await get_referral(db, world.squad, later.id, now=just_after)).overdue

    def ids(views: list[ReferralView]) -> list[uuid.UUID]:
        return [v.id for v in views]

    mine = {later.id, earlier.id, gone.id, closed.id}
    overdue = await list_referrals(db, world.captain, overdue=True, now=due)
    assert ids(overdue) == [earlier.id]
    assert [v.overdue for v in overdue] == [True]
    on_time = await list_referrals(db, world.captain, overdue=False, now=due)
    assert set(ids(on_time)) == {later.id, gone.id, closed.id}
    assert not any(v.overdue for v in on_time)
    late_now = await list_referrals(db, world.captain, overdue=True, now=just_after)
    assert ids(late_now) == [earlier.id, later.id]  # newest first
    assert ids(await list_referrals(db, world.captain, case_id=refused.id)) == [gone.id]
    every = ids(await list_referrals(db, world.captain))
    assert set(every) == mine
    assert ids(await list_referrals(db, world.captain, limit=1)) == every[:1]
    assert ids(await list_referrals(db, world.captain, limit=0)) == every[:1]
    assert ids(await list_referrals(db, world.captain, limit=2, offset=1)) == every[1:3]
    assert ids(await list_referrals(db, world.captain, offset=-1)) == every


async def _details(db: AsyncSession, referral_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    rows = await db.execute(
        select(CaseEvent.kind, CaseEvent.details)
        .where(CaseEvent.referral_id == referral_id)
        .order_by(CaseEvent.at)
    )
    return [(kind, dict(details)) for kind, details in rows.all()]


def _on_time(**kw: object) -> dict[str, object]:
    return {**kw, "late": False, "late_by_s": 0}


async def test_each_step_answers_with_what_it_recorded(db: AsyncSession, world: World) -> None:
    case = await flagged_case(db, world)
    t0 = clock.now() - timedelta(days=30)
    ref = await create_referral(
        db, world.squad, case.id, team_ids=world.team, report="  涉嫌非法占用农用地罪 ", at=t0
    )
    assert (ref.status, ref.report, ref.reported_by, ref.reported_at) == (
        "reported",
        "涉嫌非法占用农用地罪",
        world.squad.user_id,
        t0,
    )
    assert (ref.team_ids, ref.next_step, ref.next_due_at) == (
        tuple(world.team),
        "decision",
        t0 + timedelta(days=3),
    )
    assert ref.decision is None and ref.steps == ()
    t1 = t0 + timedelta(days=4)  # a day late
    ref = await record_decision(db, world.captain, ref.id, approved=True, note=" 同意 ", at=t1)
    assert (ref.decision, ref.decided_by, ref.decided_at, ref.decision_note) == (
        "approved",
        world.captain.user_id,
        t1,
        "同意",
    )
    assert (ref.next_step, ref.next_due_at, ref.closed_at) == ("transfer", t1 + timedelta(1), None)
    t2 = t1 + timedelta(hours=20)
    ref = await record_transfer(
        db, world.squad, ref.id, police_unit=" 县公安局 ", materials=MATERIALS, at=t2
    )
    assert (ref.police_unit, ref.materials, ref.transferred_at) == (
        "县公安局",
        tuple(MATERIALS),
        t2,
    )
    t3 = t2 + timedelta(days=3, seconds=2)  # two seconds late
    ref = await record_police_receipt(db, world.squad, ref.id, receipt_no=" 回执001 ", at=t3)
    assert (ref.receipt_no, ref.receipt_at) == ("回执001", t3)
    assert (ref.next_step, ref.next_due_at) == ("police_decision", t3 + timedelta(days=3))
    t4 = t3 + timedelta(days=1)
    ref = await record_police_decision(
        db, world.squad, ref.id, filed=False, decision_no=" 不立1号 ", reason=" 证据不足 ", at=t4
    )
    assert (ref.police_decision, ref.police_decided_at) == ("not_filed", t4)
    assert (ref.police_decision_no, ref.police_reason) == ("不立1号", "证据不足")
    t5 = t4 + timedelta(days=1)
    ref = await request_reconsideration(db, world.captain, ref.id, reason=" 已核实 ", at=t5)
    assert (ref.reconsideration_requested_at, ref.reconsideration_reason) == (t5, "已核实")
    t6 = t5 + timedelta(days=3, microseconds=1)  # a microsecond late: one second
    ref = await record_police_decision(db, world.squad, ref.id, filed=True, at=t6)
    assert (ref.status, ref.reconsideration_result, ref.reconsideration_decided_at) == (
        "police_filed",
        "filed",
        t6,
    )
    assert ref.police_decision == "not_filed"  # the first answer stays on record
    t7 = t6 + timedelta(days=1)
    ref = await record_handover(db, world.squad, ref.id, items=ITEMS, at=t7)
    assert (ref.handed_over_at, ref.handover_items, ref.closed_at) == (t7, tuple(ITEMS), t7)
    assert [(s.step, s.done_at, s.late, s.late_by_s) for s in ref.steps] == [
        ("decision", t1, True, 86_400),
        ("transfer", t2, False, 0),
        ("police_receipt", t3, True, 2),
        ("police_decision", t4, False, 0),
        ("reconsideration_request", t5, False, 0),
        ("reconsideration_decision", t6, True, 1),
        ("handover", t7, False, 0),
    ]
    assert ref.late
    assert await _details(db, ref.id) == [
        ("referral.reported", {"status": "reported", "team_ids": [str(i) for i in world.team]}),
        (
            "referral.decision",
            {"status": "approved", "decision": "approved", "late": True, "late_by_s": 86_400},
        ),
        ("referral.transfer", _on_time(status="transferred", police_unit="县公安局")),
        (
            "referral.police_receipt",
            {"status": "received", "receipt_no": "回执001", "late": True, "late_by_s": 2},
        ),
        (
            "referral.police_decision",
            _on_time(status="not_filed", result="not_filed", decision_no="不立1号"),
        ),
        ("referral.reconsideration_request", _on_time(status="reconsideration")),
        (
            "referral.reconsideration_decision",
            {
                "status": "police_filed",
                "result": "filed",
                "decision_no": "",
                "late": True,
                "late_by_s": 1,
            },
        ),
        ("referral.handover", _on_time(status="handed_over", items=1)),
    ]
    await db.rollback()


async def test_a_refusal_closes_the_referral_and_gives_the_case_back_each_time(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    before = (await get_case(db, world.captain, case.id)).status
    t0 = clock.now() - timedelta(days=3)
    for n in range(2):  # an earlier refused referral does not keep the case referred
        at = t0 + timedelta(hours=n)
        ref = await create_referral(
            db, world.squad, case.id, team_ids=world.team, report="报告", at=at
        )
        assert (await get_case(db, world.captain, case.id)).status == "referred"
        ref = await record_decision(db, world.captain, ref.id, approved=False, note="否", at=at)
        assert (ref.status, ref.decision, ref.closed_at, ref.next_step) == (
            "rejected",
            "rejected",
            at,
            None,
        )
        assert (await get_case(db, world.captain, case.id)).status == before
    await db.rollback()
