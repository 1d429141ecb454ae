"""A case follows its referral, as the captain and the squad see it through the app.

``referred`` from the team's report on; back where it was when the head or the police turn
the referral down (and ``referred`` again for a reconsideration); still ``referred`` once the
police filed the case and got its items, until a captain closes it or resumes the
administrative procedure. No manual move while the referral is open; every move is in the
case's history. The squad keeps seeing the case throughout.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.models import CaseEvent
from infra.scope import Role
from tests import clock
from tests.cases.rest import MATERIALS, Rest

TICK = timedelta(milliseconds=1)


def _now() -> datetime:
    """Steps are timed a millisecond apart from now on: after the captain's earlier moves
    and before his later ones (which happen at the server's time), so the history's order
    by time is the order of the moves."""
    return clock.now()


async def _status(rest: Rest, case_id: str) -> tuple[str, str | None]:
    """The status and ``referredFrom``, the same for the captain and the squad."""
    captain = await rest.case_as(Role.CAPTAIN, case_id)
    squad = await rest.case_as(Role.SECURITY_SQUAD, case_id)
    assert (squad["status"], squad.get("referredFrom")) == (
        captain["status"],
        captain.get("referredFrom"),
    )
    return captain["status"], captain.get("referredFrom")


async def _moves(db: AsyncSession, case_id: str) -> list[tuple[str, str, str | None]]:
    """The case's status history: (from, to, referral step or None for a captain's move)."""
    rows = (
        await db.scalars(
            select(CaseEvent.details)
            .where(CaseEvent.case_id == uuid.UUID(case_id), CaseEvent.kind == "status")
            .order_by(CaseEvent.at, CaseEvent.id)
        )
    ).all()
    return [(d["from"], d["to"], d.get("step")) for d in rows]


async def _to_police(rest: Rest, case_id: str, t0: datetime) -> str:
    """Refer at ``t0``; approved, transferred and received a millisecond apart each."""
    rid = str((await rest.refer(case_id, t0))["id"])
    assert await _status(rest, case_id) == ("referred", "investigating")
    await rest.step(rid, "decision", t0 + TICK, role=Role.CAPTAIN, approved=True)
    assert await _status(rest, case_id) == ("referred", "investigating")
    await rest.step(rid, "transfer", t0 + 2 * TICK, policeUnit="县公安局", materials=MATERIALS)
    assert await _status(rest, case_id) == ("referred", "investigating")
    await rest.step(rid, "police-receipt", t0 + 3 * TICK, receiptNo="回执7")
    assert await _status(rest, case_id) == ("referred", "investigating")
    return rid


async def test_accepted_by_the_police_the_case_stays_referred_until_closed(
    client: Any, make_county: Any, db: AsyncSession
) -> None:
    rest = Rest(client, await make_county())
    case_id = await rest.flagged_case(statuses=("filed", "investigating"))
    assert await _status(rest, case_id) == ("investigating", None)  # a flag alone moves nothing
    t0 = _now()
    rid = await _to_police(rest, case_id, t0)

    # while the referral is open the status is the referral's, not the captain's
    refused = await rest.post(
        Role.CAPTAIN, f"/cases/{case_id}/status", {"status": "decided"}, expect=409
    )
    assert refused["code"] == "invalid_status_transition"
    assert refused["details"]["allowed"] == [] and refused["details"]["referralId"] == rid
    await rest.step(rid, "police-decision", t0 + 4 * TICK, filed=True, decisionNo="立字1号")
    assert await _status(rest, case_id) == ("referred", "investigating")
    items = [{"kind": "item", "title": "挖掘机钥匙"}]
    ref = await rest.step(rid, "handover", t0 + 5 * TICK, items=items)
    assert ref["status"] == "handed_over" and ref["closedAt"] is not None
    assert await _status(rest, case_id) == ("referred", "investigating")
    for role in (Role.CAPTAIN, Role.SECURITY_SQUAD):
        listed = await rest.get(role, "/cases?status=referred")
        assert [c["id"] for c in listed] == [case_id]
    # a second referral (new facts) turned down by the head: the police still have the case
    second = str((await rest.refer(case_id, t0 + 6 * TICK))["id"])
    await rest.step(
        second, "decision", t0 + 7 * TICK, role=Role.CAPTAIN, approved=False, note="已移送"
    )
    assert await _status(rest, case_id) == ("referred", "investigating")

    # the police have it: the captain may close it, terminate it or resume where it was
    refused = await rest.post(
        Role.CAPTAIN, f"/cases/{case_id}/status", {"status": "decided"}, expect=409
    )
    assert refused["details"]["allowed"] == ["closed", "investigating", "terminated"]
    closed = await rest.post(Role.CAPTAIN, f"/cases/{case_id}/status", {"status": "closed"})
    assert (closed["status"], closed.get("referredFrom")) == ("closed", None)
    assert await _status(rest, case_id) == ("closed", None)

    assert await _moves(db, case_id) == [
        ("clue", "filed", None),
        ("filed", "investigating", None),
        ("investigating", "referred", "reported"),
        ("referred", "closed", None),
    ]


async def test_refused_by_the_police_the_case_returns_and_goes_again_on_reconsideration(
    client: Any, make_county: Any, db: AsyncSession
) -> None:
    rest = Rest(client, await make_county())
    case_id = await rest.flagged_case(statuses=("filed", "investigating"))
    t0 = _now()
    rid = await _to_police(rest, case_id, t0)

    ref = await rest.step(rid, "police-decision", t0 + 4 * TICK, filed=False, reason="证据不足")
    assert ref["status"] == "not_filed"
    assert await _status(rest, case_id) == ("investigating", None)  # returned to the brigade
    ref = await rest.step(
        rid, "reconsideration", t0 + 5 * TICK, role=Role.CAPTAIN, reason="面积已测绘核实"
    )
    assert await _status(rest, case_id) == ("referred", "investigating")
    ref = await rest.step(rid, "police-decision", t0 + 6 * TICK, filed=False, reason="维持")
    assert ref["status"] == "closed_not_filed"
    assert await _status(rest, case_id) == ("investigating", None)
    # back with the brigade, the administrative procedure goes on
    moved = await rest.post(Role.CAPTAIN, f"/cases/{case_id}/status", {"status": "decided"})
    assert moved["status"] == "decided"
    # the squad still sees the referred case, read through the referral
    assert case_id in {c["id"] for c in await rest.get(Role.SECURITY_SQUAD, "/cases")}
    assert case_id in {c["id"] for c in await rest.get(Role.SECURITY_SQUAD, "/cases?referred=true")}

    assert await _moves(db, case_id) == [
        ("clue", "filed", None),
        ("filed", "investigating", None),
        ("investigating", "referred", "reported"),
        ("referred", "investigating", "police_decision"),
        ("investigating", "referred", "reconsideration_request"),
        ("referred", "investigating", "reconsideration_decision"),
        ("investigating", "decided", None),
    ]


async def test_refused_by_the_head_the_case_returns(
    client: Any, make_county: Any, db: AsyncSession
) -> None:
    rest = Rest(client, await make_county())
    case_id = await rest.flagged_case()
    opened = datetime.fromisoformat((await rest.case_as(Role.CAPTAIN, case_id))["statusChangedAt"])
    # a report dated before the case was opened: the move is dated when the case was opened
    rid = str((await rest.refer(case_id, opened - timedelta(hours=3)))["id"])
    assert await _status(rest, case_id) == ("referred", "clue")
    t0 = _now()
    ref = await rest.step(rid, "decision", t0, role=Role.CAPTAIN, approved=False, note="不够")
    assert ref["status"] == "rejected"
    assert await _status(rest, case_id) == ("clue", None)
    # a new referral takes it again
    again = str((await rest.refer(case_id, t0 + TICK))["id"])
    assert await _status(rest, case_id) == ("referred", "clue")
    history = (
        await db.execute(
            select(CaseEvent.at, CaseEvent.actor_id, CaseEvent.details)
            .where(CaseEvent.case_id == uuid.UUID(case_id), CaseEvent.kind == "status")
            .order_by(CaseEvent.at)
        )
    ).all()
    captain, squad = (rest.county.users[r].id for r in (Role.CAPTAIN, Role.SECURITY_SQUAD))
    assert [(at, actor, d["to"], d["referral_id"]) for at, actor, d in history] == [
        (opened, squad, "referred", rid),
        (t0, captain, "clue", rid),
        (t0 + TICK, squad, "referred", again),
    ]
    case = await rest.case_as(Role.SECURITY_SQUAD, case_id)
    assert datetime.fromisoformat(case["statusChangedAt"]) == t0 + TICK


async def test_a_finished_case_is_not_referred_and_a_suspended_one_resumes_suspended(
    client: Any, make_county: Any
) -> None:
    rest = Rest(client, await make_county())
    withdrawn = await rest.flagged_case(statuses=("withdrawn",))
    t0 = _now()
    team = [str(rest.county.users[r].id) for r in (Role.SECURITY_SQUAD, Role.CAPTAIN)]
    body = {"teamIds": team, "report": "报告", "at": t0.isoformat()}
    refused = await rest.post(
        Role.SECURITY_SQUAD, f"/cases/{withdrawn}/referrals", body, expect=409
    )
    assert refused["code"] == "case_closed"
    assert (await rest.get(Role.CAPTAIN, f"/referrals?caseId={withdrawn}")) == []

    suspended = await rest.flagged_case(statuses=("filed",))
    await rest.post(
        Role.CAPTAIN, f"/cases/{suspended}/status", {"status": "suspended", "reason": "等待鉴定"}
    )
    t0 = _now()
    rid = str((await rest.refer(suspended, t0))["id"])
    case = await rest.case_as(Role.CAPTAIN, suspended)
    assert (case["status"], case["referredFrom"], case["suspendedFrom"]) == (
        "referred",
        "suspended",
        "filed",
    )
    await rest.step(rid, "decision", t0 + TICK, role=Role.CAPTAIN, approved=False, note="不移送")
    case = await rest.case_as(Role.CAPTAIN, suspended)
    assert (case["status"], case.get("referredFrom"), case["suspendedFrom"]) == (
        "suspended",
        None,
        "filed",
    )
    resumed = await rest.post(Role.CAPTAIN, f"/cases/{suspended}/status", {"status": "filed"})
    assert resumed["status"] == "filed"
