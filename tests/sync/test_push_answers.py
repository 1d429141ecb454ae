"""What a phone reads in each push receipt, asserted whole: status, code, reason, record id,
version, conflict payload, rejected points and sign-in outcome; replays and op ids used
twice, batch limits, operations too old or without an offset, a failure kept to its own
operation, and what a push logs.

Receipts are read in English (``Accept-Language: en``), where the reason a receipt was
written with is the reason the phone gets."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.controllers.sync import _op
from infra.ids import uuid7
from infra.scope import Role
from mobile_contract.v1 import sync as c
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from sync import ops as sync_ops
from sync.errors import BatchTooLargeError
from sync.push import (
    MAX_OP_AGE,
    MAX_OPS,
    Conflict,
    PushResult,
    PushService,
    Receipt,
    RejectedItem,
    SignInOutcome,
)
from tests import clock
from tests.sync.conftest import Client, SyncWorld
from tests.sync.test_push import _t, finding, points, start
from tests.sync.test_push_evidence import _evidence, edit

PUSH = "/api/v1/sync/push"
EN = {"Accept-Language": "en"}
M_PER_DEG_LAT = 6_371_008.8 * 3.141592653589793 / 180
T1 = (112.05, 28.5)  # target T1 of area A1 in the sync world
TIP_OFF = (112.02, 28.46)  # a tip-off target added to A1 by _tip_off, 5 km from T1


def answer(index: int, op: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    """A whole receipt as the phone reads it: the given fields, the rest at their defaults."""
    whole: dict[str, Any] = {
        "index": index, "opId": op.get("opId"), "status": status, "recordId": None,
        "version": None, "code": None, "reason": None, "retryable": False, "conflict": None,
        "rejectedItems": [], "signIn": None,
    }  # fmt: skip
    assert set(fields) <= set(whole), set(fields) - set(whole)
    return whole | fields


async def push(
    client: Client, world: SyncWorld, ops: list[dict[str, Any]], role: Role = Role.INSPECTOR
) -> list[dict[str, Any]]:
    resp = await client.post(PUSH, json={"ops": ops}, headers={**world.headers(role), **EN})
    assert resp.status_code == 200, resp.text
    receipts: list[dict[str, Any]] = resp.json()["receipts"]
    return receipts


def renewed(op: dict[str, Any]) -> dict[str, Any]:
    """The same operation under a new op id (the phone lost its outbox's ids)."""
    return {**op, "opId": str(uuid7())}


def end(patrol: uuid.UUID, **kw: Any) -> dict[str, Any]:
    return {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
            "endedAt": _t(minutes=1), **kw}  # fmt: skip


def sign(patrol: uuid.UUID, north_m: float = 0.0, **kw: Any) -> dict[str, Any]:
    return {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
            "signInId": str(uuid7()), "at": _t(minutes=40), "lon": T1[0],
            "lat": T1[1] + north_m / M_PER_DEG_LAT, "accuracyM": 6.0, **kw}  # fmt: skip


def duty(world: SyncWorld, **kw: Any) -> dict[str, Any]:
    return {"type": "dutyCheck", "opId": str(uuid7()), "checkId": str(uuid7()),
            "siteId": str(world.site_id), "checkedAt": _t(minutes=20), "status": "still_closed",
            **kw}  # fmt: skip


def verify(target: uuid.UUID, patrol: uuid.UUID, **kw: Any) -> dict[str, Any]:
    return {"type": "recordTargetVerification", "opId": str(uuid7()), "targetId": str(target),
            "verificationId": str(uuid7()), "patrolId": str(patrol), "outcome": "not_found",
            "verifiedAt": _t(minutes=25), "note": "未见新建", **kw}  # fmt: skip


def update(fid: uuid.UUID, version: int, changes: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"type": "updateFinding", "opId": str(uuid7()), "findingId": str(fid),
            "baseVersion": version, "changes": changes, **kw}  # fmt: skip


def domain(wire: dict[str, Any]) -> sync_ops.Operation:
    """The domain operation the API makes of a wire operation."""
    return _op(msgspec.convert(wire, c.PushOperation, strict=True))


async def _tip_off(world: SyncWorld, factory: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with factory() as session:
        target = await AreaService(session).add_target(
            world.county.principal(Role.CAPTAIN), world.area_id, kind="tip_off",
            name="12336 线索", lon=TIP_OFF[0], lat=TIP_OFF[1], visit_radius_m=50.0,
            ref_id=uuid7(), due_on=clock.today() + timedelta(days=3),
        )  # fmt: skip
        await session.commit()
    return target.id


async def _scalar(factory: async_sessionmaker[AsyncSession], sql: str, **params: Any) -> Any:
    async with factory() as session:
        return await session.scalar(text(sql), params)


async def _t1(factory: async_sessionmaker[AsyncSession], world: SyncWorld) -> str:
    found = await _scalar(
        factory, "SELECT id FROM patrol_targets WHERE area_id = :a AND name = 'T1'",
        a=world.area_id,
    )  # fmt: skip
    return str(found)


async def _version(factory: async_sessionmaker[AsyncSession], fid: uuid.UUID) -> int:
    found = await _scalar(
        factory, "SELECT xmin::text::bigint FROM patrol_findings WHERE id = :f", f=fid
    )
    return int(found)


# -- every kind of operation ----------------------------------------------------------------


async def test_each_operation_answers_with_its_record_and_replays_alike(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    target = await _tip_off(world, session_factory)
    t1 = await _t1(session_factory, world)
    patrol = uuid7()
    fids = [uuid7(), uuid7()]
    batch = [
        start(patrol, world.area_id),
        points(patrol, 3),
        sign(patrol),
        sign(patrol, 1000.01),
        finding(patrol, fids[0]),
        finding(patrol, fids[1]),
        duty(world),
        verify(target, patrol),
        end(patrol),
    ]
    receipts = await push(client, world, batch)
    versions = [await _version(session_factory, f) for f in fids]
    at_t1 = {"targetsReached": [t1], "nearestTargetId": t1, "nearestTargetM": 0.0,
             "farFromTargets": False}  # fmt: skip
    far = {"targetsReached": [], "nearestTargetId": t1, "nearestTargetM": 1000.01,
           "farFromTargets": True}  # fmt: skip
    expected = [
        answer(0, batch[0], "applied", recordId=str(patrol)),
        answer(1, batch[1], "applied", recordId=str(patrol)),
        answer(2, batch[2], "applied", recordId=batch[2]["signInId"], signIn=at_t1),
        answer(3, batch[3], "applied", recordId=batch[3]["signInId"], signIn=far),
        answer(4, batch[4], "applied", recordId=str(fids[0]), version=versions[0]),
        answer(5, batch[5], "applied", recordId=str(fids[1]), version=versions[1]),
        answer(6, batch[6], "applied", recordId=batch[6]["checkId"]),
        answer(7, batch[7], "applied", recordId=batch[7]["verificationId"]),
        answer(8, batch[8], "applied", recordId=str(patrol)),
    ]
    assert receipts == expected
    # the answer was lost: the batch again gets the stored receipts, nothing runs twice
    assert await push(client, world, batch) == expected
    # the same operations under new op ids: each effect is stored already
    again = [renewed(op) for op in batch]
    assert await push(client, world, again) == [
        {**r, "opId": op["opId"], "status": "duplicate"}
        for r, op in zip(expected, again, strict=True)
    ]
    counts = await _scalar(
        session_factory,
        "SELECT point_count * 1000 + (SELECT count(*) FROM patrol_sign_ins WHERE session_id = :p)"
        " * 100 + (SELECT count(*) FROM patrol_findings WHERE session_id = :p) * 10"
        " + (SELECT count(*) FROM patrol_target_verifications WHERE session_id = :p)"
        " FROM patrol_sessions WHERE id = :p",
        p=patrol,
    )
    assert counts == 3221


async def test_each_new_record_is_applied_the_first_time_and_duplicate_after(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Records of each kind the batch creates are looked up together: one already stored
    is a duplicate, one new in the same batch is applied."""
    world: SyncWorld = await make_world()
    target = await _tip_off(world, session_factory)
    patrol = uuid7()
    first = [start(patrol, world.area_id), sign(patrol), finding(patrol, uuid7()),
             duty(world), verify(target, patrol)]  # fmt: skip
    assert [r["status"] for r in await push(client, world, first)] == ["applied"] * 5
    # each kind: one stored before (under a new op id), one new
    other = uuid7()
    second = [
        renewed(first[0]), start(other, world.area_id),
        renewed(first[1]), sign(patrol, 10.0),
        renewed(first[2]), finding(patrol, uuid7()),
        renewed(first[3]), duty(world),
        renewed(first[4]), verify(target, patrol),
    ]  # fmt: skip
    got = [(r["status"], r["recordId"]) for r in await push(client, world, second)]
    ids = [
        str(patrol), str(other), first[1]["signInId"], second[3]["signInId"],
        first[2]["findingId"], second[5]["findingId"], first[3]["checkId"],
        second[7]["checkId"], first[4]["verificationId"], second[9]["verificationId"],
    ]  # fmt: skip
    assert got == [(s, i) for s, i in zip(["duplicate", "applied"] * 5, ids, strict=True)]


# -- conflicts ------------------------------------------------------------------------------


async def test_a_finding_edited_on_both_sides_answers_the_server_version_and_values(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    patrol, fid = uuid7(), uuid7()
    made = await push(client, world, [start(patrol, world.area_id), finding(patrol, fid)])
    version = made[1]["version"]
    captain_edit = update(
        fid, version, {"constructionStatus": "fully_built", "constructionStartedOn": "2026-10-01",
                       "builder": "某公司"},
        base={"constructionStatus": "partly_built"},
    )  # fmt: skip
    [done] = await push(client, world, [captain_edit], Role.CAPTAIN)
    server = await _version(session_factory, fid)
    assert done == answer(0, captain_edit, "applied", recordId=str(fid), version=server)
    mine = update(
        fid, version, {"constructionStatus": "levelled", "constructionStartedOn": "2026-09-15",
                       "builder": "某公司", "note": "已平整"},
        base={"constructionStatus": "partly_built", "note": ""},
    )  # fmt: skip
    [clash] = await push(client, world, [mine])
    assert clash == answer(
        0, mine, "conflict", recordId=str(fid), version=server, code="version_conflict",
        reason="the finding was changed on the server since your copy",
        conflict={"serverVersion": server,
                  "fields": ["constructionStartedOn", "constructionStatus"],
                  "serverValues": {"constructionStartedOn": "2026-10-01",
                                   "constructionStatus": "fully_built"}},
    )  # fmt: skip
    # nothing of the refused edit is kept, not even the fields that did not clash
    assert await _version(session_factory, fid) == server
    note = await _scalar(session_factory, "SELECT note FROM patrol_findings WHERE id = :f", f=fid)
    assert note == ""


async def test_evidence_edited_on_both_sides_answers_the_server_version_and_values(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    ev = await _evidence(session_factory, world.county)
    first = edit(ev, caption="远景，西侧", base={"caption": "远景"})
    [done] = await push(client, world, [first])
    version = done["version"]
    assert done == answer(0, first, "applied", recordId=str(ev), version=version)
    theirs = edit(ev, proves="占用耕地", baseVersion=version)
    [moved] = await push(client, world, [theirs], Role.CAPTAIN)
    assert (moved["status"], moved["recordId"]) == ("applied", str(ev))
    mine = edit(ev, proves="挖砂", baseVersion=version, base={"proves": ""})
    [clash] = await push(client, world, [mine])
    assert clash == answer(
        0, mine, "conflict", recordId=str(ev), version=moved["version"], code="version_conflict",
        reason="the evidence was changed on the server since your copy",
        conflict={"serverVersion": moved["version"], "fields": ["proves"],
                  "serverValues": {"proves": "占用耕地"}},
    )  # fmt: skip
    # an edit on the old version that names no base: every field it changes clashes
    blind = edit(ev, caption="近景", baseVersion=version)
    [stale] = await push(client, world, [blind])
    assert (stale["status"], stale["conflict"]) == (
        "conflict",
        {"serverVersion": moved["version"], "fields": ["caption"],
         "serverValues": {"caption": "远景，西侧"}},
    )  # fmt: skip
    same = edit(ev, proves="占用耕地", baseVersion=moved["version"])
    [unchanged] = await push(client, world, [same])
    assert unchanged == answer(0, same, "duplicate", recordId=str(ev), version=moved["version"])


async def test_a_patrol_ended_again_at_another_time_is_a_conflict(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    patrol = uuid7()
    first, other = end(patrol, endedAt=_t(minutes=2)), end(patrol, endedAt=_t(minutes=3))
    # the end and a second end at another time in one batch: the first is applied (the
    # patrol ends then), the second answers the stored end
    receipts = await push(
        client, world, [start(patrol, world.area_id), points(patrol, 2), first, other]
    )
    clash = answer(
        3, other, "conflict", recordId=str(patrol), code="patrol_already_ended",
        reason="this patrol has already ended",
        conflict={"serverVersion": 0, "fields": ["endedAt"],
                  "serverValues": {"endedAt": first["endedAt"]}},
    )  # fmt: skip
    assert receipts[2:] == [answer(2, first, "applied", recordId=str(patrol)), clash]
    ended = await _scalar(
        session_factory, "SELECT ended_at FROM patrol_sessions WHERE id = :p", p=patrol
    )
    assert ended == datetime.fromisoformat(first["endedAt"])
    # on its own, later: the same answer; the first end again under a new op id: duplicate
    alone = renewed(other)
    again = renewed(first)
    assert await push(client, world, [alone, again]) == [
        {**clash, "index": 0, "opId": alone["opId"]},
        answer(1, again, "duplicate", recordId=str(patrol)),
    ]


async def test_a_patrol_closed_automatically_takes_the_phones_end(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    patrol = uuid7()
    await push(client, world, [start(patrol, world.area_id), points(patrol, 2)])
    at = _t(minutes=5)
    async with session_factory() as session:
        await session.execute(
            text("UPDATE patrol_sessions SET ended_at = :t, end_reason = 'auto_closed' "
                 "WHERE id = :p"),
            {"t": datetime.fromisoformat(at), "p": patrol},
        )  # fmt: skip
        await session.commit()
    # the phone's end at the very time the server closed it: applied, not a duplicate
    closing = end(patrol, endedAt=at)
    assert await push(client, world, [closing]) == [
        answer(0, closing, "applied", recordId=str(patrol))
    ]
    reason = await _scalar(
        session_factory, "SELECT end_reason FROM patrol_sessions WHERE id = :p", p=patrol
    )
    assert reason == "ended"
    again = renewed(closing)
    assert await push(client, world, [again]) == [
        answer(0, again, "duplicate", recordId=str(patrol))
    ]


# -- op ids, order, rollback ----------------------------------------------------------------


async def test_an_op_id_sent_twice_replays_its_receipt_or_is_refused(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    patrol, other = uuid7(), uuid7()
    first = start(patrol, world.area_id)
    reused = {**start(other, world.area_id), "opId": first["opId"]}
    refused = answer(
        2, reused, "rejected", code="op_id_reused",
        reason="this op id was used for another operation",
    )  # fmt: skip
    assert await push(client, world, [first, dict(first), reused]) == [
        answer(0, first, "applied", recordId=str(patrol)),
        answer(1, first, "applied", recordId=str(patrol)),
        refused,
    ]
    assert await _scalar(
        session_factory, "SELECT count(*) FROM patrol_sessions WHERE id = ANY(:ids)",
        ids=[patrol, other],
    ) == 1  # fmt: skip
    # later, the op id with a finding's body: refused again, nothing recorded
    fid = uuid7()
    late = {**finding(patrol, fid), "opId": first["opId"]}
    assert await push(client, world, [late]) == [{**refused, "index": 0}]
    assert await _scalar(
        session_factory, "SELECT count(*) FROM patrol_findings WHERE id = :f", f=fid
    ) == 0  # fmt: skip


async def test_a_refused_operation_among_others_is_rolled_back_alone(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    patrol, nowhere = uuid7(), uuid7()
    batch = [
        duty(world),
        duty(world, siteId=str(uuid7())),  # no such site
        duty(world, note="复查"),
        end(nowhere),  # no such patrol
        start(patrol, world.area_id),
        update(uuid7(), 1, {"note": "x"}),  # no such finding
        duty(world, status="reopened_maybe"),  # not a status
        edit(uuid7(), caption="远景"),  # no such evidence
    ]
    got = [(r["index"], r["status"], r["code"], r["recordId"]) for r in await push(
        client, world, batch)]  # fmt: skip
    assert got == [
        (0, "applied", None, batch[0]["checkId"]),
        (1, "rejected", "site_not_found", batch[1]["checkId"]),
        (2, "applied", None, batch[2]["checkId"]),
        (3, "rejected", "patrol_not_found", str(nowhere)),
        (4, "applied", None, str(patrol)),
        (5, "rejected", "finding_not_found", batch[5]["findingId"]),
        (6, "rejected", "invalid_status", batch[6]["checkId"]),
        (7, "rejected", "evidence_not_found", batch[7]["evidenceId"]),
    ]
    stored = await _scalar(
        session_factory, "SELECT array_agg(id::text ORDER BY id) FROM patrol_duty_checks "
        "WHERE id = ANY(:ids)", ids=[uuid.UUID(op["checkId"]) for op in batch if "checkId" in op],
    )  # fmt: skip
    assert stored == sorted([batch[0]["checkId"], batch[2]["checkId"]])
    assert await _scalar(
        session_factory, "SELECT count(*) FROM patrol_sessions WHERE id = :p", p=patrol
    ) == 1  # fmt: skip


async def test_operations_dated_too_long_ago_are_refused_naming_their_record(
    make_world: Any, client: Client
) -> None:
    world: SyncWorld = await make_world()
    old = _t(days=31)
    patrol = uuid7()
    batch = [
        {**start(patrol, world.area_id), "startedAt": old},
        end(patrol, endedAt=old),
        sign(patrol, at=old),
        {**finding(patrol, uuid7()), "foundAt": old},
        duty(world, checkedAt=old),
        verify(uuid7(), patrol, verifiedAt=old),
    ]
    records = [str(patrol), str(patrol), batch[2]["signInId"], batch[3]["findingId"],
               batch[4]["checkId"], batch[5]["verificationId"]]  # fmt: skip
    reason = f"time {old} is more than 30 days ago; check the phone's clock"
    assert await push(client, world, batch) == [
        answer(i, op, "rejected", recordId=record, code="implausible_time", reason=reason)
        for i, (op, record) in enumerate(zip(batch, records, strict=True))
    ]


# -- track points ---------------------------------------------------------------------------


def _point(**kw: Any) -> dict[str, Any]:
    return {"id": str(uuid7()), "t": _t(minutes=45), "lon": 112.05, "lat": 28.5,
            "accuracyM": 5.0, **kw}  # fmt: skip


async def test_point_batches_answer_what_was_stored_and_what_was_refused(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    patrol = uuid7()
    first = points(patrol, 3)
    await push(client, world, [start(patrol, world.area_id), first])
    stored = first["points"]
    ahead, wrong, new = _point(t=_t(days=-1)), _point(lon=500.0), _point()
    later = _point(t=_t(days=-2))
    batch = [  # consecutive batches of one patrol: stored with one call
        {**points(patrol, 0), "points": [ahead]},
        {**points(patrol, 0), "points": [stored[0], new]},
        {**points(patrol, 0), "points": [stored[1], stored[2]]},
        {**points(patrol, 0), "points": [wrong, _point(t=_t(minutes=44))]},
        {**points(patrol, 0), "points": [_point(t=_t(minutes=43)), later]},
    ]
    with structlog.testing.capture_logs() as logs:
        receipts = await push(client, world, batch)
    # one call stored them all: nothing failed and fell back to one call per batch
    assert not [e for e in logs if e["event"] == "sync.points_merge_failed"]
    future = {"id": ahead["id"], "code": "future_time",
              "reason": receipts[0]["rejectedItems"][0]["reason"]}  # fmt: skip
    assert receipts == [
        answer(0, batch[0], "rejected", recordId=str(patrol), code="points_rejected",
               reason="every point was rejected", rejectedItems=[future]),
        answer(1, batch[1], "applied", recordId=str(patrol)),
        answer(2, batch[2], "duplicate", recordId=str(patrol)),
        answer(3, batch[3], "applied", recordId=str(patrol), rejectedItems=[
            {"id": wrong["id"], "code": "invalid_coordinates",
             "reason": receipts[3]["rejectedItems"][0]["reason"]}]),
        answer(4, batch[4], "applied", recordId=str(patrol),
               rejectedItems=[{**future, "id": later["id"]}]),
    ]  # fmt: skip
    assert future["reason"] and receipts[3]["rejectedItems"][0]["reason"]
    count = await _scalar(
        session_factory, "SELECT point_count FROM patrol_sessions WHERE id = :p", p=patrol
    )
    assert count == 6


async def test_point_batches_of_a_patrol_not_found_are_each_refused(
    make_world: Any, client: Client
) -> None:
    world: SyncWorld = await make_world()
    nowhere = uuid7()
    batch = [points(nowhere, 2), points(nowhere, 1)]
    receipts = await push(client, world, batch)
    assert receipts == [
        answer(i, op, "rejected", recordId=str(nowhere), code="patrol_not_found",
               reason=receipts[0]["reason"])
        for i, op in enumerate(batch)
    ]  # fmt: skip
    assert receipts[0]["reason"]


# -- the service itself: limits, clocks, failures, logs --------------------------------------


async def _serve(
    factory: async_sessionmaker[AsyncSession],
    world: SyncWorld,
    ops: list[Any],
    *,
    prepare: Any = None,
    device_time: datetime | None = None,
    clock: Any = None,
) -> PushResult:
    async with factory() as session:
        service = PushService(session, clock=clock)
        if prepare is not None:
            prepare(service)
        result = await service.push(
            world.county.principal(Role.INSPECTOR), ops, device_time=device_time
        )
        await session.commit()
    return result


async def test_a_batch_of_the_most_operations_is_answered_one_more_is_refused(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    unreadable = sync_ops.Undecodable(None, "invalid_op", "bad", {"field": "ops[0].x"})
    result = await _serve(session_factory, world, [unreadable] * MAX_OPS)
    assert len(result.receipts) == MAX_OPS == 500
    assert result.receipts[-1] == Receipt(
        499, None, "rejected", code="invalid_op", reason="bad", params={"field": "ops[0].x"}
    )
    with pytest.raises(BatchTooLargeError) as refused:
        await _serve(session_factory, world, [unreadable] * (MAX_OPS + 1))
    assert refused.value.detail == "at most 500 operations per push; split the batch"
    assert (refused.value.code, refused.value.extra) == (
        "batch_too_large", {"limit": 500, "field": "ops"},
    )  # fmt: skip


async def test_times_at_the_age_limit_and_without_an_offset(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession], monkeypatch: Any
) -> None:
    world: SyncWorld = await make_world()
    at = clock.ago(hours=1)
    ops = [domain({**start(uuid7(), world.area_id), "startedAt": at.isoformat()})
           for _ in range(2)]  # fmt: skip
    monkeypatch.setattr("sync.push.utcnow", lambda: at + MAX_OP_AGE)
    [kept] = (await _serve(session_factory, world, [ops[0]])).receipts
    assert (kept.status, kept.code) == ("applied", None)
    monkeypatch.setattr("sync.push.utcnow", lambda: at + MAX_OP_AGE + timedelta(microseconds=1))
    [late] = (await _serve(session_factory, world, [ops[1]])).receipts
    assert late == Receipt(
        0, ops[1].op_id, "rejected", record_id=ops[1].input.patrol_id, code="implausible_time",
        reason=f"time {at.isoformat()} is more than 30 days ago; check the phone's clock",
    )  # fmt: skip
    monkeypatch.undo()
    naive = domain(start(uuid7(), world.area_id))
    assert isinstance(naive, sync_ops.StartPatrol)
    naive = replace(naive, input=replace(naive.input, started_at=at.replace(tzinfo=None)))
    [refused] = (await _serve(session_factory, world, [naive])).receipts
    assert refused == Receipt(
        0, naive.op_id, "rejected", record_id=naive.input.patrol_id, code="invalid_time",
        reason="times must carry a time zone offset",
    )  # fmt: skip


async def test_the_age_limit_counts_from_the_clock_the_service_is_given(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The app's clock (``app.state.clock``, pinned by the stories) is the server's time for
    a push: an operation 30 days before it is kept, one a microsecond older refused, whatever
    the real date."""
    world: SyncWorld = await make_world()
    at = clock.ago(hours=1)
    ops = [domain({**start(uuid7(), world.area_id), "startedAt": at.isoformat()})
           for _ in range(2)]  # fmt: skip
    kept = await _serve(session_factory, world, [ops[0]], clock=lambda: at + MAX_OP_AGE)
    assert [(r.status, r.code) for r in kept.receipts] == [("applied", None)]
    assert kept.server_time == at + MAX_OP_AGE
    late = await _serve(
        session_factory, world, [ops[1]], clock=lambda: at + MAX_OP_AGE + timedelta(microseconds=1)
    )
    assert [(r.status, r.code) for r in late.receipts] == [("rejected", "implausible_time")]


async def test_the_clock_skew_and_server_time_are_the_pushs_own(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession], monkeypatch: Any
) -> None:
    world: SyncWorld = await make_world()
    now = clock.now()
    monkeypatch.setattr("sync.push.utcnow", lambda: now)
    patrol = uuid7()
    wire = start(patrol, world.area_id)
    ops = [domain(wire), domain(renewed(wire)), sync_ops.Undecodable(None, "invalid_op", "bad")]
    with structlog.testing.capture_logs() as logs:
        result = await _serve(
            session_factory, world, ops, device_time=now - timedelta(seconds=90.5)
        )
    assert (result.server_time, result.clock_skew_s) == (now, 90.5)
    assert [r.status for r in result.receipts] == ["applied", "duplicate", "rejected"]
    assert [e for e in logs if e["event"] == "sync.pushed"] == [
        {"event": "sync.pushed", "log_level": "info", "county": str(world.county.id),
         "ops": 3, "applied": 1, "rejected": 1}
    ]  # fmt: skip
    later = await _serve(session_factory, world, [domain(renewed(wire))])
    assert (later.server_time, later.clock_skew_s) == (now, None)
    stored = await _scalar(
        session_factory, "SELECT created_at FROM sync_receipts WHERE op_id = :o",
        o=uuid.UUID(wire["opId"]),
    )  # fmt: skip
    assert stored == now


async def test_an_unexpected_failure_is_retryable_and_not_remembered(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    wire = duty(world)
    check = uuid.UUID(wire["checkId"])

    def breaks(error: Exception) -> Any:
        async def fail(*args: Any, **kw: Any) -> Any:
            raise error

        def prepare(service: PushService) -> None:
            service.duty.record_check = fail  # type: ignore[method-assign]

        return prepare

    with structlog.testing.capture_logs() as logs:
        result = await _serve(
            session_factory, world, [domain(wire)], prepare=breaks(RuntimeError("bug"))
        )
    assert result.receipts == [
        Receipt(0, uuid.UUID(wire["opId"]), "rejected", record_id=check,
                code="internal_error", retryable=True,
                reason="the operation failed on the server; send it again later")
    ]  # fmt: skip
    failed = [e for e in logs if e["event"] == "sync.op_failed"]
    assert [(e["op"], e["error"], e["log_level"]) for e in failed] == [
        ("RecordDutyCheck", "RuntimeError", "error")
    ]
    # not remembered: the op id again runs the operation
    [applied] = (await _serve(session_factory, world, [domain(wire)])).receipts
    assert applied == Receipt(0, uuid.UUID(wire["opId"]), "applied", record_id=check)
    # the database going away fails the whole push (503), nothing answered for it
    with pytest.raises(PoolTimeoutError):
        await _serve(
            session_factory, world, [domain(duty(world))], prepare=breaks(PoolTimeoutError())
        )


async def test_a_failing_shared_call_falls_back_to_one_call_per_operation(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A sign-in run, a finding run and a point run whose shared call fails for an
    unexpected reason are stored one by one; the failure is logged."""
    world: SyncWorld = await make_world()
    patrol = uuid7()
    await _serve(session_factory, world, [domain(start(patrol, world.area_id))])
    wires = [sign(patrol), sign(patrol, 1000.01), finding(patrol, uuid7()),
             finding(patrol, uuid7()), points(patrol, 2), points(patrol, 1)]  # fmt: skip
    ops = [domain(w) for w in wires]

    def prepare(service: PushService) -> None:
        patrols, tracks = service.patrols, service.tracks
        sign_in_many, record_findings = patrols.sign_in_many, patrols.record_findings

        async def signs(principal: Any, items: list[Any]) -> Any:
            if len(items) > 1:
                raise RuntimeError("shared")
            return await sign_in_many(principal, items)

        async def finds(principal: Any, items: list[Any]) -> Any:
            if len(items) > 1:
                raise KeyError("shared")
            return await record_findings(principal, items)

        append = tracks.append_track_points
        calls: list[int] = []

        async def merged(*args: Any, **kw: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:  # the shared call; the ones per operation go through
                raise ValueError("shared")
            return await append(*args, **kw)

        patrols.sign_in_many = signs  # type: ignore[method-assign]
        patrols.record_findings = finds  # type: ignore[method-assign]
        tracks.append_track_points = merged  # type: ignore[method-assign]

    with structlog.testing.capture_logs() as logs:
        result = await _serve(session_factory, world, ops, prepare=prepare)
    t1 = uuid.UUID(await _t1(session_factory, world))
    records = [o.input.sign_in_id for o in ops[:2]]  # type: ignore[union-attr]
    assert [(r.index, r.status, r.code) for r in result.receipts] == [
        (i, "applied", None) for i in range(6)
    ]
    assert [(r.record_id, r.sign_in) for r in result.receipts[:2]] == [
        (records[0], SignInOutcome([t1], t1, 0.0, False)),
        (records[1], SignInOutcome([], t1, 1000.01, True)),
    ]
    warned = [(e["event"], e.get("op"), e["error"], e["log_level"]) for e in logs
              if e["event"] in {"sync.bulk_failed", "sync.points_merge_failed"}]  # fmt: skip
    assert warned == [
        ("sync.bulk_failed", "SignIn", "RuntimeError", "warning"),
        ("sync.bulk_failed", "RecordFinding", "KeyError", "warning"),
        ("sync.points_merge_failed", None, "ValueError", "warning"),
    ]
    count = await _scalar(
        session_factory, "SELECT point_count FROM patrol_sessions WHERE id = :p", p=patrol
    )
    assert count == 3


async def test_receipts_kept_with_the_facts_their_message_names(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A refusal keeps the error's plain facts (text, numbers) for the phone's message, and a
    replay gives them back."""
    world: SyncWorld = await make_world()
    patrol = uuid7()
    wires = [start(patrol, world.area_id), end(patrol, endedAt=_t(minutes=2)),
             end(patrol, endedAt=_t(minutes=3))]  # fmt: skip
    ops = [domain(w) for w in wires]
    result = await _serve(session_factory, world, ops)
    ended = datetime.fromisoformat(wires[1]["endedAt"])
    assert result.receipts[2] == Receipt(
        2, ops[2].op_id, "conflict", record_id=patrol, code="patrol_already_ended",
        reason="this patrol has already ended",
        params={"patrol_id": str(patrol), "ended_at": ended.isoformat()},
        conflict=Conflict(0, ["ended_at"], {"ended_at": ended.isoformat()}),
    )  # fmt: skip
    again = await _serve(session_factory, world, ops)
    assert again.receipts == result.receipts
    # a rejected item keeps the point's id, code and reason
    far = domain({**points(patrol, 0), "points": [_point(t=_t(days=-1))]})
    [refused] = (await _serve(session_factory, world, [far])).receipts
    assert refused.rejected_items == [
        RejectedItem(far.input.points[0].id, "future_time",  # type: ignore[union-attr]
                     refused.rejected_items[0].reason)
    ]  # fmt: skip


async def test_point_batches_share_a_call_up_to_the_point_limit(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Consecutive batches of a patrol are stored with one call while their points fit the
    per-call limit; a batch alone is stored on its own."""
    world: SyncWorld = await make_world()
    patrol = uuid7()
    await _serve(session_factory, world, [domain(start(patrol, world.area_id))])
    sizes = [2, 1, 1, 3, 1, 1, 1]
    ops = [domain(points(patrol, n)) for n in sizes]
    calls: list[tuple[str, int]] = []

    def prepare(service: PushService) -> None:
        tracks = service.tracks
        one, shared = tracks.append, tracks.append_track_points

        async def alone(principal: Any, batch: Any) -> Any:
            calls.append(("alone", len(batch.points)))
            return await one(principal, batch)

        async def together(principal: Any, patrol_id: Any, items: Any) -> Any:
            calls.append(("call", len(items)))
            return await shared(principal, patrol_id, items)

        tracks.append = alone  # type: ignore[method-assign]
        tracks.append_track_points = together  # type: ignore[method-assign]

    async with session_factory() as session:
        service = PushService(session, config=PatrolConfig(max_points_per_batch=3))
        prepare(service)
        result = await service.push(world.county.principal(Role.INSPECTOR), ops)
        await session.commit()
    assert [r.status for r in result.receipts] == ["applied"] * len(sizes)
    assert calls == [
        ("call", 3),  # 2 + 1
        ("alone", 1), ("call", 1),  # 1 + 3 would be 4
        ("alone", 3), ("call", 3),
        ("call", 3),  # 1 + 1 + 1: at the limit
    ]  # fmt: skip
    count = await _scalar(
        session_factory, "SELECT point_count FROM patrol_sessions WHERE id = :p", p=patrol
    )
    assert count == sum(sizes)


async def test_sign_ins_share_a_call_and_a_refused_one_is_tried_alone(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    patrol = uuid7()
    await _serve(session_factory, world, [domain(start(patrol, world.area_id))])
    calls: list[int] = []

    def prepare(service: PushService) -> None:
        many = service.patrols.sign_in_many

        async def counted(principal: Any, items: list[Any]) -> Any:
            calls.append(len(items))
            return await many(principal, items)

        service.patrols.sign_in_many = counted  # type: ignore[method-assign]

    two = [domain(sign(patrol)), domain(sign(patrol, 10.0))]
    result = await _serve(session_factory, world, two, prepare=prepare)
    assert ([r.status for r in result.receipts], calls) == (["applied", "applied"], [2])
    # after another kind of operation, the sign-ins still share their call
    calls.clear()
    other = uuid7()
    wires = [start(other, world.area_id), sign(other), sign(other, 10.0)]
    result = await _serve(session_factory, world, [domain(w) for w in wires], prepare=prepare)
    assert ([r.status for r in result.receipts], calls) == (["applied"] * 3, [2])
    # a sign-in alone that is refused: tried in its savepoint, then answered on its own
    calls.clear()
    lone = [domain(sign(uuid7()))]
    [refused] = (await _serve(session_factory, world, lone, prepare=prepare)).receipts
    assert ((refused.status, refused.code), calls) == (("rejected", "patrol_not_found"), [1, 1])


async def test_evidence_edits_without_a_custody_log_are_not_supported(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    ev = await _evidence(session_factory, world.county)
    op = domain(edit(ev, caption="近景"))
    [receipt] = (await _serve(session_factory, world, [op])).receipts
    assert receipt == Receipt(
        0, op.op_id, "rejected", record_id=ev, code="op_not_supported",
        reason="evidence caption/metadata updates are not available on this server",
    )  # fmt: skip


def _counting(calls: list[int], owner: Any, name: str) -> None:
    """Count the items of each call of ``owner.name`` (one for a call of one item)."""
    inner = getattr(owner, name)

    async def counted(principal: Any, item: Any) -> Any:
        calls.append(len(item) if isinstance(item, list) else 1)
        return await inner(principal, item)

    setattr(owner, name, counted)


async def test_operations_sharing_a_savepoint_run_once_unless_one_fails(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Operations that all succeed run once each in their shared savepoint; when one fails,
    the ones before it run again together and it runs on its own. A savepoint holds 50."""
    world: SyncWorld = await make_world()
    checks: list[int] = []
    ok = [domain(duty(world)) for _ in range(3)]
    result = await _serve(
        session_factory, world, ok,
        prepare=lambda service: _counting(checks, service.duty, "record_check"),
    )  # fmt: skip
    assert ([r.status for r in result.receipts], len(checks)) == (["applied"] * 3, 3)
    # one stored before among them: a duplicate does not send the others round again
    checks.clear()
    wires = [duty(world), duty(world)]
    await _serve(session_factory, world, [domain(wires[0])])
    mixed = [domain(renewed(wires[0])), domain(wires[1])]
    result = await _serve(
        session_factory, world, mixed,
        prepare=lambda service: _counting(checks, service.duty, "record_check"),
    )  # fmt: skip
    assert ([r.status for r in result.receipts], len(checks)) == (["duplicate", "applied"], 2)
    # fifty that succeed, then one refused: the fifty are not run again
    checks.clear()
    many = [domain(duty(world)) for _ in range(50)]
    many.append(domain(duty(world, siteId=str(uuid7()))))
    result = await _serve(
        session_factory, world, many,
        prepare=lambda service: _counting(checks, service.duty, "record_check"),
    )  # fmt: skip
    assert [r.status for r in result.receipts] == ["applied"] * 50 + ["rejected"]
    assert len(checks) == 52  # the fifty once, the refused one in its group and alone


async def test_a_run_of_sign_ins_is_stored_two_hundred_at_a_time(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    patrol = uuid7()
    await _serve(session_factory, world, [domain(start(patrol, world.area_id))])
    calls: list[int] = []
    ops = [domain(sign(patrol, float(i))) for i in range(201)]
    result = await _serve(
        session_factory, world, ops,
        prepare=lambda service: _counting(calls, service.patrols, "sign_in_many"),
    )  # fmt: skip
    assert ({r.status for r in result.receipts}, calls) == ({"applied"}, [200, 1])


async def test_a_refusal_keeps_the_facts_of_its_error(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    nowhere = uuid7()
    op = domain(end(nowhere))
    [refused] = (await _serve(session_factory, world, [op])).receipts
    assert refused == Receipt(
        0, op.op_id, "rejected", record_id=nowhere, code="patrol_not_found",
        reason="patrol not found", params={"patrol_id": str(nowhere)},
    )  # fmt: skip


async def test_a_push_waits_for_the_push_of_the_same_user_before_it(
    make_world: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Pushes of one user take turns (the phone retried while its first push still runs):
    while another transaction holds the user's push lock, the push waits; then it runs."""
    world: SyncWorld = await make_world()
    user = world.county.users[Role.INSPECTOR].id
    async with session_factory() as holder:
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended('sync-push:' || :u, 0))"),
            {"u": str(user)},
        )
        waiting = asyncio.create_task(
            _serve(session_factory, world, [domain(start(uuid7(), world.area_id))])
        )
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await holder.rollback()
    [receipt] = (await asyncio.wait_for(waiting, 30)).receipts
    assert receipt.status == "applied"
