"""The pull's answers at its edges, on a clock the test moves: the plans from last month on,
what a turn of the local day and a write bring, how long the change feed is trusted, the
problems a stale cursor gets, and what the prune keeps exactly at its cut-offs.

The clock stays within the last few weeks (live time, see :mod:`tests.clock`): a stream's
last pull is stamped with it, and the prune, which other tests run, compares that with the
real time."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.db import create_engine, create_session_factory, utcnow
from infra.ids import uuid7
from infra.scope import Role
from infra.settings import Settings
from patrol.areas import AreaService
from patrol.plans import PlanService
from patrol.sessions import PatrolService
from sync.collections import Collection
from sync.cursor import Cursor, CursorCodec
from sync.pull import FEED_RETENTION, Page, PullService, prune_sync_state
from sync.records import JsonRecords
from tests import clock
from tests.sync.conftest import Client, Phone, SyncWorld, square
from tests.sync.test_push import points, start

TZ = clock.CHINA
PULL = "/api/v1/sync/pull"
EN = {"Accept-Language": "en"}
US = timedelta(microseconds=1)


class _Clock:
    """A clock the test moves."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _records(page: Page, name: str) -> list[Any]:
    rows = page.upserts.get(name, [])
    assert isinstance(rows, list)
    return rows


def _ids(page: Page, name: str) -> set[uuid.UUID]:
    return {r.id for r in _records(page, name)}


def _features(page: Page) -> str:
    rows = page.upserts["features"]
    assert isinstance(rows, JsonRecords)
    return rows.data


