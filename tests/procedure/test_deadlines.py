"""Each statutory deadline of the penalty procedure at its exact edge, with the app's clock.

The check that found the case is Wednesday 18 November 2026, 10:00 in China
(:data:`tests.clock.NOW`). Days are China's: "within N days" of an act ends at the midnight
closing the Nth day after the act's day, and an act at that instant is late.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases import procedure
from infra.scope import Role
from infra.settings import ProcedureSettings
from patrol.field_models import PatrolAlert
from tests import clock
from tests.procedure.conftest import Flow, china, wire

TINY = timedelta(microseconds=1)
T0 = clock.NOW  # Wednesday 18 November 2026, 10:00 in China


async def _filed(flow: Flow, **extra: Any) -> str:
    case_id = await flow.open_case(**extra)
    await flow.step(case_id, "clue", T0)
    await flow.step(case_id, "filing", T0 + timedelta(hours=1))
    return case_id


async def _alerts(factory: async_sessionmaker[AsyncSession], case_id: str) -> list[PatrolAlert]:
    """The case's overdue alerts (their key names the case)."""
    async with factory() as session:
        rows = await session.scalars(
            select(PatrolAlert).where(
                PatrolAlert.kind == "case_step_overdue", PatrolAlert.dedupe_key.contains(case_id)
            )
        )
        return list(rows.all())


async def _sweep(factory: async_sessionmaker[AsyncSession], now: Any) -> tuple[int, int]:
    async with factory() as session:
        counts = await procedure.raise_overdue_alerts(session, now, ProcedureSettings())
        await session.commit()
    return counts


