"""Referrals, answer by answer: every refusal with its code, its English detail (the text an
English-speaking caller reads) and its fields; a step dated before the one it follows; the
flags list; the referral lists, timers and overdue marks as of a given instant, at the due
instant and a microsecond after it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import pytest
from sqlalchemy import inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseInput, CaseView, get_case, open_case
from evidence.cases.models import CaseEvent, Referral
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
from patrol.models import User
from tests import clock
from tests.cases.conftest import LAT, LON, make_finding
from tests.cases.test_referrals import MATERIALS, a_case, flagged_case, received_referral
from tests.evidence.test_custody_answers import beijing_local_time  # noqa: F401 - the fixture
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
        record_police_decision(db, world.squad, ref.id, filed=True)
    ) == _out_of_order("reported", "police_decision", "decision")
    assert await _refused(
        request_reconsideration(db, world.captain, ref.id, reason="r")
    ) == _out_of_order("reported", "reconsideration_request", "decision")
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
    received = await record_police_receipt(db, world.squad, ref.id, at=t3)
    assert received.receipt_no == ""  # no number given
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
    ref = await received_referral(db, world, case.id, t0)
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
    gone = await received_referral(db, world, refused.id, old)
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

    # most overdue first whatever plan the database picks: without index scans (or a merge
    # join's sort by case), rows come back as stored, the later-due referral first
    for setting in ("indexscan", "bitmapscan", "indexonlyscan", "mergejoin"):
        await db.execute(text(f"SET LOCAL enable_{setting} = off"))
    unindexed = await overdue_steps(db, world.captain, now=just_after)
    assert [s.referral_id for s in unindexed] == [earlier.id, later.id]


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
    # no materials and no items yet: stored as empty lists (what the package shows), not null
    lists = select(Referral.materials, Referral.handover_items).where(Referral.id == ref.id)
    assert tuple((await db.execute(lists)).one()) == ([], [])
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
    assert (ref.next_step, ref.next_due_at) == ("reconsideration_decision", t5 + timedelta(3))
    t6 = t5 + timedelta(days=3, microseconds=1)  # a microsecond late: one second
    ref = await record_police_decision(db, world.squad, ref.id, filed=True, at=t6)
    assert (ref.status, ref.reconsideration_result, ref.reconsideration_decided_at) == (
        "police_filed",
        "filed",
        t6,
    )
    assert ref.police_decision == "not_filed"  # the first answer stays on record
    assert (ref.next_step, ref.next_due_at, ref.closed_at) == ("handover", t6 + timedelta(3), None)
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
    # each entry of the case's history is at the step's own time, by who recorded it
    rows = await db.execute(
        select(CaseEvent.at, CaseEvent.actor_id)
        .where(CaseEvent.referral_id == ref.id)
        .order_by(CaseEvent.at)
    )
    squad, captain = world.squad.user_id, world.captain.user_id
    assert [tuple(r) for r in rows.all()] == [
        (t0, squad),
        (t1, captain),
        (t2, squad),
        (t3, squad),
        (t4, squad),
        (t5, captain),
        (t6, squad),
        (t7, squad),
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


async def _received(
    db: AsyncSession, world: World, at: datetime, receipt_no: str = "", unit: str = "县公安局"
) -> tuple[CaseView, ReferralView]:
    """A flagged case referred at ``at``, its referral walked to the police receipt (every
    step at ``at``)."""
    case = await flagged_case(db, world)
    ref = await create_referral(db, world.squad, case.id, team_ids=world.team, report="报告", at=at)
    await record_decision(db, world.captain, ref.id, approved=True, at=at)
    await record_transfer(db, world.squad, ref.id, police_unit=unit, materials=MATERIALS, at=at)
    ref = await record_police_receipt(db, world.squad, ref.id, receipt_no=receipt_no, at=at)
    return case, ref


async def test_a_second_refusal_closes_the_referral_and_numbers_keep_sixty_characters(
    db: AsyncSession, world: World
) -> None:
    t0 = clock.now() - timedelta(days=5)
    receipt_no, decision_no = "回执" + "1" * 70, " 不立" + "2" * 70
    unit = "县公安局" * 60  # 240 characters
    case, ref = await _received(db, world, t0, receipt_no=receipt_no, unit=unit)
    assert (ref.police_unit, ref.receipt_no) == (unit[:200], receipt_no[:60])
    t1 = t0 + timedelta(hours=1)
    ref = await record_police_decision(
        db, world.squad, ref.id, filed=False, decision_no=decision_no, reason="否", at=t1
    )
    assert ref.police_decision_no == decision_no.strip()[:60]
    t2 = t1 + timedelta(hours=1)
    await request_reconsideration(db, world.captain, ref.id, reason="已核实", at=t2)
    t3 = t2 + timedelta(hours=1)
    ref = await record_police_decision(db, world.squad, ref.id, filed=False, reason="仍否", at=t3)
    assert (ref.status, ref.reconsideration_result, ref.reconsideration_decided_at) == (
        "closed_not_filed",
        "not_filed",
        t3,
    )
    assert (ref.closed_at, ref.next_step, ref.next_due_at) == (t3, None, None)
    assert ref.police_reason == "否"  # the first refusal's reason stays on record
    # the case is back where it was referred from
    assert (await get_case(db, world.captain, case.id)).status == case.status == "clue"
    details = dict(await _details(db, ref.id))
    assert details["referral.transfer"]["police_unit"] == unit[:200]
    assert details["referral.police_receipt"]["receipt_no"] == receipt_no[:60]
    assert details["referral.police_decision"]["decision_no"] == decision_no.strip()[:60]
    assert details["referral.reconsideration_decision"] == _on_time(
        status="closed_not_filed", result="not_filed", decision_no=""
    )
    await db.rollback()


async def test_a_page_holds_100_referrals_unless_asked_and_500_at_most_newest_first(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    t0 = clock.now() - timedelta(days=1)
    first = await create_referral(
        db, world.squad, case.id, team_ids=world.team, report="报告", at=t0
    )
    await record_decision(db, world.captain, first.id, approved=False, note="否", at=t0)
    # 500 more refused referrals of the case, recorded two at a time (the same instant), with
    # ids in no particular order: newest first, and the greater id first at one instant
    row = await db.get(Referral, first.id)
    assert row is not None
    copied = {
        c.key: getattr(row, c.key)
        for c in inspect(Referral).column_attrs
        if c.key not in ("id", "created_at", "updated_at")
    }
    db.add_all(
        Referral(
            **copied, id=uuid.uuid4(), created_at=row.created_at + timedelta(seconds=1 + n // 2)
        )
        for n in range(500)
    )
    await db.commit()
    mine = select(Referral.created_at, Referral.id).where(Referral.case_id == case.id)
    stored = (await db.execute(mine)).all()
    newest_first = [i for _, i in sorted(stored, reverse=True)]
    assert len(newest_first) == 501

    async def ids(**kw: Any) -> list[uuid.UUID]:
        return [v.id for v in await list_referrals(db, world.captain, case_id=case.id, **kw)]

    assert await ids() == newest_first[:100]
    assert await ids(limit=1000) == newest_first[:500]
    assert await ids(limit=1000, offset=500) == newest_first[500:] == [first.id]


async def test_a_case_from_a_finding_is_flagged_by_the_findings_flag_or_its_own(
    db: AsyncSession, world: World
) -> None:
    flagged, plain = await make_finding(db, world), await make_finding(db, world)
    await flag_for_referral(db, world.captain, finding_id=flagged, reason="疑似非法采矿")

    async def case_from(kind: str, finding: uuid.UUID, case_no: str | None = None) -> CaseView:
        data = CaseInput(
            cause="非法采矿", violation_kind="illegal_mining", lon=LON, lat=LAT,
            source_kind=kind, source_id=finding, case_no=case_no,
        )  # fmt: skip
        return await open_case(db, world.captain, data)

    # a case number no other county has
    from_flagged = await case_from("finding", flagged, case_no=f"F-{flagged}")
    naming = await case_from("other", flagged)
    from_plain = await case_from("finding", plain)
    await db.commit()

    def refer(case: CaseView) -> Awaitable[ReferralView]:
        return create_referral(db, world.captain, case.id, team_ids=world.team, report="报告")

    def not_flagged(case: CaseView) -> tuple[str, str, dict[str, object]]:
        return "case_not_flagged", "flag the case for referral first", {"case_id": str(case.id)}

    ref = await refer(from_flagged)
    assert (ref.case_id, ref.case_no, ref.status) == (from_flagged.id, f"F-{flagged}", "reported")
    assert (await get_referral(db, world.squad, ref.id)).case_no == f"F-{flagged}"
    # the same id named as another kind of source: the finding's flag is not the case's
    assert await _refused(refer(naming)) == not_flagged(naming)
    # another finding's flag does not flag this case; its own flag does
    assert await _refused(refer(from_plain)) == not_flagged(from_plain)
    await flag_for_referral(db, world.captain, case_id=from_plain.id, reason="占用基本农田")
    assert (await refer(from_plain)).status == "reported"
    await db.rollback()


async def test_the_team_is_of_active_officers_of_the_county(
    db: AsyncSession, world: World, other_world: Callable[[], Awaitable[World]]
) -> None:
    case = await flagged_case(db, world)
    elsewhere = (await other_world()).squad.user_id
    gone = world.inspector.user_id
    await db.execute(update(User).where(User.id == gone).values(active=False))
    for outsider in (elsewhere, gone):
        assert await _refused(
            create_referral(
                db, world.squad, case.id, team_ids=[*world.team, outsider], report="报告"
            )
        ) == (
            "unknown_team_member",
            "team members must be active officers of this county",
            {"user_ids": [str(outsider)]},
        )
    await db.rollback()


class _NoOffset(tzinfo):
    """A time zone that does not know its offset: such a time is naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:  # noqa: ARG002
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:  # noqa: ARG002
        return None

    def tzname(self, dt: datetime | None) -> str | None:  # noqa: ARG002
        return None