def _month_before(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


async def test_plans_are_sent_from_the_first_of_last_month(
    make_world: Any, db: AsyncSession, settings: Settings
) -> None:
    """On the first day of a month the phone gets the plans of the month before on, not
    those of the month before that."""
    world: SyncWorld = await make_world(parcels=1)
    captain = world.county.principal(Role.CAPTAIN)
    inspector = world.county.users[Role.INSPECTOR].id
    month = clock.this_month()
    last, before = _month_before(month), _month_before(_month_before(month))
    plans = PlanService(db)
    for m in (before, last, month):  # (the world has this month's plan already)
        await plans.upsert_plan(
            captain, world.area_id, m, quota=4, min_per_week=1, inspector_ids=[inspector]
        )
    await db.commit()
    first_day = _Clock(datetime.combine(month, time(0, 30), tzinfo=TZ))
    pull = PullService(db, CursorCodec(settings.auth.secret_key), clock=first_day)
    page = await pull.pull(world.county.principal(Role.INSPECTOR), cursor=None, limit=10_000)
    await db.commit()
    assert {r.month for r in _records(page, "plans")} == {last, month}


async def test_a_new_local_day_and_a_write_are_compared_again(
    make_world: Any, db: AsyncSession, settings: Settings
) -> None:
    """With nothing written, the turn of the local day moves the patrols' window: a patrol
    that left it arrives as a deletion. A write on a later day to a collection without a
    window (the area's name) arrives too."""
    world: SyncWorld = await make_world(parcels=1)
    me = world.county.principal(Role.INSPECTOR)
    five_days_ago = clock.today() - timedelta(days=5)
    day = datetime.combine(five_days_ago, time(16, 20), tzinfo=TZ)
    window_from = datetime.combine(five_days_ago, time(0), tzinfo=TZ) - timedelta(days=30)
    patrol = uuid7()
    patrols = PatrolService(db, clock=lambda: day)
    await patrols.start_patrol(me, patrol, area_id=world.area_id, started_at=window_from)
    await patrols.end_patrol(me, patrol, ended_at=window_from + timedelta(hours=1))
    await db.commit()
    moved = _Clock(day)
    pull = PullService(db, CursorCodec(settings.auth.secret_key), clock=moved)

    async def next_page(cursor: str | None) -> Page:
        page = await pull.pull(me, cursor=cursor, limit=10_000)
        await db.commit()
        return page

    first = await next_page(None)
    assert patrol in _ids(first, "patrols")
    settled = await next_page(first.cursor)  # acknowledges: nothing more today
    assert settled.count == 0 and settled.cursor == first.cursor

    moved.at = day + timedelta(days=1)
    turned = await next_page(settled.cursor)
    assert turned.deletes == {"patrols": [patrol]} and turned.upserts == {}
    quiet = await next_page(turned.cursor)
    assert quiet.count == 0

    await AreaService(db).update_area(
        world.county.principal(Role.CAPTAIN), world.area_id, name="西片区（新）"
    )
    await db.commit()
    moved.at = day + timedelta(days=2)
    renamed = await next_page(quiet.cursor)
    [area] = _records(renamed, "areas")
    assert (area.id, area.name) == (world.area_id, "西片区（新）")
    assert not renamed.deletes


async def _outbox_xmins(session: AsyncSession, stream_id: uuid.UUID) -> list[str]:
    rows = await session.execute(
        text("SELECT xmin::text FROM sync_outbox WHERE stream_id = :s ORDER BY record_id"),
        {"s": stream_id},
    )
    return [r[0] for r in rows]


async def test_the_change_feed_is_trusted_for_exactly_its_retention(
    make_world: Any,
    db: AsyncSession,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A page whose answer was lost is asked for again with the acknowledged cursor: up to
    ``FEED_RETENTION`` after that acknowledgement the pull reads on from the kept difference
    (nothing written, its outbox rows untouched); a microsecond later the feed may have been
    pruned, so the collection is compared afresh (its outbox written again). The page is the
    same either way."""
    world: SyncWorld = await make_world(parcels=30)
    me = world.county.principal(Role.INSPECTOR)
    t0 = clock.now() - timedelta(days=20)
    moved = _Clock(t0)
    pull = PullService(db, CursorCodec(settings.auth.secret_key), clock=moved)

    async def page_of(cursor: str | None) -> Page:
        page = await pull.pull(me, cursor=cursor, limit=10)
        await db.commit()
        return page

    first = await page_of(None)
    assert first.has_more and _features(first)
    lost = await page_of(first.cursor)  # acknowledges the first page at t0
    stream = CursorCodec(settings.auth.secret_key).decode(first.cursor, user_id=me.user_id)
    async with session_factory() as session:
        kept = await _outbox_xmins(session, stream.stream_id)
    assert len(kept) > 20

    moved.at = t0 + FEED_RETENTION
    again = await page_of(first.cursor)
    assert _features(again) == _features(lost)
    async with session_factory() as session:
        assert await _outbox_xmins(session, stream.stream_id) == kept

    moved.at = t0 + FEED_RETENTION + US
    afresh = await page_of(first.cursor)
    assert _features(afresh) == _features(lost)
    async with session_factory() as session:
        rewritten = await _outbox_xmins(session, stream.stream_id)
    # written again: the difference with the manifest (the first page is in it)
    assert rewritten and set(rewritten).isdisjoint(kept)


async def test_stale_cursors_are_answered_with_the_field_and_why(
    make_world: Any, phone: Any, client: Client
) -> None:
    world: SyncWorld = await make_world()
    headers = {**world.headers(), **EN}
    p: Phone = phone(world.headers())
    await p.pull_page(limit=5)
    first = p.cursor
    await p.pull_page(limit=5)
    await p.pull_page(limit=5)
    codec = CursorCodec(client.app.state.settings.auth.secret_key)
    gone = codec.encode(Cursor(uuid.uuid4(), world.county.users[Role.INSPECTOR].id, 3))
    for cursor, detail in (
        (gone, "this sync stream is gone; pull without a cursor"),
        (first, "this cursor was superseded; pull without a cursor and replace local data"),
    ):
        resp = await client.post(PULL, json={"cursor": cursor}, headers=headers)
        assert resp.status_code == 409, resp.text
        body = resp.json()
        assert (body["code"], body["detail"]) == ("cursor_stale", detail)
        assert body["errors"] == [{"field": "cursor", "message": detail}]


#: Each pruned table: its time stamp column and a key of one row, as text.
_PRUNED = {
    "sync_changes": ("noted_at", "tbl || ':' || xid"),
    "sync_streams": ("last_pull_at", "id::text"),
    "sync_receipts": ("created_at", "op_id::text"),
}


async def _keys(session: AsyncSession, table: str, county: uuid.UUID) -> list[str]:
    key = _PRUNED[table][1]
    rows = await session.execute(
        text(f"SELECT {key} FROM {table} WHERE county_id = :c ORDER BY 1"),
        {"c": county},
    )
    return [r[0] for r in rows]


async def _stamp(
    session: AsyncSession, table: str, county: uuid.UUID, keys: list[str], stamps: list[datetime]
) -> None:
    column, key = _PRUNED[table]
    for k, at in zip(keys, stamps, strict=True):
        await session.execute(
            text(f"UPDATE {table} SET {column} = :t WHERE county_id = :c AND {key} = :k"),
            {"t": at, "c": county, "k": k},
        )


async def test_the_prune_keeps_what_is_exactly_at_its_cut_offs(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Feed rows are kept for ``FEED_RETENTION`` and a day, streams and receipts for 90
    days: a row stamped exactly at its cut-off stays, one a microsecond older goes. A second
    prune at the same time finds nothing."""
    world: SyncWorld = await make_world()
    county = world.county.id
    for _ in range(2):  # two streams
        await phone(world.headers()).sync()
    p: Phone = phone(world.headers())
    patrol = uuid7()
    p.outbox = [start(patrol, world.area_id), points(patrol)]  # two receipts
    assert [r["status"] for r in await p.push()] == ["applied", "applied"]
    at = utcnow()
    cut = {
        "sync_changes": at - FEED_RETENTION - timedelta(days=1),
        "sync_streams": at - timedelta(days=90),
        "sync_receipts": at - timedelta(days=90),
    }
    async with session_factory() as session:
        kept, gone = {}, {}
        for table in _PRUNED:
            keep, drop = (await _keys(session, table, county))[:2]
            await _stamp(session, table, county, [keep, drop], [cut[table], cut[table] - US])
            kept[table], gone[table] = keep, drop
        counts = await prune_sync_state(session, now=at)
        assert set(counts) == {"changes", "streams", "receipts"}
        assert min(counts.values()) >= 1
        for table in _PRUNED:
            left = await _keys(session, table, county)
            assert kept[table] in left and gone[table] not in left, table
        assert await prune_sync_state(session, now=at) == {
            "changes": 0, "streams": 0, "receipts": 0
        }  # fmt: skip
        await session.rollback()


async def test_a_page_that_ends_with_the_last_change_says_so(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Three targets added after a full pull fill a page of three exactly: the page says
    there is no more (the collections nothing was written to are not waiting), and the
    three are held from then on: a fourth target added later comes alone."""
    world: SyncWorld = await make_world(parcels=1)
    p: Phone = phone(world.headers())
    await p.sync()
    captain = world.county.principal(Role.CAPTAIN)
    async with session_factory() as session:
        for name in ("N1", "N2", "N3"):
            await AreaService(session).add_target(
                captain, world.area_id, kind="custom", name=name, lon=112.05, lat=28.5
            )
        await session.commit()
    page = await p.pull_page(limit=3)
    assert sorted(t["name"] for t in page["changes"]["targets"]["upserts"]) == ["N1", "N2", "N3"]
    assert page["hasMore"] is False
    after = await p.pull_page(limit=3)
    assert after["hasMore"] is False and after["cursor"] == page["cursor"]
    async with session_factory() as session:
        await AreaService(session).add_target(
            captain, world.area_id, kind="custom", name="N4", lon=112.05, lat=28.5
        )
        await session.commit()
    fourth = await p.pull_page(limit=3)
    assert [t["name"] for t in fourth["changes"]["targets"]["upserts"]] == ["N4"]
    assert fourth["hasMore"] is False


async def _targets_and_a_plan_after_a_full_pull(
    make_world: Any,
    phone: Any,
    session_factory: async_sessionmaker[AsyncSession],
    names: tuple[str, ...],
) -> tuple[Phone, str]:
    """A phone that pulled everything, then new targets ``names`` and next month's plan
    written by the captain; the phone and the plan's id."""
    world: SyncWorld = await make_world(parcels=1)
    p: Phone = phone(world.headers())
    await p.sync()
    captain = world.county.principal(Role.CAPTAIN)
    inspector = world.county.users[Role.INSPECTOR].id
    next_month = (clock.this_month() + timedelta(days=32)).replace(day=1)
    async with session_factory() as session:
        for name in names:
            await AreaService(session).add_target(
                captain, world.area_id, kind="custom", name=name, lon=112.05, lat=28.5
            )
        plan = await PlanService(session).upsert_plan(
            captain, world.area_id, next_month, quota=4, min_per_week=1, inspector_ids=[inspector]
        )
        await session.commit()
    return p, str(plan.plan_id)


async def test_a_page_fills_its_last_place_from_the_next_collection(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Two targets and next month's plan written after a full pull fill a page of three: the
    plan takes the page's last place, and the page says there is no more."""
    p, plan_id = await _targets_and_a_plan_after_a_full_pull(
        make_world, phone, session_factory, ("N1", "N2")
    )
    page = await p.pull_page(limit=3)
    changes = page["changes"]
    assert sorted(t["name"] for t in changes["targets"]["upserts"]) == ["N1", "N2"]
    assert [row["id"] for row in changes["plans"]["upserts"]] == [plan_id]
    assert page["hasMore"] is False


async def test_pages_keep_to_their_limit_across_collections_and_lose_nothing(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Three new targets and next month's plan, pulled a record at a time: every page holds
    exactly one record (never the next collection's as well), the page that stops inside the
    targets leaves both them and the plan for later, and all four arrive."""
    p, plan_id = await _targets_and_a_plan_after_a_full_pull(
        make_world, phone, session_factory, ("T1", "T2", "T3")
    )
    sizes: list[int] = []
    names: list[str] = []
    plans: list[str] = []
    for _ in range(8):
        page = await p.pull_page(limit=1)
        changes = page["changes"]
        sizes.append(
            sum(len(c.get("upserts", [])) + len(c.get("deletes", [])) for c in changes.values())
        )
        names += [t["name"] for t in changes.get("targets", {}).get("upserts", [])]
        plans += [row["id"] for row in changes.get("plans", {}).get("upserts", [])]
        if not page["hasMore"]:
            break
    assert sizes == [1, 1, 1, 1]
    assert sorted(names) == ["T1", "T2", "T3"]
    assert plans == [plan_id]


async def test_a_new_streams_first_page_goes_straight_into_the_manifest(
    make_world: Any, phone: Any, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """No phone holds an earlier cursor of a new stream, so its first page is recorded as
    held at once: nothing waits in ``sync_pending``, and the acknowledging pull moves none."""
    world: SyncWorld = await make_world(parcels=3)
    p: Phone = phone(world.headers())
    page = await p.pull_page(limit=2000)
    sent = sum(len(c.get("upserts", [])) for c in page["changes"].values())
    assert sent > 0
    user = world.county.users[Role.INSPECTOR].id
    async with session_factory() as session:
        stream = await session.scalar(
            text("SELECT id FROM sync_streams WHERE user_id = :u ORDER BY created_at DESC"),
            {"u": user},
        )
        counts = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM sync_pending WHERE stream_id = :s),"
                    " (SELECT count(*) FROM sync_manifest WHERE stream_id = :s)"
                ),
                {"s": stream},
            )
        ).one()
    assert tuple(counts) == (0, sent)


async def test_a_page_is_one_moment_of_the_county(
    make_world: Any,
    phone: Any,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A captain commits a new area of the inspector's with a target in it while a phone's
    page is being put together, after the areas were compared and before the targets were:
    the page holds neither (never a target whose area the phone does not have), and the next
    page brings both."""
    world: SyncWorld = await make_world(parcels=1)
    p: Phone = phone(world.headers())
    captain = world.county.principal(Role.CAPTAIN)
    inspector = world.county.users[Role.INSPECTOR].id
    written: list[str] = []
    diff = Collection.diff

    async def diff_after_a_write(self: Collection, *args: Any, **kwargs: Any) -> Any:
        if self.name == "targets" and not written:
            engine = create_engine(settings.database)  # the app's loop: a pool of its own
            try:
                async with create_session_factory(engine)() as session:
                    areas = AreaService(session)
                    area = await areas.create_area(
                        captain, code="A3", name="新片区", grade=3,
                        geometry=square(112.0, 28.3, 0.05), leader_id=inspector,
                    )  # fmt: skip
                    await areas.add_target(
                        captain, area.id, kind="custom", name="T3", lon=112.02, lat=28.32
                    )
                    await session.commit()
            finally:
                await engine.dispose()
            written.append(str(area.id))
        return await diff(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "diff", diff_after_a_write)
    page = await p.pull_page()
    assert written, "the write was not made during the page"
    assert "T3" not in {t["name"] for t in p.store["targets"].values()}
    assert written[0] not in p.ids("areas")
    assert page["hasMore"] is False
    await p.sync()
    assert written[0] in p.ids("areas")
    assert "T3" in {t["name"] for t in p.store["targets"].values()}
    assert {t["areaId"] for t in p.store["targets"].values()} <= p.ids("areas")
