"""A target verified offline: the phone pulls the target with its due date, then pushes the
day's work in one batch (start, sign-in, finding, verification, end); receipts, replays."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Role
from patrol.areas import AreaService
from tests import clock
from tests.sync.conftest import Client, Phone, SyncWorld
from tests.sync.test_push import _t, finding, start

LON, LAT = 112.05, 28.5  # in area A1, at its target T1, where the pushed finding is recorded


def verify(target_id: str, patrol_id: uuid.UUID, verification_id: uuid.UUID) -> dict[str, Any]:
    return {"type": "recordTargetVerification", "opId": str(uuid7()), "targetId": target_id,
            "verificationId": str(verification_id), "patrolId": str(patrol_id),
            "outcome": "found", "verifiedAt": _t(minutes=25), "note": "现场有新建厂房"}  # fmt: skip


async def test_a_verification_pushed_offline_with_the_patrol_and_replayed(
    make_world: Any, phone: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    due = clock.today() + timedelta(days=3)
    async with session_factory() as session:
        target = await AreaService(session).add_target(
            world.county.principal(Role.CAPTAIN), world.area_id, kind="tip_off", name="12336 线索",
            lon=LON, lat=LAT, visit_radius_m=50.0, ref_id=uuid7(), due_on=due,
        )  # fmt: skip
        await session.commit()
    p: Phone = phone(world.headers())
    await p.sync()
    pulled = p.store["targets"][str(target.id)]
    assert (pulled["kind"], pulled["dueOn"]) == ("tip_off", due.isoformat())
    # offline: the whole visit, pushed when the phone is back in coverage
    patrol, fid, vid = uuid7(), uuid7(), uuid7()
    p.outbox = [
        start(patrol, world.area_id),
        {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
         "signInId": str(uuid7()), "at": _t(minutes=40), "lon": LON, "lat": LAT,
         "accuracyM": 8.0},
        finding(patrol, fid),
        verify(str(target.id), patrol, vid),
        {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(patrol), "endedAt": _t()},
    ]  # fmt: skip
    batch = list(p.outbox)
    receipts = await p.push()
    assert [(r["status"], r.get("code"), r.get("recordId")) for r in receipts] == [
        ("applied", None, str(patrol)),
        ("applied", None, receipts[1]["recordId"]),
        ("applied", None, str(fid)),
        ("applied", None, str(vid)),
        ("applied", None, str(patrol)),
    ]
    assert str(target.id) in receipts[1]["signIn"]["targetsReached"]  # beside T1
    # the batch again (the answer was lost): the same receipts
    p.outbox = list(batch)
    assert await p.push() == receipts
    # the verification again under a new op id: stored before; another result: refused
    p.outbox = [{**batch[3], "opId": str(uuid7())}]
    (again,) = await p.push()
    assert (again["status"], again["recordId"]) == ("duplicate", str(vid))
    p.outbox = [{**batch[3], "opId": str(uuid7()), "outcome": "not_found"}]
    (reused,) = await p.push()
    assert (reused["status"], reused["code"], reused["recordId"]) == (
        "rejected", "id_reused", str(vid),
    )  # fmt: skip
    # what the captain reads: the result, the finding attached by place, the patrol
    listed = await client.get(
        f"/api/v1/targets/{target.id}/verifications", headers=world.headers(Role.CAPTAIN)
    )
    assert listed.status_code == 200, listed.text
    (shown,) = listed.json()
    assert (shown["id"], shown["outcome"], shown["current"]) == (str(vid), "found", True)
    assert (shown["findingIds"], shown["patrolId"]) == ([str(fid)], str(patrol))
    assert (shown["targetKind"], shown["refId"]) == ("tip_off", str(target.ref_id))
