"""REST and sync take the field record alike: the same limits, the same stored record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from infra.scope import Role
from tests.conftest import CountyFixture
from tests.patrol.helpers import start_patrol_over_http

Client = AsyncTestClient[Litestar]
API = "/api/v1"
_KEPT = ("projectName", "constructionStatus", "builder", "constructionStartedOn",
         "occupiedAreaM2", "note", "lon", "lat", "accuracyM")  # fmt: skip


async def test_rest_and_sync_store_the_same_finding_and_sign_in(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    me = county.headers(Role.INSPECTOR)
    pid, start = await start_patrol_over_http(client, county)
    fields = {"foundAt": (start + timedelta(minutes=10)).isoformat(), "projectName": "厂房",
              "constructionStatus": "fully_built", "builder": "某公司",
              "constructionStartedOn": "2026-09-01", "occupiedAreaM2": 800.0,
              "note": "注" * 4000, "lon": 112.1, "lat": 28.5, "accuracyM": 6.0}  # fmt: skip
    rest_id, sync_id = uuid7(), uuid7()
    put = await client.put(f"{API}/patrols/{pid}/findings/{rest_id}", json=fields, headers=me)
    assert put.status_code == 200, put.text
    too_long = {**fields, "note": "注" * 4001}
    refused = await client.put(f"{API}/patrols/{pid}/findings/{uuid7()}", json=too_long,
                               headers=me)  # fmt: skip
    assert refused.status_code == 400, refused.text
    sign = {"at": (start + timedelta(minutes=5)).isoformat(), "lon": 112.1, "lat": 28.5,
            "accuracyM": 5.0, "address": "址" * 4000}  # fmt: skip
    signed = await client.put(f"{API}/patrols/{pid}/sign-ins/{uuid7()}", json=sign, headers=me)
    assert signed.status_code == 200 and signed.json()["address"] == sign["address"]
    ops = [
        {"type": "recordFinding", "opId": str(uuid7()), "patrolId": pid,
         "findingId": str(sync_id), **fields},
        {"type": "signIn", "opId": str(uuid7()), "patrolId": pid, "signInId": str(uuid7()),
         **sign},
    ]  # fmt: skip
    pushed = await client.post(f"{API}/sync/push", json={"ops": ops}, headers=me)
    assert [r["status"] for r in pushed.json()["receipts"]] == ["applied", "applied"]
    listed = await client.get(f"{API}/patrols/{pid}/findings", headers=me)
    by_id = {f["id"]: f for f in listed.json()}
    rest, synced = by_id[str(rest_id)], by_id[str(sync_id)]
    assert (
        {k: rest[k] for k in _KEPT}
        == {k: synced[k] for k in _KEPT}
        == {k: fields[k] for k in _KEPT}
    )
    sign_ins = (await client.get(f"{API}/patrols/{pid}/sign-ins", headers=me)).json()
    assert [s["address"] for s in sign_ins] == [sign["address"]] * 2
