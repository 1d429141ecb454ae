"""Steps recorded after their deadline are late, by how much: every deadline at its edge.

Two referrals walk the whole procedure through the real app (report, head's decision,
transfer, police receipt, refusal, reconsideration, filing, handover): one records every step
exactly at its due instant (on time), the other one second after each (late by exactly 1 s;
a reconsideration one second after its window is refused instead). The REST answers, the
stored case events and the squad's sync pull say the same.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.models import CaseEvent
from evidence.cases.referrals import step_timing
from infra.scope import Role
from tests import clock
from tests.cases.rest import MATERIALS, Rest, when

SECOND = timedelta(seconds=1)
DAYS_3 = timedelta(days=3)
STEPS = (
    "decision",
    "transfer",
    "police_receipt",
    "police_decision",
    "reconsideration_request",
    "reconsideration_decision",
    "handover",
)


async def _walk(rest: Rest, t0: datetime, slip: timedelta) -> tuple[str, dict[str, Any]]:
    """Refer a case at ``t0`` and record each step ``slip`` after its due time (the
    reconsideration request always at the end of its window). Returns the case id and the
    final referral; asserts each answer's own step timing on the way."""
    case_id = await rest.flagged_case()
    ref = await rest.refer(case_id, t0)
    rid = ref["id"]
    assert when(ref["decisionDueAt"]) == t0 + DAYS_3
    assert (ref["late"], ref["steps"]) == (False, [])

    def last(answer: dict[str, Any], step: str, due: datetime, late_by: int) -> None:
        timing = answer["steps"][-1]
        assert (timing["step"], when(timing["dueAt"])) == (step, due)
        assert when(timing["doneAt"]) == due + (slip if late_by else timedelta())
        assert (timing["late"], timing["lateByS"]) == (late_by > 0, late_by)

    late_by = int(slip.total_seconds())
    due = when(ref["decisionDueAt"])
    ref = await rest.step(rid, "decision", due + slip, role=Role.CAPTAIN, approved=True)
    last(ref, "decision", due, late_by)
    assert when(ref["transferDueAt"]) == due + slip + timedelta(hours=24)

    due = when(ref["transferDueAt"])
    ref = await rest.step(rid, "transfer", due + slip, policeUnit="县公安局", materials=MATERIALS)
    last(ref, "transfer", due, late_by)
    assert when(ref["receiptDueAt"]) == due + slip + DAYS_3

    due = when(ref["receiptDueAt"])
    ref = await rest.step(rid, "police-receipt", due + slip, receiptNo="回执001")
    last(ref, "police_receipt", due, late_by)

    due = when(ref["policeDecisionDueAt"])
    ref = await rest.step(rid, "police-decision", due + slip, filed=False, reason="证据不足")
    last(ref, "police_decision", due, late_by)

    due = when(ref["reconsiderationDueAt"])
    if slip:  # one second after the window: refused, nothing changes
        closed = await rest.step(
            rid, "reconsideration", due + slip, role=Role.CAPTAIN, expect=409, reason="迟了"
        )
        assert closed["code"] == "reconsideration_window_closed"
    ref = await rest.step(rid, "reconsideration", due, role=Role.CAPTAIN, reason="面积已测绘核实")
    timing = ref["steps"][-1]
    assert (timing["step"], timing["late"], timing["lateByS"]) == (STEPS[4], False, 0)
    assert when(timing["doneAt"]) == when(timing["dueAt"]) == due

    due = when(ref["reconsiderationDecisionDueAt"])
    ref = await rest.step(rid, "police-decision", due + slip, filed=True, decisionNo="立字1号")
    last(ref, "reconsideration_decision", due, late_by)

    due = when(ref["handoverDueAt"])
    items = [{"kind": "item", "title": "挖掘机钥匙"}]
    ref = await rest.step(rid, "handover", due + slip, items=items)
    last(ref, "handover", due, late_by)
    assert ref["status"] == "handed_over"
    return case_id, ref


async def test_every_step_is_on_time_at_its_due_instant_and_late_one_second_after(
    client: Any, make_county: Any, db: AsyncSession
) -> None:
    rest = Rest(client, await make_county())
    t0 = clock.now().replace(microsecond=0) - timedelta(days=30)

    on_time_case, on_time = await _walk(rest, t0, timedelta())
    assert [s["step"] for s in on_time["steps"]] == list(STEPS)
    assert [(s["late"], s["lateByS"]) for s in on_time["steps"]] == [(False, 0)] * 7
    assert on_time["late"] is False

    late_case, late = await _walk(rest, t0, SECOND)
    assert [s["step"] for s in late["steps"]] == list(STEPS)
    assert [(s["step"], s["late"], s["lateByS"]) for s in late["steps"]] == [
        (step, step != "reconsideration_request", 0 if step == "reconsideration_request" else 1)
        for step in STEPS
    ]
    assert late["late"] is True
    # the captain and the squad read the same lateness back
    for role in (Role.CAPTAIN, Role.SECURITY_SQUAD):
        again = await rest.get(role, f"/referrals/{late['id']}")
        assert again["steps"] == late["steps"]
    # each step's case event stored the same figure when it was recorded
    events = dict(
        (
            await db.execute(
                select(CaseEvent.kind, CaseEvent.details).where(
                    CaseEvent.referral_id == uuid.UUID(late["id"])
                )
            )
        ).all()
    )
    stored = {
        kind.removeprefix("referral."): (d["late"], d["late_by_s"])
        for kind, d in events.items()
        if "late" in d
    }
    assert stored == {s["step"]: (s["late"], s["lateByS"]) for s in late["steps"]}

    # the squad's phone gets the steps with the case
    page = await rest.post(Role.SECURITY_SQUAD, "/sync/pull", {"limit": 10_000})
    records = {r["id"]: r for r in page["changes"]["cases"]["upserts"]}
    assert not page["hasMore"]
    assert (records[late_case]["referralLate"], records[late_case]["referralSteps"]) == (
        True,
        late["steps"],
    )
    assert (records[on_time_case]["referralLate"], records[on_time_case]["referralSteps"]) == (
        False,
        on_time["steps"],
    )
    assert (records[late_case]["status"], records[late_case]["referralStatus"]) == (
        "referred",
        "handed_over",
    )


async def test_an_open_step_is_overdue_not_late(client: Any, make_county: Any) -> None:
    """Before it is recorded a step past due is ``overdue``; ``late`` speaks of recorded
    steps only."""
    rest = Rest(client, await make_county())
    t0 = clock.now().replace(microsecond=0) - timedelta(days=5)
    ref = await rest.refer(await rest.flagged_case(), t0)
    ref = await rest.get(Role.CAPTAIN, f"/referrals/{ref['id']}")
    assert (ref["overdue"], ref["late"], ref["steps"]) == (True, False, [])
    [feed] = await rest.get(Role.CAPTAIN, "/referrals/overdue")
    assert (feed["step"], feed["overdueS"] >= 2 * 86400) == ("decision", True)


def test_lateness_is_whole_seconds_rounded_up() -> None:
    due = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert (step_timing("transfer", due, due).late, step_timing("x", due, due).late_by_s) == (
        False,
        0,
    )
    early = step_timing("transfer", due, due - timedelta(hours=5))
    assert (early.late, early.late_by_s) == (False, 0)
    micro = step_timing("transfer", due, due + timedelta(microseconds=1))
    assert (micro.late, micro.late_by_s) == (True, 1)
    hours = step_timing("transfer", due, due + timedelta(days=2, hours=3, seconds=7))
    assert (hours.late, hours.late_by_s) == (True, 2 * 86400 + 3 * 3600 + 7)
