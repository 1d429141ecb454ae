"""Sign-in receipts of a sync push name the targets reached and flag a sign-in far from every
target, the same as the REST reply; replays answer the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from infra.ids import uuid7
from tests import clock
from tests.sync.conftest import Phone, SyncWorld

M_PER_DEG_LAT = 6_371_008.8 * 3.141592653589793 / 180
T1 = (112.05, 28.5)  # the target of area A1 in the sync world, radius 100 m


def _t(**kw: float) -> str:
    return (clock.now() - timedelta(**kw)).isoformat()


def _sign_in(patrol: Any, north_m: float) -> dict[str, Any]:
    return {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
            "signInId": str(uuid7()), "at": _t(minutes=30), "lon": T1[0],
            "lat": T1[1] + north_m / M_PER_DEG_LAT, "accuracyM": 6.0}  # fmt: skip


async def test_sign_in_receipts_say_what_was_reached(make_world: Any, phone: Any) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    await p.sync()
    [t1] = [t["id"] for t in p.store["targets"].values() if t["areaId"] == str(world.area_id)]
    patrol = uuid7()
    signs = [_sign_in(patrol, m) for m in (100.0, 100.01, 1000.0, 1000.01)]
    batch = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "areaId": str(world.area_id), "startedAt": _t(hours=1)},
        *signs,
    ]  # fmt: skip
    p.outbox = list(batch)
    receipts = await p.push()
    assert [r["status"] for r in receipts] == ["applied"] * 5
    assert "signIn" not in receipts[0] or receipts[0]["signIn"] is None
    assert [r["signIn"] for r in receipts[1:]] == [
        {"targetsReached": [t1], "nearestTargetId": t1, "nearestTargetM": 100.0,
         "farFromTargets": False},
        {"targetsReached": [], "nearestTargetId": t1, "nearestTargetM": 100.01,
         "farFromTargets": False},
        {"targetsReached": [], "nearestTargetId": t1, "nearestTargetM": 1000.0,
         "farFromTargets": False},
        {"targetsReached": [], "nearestTargetId": t1, "nearestTargetM": 1000.01,
         "farFromTargets": True},
    ]  # fmt: skip
    # the batch again (lost answer): the stored receipts; a sign-in alone under a new op id:
    # a duplicate with the same outcome
    p.outbox = list(batch)
    assert await p.push() == receipts
    p.outbox = [{**signs[3], "opId": str(uuid7())}]
    [dup] = await p.push()
    assert (dup["status"], dup["signIn"]) == ("duplicate", receipts[4]["signIn"])
