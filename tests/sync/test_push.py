"""Push through the real app: receipts, replays, conflicts, bad input; and a simulated phone."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Role
from patrol.areas import AreaService
from tests import clock
from tests.sync.conftest import Client, Phone, SyncWorld

PUSH = "/api/v1/sync/push"


def _t(**kw: float) -> str:
    return (clock.now() - timedelta(**kw)).isoformat()


def start(patrol_id: uuid.UUID, area_id: uuid.UUID, **kw: Any) -> dict[str, Any]:
    return {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol_id),
            "areaId": str(area_id), "startedAt": _t(hours=1), **kw}  # fmt: skip


def finding(patrol_id: uuid.UUID, finding_id: uuid.UUID) -> dict[str, Any]:
    return {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(patrol_id),
            "findingId": str(finding_id), "foundAt": _t(minutes=30), "projectName": "违建厂房",
            "constructionStatus": "partly_built", "lon": 112.05, "lat": 28.5}  # fmt: skip


def points(patrol_id: uuid.UUID, n: int = 5) -> dict[str, Any]:
    return {"type": "trackPoints", "opId": str(uuid7()), "patrolId": str(patrol_id),
            "points": [{"id": str(uuid7()), "t": _t(minutes=50 - i), "lon": 112.05,
                        "lat": 28.5 + i * 0.0002, "accuracyM": 5.0} for i in range(n)]}  # fmt: skip


async def test_batch_receipts_replay_and_bad_ops(make_world: Any, phone: Any) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    patrol, fid = uuid7(), uuid7()
    p.outbox = [
        start(patrol, world.area_id),
        points(patrol),
        {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
         "signInId": str(uuid7()), "at": _t(minutes=40), "lon": 112.05, "lat": 28.5,
         "accuracyM": 8.0},
        finding(patrol, fid),
        {"type": "teleport", "opId": str(uuid7())},  # a newer app's op type
        {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol)},  # fields missing
        start(uuid7(), world.other_area_id),  # not their area
        {**points(patrol), "points": [{"id": str(uuid7()), "t": _t(days=-1), "lon": 112.05,
                                       "lat": 28.5, "accuracyM": 5.0}]},  # clock far ahead
        {**start(uuid7(), world.area_id), "startedAt": _t(days=400)},  # clock reset
        {"type": "dutyCheck", "opId": str(uuid7()), "checkId": str(uuid7()),
         "siteId": str(world.site_id), "checkedAt": _t(minutes=20), "status": "still_closed"},
        {"type": "updateEvidence", "opId": str(uuid7()), "evidenceId": str(uuid7()),
         "caption": "远景"},
        {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(patrol), "endedAt": _t()},
    ]  # fmt: skip
    batch = list(p.outbox)
    receipts = await p.push()
    status = [(r["index"], r["status"], r.get("code")) for r in receipts]
    assert status == [
        (0, "applied", None),
        (1, "applied", None),
        (2, "applied", None),
        (3, "applied", None),
        (4, "rejected", "unknown_op_type"),
        (5, "rejected", "invalid_op"),
        (6, "rejected", "not_area_member"),
        (7, "rejected", "points_rejected"),
        (8, "rejected", "implausible_time"),
        (9, "applied", None),
        (10, "rejected", "evidence_not_found"),
        (11, "applied", None),
    ], receipts
    assert receipts[3]["version"] > 0 and receipts[4]["opId"] == batch[4]["opId"]
    assert receipts[7]["rejectedItems"][0]["code"] == "future_time"
    # the phone timed out and sends the whole batch again: the same receipts
    p.outbox = batch
    again = await p.push()
    assert again == receipts
    # the same op again under a new op id: its effect is already stored
    p.outbox = [{**batch[0], "opId": str(uuid7())}, {**batch[3], "opId": str(uuid7())}]
    assert [r["status"] for r in await p.push()] == ["duplicate", "duplicate"]
    # an op id reused for something else is refused, not applied
    p.outbox = [{**finding(patrol, uuid7()), "opId": batch[3]["opId"]}]
    assert (await p.push())[0]["code"] == "op_id_reused"


async def test_oversized_and_malformed_batches_are_4xx(make_world: Any, client: Client) -> None:
    world: SyncWorld = await make_world()
    ops = [{"type": "teleport", "opId": str(uuid7())}] * 501
    resp = await client.post(PUSH, json={"ops": ops}, headers=world.headers())
    assert resp.status_code == 422 and resp.json()["code"] == "batch_too_large"
    resp = await client.post(
        PUSH, content=b"{not json", headers={**world.headers(), "Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    resp = await client.post(PUSH, json={"ops": "nope"}, headers=world.headers())
    assert resp.status_code == 400


async def test_offline_phone_replays_conflicts_loses_scope_and_converges(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    inspector: Phone = phone(world.headers(), msgpack=True)
    captain: Phone = phone(world.headers(Role.CAPTAIN))
    await inspector.sync()
    # offline in the hills: a patrol with a finding, kept in the outbox
    patrol, fid = uuid7(), uuid7()
    inspector.outbox = [start(patrol, world.area_id), points(patrol, 20), finding(patrol, fid)]
    # the network comes back for a moment; the answer is lost (timeout), so it retries
    await inspector.push(lose_answer=True)
    receipts = await inspector.push()
    assert [r["status"] for r in receipts] == ["applied", "applied", "applied"]
    await inspector.sync()
    mine = inspector.store["findings"][str(fid)]
    # the captain corrects the status; the inspector, offline again, edits status and note
    await captain.sync()
    captain.outbox = [{"type": "updateFinding", "opId": str(uuid7()), "findingId": str(fid),
                       "baseVersion": mine["version"],
                       "changes": {"constructionStatus": "fully_built"},
                       "base": {"constructionStatus": "partly_built"}}]  # fmt: skip
    assert (await captain.push())[0]["status"] == "applied"
    inspector.outbox = [{"type": "updateFinding", "opId": str(uuid7()), "findingId": str(fid),
                         "baseVersion": mine["version"],
                         "changes": {"constructionStatus": "levelled", "note": "已平整"},
                         "base": {"constructionStatus": "partly_built", "note": ""}}]  # fmt: skip
    receipt = (await inspector.push())[0]
    assert receipt["status"] == "conflict"
    assert receipt["conflict"]["fields"] == ["constructionStatus"]
    assert receipt["conflict"]["serverValues"] == {"constructionStatus": "fully_built"}
    # the inspector keeps the captain's status and sends only the note on the new version
    inspector.outbox = [{"type": "updateFinding", "opId": str(uuid7()), "findingId": str(fid),
                         "baseVersion": receipt["conflict"]["serverVersion"],
                         "changes": {"note": "已平整"}, "base": {"note": ""}}]  # fmt: skip
    assert (await inspector.push())[0]["status"] == "applied"
    # the area is handed to someone else: it leaves the phone's scope
    async with session_factory() as session:
        await AreaService(session).update_area(
            world.county.principal(Role.CAPTAIN),
            world.area_id,
            leader_id=world.county.users[Role.CAPTAIN].id,
        )
        await session.commit()
    await inspector.sync()
    assert not inspector.ids("areas")
    # an op on a record outside their scope is rejected with a reason, not lost
    inspector.outbox = [start(uuid7(), world.area_id)]
    assert (await inspector.push())[0]["code"] == "not_area_member"
    # the phone's store equals what a fresh install would get
    fresh: Phone = phone(world.headers(), msgpack=True)
    await fresh.sync()
    assert fresh.store == inspector.store
    kept = inspector.store["findings"][str(fid)]
    assert (kept["constructionStatus"], kept["note"]) == ("fully_built", "已平整")
    async with session_factory() as session:
        n = await session.scalar(
            text("SELECT point_count FROM patrol_sessions WHERE id = :p"), {"p": patrol}
        )
    assert n == 20


def sign_in(patrol_id: uuid.UUID, lon: float, lat: float, minutes: float) -> dict[str, Any]:
    return {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol_id),
            "signInId": str(uuid7()), "at": _t(minutes=minutes), "lon": lon, "lat": lat,
            "accuracyM": 6.0}  # fmt: skip


async def test_sign_ins_and_findings_of_a_patrol_are_stored_together(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Runs of sign-ins and of findings are stored with one call each; one refused operation
    sends the run one by one, so only it is refused; visits keep the earliest time and the
    nearest distance; receipts carry the stored versions."""
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    patrol = uuid7()
    signs = [
        sign_in(patrol, 112.05, 28.51, 45),  # 1.1 km from target T1 (112.05, 28.5)
        sign_in(patrol, 112.0505, 28.5, 40),  # 49 m from T1
        sign_in(patrol, 112.05, 28.5, 35),  # at T1, later
        sign_in(patrol, 112.05, 28.5, -60),  # an hour ahead: refused on its own
        sign_in(patrol, 112.0502, 28.5, 25),
    ]
    fids = [uuid7() for _ in range(4)]
    finds = [finding(patrol, f) for f in fids]
    finds[2] = {**finds[2], "foundAt": _t(minutes=-60)}  # refused on its own
    p.outbox = [start(patrol, world.area_id), *signs, *finds]
    receipts = await p.push()
    assert [(r["status"], r.get("code")) for r in receipts] == [
        *[("applied", None)] * 4, ("rejected", "invalid_time"), ("applied", None),
        ("applied", None), ("applied", None), ("rejected", "invalid_time"), ("applied", None),
    ]  # fmt: skip
    kept = [fids[0], fids[1], fids[3]]
    async with session_factory() as s:
        rows = await s.execute(
            text("SELECT id, xmin::text::bigint FROM patrol_findings WHERE id = ANY(:ids)"),
            {"ids": kept},
        )
        stored = {r[0]: r[1] for r in rows}
        visit = (
            await s.execute(
                text("SELECT first_at, min_distance_m FROM patrol_target_visits "
                     "WHERE session_id = :s AND source = 'sign_in'"),
                {"s": patrol},
            )
        ).one()  # fmt: skip
        count = await s.scalar(
            text("SELECT count(*) FROM patrol_sign_ins WHERE session_id = :s"), {"s": patrol}
        )
    assert [receipts[i]["version"] for i in (6, 7, 9)] == [stored[f] for f in kept]
    assert count == 4
    assert visit.min_distance_m == 0.0
    assert visit.first_at == datetime.fromisoformat(signs[1]["at"])
    # a run without a refusal goes in one call: replays of stored ones are duplicates
    again = [{**signs[0], "opId": str(uuid7())}, {**signs[2], "opId": str(uuid7())},
             sign_in(patrol, 112.06, 28.5, 20)]  # fmt: skip
    more = [{**finds[0], "opId": str(uuid7())}, finding(patrol, uuid7())]
    p.outbox = [*again, *more]
    receipts = await p.push()
    assert [r["status"] for r in receipts] == ["duplicate", "duplicate", "applied",
                                               "duplicate", "applied"]  # fmt: skip
    assert receipts[3]["version"] == stored[fids[0]]


