"""Receipts stored before an upgrade stay valid: a phone replaying a batch gets them again.

The fingerprint a push stores with each receipt (``sync.push._op_hash``) must not change
when the operations' shape in code changes: the constants below were computed before the
operations carried their domain inputs (``sync.ops``), for fixed wire operations.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.controllers.sync import _op
from infra.ids import uuid7
from infra.scope import Role
from mobile_contract.v1 import sync as c
from sync.push import Receipt, _op_hash
from tests import clock
from tests.sync.conftest import Phone, SyncWorld

_P = "01930000-0000-7000-8000-"  # the fixed ids below: _P + 12 hex digits
_PATROL, _VILLAGE, _FINDING = _P + "0000000000a1", _P + "0000000000f1", _P + "000000000101"

#: One wire operation per type (and variants with every optional field).
FIXED: dict[str, dict[str, Any]] = {
    "startPatrol": {"type": "startPatrol", "opId": _P + "000000000001", "patrolId": _PATROL,
                    "areaId": _P + "0000000000b1", "startedAt": "2026-11-20T08:00:00+08:00",
                    "companionIds": [_P + "0000000000c1"], "note": "晨间巡查"},
    "endPatrol": {"type": "endPatrol", "opId": _P + "000000000002", "patrolId": _PATROL,
                  "endedAt": "2026-11-20T11:30:00+08:00", "note": "结束"},
    "endPatrolNoNote": {"type": "endPatrol", "opId": _P + "000000000012", "patrolId": _PATROL,
                        "endedAt": "2026-11-20T11:30:00+08:00"},
    "trackPoints": {"type": "trackPoints", "opId": _P + "000000000003", "patrolId": _PATROL,
                    "points": [
                        {"id": _P + "0000000000d1", "t": "2026-11-20T08:01:00+08:00",
                         "lon": 112.05, "lat": 28.5, "accuracyM": 5.0},
                        {"id": _P + "0000000000d2", "t": "2026-11-20T08:01:05+08:00",
                         "lon": 112.0501, "lat": 28.5002, "accuracyM": 6.5, "speedMps": 1.2,
                         "headingDeg": 90.0}]},
    "signIn": {"type": "signIn", "opId": _P + "000000000004", "patrolId": _PATROL,
               "signInId": _P + "0000000000e1", "at": "2026-11-20T08:10:00+08:00",
               "lon": 112.05, "lat": 28.5, "accuracyM": 8.0},
    "signInManual": {"type": "signIn", "opId": _P + "000000000014", "patrolId": _PATROL,
                     "signInId": _P + "0000000000e2", "at": "2026-11-20T08:20:00+08:00",
                     "method": "manual", "reasonCode": "no_gps_fix", "villageId": _VILLAGE,
                     "address": "新村村委会"},
    "recordFinding": {"type": "recordFinding", "opId": _P + "000000000005", "patrolId": _PATROL,
                      "findingId": _FINDING, "foundAt": "2026-11-20T09:00:00+08:00",
                      "projectName": "违建厂房", "constructionStatus": "partly_built",
                      "lon": 112.05, "lat": 28.5},
    "recordFindingFull": {"type": "recordFinding", "opId": _P + "000000000015",
                          "patrolId": _PATROL, "findingId": _P + "000000000102",
                          "foundAt": "2026-11-20T09:30:00+08:00", "projectName": "采石场",
                          "constructionStatus": "other", "lon": 112.06, "lat": 28.51,
                          "accuracyM": 4.5, "builder": "某公司",
                          "constructionStartedOn": "2026-10-01", "occupiedAreaM2": 1234.5,
                          "townshipId": _P + "000000000201", "villageId": _VILLAGE,
                          "note": "复采迹象",
                          "outline": {"type": "Polygon", "coordinates": [[
                              [112.06, 28.51], [112.061, 28.51], [112.061, 28.511],
                              [112.06, 28.51]]]}},
    "updateFinding": {"type": "updateFinding", "opId": _P + "000000000006",
                      "findingId": _FINDING, "baseVersion": 1234,
                      "changes": {"projectName": "违建厂房二期", "occupiedAreaM2": 500.0},
                      "base": {"projectName": "违建厂房"}},
    "updateFindingAll": {"type": "updateFinding", "opId": _P + "000000000016",
                         "findingId": _FINDING, "baseVersion": 99,
                         "changes": {"projectName": "甲", "builder": "乙",
                                     "constructionStartedOn": "2026-09-01",
                                     "constructionStatus": "fully_built",
                                     "occupiedAreaM2": 10.0, "note": "丙"}},
    "dutyCheck": {"type": "dutyCheck", "opId": _P + "000000000007",
                  "checkId": _P + "000000000301", "siteId": _P + "000000000401",
                  "checkedAt": "2026-11-20T10:00:00+08:00", "status": "still_closed",
                  "memberId": _P + "0000000000c1", "isNight": True, "note": "无异常",
                  "evidenceIds": [_P + "000000000501"]},
    "updateEvidence": {"type": "updateEvidence", "opId": _P + "000000000008",
                       "evidenceId": _P + "000000000501", "caption": "远景", "viewType": "far",
                       "baseVersion": 7, "base": {"caption": "旧"}},
}  # fmt: skip

#: sha256 of each operation as stored in ``sync_receipts.op_hash`` (computed before the
#: operations carried their domain inputs; never change these).
PINNED = {
    "startPatrol": "57e221cb95ba849fcc5076db6df29aefb49eeebf6b86684444123a9b0a90f44e",
    "endPatrol": "353e5b659865bb3e05dc56e884130fb002319578912042d2e9bc19ebdf827ff6",
    "endPatrolNoNote": "6d24776c036c7c223859230cc7d70ed2390dcf60d76ddca930b6e5cdf628ee16",
    "trackPoints": "a18fe79e6146561a95c7d9a5175e61de7adf4788a63d98c758f5feb1e2e3f996",
    "signIn": "f2a2eac5b73e530b00a8243d4feaa8e3a047d30aab4e46fadff61557dc7c4b44",
    "signInManual": "6ec44b2afd7589201e7eb1cc7bf17d8f069eea5828e13fb53a28b41d330f7393",
    "recordFinding": "a1f794729b7edb113676333c57b26f430261cfebd353273a4aa1fca21ae8e1d3",
    "recordFindingFull": "00f567e34b740e922d1b61c2a0c3e4e0fc640c5338f3500b83d50757a13b3fed",
    "updateFinding": "0c1333736161f0448140e0c30c011a667300df4547a0724cb389a4002ac10150",
    "updateFindingAll": "2d17c5a6ba9d4d7f7bc97d00e41908a4313bd7c29f6cbe2bb5dbd23bbc0b10ae",
    "dutyCheck": "0a7d1bac291b7a6ac78e0b1b419e062fa34fc4a4245378a494c7c33f69f7c046",
    "updateEvidence": "24c74661552c9d1b599b327a51147158d612f1a4a56ef3240c7fe182346dc4b0",
}

_INSERT = text(
    "INSERT INTO sync_receipts (user_id, op_id, county_id, op_hash, receipt, created_at) "
    "VALUES (:u, :op, :c, :h, CAST(:body AS jsonb), now())"
)


def _digest(wire: dict[str, Any]) -> bytes:
    return _op_hash(_op(msgspec.convert(wire, c.PushOperation, strict=True)))


@pytest.mark.parametrize("name", sorted(FIXED))
def test_fingerprint_of_each_operation_is_pinned(name: str) -> None:
    assert _digest(FIXED[name]).hex() == PINNED[name]


def test_an_outline_left_out_hashes_as_before_outlines_existed() -> None:
    wire = {**FIXED["recordFinding"], "outline": None}
    assert _digest(wire).hex() == PINNED["recordFinding"]


async def test_receipts_stored_before_the_upgrade_replay_as_stored(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Receipts stored under the pinned fingerprints come back as they were, none of them
    ``op_id_reused``."""
    world: SyncWorld = await make_world()
    user = world.county.users[Role.INSPECTOR].id
    stored: list[dict[str, Any]] = []
    async with session_factory() as session:
        for version, name in enumerate(sorted(FIXED), start=1000):
            wire = FIXED[name]
            record = next(v for k, v in wire.items() if k.endswith("Id") and k != "opId")
            receipt = Receipt(0, uuid.UUID(wire["opId"]), "duplicate",
                              record_id=uuid.UUID(record), version=version)  # fmt: skip
            body = msgspec.json.encode(receipt).decode()
            row = {"u": user, "op": receipt.op_id, "c": world.county.id,
                   "h": bytes.fromhex(PINNED[name]), "body": body}  # fmt: skip
            await session.execute(_INSERT, row)
            stored.append({"opId": wire["opId"], "recordId": record, "version": version})
        await session.commit()
    p: Phone = phone(world.headers())
    p.outbox = [FIXED[name] for name in sorted(FIXED)]
    receipts = await p.push()
    got = [
        {"opId": r["opId"], "recordId": r["recordId"], "version": r["version"]} for r in receipts
    ]
    assert [r["status"] for r in receipts] == ["duplicate"] * len(FIXED), receipts
    assert got == stored


