"""Sync at its edges: a finding's edit replayed, an edit by someone off the crew, two pushes
of one user at the same moment, and two pulls of one stream at the same moment."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Role
from tests.sync.conftest import Client, Phone, SyncWorld
from tests.sync.test_push import finding, start

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"


def _edit(fid: str, version: int, **changes: Any) -> dict[str, Any]:
    return {"type": "updateFinding", "opId": str(uuid7()), "findingId": fid,
            "baseVersion": version, "changes": changes}  # fmt: skip


async def _a_finding(p: Phone, world: SyncWorld) -> dict[str, Any]:
    patrol, fid = uuid7(), uuid7()
    p.outbox = [start(patrol, world.area_id), finding(patrol, fid)]
    assert [r["status"] for r in await p.push()] == ["applied", "applied"]
    await p.sync()
    found: dict[str, Any] = p.store["findings"][str(fid)]
    return found


async def test_an_edit_sent_twice_gets_the_same_receipt_and_changes_once(
    make_world: Any, phone: Any
) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    found = await _a_finding(p, world)
    edit = _edit(found["id"], found["version"], constructionStatus="fully_built", note="已封顶")
    p.outbox = [edit]
    [first] = await p.push()
    assert (first["status"], first["recordId"]) == ("applied", found["id"])
    assert first["version"] != found["version"]
    # the answer was lost: the phone sends the same op again
    p.outbox = [edit]
    [again] = await p.push()
    assert again == first
    await p.sync()
    kept = p.store["findings"][found["id"]]
    assert (kept["constructionStatus"], kept["note"], kept["version"]) == (
        "fully_built", "已封顶", first["version"],
    )  # fmt: skip
    # the same change under a new op id: already so, nothing to apply
    p.outbox = [{**edit, "opId": str(uuid7()), "baseVersion": first["version"]}]
    [same] = await p.push()
    assert (same["status"], same["version"]) == ("duplicate", first["version"])


async def test_an_edit_to_a_blank_project_name_is_rejected(make_world: Any, phone: Any) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    found = await _a_finding(p, world)
    p.outbox = [_edit(found["id"], found["version"], projectName="   ")]
    [receipt] = await p.push()
    assert (receipt["status"], receipt["code"]) == ("rejected", "invalid_patrol_input")
    await p.sync()
    assert p.store["findings"][found["id"]]["projectName"] == found["projectName"]


async def test_someone_off_the_crew_cannot_edit_a_finding(make_world: Any, phone: Any) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    found = await _a_finding(p, world)
    squad: Phone = phone(world.headers(Role.SECURITY_SQUAD))
    squad.outbox = [_edit(found["id"], found["version"], note="改一下")]
    [receipt] = await squad.push()
    assert (receipt["status"], receipt["code"]) == ("rejected", "not_finding_editor")
    assert receipt["reason"]
    await p.sync()
    assert p.store["findings"][found["id"]]["note"] == found["note"]


async def test_two_pushes_of_one_user_at_once_apply_each_op_once(
    make_world: Any, client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The phone retries while its first push is still running: the pushes take turns
    (neither is refused), the second answers the first's receipts, nothing is stored twice."""
    world: SyncWorld = await make_world()
    patrol = uuid7()
    fids = [uuid7() for _ in range(20)]
    body = {"ops": [start(patrol, world.area_id), *(finding(patrol, f) for f in fids)]}
    other = {"ops": [start(uuid7(), world.area_id)]}

    async def push(payload: dict[str, Any]) -> Any:
        return await client.post(PUSH, json=payload, headers=world.headers())

    first, second, third = await asyncio.gather(push(body), push(body), push(other))
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 200)
    answers = [first.json()["receipts"], second.json()["receipts"]]
    assert answers[0] == answers[1]
    assert {r["status"] for r in answers[0]} == {"applied"}
    assert third.json()["receipts"][0]["status"] == "applied"
    async with session_factory() as session:
        n = await session.scalar(
            text("SELECT count(*) FROM patrol_findings WHERE session_id = :p"), {"p": patrol}
        )
    assert n == len(fids)


async def test_a_pull_of_a_stream_another_pull_holds_is_told_to_retry(
    make_world: Any,
    client: Client,
    phone: Any,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    await p.sync()
    user = world.county.users[Role.INSPECTOR].id
    body = {"cursor": p.cursor}
    # another pull of the stream holds it (its transaction is open)
    async with session_factory() as other:
        await other.execute(
            text("SELECT id FROM sync_streams WHERE user_id = :u FOR UPDATE"), {"u": user}
        )
        busy = await client.post(PULL, json=body, headers=world.headers())
        in_english = await client.post(
            PULL, json=body, headers={**world.headers(), "Accept-Language": "en"}
        )
        await other.rollback()
    assert busy.status_code == 409, busy.text
    assert busy.json()["code"] == "sync_busy"
    assert (in_english.status_code, in_english.json()["code"]) == (409, "sync_busy")
    assert in_english.json()["detail"] == "another pull of this stream is running; retry shortly"
    # the phone is told when to try again
    assert (busy.json()["retryAfterS"], busy.headers["retry-after"]) == (1, "1")
    # once it is done, the same cursor pulls
    assert (await client.post(PULL, json=body, headers=world.headers())).status_code == 200


async def test_pulls_of_one_stream_at_once_one_answers_the_others_are_busy(
    make_world: Any, client: Client, phone: Any
) -> None:
    """The phone's pull and its retries race with the same cursor: each gets the page or
    ``sync_busy`` (which of them depends on timing), never a 500."""
    world: SyncWorld = await make_world(parcels=400)
    p: Phone = phone(world.headers())
    first = await p.pull_page(limit=50)  # a stream with more to send
    assert first["hasMore"]
    body = {"cursor": p.cursor, "limit": 2000}
    answers = await asyncio.gather(
        *(client.post(PULL, json=body, headers=world.headers()) for _ in range(4))
    )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 409}, [a.text for a in answers]
    assert 200 in statuses, statuses
    assert {a.json()["code"] for a in answers if a.status_code == 409} <= {"sync_busy"}
