"""What a keyset page keeps until it is acknowledged, and features sent as PostgreSQL wrote
them: the same records whichever format the phone reads."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Role
from mobile_contract.v1 import sync as c
from sync.collections import COLLECTIONS
from tests.sync.conftest import Phone, SyncWorld

FEATURES = next(c for c in COLLECTIONS if c.name == "features")


async def _state(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await session.execute(
            text(
                "SELECT s.id, s.pending_outbox_coll, "
                "(SELECT count(*) FROM sync_pending p WHERE p.stream_id = s.id) AS pending, "
                "(SELECT count(*) FROM sync_manifest m WHERE m.stream_id = s.id "
                " AND m.collection = :f) AS manifest "
                "FROM sync_streams s WHERE s.user_id = :u ORDER BY s.created_at DESC LIMIT 1"
            ),
            {"u": user_id, "f": FEATURES.bit},
        )
    ).one()
    return dict(row._mapping)


async def test_pages_from_the_outbox_are_kept_as_a_range(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Pages that read on from the kept difference copy nothing into sync_pending: the
    stream names the range they sent, and each acknowledgement adds exactly the features of
    the page it acknowledges to the manifest."""
    world: SyncWorld = await make_world(parcels=120)
    user = world.county.users[Role.INSPECTOR].id
    p: Phone = phone(world.headers())
    sent_before = 0
    ranged = 0
    while True:
        page = await p.pull_page(limit=25)
        async with session_factory() as session:
            state = await _state(session, user)
        # everything acknowledged so far is in the manifest, nothing of this page yet
        # (the first page of a new stream goes there at once)
        assert state["manifest"] == (sent_before if p.pages[1:] else len(p.store["features"]))
        if len(p.pages) > 1 and page["changes"]["features"]["upserts"]:
            assert state["pending"] == 0 and state["pending_outbox_coll"] == [FEATURES.bit]
            ranged += 1
        sent_before = len(p.store["features"])
        if not page["hasMore"]:
            break
    assert ranged >= 4
    await p.pull_page()  # acknowledges the last page
    async with session_factory() as session:
        state = await _state(session, user)
    assert state["manifest"] == len(p.store["features"]) and state["pending_outbox_coll"] is None
    fresh: Phone = phone(world.headers())
    await fresh.sync()
    assert p.store == fresh.store


async def test_json_and_messagepack_phones_get_the_same_features(
    make_world: Any, phone: Any
) -> None:
    """Features go out as the JSON PostgreSQL wrote, in the contract's shape; a MessagePack
    answer decodes them into the contract's records first. Both phones end the same."""
    world: SyncWorld = await make_world(parcels=30)
    js: Phone = phone(world.headers())
    mp: Phone = phone(world.headers(), msgpack=True)
    await js.sync(limit=12)
    await mp.sync(limit=12)
    assert js.store == mp.store
    assert len(js.store["features"]) > 30
    fields = {"id", "version", "layer", "layerVersion", "properties", "geometry"}
    for feature in js.store["features"].values():
        assert set(feature) == fields
        msgspec.convert(feature, c.FeatureRecord)
