"""Track ingest: idempotent, order-free, per-point rejections, jitter filter, auto-close."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from patrol.config import PatrolConfig
from patrol.errors import InvalidPatrolInputError
from patrol.field_models import PatrolSession, TrackPoint
from patrol.sessions import PatrolService, auto_close_stale_patrols
from patrol.tracks import PointIn, TrackService, filter_track
from tests.clock import ago
from tests.patrol.helpers import M_PER_DEG_LAT, start_patrol, walk
from tests.worlds import World

CFG = PatrolConfig()


async def _stored(db: AsyncSession, patrol_id: object) -> int:
    stmt = select(func.count()).select_from(TrackPoint).where(TrackPoint.session_id == patrol_id)
    return int((await db.execute(stmt)).scalar_one())


async def test_replayed_and_overlapping_batches_store_each_point_once(
    world: World, db: AsyncSession
) -> None:
    pid, started = await start_patrol(world, db)
    tracks = TrackService(db)
    points = walk(started, n=10)
    first = await tracks.append_track_points(world.inspector, pid, points)
    assert (first.stored, first.duplicates, first.rejected) == (10, 0, [])
    more = walk(started + timedelta(seconds=100), n=5)
    again = await tracks.append_track_points(world.inspector, pid, [*points, *more, more[0]])
    assert (again.received, again.stored, again.duplicates) == (16, 5, 11)
    assert again.point_count == 15
    await db.commit()
    assert await _stored(db, pid) == 15
    patrol = await db.get(PatrolSession, pid)
    assert patrol is not None and patrol.point_count == 15 and patrol.summary_stale
    assert patrol.last_point_at == more[-1].t


async def test_a_replayed_point_keeps_its_first_values(world: World, db: AsyncSession) -> None:
    pid, started = await start_patrol(world, db)
    tracks = TrackService(db)
    p = walk(started, n=1)[0]
    await tracks.append_track_points(world.inspector, pid, [p])
    await tracks.append_track_points(world.inspector, pid, [replace(p, lon=110.3)])
    stmt = select(func.ST_X(TrackPoint.geom)).where(TrackPoint.id == p.id)
    assert (await db.execute(stmt)).scalar_one() == pytest.approx(110.2)


async def test_out_of_order_batches_give_the_in_order_distance(
    world: World, db: AsyncSession
) -> None:
    pid, started = await start_patrol(world, db)
    tracks = TrackService(db)
    points = walk(started, n=21)  # 20 steps of 15 m
    await tracks.append_track_points(world.inspector, pid, points[10:][::-1])
    await tracks.append_track_points(world.inspector, pid, points[:10][::-1])
    patrol = await PatrolService(db).end_patrol(
        world.inspector, pid, ended_at=started + timedelta(minutes=30)
    )
    assert patrol.distance_m == pytest.approx(300.0, abs=0.01)
    assert patrol.moving_s == 200
    assert patrol.first_fix_at == points[0].t and patrol.last_fix_at == points[-1].t


async def test_bad_points_are_reported_and_the_rest_stored(world: World, db: AsyncSession) -> None:
    pid, started = await start_patrol(world, db)
    good = walk(started, n=3)
    future = PointIn(uuid7(), ago(minutes=-10), 110.2, 30.2, 5.0)
    slightly_ahead = PointIn(uuid7(), ago(minutes=-2), 110.2, 30.2, 5.0)  # clock skew: fine
    before = PointIn(uuid7(), started - timedelta(hours=1), 110.2, 30.2, 5.0)
    far = PointIn(uuid7(), started, 120.0, 30.2, 5.0)
    nan = PointIn(uuid7(), started, math.nan, 30.2, 5.0)
    wrapped = PointIn(uuid7(), started, 200.0, 30.2, 5.0)
    naive = PointIn(uuid7(), started.replace(tzinfo=None), 110.2, 30.2, 5.0)
    bad_acc = PointIn(uuid7(), started, 110.2, 30.2, -1.0)
    result = await TrackService(db).append_track_points(
        world.inspector,
        pid,
        [*good, future, slightly_ahead, before, far, nan, wrapped, naive, bad_acc],
    )
    assert result.stored == 4
    reasons = {r.id: r.reason for r in result.rejected}
    assert reasons == {
        future.id: "future_time",
        before.id: "before_start",
        far.id: "outside_county",
        nan.id: "invalid_coordinates",
        wrapped.id: "invalid_coordinates",
        naive.id: "invalid_time",
        bad_acc.id: "invalid_accuracy",
    }


async def test_batch_size_is_bounded(world: World, db: AsyncSession) -> None:
    pid, started = await start_patrol(world, db)
    small = TrackService(db, config=PatrolConfig(max_points_per_batch=5))
    with pytest.raises(InvalidPatrolInputError) as err:
        await small.append_track_points(world.inspector, pid, walk(started, n=6))
    assert err.value.code == "too_many_points"


def test_jitter_filter_ignores_poor_fixes_and_flags_jumps() -> None:
    step = 15 / M_PER_DEG_LAT
    ts = [0.0, 10, 20, 30, 40, 50]
    lats = [30.0, 30 + step, 30.5, 30 + 2 * step, 31.0, 30 + 3 * step]
    accs = [5.0, 5, 5, 300, 5, 5]
    lons = [110.0] * 6
    # point 2: 55 km in 10 s (flagged); point 3: accuracy 300 m (ignored); point 4: flagged
    stats = filter_track(ts, lons, lats, accs, CFG)
    assert stats.statuses == [
        "used",
        "used",
        "speed_flagged",
        "poor_accuracy",
        "speed_flagged",
        "used",
    ]
    assert stats.distance_m == pytest.approx(45.0, abs=1e-6)
    assert (stats.used, stats.poor_accuracy, stats.speed_flagged) == (3, 1, 2)


def test_jitter_filter_standing_still_adds_no_distance() -> None:
    jitter = [0.0, 2e-5, -1e-5, 1.5e-5, 0.0, -2e-5]  # within ~2 m
    stats = filter_track(
        [float(i * 5) for i in range(6)], [110.0] * 6, [30.0 + j for j in jitter], [4.0] * 6, CFG
    )
    assert stats.distance_m == 0.0
    assert stats.statuses == ["used"] + ["still"] * 5


def test_jitter_filter_recovers_from_a_bad_first_fix() -> None:
    step = 15 / M_PER_DEG_LAT
    lats = [31.0] + [30.0 + i * step for i in range(6)]
    stats = filter_track([float(i * 10) for i in range(7)], [110.0] * 7, lats, [5.0] * 7, CFG)
    # three flagged points in a row move the anchor; the rest of the walk counts
    assert stats.statuses[:4] == ["used", "speed_flagged", "speed_flagged", "speed_flagged"]
    assert stats.distance_m == pytest.approx(45.0, abs=1e-6)


async def test_a_closed_patrol_takes_no_more_points(world: World, db: AsyncSession) -> None:
    """After ``EndPatrol`` every new point is refused (``after_end`` when timed after the end,
    ``patrol_ended`` when timed within it); replays of stored points stay duplicates; the
    figures do not move."""
    pid, started = await start_patrol(world, db)
    tracks = TrackService(db)
    points = walk(started, n=11)
    await tracks.append_track_points(world.inspector, pid, points[:6])
    end = started + timedelta(minutes=10)
    ended = await PatrolService(db).end_patrol(world.inspector, pid, ended_at=end)
    before = (ended.distance_m, ended.duration_s, ended.last_fix_at, ended.point_count)
    assert before == (pytest.approx(75.0, abs=0.01), 600.0, points[5].t, 6)
    four_minutes_late = PointIn(uuid7(), end + timedelta(minutes=4), 110.2, 30.21, 5.0)
    at_the_end = PointIn(uuid7(), end, 110.2, 30.2005, 5.0)
    late = await tracks.append_track_points(
        world.inspector, pid, [points[6], four_minutes_late, points[0], at_the_end]
    )
    assert (late.stored, late.duplicates, late.point_count) == (0, 1, 6)
    assert [(r.id, r.reason) for r in late.rejected] == [
        (points[6].id, "patrol_ended"),
        (four_minutes_late.id, "after_end"),
        (at_the_end.id, "patrol_ended"),
    ]
    one_second_late = PointIn(uuid7(), end + timedelta(seconds=1), 110.2, 30.2, 5.0)
    edge = await tracks.append_track_points(world.inspector, pid, [one_second_late])
    assert [r.reason for r in edge.rejected] == ["after_end"]
    await db.commit()
    stored = await db.get(PatrolSession, pid, populate_existing=True)
    assert stored is not None and not stored.summary_stale
    assert (stored.distance_m, stored.duration_s, stored.last_fix_at, stored.point_count) == before
    assert stored.ended_at == end and await _stored(db, pid) == 6


async def test_points_timed_after_the_end_count_nowhere(world: World, db: AsyncSession) -> None:
    """Points stored while the patrol ran but timed after the end the phone then gives: the
    one at the end counts, the one a second later is kept for replay and counts nowhere."""
    pid, started = await start_patrol(world, db)
    end = started + timedelta(minutes=10)
    points = walk(end - timedelta(seconds=30), n=5)  # 15 m every 10 s; the 4th is at the end
    assert points[3].t == end
    await TrackService(db).append_track_points(world.inspector, pid, points)
    patrol = await PatrolService(db).end_patrol(world.inspector, pid, ended_at=end)
    assert patrol.distance_m == pytest.approx(45.0, abs=0.01)
    assert (patrol.last_fix_at, patrol.used_point_count, patrol.point_count) == (end, 4, 5)
    fc = await TrackService(db).get_track(world.captain, pid, include_points=True)
    route = fc["features"][0]
    assert len(route["geometry"]["coordinates"]) == 4
    assert route["properties"]["distance_m"] == pytest.approx(45.0, abs=0.01)
    assert route["properties"]["times"][-1] == end.isoformat()
    statuses = [f["properties"]["status"] for f in fc["features"][1:]]
    assert statuses == ["used", "used", "used", "used", "after_end"]


async def test_an_auto_closed_patrol_still_takes_the_phones_points(
    world: World, db: AsyncSession
) -> None:
    """The server closed it for being idle, not its crew: later points are stored, and it
    ends at its last point until the phone's own end arrives."""
    pid, started = await start_patrol(world, db, hours=10)
    points = walk(started, n=9)
    await TrackService(db).append_track_points(world.inspector, pid, points[:5])
    await db.commit()
    assert pid in await auto_close_stale_patrols(db, config=CFG, county_id=world.county_id)
    late = await TrackService(db).append_track_points(world.inspector, pid, points[5:])
    assert (late.stored, late.rejected) == (4, [])
    await db.commit()
    patrol = await db.get(PatrolSession, pid, populate_existing=True)
    assert patrol is not None and patrol.end_reason == "auto_closed"
    assert patrol.ended_at == points[-1].t == patrol.last_fix_at
    assert patrol.distance_m == pytest.approx(120.0, abs=0.01)