@pytest.mark.usefixtures("beijing_local_time")
async def test_a_steps_time_is_kept_in_utc_on_a_server_in_chinas_local_time(
    db: AsyncSession, world: World
) -> None:
    case = await flagged_case(db, world)
    unknown = datetime(2026, 11, 1, 8, 0, tzinfo=_NoOffset())
    assert await _refused(
        create_referral(db, world.squad, case.id, team_ids=world.team, report="报告", at=unknown)
    ) == ("invalid_time", "at must carry a time zone offset", {"field": "at"})
    at = datetime(2026, 11, 1, 16, 30, tzinfo=clock.CHINA)
    ref = await create_referral(db, world.squad, case.id, team_ids=world.team, report="报告", at=at)
    assert ref.reported_at.isoformat() == "2026-11-01T08:30:00+00:00"
    assert ref.decision_due_at.isoformat() == "2026-11-04T08:30:00+00:00"
    await db.rollback()


async def test_flagging_again_returns_ones_own_flag_and_the_case_history_keeps_the_first(
    db: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()
    monkeypatch.setattr("evidence.cases.referrals.utcnow", lambda: now)  # the server's clock
    case = await a_case(db, world)
    first, second = await make_finding(db, world), await make_finding(db, world)
    mine = await flag_for_referral(db, world.captain, case_id=case.id, reason=" 占用基本农田 ")
    assert (mine.case_id, mine.finding_id, mine.reason) == (case.id, None, "占用基本农田")
    assert (mine.flagged_by, mine.flagged_at) == (world.captain.user_id, now)
    again = await flag_for_referral(db, world.captain, case_id=case.id, reason="又一次")
    assert again == mine
    # another officer's flag on the same case is a flag of their own
    theirs = await flag_for_referral(db, world.squad, case_id=case.id, reason="同意")
    assert (theirs.flagged_by, theirs.reason) == (world.squad.user_id, "同意")
    assert theirs.id != mine.id
    # each finding is a subject of its own
    on_first = await flag_for_referral(db, world.captain, finding_id=first, reason="疑似")
    on_second = await flag_for_referral(db, world.captain, finding_id=second, reason="疑似")
    assert [f.finding_id for f in (on_first, on_second)] == [first, second]
    assert await flag_for_referral(db, world.captain, finding_id=first, reason="x") == on_first
    await db.commit()
    flags = await list_flags(db, world.captain)
    assert sorted(f.id for f in flags) == sorted(f.id for f in (mine, theirs, on_first, on_second))
    history = await db.execute(
        select(CaseEvent.kind, CaseEvent.actor_id, CaseEvent.details)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "flagged")
        .order_by(CaseEvent.at)
    )
    assert [tuple(r) for r in history.all()] == [
        ("flagged", world.captain.user_id, {"reason": "占用基本农田"}),
        ("flagged", world.squad.user_id, {"reason": "同意"}),
    ]


async def test_a_step_up_to_five_minutes_ahead_of_the_servers_clock_is_taken(
    db: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = await flagged_case(db, world)
    now = clock.now()
    monkeypatch.setattr("evidence.cases.referrals.utcnow", lambda: now)  # the server's clock
    edge = now + timedelta(minutes=5)

    def refer(at: datetime) -> Awaitable[ReferralView]:
        return create_referral(db, world.squad, case.id, team_ids=world.team, report="报告", at=at)

    assert await _refused(refer(edge + timedelta(microseconds=1))) == (
        "invalid_time",
        "at is in the future",
        {"field": "at"},
    )
    assert (await refer(edge)).reported_at == edge
    await db.rollback()
