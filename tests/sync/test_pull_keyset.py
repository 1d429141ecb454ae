"""Long pulls page by key: work per page does not grow with the pull, whatever the planner
believes about the tables (a freshly written database has no statistics)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import uuid
from datetime import datetime, timedelta
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Role
from patrol.config import PatrolConfig
from sync._db import driver
from sync.collections import COLLECTIONS
from sync.cursor import CursorCodec
from tests import clock
from tests.sync.conftest import Client, Phone, SyncWorld, add_parcels

PULL = "/api/v1/sync/pull"
FEATURES = next(c for c in COLLECTIONS if c.name == "features")


async def _stream_of(session: AsyncSession, user_id: uuid.UUID) -> uuid.UUID:
    sid = await session.scalar(
        text("SELECT id FROM sync_streams WHERE user_id = :u ORDER BY created_at DESC LIMIT 1"),
        {"u": user_id},
    )
    assert sid is not None
    return uuid.UUID(str(sid))


async def _outbox(session: AsyncSession, stream_id: uuid.UUID) -> list[tuple[int, str, str]]:
    rows = await session.execute(
        text(
            "SELECT collection, record_id::text, xmin::text FROM sync_outbox "
            "WHERE stream_id = :s ORDER BY collection, record_id"
        ),
        {"s": stream_id},
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def test_later_pages_read_on_from_the_kept_difference(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The features are compared once; every later page reads the next ids of the outbox
    (its rows are not written again) and the acknowledgement of the last page empties it."""
    world: SyncWorld = await make_world(parcels=120)
    user = world.county.users[Role.INSPECTOR].id
    p: Phone = phone(world.headers())
    kept: list[tuple[int, str, str]] | None = None
    pages = 0
    while True:
        page = await p.pull_page(limit=25)
        pages += 1
        async with session_factory() as session:
            now = await _outbox(session, await _stream_of(session, user))
        if page["changes"]["features"]["upserts"] and page["hasMore"]:
            if kept is None:
                kept = now
                assert {c for c, *_ in kept} == {FEATURES.bit} and len(kept) > 100
            assert now == kept  # the same rows, same xmin: nothing compared or written again
        if not page["hasMore"]:
            break
    assert pages >= 5
    await p.pull_page()  # acknowledges the last page
    async with session_factory() as session:
        assert await _outbox(session, await _stream_of(session, user)) == []
    fresh: Phone = phone(world.headers())
    await fresh.sync()
    assert p.store == fresh.store


