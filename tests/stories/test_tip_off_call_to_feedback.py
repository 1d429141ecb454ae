"""A 12336 call, from the desk's phone to the reporter's answer, against the real app,
PostGIS and S3.

The desk takes a call on Friday 20 November 2026 at 17:30 (China); the county admin has
marked Monday the 23rd a holiday and Saturday the 28th a make-up working day. The clue is
acknowledged with a receipt number, decided just within its one working day (by the end of
Tuesday the 24th: the weekend and the holiday do not count), sent for field verification (a
target in the inspector's plan, named by receipt number and clue type only), verified just
within ten working days (the make-up Saturday counts: by the end of Friday 4 December),
handled with a stop order and fed back just within fifteen (by the end of Friday 11
December). A second clue decided at the exact due instant is late. The reporter's identity
is read by the desk and the captain only, each read in the custody chain, and appears in
no view the inspector gets: not the plan, not the sync pull.

Everything goes over HTTP: the desk's and the captain's steps with the app's clock pinned
to each moment (``app.state.clock``), the inspector's visit as a phone sends it — one sync
push of the patrol, the sign-in at the target, a finding and the verification, recorded
offline on the evening of Friday 4 December.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.tip_offs import ReporterInput
from evidence.models import CustodyEntry
from infra.ids import uuid7
from infra.scope import Role
from tests import clock
from tests.conftest import CountyFixture

Client = AsyncTestClient[Any]
API = "/api/v1"
LON, LAT = 112.1, 28.5
CHINA = clock.CHINA
REPORTER = ReporterInput("刘举报", "13712345678", "430100198001011111", "东风村三组8号")
SECRETS = (REPORTER.name, REPORTER.phone, REPORTER.id_no, REPORTER.address)
TINY = timedelta(microseconds=1)


def _china(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA).astimezone(UTC)  # type: ignore[misc]


def _wire(moment: datetime) -> str:
    """A time as the API writes it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Clock:
    """The app's clock for this story (``app.state.clock``), set to each moment."""

    def __init__(self) -> None:
        self.now = clock.NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fixed(app: Litestar) -> Iterator[Clock]:
    story = Clock()
    app.state.clock = story
    yield story
    del app.state.clock


async def _pull_text(client: Client, headers: dict[str, str]) -> str:
    """Every page a fresh phone of this user pulls, as one text."""
    pages, cursor = [], None
    for _ in range(50):
        body: dict[str, Any] = {"limit": 500} if cursor is None else {"cursor": cursor}
        resp = await client.post(f"{API}/sync/pull", json=body, headers=headers)
        assert resp.status_code == 200, resp.text
        pages.append(resp.text)
        cursor = resp.json()["cursor"]
        if not resp.json()["hasMore"]:
            return "\n".join(pages)
    raise AssertionError("the pull did not end")


