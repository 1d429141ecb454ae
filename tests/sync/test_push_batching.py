"""Operations stored together (point batches of one patrol in one call, other operations in a
shared savepoint) answer exactly as if each had run on its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from tests.sync.conftest import Phone, SyncWorld
from tests.sync.test_push import _t, finding, points, start


def _point(**kw: Any) -> dict[str, Any]:
    return {"id": str(uuid7()), "t": _t(minutes=45), "lon": 112.05, "lat": 28.5,
            "accuracyM": 5.0, **kw}  # fmt: skip


async def test_point_batches_of_one_patrol_get_their_own_receipts(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    patrol, other = uuid7(), uuid7()
    first = points(patrol, 4)
    p.outbox = [start(patrol, world.area_id), start(other, world.area_id), first]
    assert [r["status"] for r in await p.push()] == ["applied"] * 3
    stored = first["points"]
    shared, bad, wrong = _point(), _point(t=_t(days=-1)), _point(lon=500.0)
    p.outbox = [  # consecutive batches of one patrol, every point id once: one call
        {**points(patrol, 0), "points": [shared, stored[0]]},  # one new, one stored before
        {**points(patrol, 0), "points": [bad]},  # nothing storable
        {**points(patrol, 0), "points": [stored[1], stored[2]]},  # all stored before
        {**points(patrol, 0), "points": [_point(), wrong]},
        points(other, 3),  # another patrol: a call of its own
        {**points(patrol, 0), "points": []},
    ]
    batch = list(p.outbox)
    receipts = await p.push()
    got = [(r["status"], r.get("code"), [i["code"] for i in r["rejectedItems"]])
           for r in receipts]  # fmt: skip
    assert got == [
        ("applied", None, []),
        ("rejected", "points_rejected", ["future_time"]),
        ("duplicate", None, []),
        ("applied", None, ["invalid_coordinates"]),
        ("applied", None, []),
        ("applied", None, []),
    ], receipts
    assert receipts[3]["rejectedItems"][0]["id"] == wrong["id"]
    p.outbox = batch
    assert await p.push() == receipts
    # a point sent twice in one batch: the operations are answered one by one
    p.outbox = [
        {**first, "opId": str(uuid7())},
        {**points(patrol, 0), "points": [shared, _point()]},
        {**points(patrol, 0), "points": [shared]},
    ]
    assert [r["status"] for r in await p.push()] == ["duplicate", "applied", "duplicate"]
    async with session_factory() as session:
        counts: dict[Any, Any] = dict(
            (
                await session.execute(
                    text("SELECT id, point_count FROM patrol_sessions WHERE id IN (:a, :b)"),
                    {"a": patrol, "b": other},
                )
            ).all()
        )
    assert counts == {patrol: 7, other: 3}


async def test_a_failing_operation_among_many_is_answered_alone(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    patrol = uuid7()
    findings = [uuid7() for _ in range(6)]
    p.outbox = [
        start(patrol, world.area_id),
        finding(patrol, findings[0]),
        finding(patrol, findings[1]),
        {**finding(patrol, findings[2]), "constructionStatus": "imaginary"},  # refused
        finding(patrol, findings[3]),
        {**finding(uuid7(), findings[4])},  # no such patrol
        finding(patrol, findings[5]),
        {**finding(patrol, findings[0]), "opId": str(uuid7())},  # already recorded above
    ]
    batch = list(p.outbox)
    receipts = await p.push()
    assert [(r["status"], r.get("code")) for r in receipts] == [
        ("applied", None),
        ("applied", None),
        ("applied", None),
        ("rejected", "invalid_status"),
        ("applied", None),
        ("rejected", "patrol_not_found"),
        ("applied", None),
        ("duplicate", None),
    ], receipts
    p.outbox = batch
    assert await p.push() == receipts
    async with session_factory() as session:
        stored = set(
            (
                await session.execute(
                    text("SELECT id FROM patrol_findings WHERE session_id = :p"), {"p": patrol}
                )
            ).scalars()
        )
    assert stored == {findings[0], findings[1], findings[3], findings[5]}
