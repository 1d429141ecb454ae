"""Sync limits at their edges: a push of ``MAX_OPS`` (500) operations is answered op by op
and one more is refused whole; tiles are served up to zoom ``MAX_ZOOM`` (22) and not past."""

from __future__ import annotations

from typing import Any

from infra.ids import uuid7
from sync.layers import MAX_ZOOM
from sync.push import MAX_OPS
from tests.sync.conftest import Client, SyncWorld
from tests.sync.mvt import tile_url

PUSH = "/api/v1/sync/push"


async def test_a_push_of_the_limit_is_answered_and_one_more_refused(
    make_world: Any, client: Client
) -> None:
    assert MAX_OPS == 500
    world: SyncWorld = await make_world(parcels=1)
    ops = [{"type": "teleport", "opId": str(uuid7())} for _ in range(MAX_OPS)]
    resp = await client.post(PUSH, json={"ops": ops}, headers=world.headers())
    assert resp.status_code == 200, resp.text
    receipts = resp.json()["receipts"]
    assert [r["opId"] for r in receipts] == [o["opId"] for o in ops]
    assert {r["code"] for r in receipts} == {"unknown_op_type"}
    ops.append({"type": "teleport", "opId": str(uuid7())})
    resp = await client.post(PUSH, json={"ops": ops}, headers=world.headers())
    assert resp.status_code == 422 and resp.json()["code"] == "batch_too_large"


async def test_tiles_up_to_zoom_twenty_two(make_world: Any, client: Client) -> None:
    assert MAX_ZOOM == 22
    world: SyncWorld = await make_world(parcels=1)
    top = await client.get(tile_url("parcels", 112.05, 28.5, MAX_ZOOM), headers=world.headers())
    assert top.status_code == 200, top.text
    # the same spot one zoom further is not a tile
    over = await client.get(
        tile_url("parcels", 112.05, 28.5, MAX_ZOOM + 1), headers=world.headers()
    )
    assert over.status_code == 404 and over.json()["code"] == "tile_not_found"