async def test_get_track_is_geojson_with_point_statuses(world: World, db: AsyncSession) -> None:
    pid, started = await start_patrol(world, db)
    points = walk(started, n=4)
    noisy = PointIn(uuid7(), started + timedelta(seconds=5), 110.2, 30.2, 120.0)
    await TrackService(db).append_track_points(world.inspector, pid, [*points, noisy])
    fc = await TrackService(db).get_track(world.captain, pid, include_points=True)
    route = fc["features"][0]
    assert route["geometry"]["type"] == "LineString"
    assert len(route["geometry"]["coordinates"]) == 4
    assert route["properties"]["distance_m"] == pytest.approx(45.0, abs=0.01)
    statuses = {f["properties"]["id"]: f["properties"]["status"] for f in fc["features"][1:]}
    assert statuses[str(noisy.id)] == "poor_accuracy"
    assert len(statuses) == 5


async def test_idle_patrols_close_automatically_and_the_phone_end_still_wins(
    world: World, db: AsyncSession
) -> None:
    pid, started = await start_patrol(world, db, hours=10)
    points = walk(started, n=5)
    await TrackService(db).append_track_points(world.inspector, pid, points)
    fresh, _ = await start_patrol(world, db, hours=1)
    await db.commit()
    closed = await auto_close_stale_patrols(db, config=CFG, county_id=world.county_id)
    assert pid in closed and fresh not in closed
    await db.commit()
    patrol = await db.get(PatrolSession, pid)
    assert patrol is not None
    assert patrol.end_reason == "auto_closed" and patrol.ended_at == points[-1].t
    assert patrol.distance_m == pytest.approx(60.0, abs=0.01)
    assert pid not in await auto_close_stale_patrols(db, config=CFG, county_id=world.county_id)
    real_end = started + timedelta(hours=2)
    ended = await PatrolService(db).end_patrol(world.inspector, pid, ended_at=real_end)
    assert ended.end_reason == "ended" and ended.ended_at == real_end
    await db.commit()


