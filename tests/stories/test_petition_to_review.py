"""A petition from the clue desk's window to the review answer, over HTTP as each role would,
on a fixed clock that the story moves on: the desk registers a group visit about land taken
for a building site; the acceptance decision and the notice; the bureau head's instruction
to the township land office; an extension of 30 days with its reason; the written reply;
the petitioner's request for review and its answer. At each step the dates the law sets
(county-local calendar days) are asserted, as are who sees the petitioner (the desk and the
captain, each read in the custody chain; never the admin, never a list) and the petition's
own record of who did what, when.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.models import CustodyEntry
from infra.scope import Role
from tests import clock
from tests.conftest import CountyFixture

Client = AsyncTestClient[Any]
API = "/api/v1"
IDENTITY = ("孙八", "13712345678", "430000197001011111", "西镇李家村5组")


class Clock:
    """The petition service's clock for this story (starts at 10:00, 18 November 2026)."""

    def __init__(self) -> None:
        self.now = clock.NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> str:
        self.now += timedelta(**kw)
        return self.wire()

    def wire(self) -> str:
        """Now as the API writes times."""
        return self.now.isoformat().replace("+00:00", "Z")


@pytest.fixture
def fixed(app: Litestar) -> Iterator[Clock]:
    story = Clock()
    app.state.clock = story
    yield story
    del app.state.clock