async def test_lost_answers_at_every_page_of_a_keyset_pull(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Every answer is lost once, including those that finish one collection and start the
    next: the page comes again, nothing is skipped, and no version is sent twice."""
    world: SyncWorld = await make_world(parcels=40)
    captain = world.county.principal(Role.CAPTAIN)
    async with session_factory() as session:
        from patrol.areas import AreaService  # noqa: PLC0415

        for i in range(12):  # targets overflow a page too
            await AreaService(session).add_target(
                captain, world.area_id, kind="custom", name=f"K{i}", lon=112.05, lat=28.5
            )
        await session.commit()
    p: Phone = phone(world.headers())
    while True:
        lost = await p.pull_page(limit=7, lose_answer=True)
        page = await p.pull_page(limit=7)
        assert _ids(page) == _ids(lost)
        if not page["hasMore"]:
            break
    seen: set[tuple[str, str, int]] = set()
    for pg in p.pages:
        for name, ch in pg["changes"].items():
            for rec in ch["upserts"]:
                key = (name, rec["id"], rec["version"])
                assert key not in seen, key
                seen.add(key)
    fresh: Phone = phone(world.headers())
    await fresh.sync()
    assert p.store == fresh.store
    assert len(p.store["targets"]) == 13


def _ids(page: dict[str, Any]) -> set[tuple[str, str]]:
    return {(n, r["id"]) for n, ch in page["changes"].items() for r in ch["upserts"]} | {
        (n, i) for n, ch in page["changes"].items() for i in ch["deletes"]
    }


async def test_a_change_while_paging_by_key_is_compared_again(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A new parcel layer version arrives halfway through the features: the next page
    compares afresh, and the phone ends with exactly the new version's features."""
    world: SyncWorld = await make_world(parcels=60)
    p: Phone = phone(world.headers())
    while not p.store["features"]:
        await p.pull_page(limit=20)
    await p.pull_page(limit=20)
    async with session_factory() as session:
        boxes = [shapely.box(112.02 + i * 0.001, 28.47, 112.0205 + i * 0.001, 28.4705)
                 for i in range(30)]  # fmt: skip
        await add_parcels(session, world.county.id, boxes)
        await session.commit()
    await p.sync(limit=20)
    parcels = [f for f in p.store["features"].values() if f["layer"] == "parcels"]
    assert len(parcels) == 30 and len({f["layerVersion"] for f in parcels}) == 1
    fresh: Phone = phone(world.headers())
    await fresh.sync()
    assert p.store == fresh.store


def _work(plan: dict[str, Any]) -> int:
    """Rows produced by every node of an executed plan, times its loops: the work done."""
    own = int(plan.get("Actual Rows", 0)) * int(plan.get("Actual Loops", 1))
    return own + sum(_work(child) for child in plan.get("Plans", []))


def _full_joins(plan: dict[str, Any]) -> set[str]:
    kinds = {str(plan["Node Type"])} if plan.get("Join Type") == "Full" else set()
    for child in plan.get("Plans", []):
        kinds |= _full_joins(child)
    return kinds


async def test_the_difference_is_linear_whatever_the_planner_believes(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """With hash and merge joins priced out (what a planner that believes every table tiny
    does, as on a freshly written database without statistics) comparing the features with
    a manifest of the same size still touches each row a bounded number of times, never
    scope × manifest (a nested loop over the scope per manifest row)."""
    world: SyncWorld = await make_world(parcels=400)
    p: Phone = phone(world.headers())
    await p.sync()
    scope = len(p.store["features"])
    assert scope > 400
    async with session_factory() as session:
        # a new parcel version: the old parcels leave the scope, the new ones enter it
        per_row = 20
        boxes = [shapely.box(112.015 + (i % per_row) * 0.003, 28.455 + (i // per_row) * 0.003,
                             112.017 + (i % per_row) * 0.003, 28.457 + (i // per_row) * 0.003)
                 for i in range(400)]  # fmt: skip
        await add_parcels(session, world.county.id, boxes)
        await session.commit()
    inspector = world.county.principal(Role.INSPECTOR)
    config = PatrolConfig()
    today = clock.today()
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=config.tz)
    async with session_factory() as session:
        stream = await _stream_of(session, inspector.user_id)
        conn = await driver(session)
        await conn.execute("SET LOCAL enable_hashjoin = off")
        await conn.execute("SET LOCAL enable_mergejoin = off")
        raw = await conn.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + FEATURES.diff_sql,
            inspector.county_id,
            inspector.user_id,
            False,
            today.replace(day=1),
            midnight - timedelta(days=30),
            midnight - timedelta(days=90),
            stream,
            FEATURES.bit,
            10,
        )
        await session.rollback()  # the outbox rows the EXPLAIN wrote
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    # scope: 400 new parcels and the site; manifest: the old parcels and the site
    assert _work(plan) < 40 * (scope + 400 + scope), _work(plan)
    assert _full_joins(plan) & {"Hash Join", "Merge Join"}


async def test_a_version_1_cursor_still_pages(make_world: Any, phone: Any, client: Client) -> None:
    """Cursors issued before keyset paging carry no position; the next page compares the
    collection again and the phone still ends with the whole scope."""
    world: SyncWorld = await make_world(parcels=30)
    p: Phone = phone(world.headers())
    await p.pull_page(limit=10)
    codec = CursorCodec(client.app.state.settings.auth.secret_key)
    user = world.county.users[Role.INSPECTOR].id
    cursor = codec.decode(str(p.cursor), user_id=user)
    body = struct.pack(">B16s16sI", 1, cursor.stream_id.bytes, user.bytes, cursor.seq)
    key = hmac.new(
        client.app.state.settings.auth.secret_key.encode(), b"patrol sync cursor v1", hashlib.sha256
    ).digest()
    mac = hmac.new(key, body, hashlib.sha256).digest()[:16]
    p.cursor = base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()
    assert codec.decode(p.cursor, user_id=user).resume is None
    await p.sync(limit=10)
    fresh: Phone = phone(world.headers())
    await fresh.sync()
    assert p.store == fresh.store
