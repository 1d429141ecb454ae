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
from sync.pull import prune_sync_state
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


async def test_a_pruned_stream_takes_its_rows_along(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Manifest, pending page and outbox rows go with their stream (a trigger does what the
    foreign keys did), and another stream's rows stay."""
    world: SyncWorld = await make_world(parcels=60)
    user = world.county.users[Role.INSPECTOR].id
    keep: Phone = phone(world.headers())
    await keep.pull_page(limit=10)
    old: Phone = phone(world.headers())
    await old.pull_page(limit=10)
    await old.pull_page(limit=10)  # a manifest, an outbox, a pending range of it
    await old.pull_page(limit=10)
    tables = ("sync_manifest", "sync_pending", "sync_outbox")

    async def counts(session: AsyncSession, stream: Any) -> list[int]:
        return [
            int(
                await session.scalar(
                    text(f"SELECT count(*) FROM {t} WHERE stream_id = :s"),
                    {"s": stream},
                )
                or 0
            )
            for t in tables
        ]

    async with session_factory() as session:
        state = await _state(session, user)
        streams = (
            await session.execute(
                text("SELECT id FROM sync_streams WHERE user_id = :u ORDER BY created_at"),
                {"u": user},
            )
        ).scalars()
        first, last = list(streams)
        assert last == state["id"]
        await session.execute(  # a pending row, as a page that sends a deletion keeps one
            text("INSERT INTO sync_pending VALUES (:s, 0, :r, NULL)"), {"s": last, "r": user}
        )
        assert all(await counts(session, last)) and await counts(session, first) != [0, 0, 0]
        before = await counts(session, first)
        await session.execute(
            text("UPDATE sync_streams SET last_pull_at = now() - interval '91 days' WHERE id = :s"),
            {"s": last},
        )
        # other tests' streams may be as old (the database is shared): counted at least once
        assert (await prune_sync_state(session))["streams"] >= 1
        await session.commit()
        left = text("SELECT id FROM sync_streams WHERE id IN (:a, :b)")
        assert list((await session.execute(left, {"a": first, "b": last})).scalars()) == [first]
        assert await counts(session, last) == [0, 0, 0]
        assert await counts(session, first) == before