async def test_filing_is_due_ten_working_days_after_the_check_and_an_overdue_one_alerts(
    flow: Flow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    # Thursday the 19th is the first working day after the check, Wednesday 2 December the
    # tenth: filing is due by the midnight that closes it
    due = china(2026, 12, 3)
    on_time, late = await flow.open_case(), await flow.open_case()
    for case_id in (on_time, late):
        await flow.step(case_id, "clue", T0, Role.INSPECTOR)  # the lead records the check
    deadline = await flow.deadline(on_time, "filing")
    assert deadline["startsAt"] == wire(T0)
    assert deadline["dueAt"] == wire(due)
    assert (deadline["kind"], deadline["overdue"]) == ("duty", False)

    # the sweep just before the due time raises nothing; at it, one alert per late case
    assert await _sweep(session_factory, due - TINY) == (0, 0)
    await flow.step(on_time, "filing", due - TINY)
    raised, _ = await _sweep(session_factory, due)
    case_no = (await flow.procedure(late))["caseNo"]
    [alert] = await _alerts(session_factory, late)
    assert alert.resolved_at is None
    assert alert.message == f"案件{case_no}：立案已逾期（期限2026-12-03 00:00）"
    assert raised >= 1 and await _sweep(session_factory, due) == (0, 0)  # idempotent
    flow.clock.now = due
    assert (await flow.deadline(late, "filing"))["overdue"] is True
    # in the captains' feed, not in the squad's (the procedure of every case is not theirs)
    query = "/alerts?kind=case_step_overdue"
    assert [a["message"] for a in await flow.call("GET", query)] == [alert.message]
    assert await flow.call("GET", query, Role.SECURITY_SQUAD) == []

    # the captain files it at last: late, and its alert resolved by the step
    await flow.step(late, "filing", due + timedelta(hours=2))
    assert (await flow.deadline(on_time, "filing"))["late"] is False
    deadline = await flow.deadline(late, "filing")
    assert (deadline["late"], deadline["overdue"]) == (True, False)
    [alert] = await _alerts(session_factory, late)
    assert alert.resolution == "case_step_done"
    assert alert.resolved_at == due + timedelta(hours=2)


async def test_the_filing_deadline_counts_the_countys_working_days(flow: Flow) -> None:
    # the admin marks Monday the 23rd a holiday and Saturday the 28th a working day
    for day, kind in (("2026-11-23", "holiday"), ("2026-11-28", "workday")):
        await flow.call("POST", "/work-calendar", Role.ADMIN, {"day": day, "kind": kind})
    case_id = await flow.open_case()
    await flow.step(case_id, "clue", T0)
    # 19, 20, (23 off), 24, 25, 26, 27, 28 (worked), 30, 1, 2 -> the tenth is 2 December
    assert (await flow.deadline(case_id, "filing"))["dueAt"] == wire(china(2026, 12, 3))


async def test_ninety_days_to_decide_with_a_pause_that_does_not_count(flow: Flow) -> None:
    filed_at = T0 + timedelta(hours=1)
    on_time, late = await _filed(flow), await _filed(flow)
    for case_id in (on_time, late):
        await flow.step(case_id, "investigation", T0 + timedelta(days=1), summary="现场勘验")
        # an appraisal of the damage from 1 to 11 December: ten days not counted
        await flow.step(case_id, "clock_pause", china(2026, 12, 1, 10), reasonKind="appraisal")
        paused = await flow.procedure(case_id)
        assert paused["pausedFor"] == "appraisal"
        await flow.step(case_id, "clock_resume", china(2026, 12, 11, 10), Role.INSPECTOR)
    # filed on 18 November: the 90th day is 16 February, and the pause adds its ten days
    due = china(2027, 2, 17) + timedelta(days=10)
    deadline = await flow.deadline(on_time, "decision")
    assert deadline["startsAt"] == wire(filed_at)
    assert deadline["dueAt"] == wire(due)
    assert (deadline["daysAllowed"], deadline["daysPaused"]) == (90, 10.0)

    await flow.step(on_time, "decision", due - TINY, option="facts_not_established")
    await flow.step(late, "decision", due, option="facts_not_established")
    decided = await flow.deadline(on_time, "decision")
    assert (decided["late"], decided["doneAt"]) == (False, wire(due - TINY))
    # the days that count: from filing to the decision, less the pause
    counted = due - TINY - filed_at - timedelta(days=10)
    assert decided["daysCounted"] == round(counted / timedelta(days=1), 1) == 90.5
    assert (await flow.deadline(late, "decision"))["late"] is True
    # the decision moved the coarse status
    case = await flow.call("GET", f"/cases/{on_time}")
    assert case["status"] == "decided"


async def test_a_hearing_pauses_the_ninety_days_and_an_extension_adds_its_days(
    flow: Flow,
) -> None:
    case_id = await _filed(flow)
    await flow.step(case_id, "investigation", T0 + timedelta(days=1), summary="询问笔录")
    await flow.step(case_id, "extension_request", T0 + timedelta(days=2), Role.INSPECTOR,
                    days=30, reason="案情复杂，需补充鉴定")  # fmt: skip
    proc = await flow.procedure(case_id)
    assert "extension_approval" in proc["nextSteps"]
    await flow.step(case_id, "extension_approval", T0 + timedelta(days=3), days=30)
    deadline = await flow.deadline(case_id, "decision")
    assert deadline["daysAllowed"] == 120
    assert deadline["dueAt"] == wire(china(2027, 3, 19))  # 18 Nov + 120 days, end of day


async def test_the_party_has_five_days_to_answer_the_notice_and_to_ask_for_a_hearing(
    flow: Flow,
) -> None:
    notice_at = T0 + timedelta(days=2)  # Friday 20 November, 10:00
    window = china(2026, 11, 26)  # the end of Wednesday the 25th
    cases = []
    for _ in range(2):
        case_id = await _filed(flow)
        await flow.step(case_id, "investigation", T0 + timedelta(days=1), summary="勘验")
        # a fine of 150 yuan/m²: above the person's large fine, so the party may ask a hearing
        await flow.penalty(case_id, _occupation_penalty(amount=await _per_m2(flow, case_id, 150)))
        await flow.step(case_id, "legal_review", notice_at - timedelta(hours=3), opinion="同意")
        await flow.step(case_id, "collective_discussion", notice_at - timedelta(hours=2),
                        conclusion="拟处罚")  # fmt: skip
        await flow.step(case_id, "notice", notice_at)
        cases.append(case_id)
    first, second = cases
    statement = await flow.deadline(first, "statement")
    assert (statement["kind"], statement["dueAt"]) == ("party", wire(window))
    assert (await flow.deadline(first, "hearing_requested"))["dueAt"] == wire(window)

    # no decision while the party may still speak: the expected step is named
    problem = await flow.step(first, "decision", window - TINY, expect=409, option="penalty")
    assert problem["code"] == "case_step_out_of_order"
    assert problem["details"]["expectedStep"] == "statement"
    # a hearing asked at the last instant is taken; at the due time it is refused
    await flow.step(first, "hearing_requested", window - TINY, Role.INSPECTOR)
    late = await flow.step(second, "hearing_requested", window, Role.INSPECTOR, expect=409)
    assert late["code"] == "hearing_request_late"
    # the second party let the five days pass: the decision may come now
    await flow.step(
        second, "decision", window, option="penalty", decisionNo="某自然然罚〔2026〕1号"
    )
    # the first asked for a hearing: the decision waits for its notice and the hearing
    problem = await flow.step(first, "decision", window, expect=409, option="penalty")
    assert problem["details"]["expectedStep"] == "hearing_notified"


async def test_a_hearing_is_notified_seven_days_ahead(flow: Flow) -> None:
    case_id = await _filed(flow)
    await flow.step(case_id, "investigation", T0 + timedelta(days=1), summary="勘验")
    await flow.penalty(case_id, _occupation_penalty(amount=await _per_m2(flow, case_id, 150)))
    await flow.step(case_id, "legal_review", T0 + timedelta(days=1, hours=1), opinion="同意")
    await flow.step(case_id, "collective_discussion", T0 + timedelta(days=1, hours=2),
                    conclusion="拟处罚")  # fmt: skip
    await flow.step(case_id, "notice", T0 + timedelta(days=2))
    await flow.step(case_id, "hearing_requested", T0 + timedelta(days=3), Role.INSPECTOR)
    notified = china(2026, 11, 25, 9)
    # notified on the 25th: the hearing is on 2 December at the earliest
    short = await flow.step(case_id, "hearing_notified", notified, expect=422,
                            hearingOn="2026-12-01", place="县局听证室")  # fmt: skip
    assert short["code"] == "hearing_notice_too_short"
    assert short["details"]["earliest"] == "2026-12-02"
    await flow.step(
        case_id, "hearing_notified", notified, hearingOn="2026-12-02", place="县局听证室"
    )
    # the hearing interval (asked on the 21st, held on 2 December) is not counted
    await flow.step(case_id, "hearing_held", china(2026, 12, 2, 9), summary="当事人到场陈述")
    deadline = await flow.deadline(case_id, "decision")
    paused = china(2026, 12, 2, 9) - (T0 + timedelta(days=3))
    assert deadline["daysPaused"] == round(paused / timedelta(days=1), 1)
    assert deadline["dueAt"] == wire(china(2027, 2, 17) + paused)


async def test_service_is_due_seven_days_after_the_decision(
    flow: Flow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    decided_at = T0 + timedelta(days=10)  # Saturday 28 November
    due = china(2026, 12, 6)  # the end of Saturday 5 December
    on_time, late = await _decided(flow, decided_at), await _decided(flow, decided_at)
    assert (await flow.deadline(on_time, "service"))["dueAt"] == wire(due)
    await flow.step(on_time, "service", due - TINY, Role.INSPECTOR, method="left_at_residence",
                    partyPresent=False)  # fmt: skip
    await _sweep(session_factory, due)
    [alert] = await _alerts(session_factory, late)
    assert "送达已逾期" in alert.message
    assert await _alerts(session_factory, on_time) == []
    await flow.step(
        late, "service", due, Role.INSPECTOR, method="public_notice", partyPresent=False
    )
    assert (await flow.deadline(on_time, "service"))["late"] is False
    assert (await flow.deadline(late, "service"))["late"] is True
    [alert] = await _alerts(session_factory, late)
    assert alert.resolution == "case_step_done"
    steps = await flow.call("GET", f"/cases/{late}/steps")
    assert steps[-1]["details"] == {"method": "public_notice", "party_present": False}


async def test_court_enforcement_of_a_demolition_order_waits_fifteen_days(flow: Flow) -> None:
    served = T0 + timedelta(days=11)  # Sunday 29 November
    case_id = await _decided(flow, T0 + timedelta(days=10), demolish=True)
    await flow.step(case_id, "service", served, Role.INSPECTOR, method="direct")
    earliest = china(2026, 12, 15)  # the 15 days to sue end with Monday 14 December
    window = await flow.deadline(case_id, "court_enforcement")
    assert (window["kind"], window["dueAt"]) == ("waiting", wire(earliest))
    early = await flow.step(case_id, "court_enforcement", earliest - TINY, expect=409,
                            court="县人民法院")  # fmt: skip
    assert early["code"] == "enforcement_too_early"
    assert early["details"]["earliest"] == "2026-12-15 00:00"
    await flow.step(case_id, "court_enforcement", earliest, court="县人民法院")
    case = await flow.call("GET", f"/cases/{case_id}")
    assert case["status"] == "executing"


# -- helpers -------------------------------------------------------------------------------------
def _occupation_penalty(*, amount: str, demolish: bool = False) -> dict[str, Any]:
    measures = [{"kind": "return_land", "deadlineDays": 15}]
    if demolish:
        measures.append({"kind": "demolish", "deadlineDays": 15})
    return {
        "parties": [{"name": "张三", "kind": "person", "idNo": "11010519491231002X"}],
        "violations": [{"article": "lal_77", "facts": "未经批准占用耕地建设厂房"}],
        "measures": measures,
        "fines": [{"article": "lalr_57", "amountYuan": amount}],
    }


async def _per_m2(flow: Flow, case_id: str, yuan: int) -> str:
    """A fine of ``yuan`` per m² of the case's occupied area."""
    area = (await flow.call("GET", f"/cases/{case_id}"))["areas"]["totalM2"]
    return f"{area * yuan:.2f}"


async def _decided(flow: Flow, at: Any, *, demolish: bool = False) -> str:
    """A case decided with a penalty at ``at``: an order to return the land (no hearing, not
    major), or with ``demolish`` a demolition order and a fine (a hearing right, major: legal
    review and collective discussion first; the party lets the five days pass)."""
    case_id = await _filed(flow)
    await flow.step(case_id, "investigation", T0 + timedelta(days=1), summary="勘验")
    body = _occupation_penalty(amount="0", demolish=demolish)
    if demolish:
        body["fines"][0]["amountYuan"] = await _per_m2(flow, case_id, 150)
    else:
        del body["fines"]
    penalty = await flow.penalty(case_id, body)
    assert (penalty["hearingTriggered"], penalty["major"]) == (demolish, demolish)
    notice_at = at - timedelta(days=6)
    if demolish:
        await flow.step(case_id, "legal_review", notice_at - timedelta(hours=2), opinion="同意")
        await flow.step(case_id, "collective_discussion", notice_at - timedelta(hours=1),
                        conclusion="同意")  # fmt: skip
    await flow.step(case_id, "notice", notice_at)
    await flow.step(case_id, "statement", notice_at + timedelta(hours=1), Role.INSPECTOR,
                    waived=True)  # fmt: skip
    await flow.step(case_id, "decision", at, option="penalty")
    return case_id
