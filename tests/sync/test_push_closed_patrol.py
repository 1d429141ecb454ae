"""A closed patrol is closed, through sync push: a point batch after ``EndPatrol`` gets a
rejected receipt naming each point's reason, and the patrol's figures do not move."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from tests import clock
from tests.sync.conftest import Phone, SyncWorld

M_PER_DEG_LAT = 6_371_008.8 * 3.141592653589793 / 180
T0 = clock.now().replace(microsecond=0) - timedelta(hours=2)
END = T0 + timedelta(minutes=15)


def _point(t: datetime, north_m: float) -> dict[str, Any]:
    return {"id": str(uuid7()), "t": t.isoformat(), "lon": 112.05,
            "lat": 28.5 + north_m / M_PER_DEG_LAT, "accuracyM": 5.0}  # fmt: skip


def _points(patrol: uuid.UUID, pts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "trackPoints", "opId": str(uuid7()), "patrolId": str(patrol), "points": pts}


async def _figures(factory: async_sessionmaker[AsyncSession], patrol: uuid.UUID) -> Any:
    async with factory() as s:
        return (
            await s.execute(
                text("SELECT distance_m, duration_s, last_fix_at, point_count, ended_at "
                     "FROM patrol_sessions WHERE id = :p"),
                {"p": patrol},
            )
        ).one()  # fmt: skip


async def test_points_pushed_after_end_patrol_are_refused(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    patrol = uuid7()
    walk = [_point(T0 + timedelta(seconds=30 * i), 637.0 * i / 20) for i in range(21)]
    p.outbox = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "areaId": str(world.area_id), "startedAt": T0.isoformat()},
        _points(patrol, walk[:10]),
        _points(patrol, walk[10:]),
        {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "endedAt": END.isoformat()},
    ]  # fmt: skip
    assert [r["status"] for r in await p.push()] == ["applied"] * 4
    before = await _figures(session_factory, patrol)
    assert round(before.distance_m) == 637 and before.duration_s == 900.0
    assert before.last_fix_at == datetime.fromisoformat(walk[-1]["t"])
    late = _point(END + timedelta(minutes=4), 1404.0)
    backlog = _point(T0 + timedelta(minutes=12), 650.0)
    p.outbox = [
        _points(patrol, [late]),
        _points(patrol, [backlog, walk[0]]),  # a point from within, and a replay
        _points(patrol, [walk[1]]),
    ]
    receipts = await p.push()
    assert [(r["status"], r.get("code")) for r in receipts] == [
        ("rejected", "points_rejected"),
        ("duplicate", None),  # nothing new stored, one point refused
        ("duplicate", None),
    ], receipts
    assert receipts[0]["rejectedItems"] == [
        {"id": late["id"], "code": "after_end", "reason": "时间晚于巡查结束时间"}
    ]
    assert [(i["id"], i["code"]) for i in receipts[1]["rejectedItems"]] == [
        (backlog["id"], "patrol_ended")
    ]
    # each batch on its own (a run of one) answers the same
    p.outbox = [_points(patrol, [_point(END + timedelta(seconds=1), 700.0)])]
    [alone] = await p.push()
    assert alone["rejectedItems"][0]["code"] == "after_end"
    assert await _figures(session_factory, patrol) == before