async def test_a_12336_call_from_the_desk_to_the_reporters_answer(
    client: Client,
    make_county: Any,
    fixed: Clock,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county: CountyFixture = await make_county()
    desk, captain = county.headers(Role.CLUE_DESK), county.headers(Role.CAPTAIN)
    admin, inspector = county.headers(Role.ADMIN), county.headers(Role.INSPECTOR)

    async def call(when: datetime, method: str, path: str, who: dict[str, str], body: Any) -> Any:
        fixed.now = when
        resp = await client.request(method, f"{API}{path}", json=body, headers=who)
        assert resp.status_code in {200, 201}, resp.text
        return resp.json()

    def steps(clue: dict[str, Any]) -> list[tuple[str, str | None, bool]]:
        return [(s["step"], s["dueAt"], s["late"]) for s in clue["steps"]]

    # the admin keeps the calendar: Monday the 23rd off, Saturday the 28th worked
    for day, kind in (("2026-11-23", "holiday"), ("2026-11-28", "workday")):
        await call(clock.NOW, "POST", "/work-calendar", admin, {"day": day, "kind": kind})
    # the captain's contract area around the village, led by the inspector
    ring = [[LON - 0.02, LAT - 0.02], [LON + 0.02, LAT - 0.02], [LON + 0.02, LAT + 0.02],
            [LON - 0.02, LAT + 0.02], [LON - 0.02, LAT - 0.02]]  # fmt: skip
    area = await call(
        clock.NOW, "POST", "/areas", captain,
        {"code": "X01", "name": "东风片区", "grade": 1,
         "geometry": {"type": "Polygon", "coordinates": [ring]},
         "leaderId": str(county.users[Role.INSPECTOR].id)},
    )  # fmt: skip

    # Friday 17:30: the call comes in; the desk registers it at 17:35, and a letter beside it
    received = _china(2026, 11, 20, 17, 30)
    desk_time = _china(2026, 11, 20, 17, 35)
    reporter = {"name": REPORTER.name, "phone": REPORTER.phone, "idNo": REPORTER.id_no,
                "address": REPORTER.address}  # fmt: skip
    clue = await call(
        desk_time, "POST", "/tip-offs", desk,
        {"channel": "phone_12336", "receivedAt": _wire(received),
         "facts": "东风村有人推平耕地建厂房", "clueType": "land_farmland_destruction",
         "locationText": "东风村三组北侧", "lon": LON + 0.001, "lat": LAT,
         "reportedParty": "某建材厂", "reporter": reporter},
    )  # fmt: skip
    late_clue = await call(
        desk_time, "POST", "/tip-offs", desk,
        {"channel": "letter", "receivedAt": _wire(received), "facts": "另一处挖塘",
         "clueType": "land_other", "lon": LON - 0.01, "lat": LAT, "reportedParty": "某养殖户"},
    )  # fmt: skip
    assert clue["receiptNo"] == f"12336-{county.county.admin_code}-20261120-0001"
    assert late_clue["receiptNo"].endswith("-0002")
    decide_due = _china(2026, 11, 25)  # the end of Tuesday: weekend and holiday skipped
    feedback_due = _china(2026, 12, 12)  # the end of Friday 11 December
    assert steps(clue) == [
        ("decide", _wire(decide_due), False),
        ("feedback", _wire(feedback_due), False),
    ]
    assert clue["verifyDueOn"] == "2026-12-04"  # the make-up Saturday counted

    # decided in the last instant of Tuesday: on time; the other one at the due instant: late
    clue = await call(
        decide_due - TINY, "POST", f"/tip-offs/{clue['id']}/decision", desk,
        {"decision": "accept", "note": "属于受理范围"},
    )  # fmt: skip
    late_clue = await call(
        decide_due, "POST", f"/tip-offs/{late_clue['id']}/decision", desk, {"decision": "accept"}
    )
    assert clue["steps"][0]["late"] is False
    assert clue["steps"][0]["doneAt"] == _wire(decide_due - TINY)
    assert late_clue["steps"][0]["late"] is True

    # the captain sends it out: a target in the area containing the clue, due with the verify
    clue = await call(
        _china(2026, 11, 25, 9), "POST", f"/tip-offs/{clue['id']}/verification", captain, {}
    )
    assert ("verify", _wire(_china(2026, 12, 5)), False) in steps(clue)
    assert (clue["status"], clue["areaId"]) == ("verifying", area["id"])

    # the inspector's plan shows the target, due on the 4th, named by receipt number and type
    month = "2026-12"
    mine = await client.get(f"{API}/plans/mine", params={"month": month}, headers=inspector)
    plan = await client.get(f"{API}/areas/{area['id']}/plans/{month}", headers=inspector)
    for resp in (mine, plan):
        assert resp.status_code == 200, resp.text
        assert f"{clue['receiptNo']} 破坏耕地" in resp.text
        assert not [s for s in SECRETS if s in resp.text]
        assert "某建材厂" not in resp.text and "推平耕地" not in resp.text
    [target] = [t for t in plan.json()["targets"] if t["id"] == clue["targetId"]]
    assert target["dueOn"] == "2026-12-04"
    pulled = await _pull_text(client, inspector)
    assert clue["targetId"] in pulled
    assert not [s for s in SECRETS if s in pulled]

    # Friday evening, offline: the inspector walks there, signs in, records the levelled
    # field and the verification in its last instant; the phone pushes it all later
    patrol, finding_id, verification_id = uuid7(), uuid7(), uuid7()
    verified_at = _china(2026, 12, 5) - TINY
    ops = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "areaId": area["id"], "startedAt": _wire(_china(2026, 12, 4, 22))},
        {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
         "signInId": str(uuid7()), "at": _wire(_china(2026, 12, 4, 23, 30)),
         "lon": LON + 0.001, "lat": LAT, "accuracyM": 6.0},
        {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(patrol),
         "findingId": str(finding_id), "foundAt": _wire(_china(2026, 12, 4, 23, 40)),
         "projectName": "耕地上建厂房", "constructionStatus": "partly_built",
         "lon": LON + 0.001, "lat": LAT},
        {"type": "recordTargetVerification", "opId": str(uuid7()),
         "targetId": clue["targetId"], "verificationId": str(verification_id),
         "patrolId": str(patrol), "outcome": "found", "verifiedAt": _wire(verified_at),
         "note": "现场耕地已被推平约3亩"},
        {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "endedAt": _wire(_china(2026, 12, 5, 0, 10))},
    ]  # fmt: skip
    pushed = await client.post(
        f"{API}/sync/push", json={"ops": ops, "deviceTime": _wire(clock.now())}, headers=inspector
    )
    assert pushed.status_code == 200, pushed.text
    receipts = pushed.json()["receipts"]
    assert [r["status"] for r in receipts] == ["applied"] * 5, receipts
    assert clue["targetId"] in receipts[1]["signIn"]["targetsReached"]

    # the desk sees the clue verified on time, with the inspector's finding
    fixed.now = _china(2026, 12, 7, 9)
    clue = (await client.get(f"{API}/tip-offs/{clue['id']}", headers=desk)).json()
    assert (clue["status"], clue["verificationOutcome"]) == ("verified", "found")
    assert (clue["verifiedBy"], clue["verifiedAt"]) == (
        str(county.users[Role.INSPECTOR].id), _wire(verified_at),
    )  # fmt: skip
    assert clue["findingIds"] == [str(finding_id)]
    assert ("verify", _wire(_china(2026, 12, 5)), False) in steps(clue)

    # handled with a stop order, fed back in the last instant of Friday 11 December
    clue = await call(
        _china(2026, 12, 7, 10), "POST", f"/tip-offs/{clue['id']}/handling", desk,
        {"handling": "stop_order", "note": "已下达责令停止"},
    )  # fmt: skip
    clue = await call(
        feedback_due - TINY, "POST", f"/tip-offs/{clue['id']}/feedback", desk,
        {"channel": "phone", "content": "经核查属实，已责令停止违法行为"},
    )  # fmt: skip
    assert clue["status"] == "closed"
    assert clue["fedBackAt"] == _wire(feedback_due - TINY)
    # handled, the clue needs no more field work: its target has left the inspector's plan
    plan = await client.get(f"{API}/areas/{area['id']}/plans/{month}", headers=inspector)
    assert plan.status_code == 200 and clue["receiptNo"] not in plan.text
    assert [(s["step"], s["late"]) for s in clue["steps"]] == [
        ("decide", False),
        ("verify", False),
        ("handle", False),
        ("feedback", False),
    ]
    assert [e["kind"] for e in clue["events"]] == [
        "registered",
        "decided",
        "verification_assigned",
        "verified",
        "handled",
        "fed_back",
    ]
    assert [e["actorId"] for e in clue["events"]] == [
        str(county.users[r].id)
        for r in (Role.CLUE_DESK, Role.CLUE_DESK, Role.CAPTAIN, Role.INSPECTOR, Role.CLUE_DESK,
                  Role.CLUE_DESK)
    ]  # fmt: skip

    # the reporter: the desk and the captain read it, nobody else; every read is logged
    path = f"{API}/tip-offs/{clue['id']}/reporter"
    for role in (Role.CLUE_DESK, Role.CAPTAIN):
        resp = await client.get(path, headers=county.headers(role))
        assert resp.status_code == 200, resp.text
        assert resp.json()["phone"] == REPORTER.phone
    for role in (Role.ADMIN, Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD):
        resp = await client.get(path, headers=county.headers(role))
        assert resp.status_code == 403, resp.text
        assert resp.json()["code"] == "role_not_allowed"
    async with session_factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry)
                .where(CustodyEntry.subject_id == uuid.UUID(clue["id"]))
                .order_by(CustodyEntry.seq)
            )
        ).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("reporter_viewed", county.users[Role.CLUE_DESK].id),
        ("reporter_viewed", county.users[Role.CAPTAIN].id),
    ]
    assert not [s for s in SECRETS if s in repr([e.details for e in entries])]
    # the desk's own views never show it either, nor the inspector's pull after the visit
    for url in (f"{API}/tip-offs/{clue['id']}", f"{API}/tip-offs"):
        resp = await client.get(url, headers=desk)
        assert resp.status_code == 200
        assert not [s for s in SECRETS if s in resp.text]
    pulled = await _pull_text(client, inspector)
    assert not [s for s in SECRETS if s in pulled]