async def test_a_slow_walk_counts_its_whole_length(world: World, db: AsyncSession) -> None:
    """Steps of 2 m (below the noise of two 5 m fixes, 10 m) add up: the anchor waits until
    the walk has left the noise; at most that much is missing at the end."""
    assert CFG.min_step_m > 2.0
    pid, started = await start_patrol(world, db)
    points = walk(started, n=106, step_m=2.0, every_s=2.0)  # 105 steps of 2 m: 210 m
    await TrackService(db).append_track_points(world.inspector, pid, points)
    patrol = await PatrolService(db).end_patrol(
        world.inspector, pid, ended_at=started + timedelta(minutes=30)
    )
    assert 210.0 - 2 * 5.0 - 0.01 <= patrol.distance_m <= 210.0


async def test_jitter_around_one_spot_adds_nothing(world: World, db: AsyncSession) -> None:
    """Ten minutes of fixes scattered up to 2 m around where the inspector stands."""
    pid, started = await start_patrol(world, db)
    lat0, lon0 = 30.2, 110.2
    m_lon = M_PER_DEG_LAT * math.cos(math.radians(lat0))
    points = [
        PointIn(
            id=uuid7(),
            t=started + timedelta(seconds=10 * i),
            lon=lon0 + 2.0 * math.cos(i * 2.4) * ((i % 3) / 2) / m_lon,
            lat=lat0 + 2.0 * math.sin(i * 2.4) * ((i % 3) / 2) / M_PER_DEG_LAT,
            accuracy_m=5.0,
            speed_mps=0.0,
            heading_deg=0.0,
        )
        for i in range(60)
    ]
    await TrackService(db).append_track_points(world.inspector, pid, points)
    patrol = await PatrolService(db).end_patrol(
        world.inspector, pid, ended_at=started + timedelta(minutes=30)
    )
    assert patrol.distance_m == pytest.approx(0.0, abs=0.5)
