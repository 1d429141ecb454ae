"""Satellite tasks over HTTP and sync: a result recorded from the phone (REST and push, each
replayed), review both ways, submission all or nothing, the lock after submission, an
admin's reopening in the custody chain, and the case an illegal result opens."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.models import CustodyEntry
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.api.test_evidence_api import seed_evidence
from tests.satellite_tasks.seed import LAT, LON, TaskSpec, seed_batch
from tests.worlds import World

API = "/api/v1"
Client = AsyncTestClient[Litestar]
#: when the results were verified on site (the server checks it against its own clock)
VERIFIED_AT = clock.ago(hours=1).isoformat()


def _illegal(**kw: Any) -> dict[str, Any]:
    return {
        "outcome": "illegal",
        "verifiedAt": VERIFIED_AT,
        "violator": "李四",
        "violatorType": "person",
        "landUse": "housing",
        "constructionStatus": "fully_built",
        **kw,
    }


async def _call(
    client: Client, world: World, role: Role, method: str, path: str, body: Any = None
) -> Any:
    return await client.request(method, f"{API}{path}", json=body, headers=world.headers(role))


def _problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["code"] == code, body
    return body


async def test_results_from_rest_and_push_are_idempotent(
    client: Client, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec(), TaskSpec()])
    rest_task, push_task = seeded.task_ids
    path = f"/satellite/tasks/{rest_task}/results/{uuid7()}"
    first = await _call(client, world, Role.INSPECTOR, "PUT", path, _illegal())
    assert first.status_code == 200, first.text
    again = await _call(client, world, Role.INSPECTOR, "PUT", path, _illegal())
    assert again.status_code == 200 and again.json() == first.json()
    resp = await _call(client, world, Role.INSPECTOR, "PUT", path, _illegal(violator="王五"))
    _problem(resp, 409, "id_reused")
    resp = await _call(client, world, Role.INSPECTOR, "PUT", path, _illegal(notNewKind="other"))
    assert _problem(resp, 422, "invalid_satellite_result")["errors"][0]["field"] == "not_new_kind"

    result_id = str(uuid7())
    op = {"type": "recordSatelliteResult", "opId": str(uuid7()), "taskId": str(push_task),
          "resultId": result_id, **_illegal(outline=None)}  # fmt: skip
    unknown_use = {**op, "opId": str(uuid7()), "resultId": str(uuid7()), "landUse": "casino"}
    other = {**op, "opId": str(uuid7()), "violator": "另一人"}
    again_op = {**op, "opId": str(uuid7())}  # the same result under a new op id
    body = {"ops": [op, unknown_use]}
    resp = await _call(client, world, Role.INSPECTOR, "POST", "/sync/push", body)
    assert resp.status_code == 200, resp.text
    receipts = resp.json()["receipts"]
    assert [(r["status"], r.get("code")) for r in receipts] == [
        ("applied", None),
        ("rejected", "invalid_satellite_result"),
    ]
    assert receipts[0]["recordId"] == result_id
    assert receipts[1]["recordId"] == unknown_use["resultId"]  # the phone knows which one
    replay = await _call(client, world, Role.INSPECTOR, "POST", "/sync/push", body)
    assert replay.json()["receipts"] == receipts
    resp = await _call(
        client, world, Role.INSPECTOR, "POST", "/sync/push", {"ops": [again_op, other]}
    )
    assert [(r["status"], r.get("code")) for r in resp.json()["receipts"]] == [
        ("duplicate", None),
        ("rejected", "id_reused"),
    ]
    task = await _call(client, world, Role.INSPECTOR, "GET", f"/satellite/tasks/{push_task}")
    assert task.json()["status"] == "verified"
    assert task.json()["result"]["id"] == result_id
    assert task.json()["result"]["violator"] == "李四"


async def test_review_submission_lock_and_reopening(
    client: Client, world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec(), TaskSpec(), TaskSpec()])
    a, b, c = (str(t) for t in seeded.task_ids)
    for task in (a, b):
        resp = await _call(client, world, Role.INSPECTOR, "PUT",
                           f"/satellite/tasks/{task}/results/{uuid7()}", _illegal())  # fmt: skip
        assert resp.status_code == 200, resp.text

    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{c}/review",
                       {"decision": "pass"})  # fmt: skip
    assert _problem(resp, 409, "satellite_task_wrong_status")["details"]["state"] == "assigned"
    resp = await _call(client, world, Role.INSPECTOR, "POST", f"/satellite/tasks/{a}/review",
                       {"decision": "pass"})  # fmt: skip
    _problem(resp, 403, "role_not_allowed")
    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{b}/review",
                       {"decision": "send_back"})  # fmt: skip
    assert _problem(resp, 422, "invalid_satellite_result")["errors"][0]["field"] == "reason"
    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{b}/review",
                       {"decision": "send_back", "reason": "照片未反映建筑全貌"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    sent = resp.json()
    assert (sent["status"], sent["reviewNote"]) == ("sent_back", "照片未反映建筑全貌")
    assert sent["reviewedBy"] == str(world.captain.user_id)
    assert sent["events"][-1]["reason"] == "照片未反映建筑全貌"
    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{a}/review",
                       {"decision": "pass"})  # fmt: skip
    assert resp.json()["status"] == "passed"

    # all or nothing: b was sent back, so neither is submitted
    resp = await _call(client, world, Role.CAPTAIN, "POST", "/satellite/tasks/submit",
                       {"taskIds": [a, b]})  # fmt: skip
    details = _problem(resp, 409, "satellite_task_wrong_status")["details"]
    assert details["taskIds"] == [b]
    got = await _call(client, world, Role.CAPTAIN, "GET", f"/satellite/tasks/{a}")
    assert got.json()["status"] == "passed"
    resp = await _call(client, world, Role.CAPTAIN, "POST", "/satellite/tasks/submit",
                       {"taskIds": [a]})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["count"] == 1 and resp.json()["tasks"][0]["id"] == a
    submitted_at = resp.json()["tasks"][0]["submittedAt"]

    # locked: no result, no review until an admin reopens it
    resp = await _call(client, world, Role.INSPECTOR, "PUT",
                       f"/satellite/tasks/{a}/results/{uuid7()}", _illegal())  # fmt: skip
    _problem(resp, 409, "satellite_task_submitted")
    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{a}/review",
                       {"decision": "send_back", "reason": "再核"})  # fmt: skip
    _problem(resp, 409, "satellite_task_submitted")
    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{a}/reopen",
                       {"reason": "省厅要求补充材料"})  # fmt: skip
    _problem(resp, 403, "role_not_allowed")
    resp = await _call(client, world, Role.ADMIN, "POST", f"/satellite/tasks/{b}/reopen",
                       {"reason": "省厅要求补充材料"})  # fmt: skip
    _problem(resp, 409, "satellite_task_wrong_status")
    resp = await _call(client, world, Role.ADMIN, "POST", f"/satellite/tasks/{a}/reopen",
                       {"reason": "省厅要求补充材料"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    reopened = resp.json()
    assert (reopened["status"], reopened["submittedAt"]) == ("verified", None)
    assert [e["kind"] for e in reopened["events"]] == [
        "result_recorded", "reviewed", "submitted", "reopened",
    ]  # fmt: skip
    assert reopened["events"][-1]["reason"] == "省厅要求补充材料"
    assert reopened["events"][-1]["actorId"] == str(world.admin.user_id)
    async with session_factory() as db:
        entries = (
            await db.scalars(select(CustodyEntry).where(CustodyEntry.subject_id == uuid.UUID(a)))
        ).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("satellite_reopened", world.admin.user_id)
    ]
    assert entries[0].details["reason"] == "省厅要求补充材料"
    assert entries[0].details["submitted_at"] is not None and submitted_at
    # the county reviews it again
    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{a}/review",
                       {"decision": "pass"})  # fmt: skip
    assert resp.json()["status"] == "passed"


async def test_an_illegal_result_opens_one_case_linked_both_ways(
    client: Client,
    world: World,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec(), TaskSpec()])
    task, legal_task = (str(t) for t in seeded.task_ids)
    photo = await seed_evidence(
        session_factory, S3ObjectStore(settings.object_store), settings, world.inspector,
        lon=LON, lat=LAT,
    )  # fmt: skip
    body = _illegal(evidenceIds=[str(photo)], violator="某某置业有限公司",
                    violatorType="organisation", landUse="commercial")  # fmt: skip
    resp = await _call(client, world, Role.INSPECTOR, "PUT",
                       f"/satellite/tasks/{task}/results/{uuid7()}", body)  # fmt: skip
    assert resp.status_code == 200, resp.text
    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{task}/case", {})
    _problem(resp, 409, "satellite_task_wrong_status")  # not reviewed yet
    legal = {
        "outcome": "legal",
        "verifiedAt": clock.ago(hours=1).isoformat(),
        "proofType": "land_swap",
        "approvalNo": "挂钩〔2026〕3号",
        "approvalAreaMu": 3.5,
    }
    resp = await _call(client, world, Role.INSPECTOR, "PUT",
                       f"/satellite/tasks/{legal_task}/results/{uuid7()}", legal)  # fmt: skip
    assert resp.json()["approvalAreaMu"] == 3.5
    for t in (task, legal_task):
        await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{t}/review",
                    {"decision": "pass"})  # fmt: skip
    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{legal_task}/case",
                       {})  # fmt: skip
    assert _problem(resp, 409, "satellite_task_wrong_status")["details"]["outcome"] == "legal"
    resp = await _call(client, world, Role.INSPECTOR, "POST", f"/satellite/tasks/{task}/case", {})
    _problem(resp, 403, "role_not_allowed")

    resp = await _call(client, world, Role.CAPTAIN, "POST", f"/satellite/tasks/{task}/case", {})
    assert resp.status_code == 200, resp.text
    case_id = resp.json()["caseId"]
    assert case_id and resp.json()["events"][-1]["kind"] == "case_opened"
    case = (await _call(client, world, Role.CAPTAIN, "GET", f"/cases/{case_id}")).json()
    assert (case["sourceKind"], case["sourceId"]) == ("satellite", task)
    assert case["violationKind"] == "land_occupation"
    assert [(p["name"], p["kind"]) for p in case["parties"]] == [
        ("某某置业有限公司", "organisation")
    ]
    assert case["evidenceIds"] == [str(photo)]
    assert seeded.monitoring_nos[0] in case["cause"] and "商服" in case["cause"]
    assert "亩" in case["cause"] and "永久基本农田" in case["cause"]
    again = await _call(client, world, Role.ADMIN, "POST", f"/satellite/tasks/{task}/case", {})
    assert _problem(again, 409, "satellite_case_exists")["details"]["caseId"] == case_id
    got = await _call(client, world, Role.INSPECTOR, "GET", f"/satellite/tasks/{task}")
    assert got.json()["caseId"] == case_id


async def test_another_countys_task_is_not_found(
    client: Client,
    world: World,
    other_world: World,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec(status="passed")])
    task = seeded.task_ids[0]
    for role in (Role.CAPTAIN, Role.ADMIN, Role.INSPECTOR):
        for method, path, body in (
            ("GET", f"/satellite/tasks/{task}", None),
            ("GET", f"/satellite/tasks/{task}/results", None),
            ("PUT", f"/satellite/tasks/{task}/results/{uuid7()}", _illegal()),
            ("POST", f"/satellite/tasks/{task}/review", {"decision": "pass"}),
            ("POST", "/satellite/tasks/submit", {"taskIds": [str(task)]}),
        ):
            resp = await _call(client, other_world, role, method, path, body)
            if resp.status_code == 403:
                assert role == Role.INSPECTOR
                continue
            _problem(resp, 404, "satellite_task_not_found")
        page = await _call(client, other_world, role, "GET", "/satellite/tasks")
        assert page.json() == {"items": [], "nextCursor": None}