async def test_a_group_visit_from_registration_to_the_review_answer(
    client: Client,
    make_county: Any,
    fixed: Clock,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county: CountyFixture = await make_county()
    desk, captain = county.headers(Role.CLUE_DESK), county.headers(Role.CAPTAIN)
    admin = county.headers(Role.ADMIN)

    async def call(method: str, path: str, who: dict[str, str], body: Any = None) -> Any:
        resp = await client.request(method, f"{API}/petitions{path}", json=body, headers=who)
        assert resp.status_code in {200, 201}, resp.text
        return resp.json()

    # the desk registers a visit by six villagers, received at 08:00 (county time)
    town = await client.post(
        f"{API}/townships",
        json={"code": "XZ01", "name": "西镇",
              "geometry": {"type": "Polygon", "coordinates": [[[112.0, 28.4], [112.1, 28.4],
                                                               [112.1, 28.5], [112.0, 28.4]]]}},
        headers=admin,
    )  # fmt: skip
    assert town.status_code == 201, town.text
    township_id = town.json()["id"]
    registration = {
        "form": "visit",
        "category": "appeal_request",
        "receivedAt": (clock.NOW - timedelta(hours=2)).isoformat(),
        "subject": "要求停止占用承包地建设厂房",
        "content": "李家村5组承包地被企业占用建设厂房，请求依法处理并恢复耕种。",
        "petitioner": dict(zip(("name", "phone", "idNo", "address"), IDENTITY, strict=True)),
        "peopleCount": 6,
        "townshipId": township_id,
    }
    p = await call("POST", "", desk, registration)
    pid = p["id"]
    assert p["regNo"] == f"XF-{county.county.admin_code}-2026-00001"
    assert (p["status"], p["groupPetition"], p["receivedOn"]) == ("registered", True, "2026-11-18")
    assert (p["nextStep"], p["nextDueOn"]) == ("decision", "2026-12-03")  # 15 days
    assert not any(s in str(p) for s in IDENTITY)

    # who sees the petitioner: the desk and the captain, each read in the custody chain
    for who in (desk, captain):
        identity = await call("GET", f"/{pid}/petitioner", who)
        assert (identity["name"], identity["idNo"]) == (IDENTITY[0], IDENTITY[2])
    refused = await client.get(f"{API}/petitions/{pid}/petitioner", headers=admin)
    assert refused.status_code == 403 and refused.json()["code"] == "role_not_allowed"
    page = await call("GET", "", admin)
    assert [i["id"] for i in page["items"]] == [pid]
    assert not any(s in str(page) for s in IDENTITY)

    # day 3: accepted, the petitioner told in writing; the reply is due 60 days on
    at = fixed.advance(days=3)
    p = await call("POST", f"/{pid}/decision", desk, {"accept": True, "notice": "书面告知"})
    assert (p["status"], p["decidedAt"], p["replyDueOn"]) == ("accepted", at, "2027-01-20")
    assert p["steps"] == [
        {"step": "decision", "dueOn": "2026-12-03", "doneAt": at, "late": False,
         "overdue": False},
        {"step": "reply", "dueOn": "2027-01-20", "doneAt": None, "late": False,
         "overdue": False},
    ]  # fmt: skip

    # the same day: the bureau head's instruction to the township land office
    p = await call(
        "POST",
        f"/{pid}/assignment",
        captain,
        {"office": "西镇国土资源所", "instruction": "请西镇国土所会同执法大队核实，依法处理",
         "townshipId": township_id},
    )  # fmt: skip
    assert (p["status"], p["office"], p["officeTownshipId"]) == (
        "assigned",
        "西镇国土资源所",
        township_id,
    )

    # day 50: the survey needs the planning office; extended once by 30 days, told by phone
    fixed.advance(days=47)
    p = await call(
        "POST", f"/{pid}/extension", captain,
        {"days": 30, "reason": "需会同规划部门现场测量", "notice": "电话告知"},
    )  # fmt: skip
    assert (p["extensionDays"], p["replyDueOn"], p["nextDueOn"]) == (30, "2027-02-19", "2027-02-19")
    again = await client.post(
        f"{API}/petitions/{pid}/extension", json={"days": 5, "reason": "再延"}, headers=captain
    )
    assert again.status_code == 409 and again.json()["code"] == "petition_already_extended"

    # day 85 (11 February 2027): past the first 60 days, within the extension; not overdue
    fixed.advance(days=35)
    overdue = await call("GET", "?overdue=true", captain)
    assert overdue["items"] == []
    at = fixed.wire()
    p = await call(
        "POST", f"/{pid}/reply", desk,
        {"content": "经核实，企业未经批准占用耕地，已立案查处。", "delivery": "in_person"},
    )  # fmt: skip
    reply = next(s for s in p["steps"] if s["step"] == "reply")
    assert (reply["dueOn"], reply["doneAt"], reply["late"]) == ("2027-02-19", at, False)
    assert (p["status"], p["nextStep"], p["nextDueOn"]) == (
        "replied",
        "review_request",
        "2027-03-13",
    )

    # day 95: the petitioner asks for review; the answer is due in 30 days
    fixed.advance(days=10)
    p = await call("POST", f"/{pid}/review-requests", desk, {"level": "review", "reason": "不服"})
    assert (p["status"], p["nextStep"], p["nextDueOn"]) == (
        "review_requested",
        "review_answer",
        "2027-03-23",
    )
    # day 115: the review answer, on time
    fixed.advance(days=20)
    p = await call(
        "POST", f"/{pid}/review-answers", captain, {"level": "review", "answer": "维持原答复意见"}
    )
    assert (p["status"], p["nextStep"], p["nextDueOn"], p["late"]) == (
        "reviewed",
        "re_review_request",
        "2027-04-12",
        False,
    )
    [review] = p["reviews"]
    assert (review["requestDueOn"], review["answerDueOn"]) == ("2027-03-13", "2027-03-23")
    assert date.fromisoformat(review["answeredAt"][:10]) <= date(2027, 3, 23)

    # the petition's own record: who did what, when (no identity)
    p = await call("GET", f"/{pid}", captain)
    desk_id, captain_id = str(county.users[Role.CLUE_DESK].id), str(county.users[Role.CAPTAIN].id)
    assert [(e["kind"], e["actorId"]) for e in p["events"]] == [
        ("registered", desk_id),
        ("decided", desk_id),
        ("assigned", captain_id),
        ("extended", captain_id),
        ("replied", desk_id),
        ("review_requested", desk_id),
        ("review_answered", captain_id),
    ]
    assert not any(s in str(p["events"]) for s in IDENTITY)

    # the custody chain: two reads of the petitioner, by the desk and the captain
    async with session_factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry)
                .where(CustodyEntry.county_id == county.id)
                .order_by(CustodyEntry.seq)
            )
        ).all()
    assert [(e.action, str(e.subject_id), str(e.actor_id), e.at) for e in entries] == [
        ("petitioner_viewed", pid, desk_id, clock.NOW),
        ("petitioner_viewed", pid, captain_id, clock.NOW),
    ]
    assert not any(s in str(e.details) for e in entries for s in IDENTITY)