def _t(**kw: float) -> str:
    return (clock.now() - timedelta(**kw)).isoformat()


async def test_a_stored_batch_replays_with_identical_receipts(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    patrol, fid, sid, cid = uuid7(), uuid7(), uuid7(), uuid7()
    batch: list[dict[str, Any]] = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "areaId": str(world.area_id), "startedAt": _t(hours=1)},
        {"type": "trackPoints", "opId": str(uuid7()), "patrolId": str(patrol),
         "points": [{"id": str(uuid7()), "t": _t(minutes=50 - i), "lon": 112.05,
                     "lat": 28.5 + i * 0.0002, "accuracyM": 5.0} for i in range(5)]},
        {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
         "signInId": str(sid), "at": _t(minutes=40), "lon": 112.05, "lat": 28.5,
         "accuracyM": 8.0},
        {"type": "recordFinding", "opId": str(uuid7()), "patrolId": str(patrol),
         "findingId": str(fid), "foundAt": _t(minutes=30), "projectName": "违建厂房",
         "constructionStatus": "partly_built", "lon": 112.05, "lat": 28.5},
        {"type": "dutyCheck", "opId": str(uuid7()), "checkId": str(cid),
         "siteId": str(world.site_id), "checkedAt": _t(minutes=20), "status": "still_closed"},
        {"type": "endPatrol", "opId": str(uuid7()), "patrolId": str(patrol), "endedAt": _t()},
    ]  # fmt: skip
    p.outbox = list(batch)
    first = await p.push()
    assert [r["status"] for r in first] == ["applied"] * len(batch), first
    version = first[3]["version"]
    edit = {"type": "updateFinding", "opId": str(uuid7()), "findingId": str(fid),
            "baseVersion": version, "changes": {"occupiedAreaM2": 320.0}}  # fmt: skip
    p.outbox = [edit]
    edited = await p.push()
    assert edited[0]["status"] == "applied" and edited[0]["version"] != version
    batch.append(edit)
    first.append({**edited[0], "index": len(batch) - 1})
    # the phone lost the answers and sends everything again: the same receipts
    p.outbox = list(batch)
    assert await p.push() == first
    # what is stored is the fingerprint of each operation as this server reads it
    async with session_factory() as session:
        rows = await session.execute(
            text("SELECT op_id, op_hash FROM sync_receipts WHERE op_id = ANY(:ids)"),
            {"ids": [uuid.UUID(op["opId"]) for op in batch]},
        )
        hashes = {str(r[0]): bytes(r[1]) for r in rows}
    assert hashes == {op["opId"]: _digest(op) for op in batch}
    # the same operations under new op ids: their effects are stored, same ids and versions
    p.outbox = [{**op, "opId": str(uuid7())} for op in batch]
    again = await p.push()
    assert [r["status"] for r in again] == ["duplicate"] * len(batch), again
    assert [(r["recordId"], r["version"]) for r in again] == [
        (r["recordId"], r["version"]) for r in first[:3]
    ] + [(first[3]["recordId"], edited[0]["version"])] + [
        (r["recordId"], r["version"]) for r in first[4:]
    ]