async def test_rejection_reasons_in_the_asked_language(make_world: Any, client: Client) -> None:
    world: SyncWorld = await make_world()
    body = {
        "ops": [
            start(uuid7(), world.other_area_id),  # not their area
            {"type": "teleport", "opId": str(uuid7())},
            {"type": "signIn", "opId": str(uuid7()), "patrolId": str(uuid7())},  # fields missing
        ]
    }
    zh = await client.post(PUSH, json=body, headers=world.headers())
    assert zh.status_code == 200 and zh.headers["content-language"] == "zh-CN"
    receipts = zh.json()["receipts"]
    assert [(r["code"], r["reason"]) for r in receipts[:2]] == [
        ("not_area_member", "您不是该承包区域的负责人或成员"),
        ("unknown_op_type", "未知的操作类型"),
    ]
    assert receipts[2]["code"] == "invalid_op"
    assert receipts[2]["reason"] == "操作内容不符合接口定义：缺少必填字段 signInId"
    # the same batch again, asked in English: the stored receipts, reasons in English
    en = await client.post(PUSH, json=body, headers={**world.headers(), "Accept-Language": "en"})
    assert en.headers["content-language"] == "en"
    again = en.json()["receipts"]
    assert [r["code"] for r in again] == ["not_area_member", "unknown_op_type", "invalid_op"]
    assert again[0]["reason"] == "you are not the leader or a member of this contract area"
    assert "missing required field" in again[2]["reason"]
