"""Pull through the real app: scope, paging, acknowledgement, deletions, cursors."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Role
from patrol.areas import AreaService
from patrol.plans import PlanService
from tests import clock
from tests.sync.conftest import Client, Phone, SyncWorld, add_parcels

PULL = "/api/v1/sync/pull"


async def test_initial_pull_brings_the_callers_scope(make_world: Any, phone: Any) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    pages = await p.sync()
    assert pages == 1 and p.pages[0]["reset"] is True
    assert p.ids("areas") == {str(world.area_id)}
    assert {t["name"] for t in p.store["targets"].values()} == {"T1"}
    assert len(p.store["plans"]) == 1
    assert p.ids("mineSites") == {str(world.site_id)}
    site = p.store["mineSites"][str(world.site_id)]
    assert site["myRoles"] == ["land_resources_staff"]
    layers = [f["layer"] for f in p.store["features"].values()]
    assert layers.count("parcels") == world.parcels_in  # the A2-only parcel is not sent
    assert layers.count("mine_sites") == 1
    parcel = next(f for f in p.store["features"].values() if f["layer"] == "parcels")
    assert parcel["geometry"]["type"] == "MultiPolygon" and parcel["version"] == 0
    assert parcel["layerVersion"] >= 1 and parcel["properties"]["area_m2"] > 0
    assert "land_class" in parcel["properties"]
    site_feature = next(f for f in p.store["features"].values() if f["layer"] == "mine_sites")
    assert site_feature["version"] > 0 and site_feature["properties"]["status"]
    # nothing changed: the next pull is empty and keeps the cursor
    before = p.cursor
    page = await p.pull_page()
    assert not page["hasMore"] and page["cursor"] == before
    assert all(not ch["upserts"] and not ch["deletes"] for ch in page["changes"].values())


async def test_paging_and_a_lost_answer(make_world: Any, phone: Any) -> None:
    world: SyncWorld = await make_world(parcels=30)
    p: Phone = phone(world.headers())
    first = await p.pull_page(limit=10)
    assert first["hasMore"]
    lost = await p.pull_page(limit=10, lose_answer=True)  # the phone never saw this one
    again = await p.pull_page(limit=10)  # same cursor again: the page comes again
    assert _ids(again) == _ids(lost)
    await p.sync(limit=10)
    fresh: Phone = phone(world.headers())
    await fresh.sync()
    for name in p.store:
        assert p.store[name] == fresh.store[name], name


def _ids(page: dict[str, Any]) -> set[tuple[str, str]]:
    return {(name, r["id"]) for name, ch in page["changes"].items() for r in ch["upserts"]} | {
        (name, i) for name, ch in page["changes"].items() for i in ch["deletes"]
    }


async def test_records_leaving_scope_arrive_as_deletions(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    await p.sync()
    assert p.ids("areas")
    async with session_factory() as session:  # the captain hands A1 to someone else
        await AreaService(session).update_area(
            world.county.principal(Role.CAPTAIN),
            world.area_id,
            leader_id=world.county.users[Role.CAPTAIN].id,
        )
        await session.commit()
    await p.sync()
    assert not p.ids("areas") and not p.ids("targets")
    assert not [f for f in p.store["features"].values() if f["layer"] == "parcels"]
    assert p.ids("mineSites") == {str(world.site_id)}  # the roster seat is still theirs
    # the month's plan still names them (a plan's inspectors read it) until it is reassigned
    assert len(p.ids("plans")) == 1
    async with session_factory() as session:
        await PlanService(session).upsert_plan(
            world.county.principal(Role.CAPTAIN),
            world.area_id,
            clock.this_month(),
            quota=6,
            min_per_week=1,
            inspector_ids=[],
        )
        await session.commit()
    await p.sync()
    assert not p.ids("plans")


async def test_new_layer_version_replaces_features(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    import shapely  # noqa: PLC0415

    world: SyncWorld = await make_world(parcels=4)
    p: Phone = phone(world.headers())
    await p.sync()
    old = {i for i, f in p.store["features"].items() if f["layer"] == "parcels"}
    async with session_factory() as session:
        await add_parcels(session, world.county.id, [shapely.box(112.03, 28.47, 112.04, 28.48)])
        await session.commit()
    await p.sync()
    new = {i for i, f in p.store["features"].items() if f["layer"] == "parcels"}
    assert len(new) == 1 and not new & old


async def test_messagepack_and_gzip(make_world: Any, phone: Any, client: Client) -> None:
    world: SyncWorld = await make_world()
    mp: Phone = phone(world.headers(), msgpack=True)
    js: Phone = phone(world.headers())
    await mp.sync()
    await js.sync()
    assert mp.ids("features") == js.ids("features")
    import gzip  # noqa: PLC0415

    body = gzip.compress(msgspec.msgpack.encode({"limit": 5}))
    resp = await client.post(PULL, content=body, headers={
        **world.headers(), "Content-Type": "application/msgpack", "Content-Encoding": "gzip",
        "Accept": "application/msgpack", "Accept-Encoding": "gzip",
    })  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/msgpack")
    assert msgspec.msgpack.decode(resp.content)["hasMore"] is True


async def test_bad_cursors_are_4xx(make_world: Any, phone: Any, client: Client) -> None:
    world: SyncWorld = await make_world()
    p: Phone = phone(world.headers())
    await p.pull_page(limit=5)
    first = p.cursor
    await p.pull_page(limit=5)
    await p.pull_page(limit=5)
    assert first is not None

    async def pull(cursor: Any, headers: dict[str, str] | None = None) -> Any:
        return await client.post(PULL, json={"cursor": cursor}, headers=headers or world.headers())

    resp = await pull("not a cursor!")
    assert resp.status_code == 422 and resp.json()["code"] == "cursor_malformed"
    raw = bytearray(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    raw[-1] ^= 1
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    resp = await pull(forged)
    assert resp.status_code == 422 and resp.json()["code"] == "cursor_invalid"
    resp = await pull(p.cursor, world.headers(Role.CAPTAIN))
    assert resp.status_code == 403 and resp.json()["code"] == "cursor_not_yours"
    resp = await pull(first)  # superseded by the pages after it
    assert resp.status_code == 409 and resp.json()["code"] == "cursor_stale"
    resp = await client.post(
        PULL,
        content=b"\xc1\xc1",
        headers={**world.headers(), "Content-Type": "application/msgpack"},
    )
    assert resp.status_code == 400, resp.text
    resp = await pull(p.cursor)  # the phone's own current cursor still works
    assert resp.status_code == 200


async def test_concurrent_writes_while_paging_miss_and_double_nothing(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Targets are added and retired while the phone pages; at the end it holds exactly the
    server's scope, and no record version came twice."""
    world: SyncWorld = await make_world(parcels=9)
    captain = world.county.principal(Role.CAPTAIN)
    p: Phone = phone(world.headers())
    stop = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not stop.is_set():
            async with session_factory() as session:
                areas = AreaService(session)
                t = await areas.add_target(
                    captain, world.area_id, kind="custom", name=f"W{i}", lon=112.05, lat=28.5
                )
                if i % 3 == 0:
                    await areas.deactivate_target(captain, t.id)
                await session.commit()
            i += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    try:
        for _ in range(40):
            await p.pull_page(limit=3)
            await asyncio.sleep(0.005)
    finally:
        stop.set()
        await task
    await p.sync(limit=3)
    seen: set[tuple[str, int]] = set()
    for page in p.pages:
        for rec in page["changes"]["targets"]["upserts"]:
            key = (rec["id"], rec["version"])
            assert key not in seen, f"{key} sent twice"
            seen.add(key)
    async with session_factory() as session:
        active = {
            str(r[0])
            for r in await session.execute(
                text("SELECT id FROM patrol_targets WHERE area_id = :a AND active"),
                {"a": world.area_id},
            )
        }
    assert p.ids("targets") == active
    assert len(active) > 3


async def test_cursor_of_unknown_stream_is_stale(make_world: Any, client: Client) -> None:
    from sync.cursor import Cursor, CursorCodec  # noqa: PLC0415

    world: SyncWorld = await make_world()
    settings = client.app.state.settings
    codec = CursorCodec(settings.auth.secret_key)
    cursor = codec.encode(Cursor(uuid.uuid4(), world.county.users[Role.INSPECTOR].id, 3))
    resp = await client.post(PULL, json={"cursor": cursor}, headers=world.headers())
    assert resp.status_code == 409 and resp.json()["code"] == "cursor_stale"
