"""Track answers a phone or a captain relies on beyond ``test_tracks.py``: the replay's whole
GeoJSON, the reasons and details of refused points at the edges of the coordinate ranges and
of the county's box, and the targets a track reaches."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.field_models import TargetVisit
from patrol.sessions import PatrolService
from patrol.tracks import (
    PointIn,
    TrackService,
    _nearest_visits,
    filter_track,
    haversine_m,
    refresh_summary,
)
from tests import clock
from tests.clock import ago
from tests.patrol.helpers import M_PER_DEG_LAT, start_patrol, walk
from tests.worlds import World


async def test_the_replay_is_the_whole_route_and_every_point_with_its_status(
    world: World, db: AsyncSession
) -> None:
    pid, started = await start_patrol(world, db)
    # 10.35 m steps at 4 m fixes (two make 20.69 m), then a fix 3 m on (within the noise:
    # still), a poor fix, and a fix timed after the end the phone gives later
    points = walk(started, n=3, step_m=10.3456, accuracy_m=4.0)
    last = points[-1]
    still = PointIn(uuid7(), last.t + timedelta(seconds=10), last.lon,
                    last.lat + 3 / M_PER_DEG_LAT, 4.0, None, None)  # fmt: skip
    poor = PointIn(uuid7(), last.t + timedelta(seconds=15), last.lon, last.lat, 80.0, 0.5, 90.0)
    end = last.t + timedelta(seconds=20)
    late = PointIn(uuid7(), end + timedelta(seconds=1), last.lon, last.lat, 4.0)
    tracks = TrackService(db)
    await tracks.append_track_points(world.inspector, pid, [*points, still, poor, late])
    patrol = await PatrolService(db).end_patrol(world.inspector, pid, ended_at=end)
    replay = await tracks.get_track(world.captain, pid, include_points=True)
    kept = [*points, still]
    assert replay["type"] == "FeatureCollection"
    route, *each = replay["features"]
    assert route == {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[p.lon, p.lat] for p in kept]},
        "properties": {
            "kind": "route",
            "patrol_id": str(pid),
            "inspector_id": str(world.inspector.user_id),
            "area_id": str(world.area.id),
            "started_at": started.isoformat(),
            "ended_at": end.isoformat(),
            "distance_m": patrol.distance_m,
            "times": [p.t.isoformat() for p in kept],
        },
    }
    assert patrol.distance_m == 20.69
    statuses = ["used", "used", "used", "still", "poor_accuracy", "after_end"]
    sent = [*points, still, poor, late]
    assert each == [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
            "properties": {
                "kind": "point",
                "id": str(p.id),
                "t": p.t.isoformat(),
                "accuracy_m": p.accuracy_m,
                "speed_mps": p.speed_mps,
                "heading_deg": p.heading_deg,
                "status": status,
            },
        }
        for p, status in zip(sent, statuses, strict=True)
    ]
    # without the points, the route alone; an open patrol has no end
    assert (await tracks.get_track(world.inspector, pid))["features"] == [route]
    other, _ = await start_patrol(world, db)
    [open_route] = (await tracks.get_track(world.inspector, other))["features"]
    assert open_route["properties"]["ended_at"] is None
    await db.commit()


class _NoOffset(tzinfo):
    """A time zone that knows no offset: such a time is as good as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:  # noqa: ARG002 - tzinfo's
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:  # noqa: ARG002 - tzinfo's
        return None

    def tzname(self, dt: datetime | None) -> str | None:  # noqa: ARG002 - tzinfo's
        return None


async def test_refused_points_say_why_at_every_edge(world: World, db: AsyncSession) -> None:
    """The world's county spans 110-111 E, 30-31 N; points up to half a degree outside its
    box are taken. Each coordinate at its range's end is a coordinate, only far away."""
    pid, started = await start_patrol(world, db)
    at = started + timedelta(minutes=1)
    far = "position is far outside the county"
    bad = "longitude/latitude missing or out of range"
    cases = [
        ((180.0, 30.5), "outside_county", far),
        ((-180.0, 30.5), "outside_county", far),
        ((180.0 + 1e-9, 30.5), "invalid_coordinates", bad),
        ((-180.0 - 1e-9, 30.5), "invalid_coordinates", bad),
        ((110.5, 90.0), "outside_county", far),
        ((110.5, -90.0), "outside_county", far),
        ((110.5, 90.0 + 1e-9), "invalid_coordinates", bad),
        ((110.5, -90.0 - 1e-9), "invalid_coordinates", bad),
        ((109.5 - 1e-3, 30.5), "outside_county", far),
        ((110.5, 29.5 - 1e-3), "outside_county", far),
    ]
    points = [PointIn(uuid7(), at, lon, lat, 5.0) for (lon, lat), _, _ in cases]
    taken = [PointIn(uuid7(), at, lon, lat, 5.0) for lon, lat in ((109.5, 29.5), (111.5, 31.5))]
    odd = [
        (PointIn(uuid7(), at, 110.5, 30.5, 10_000.5), "invalid_accuracy",
         "accuracy must be between 0 and 10000 m"),
        (PointIn(uuid7(), at.replace(tzinfo=None), 110.5, 30.5, 5.0), "invalid_time",
         "time must carry a time zone offset"),
        (PointIn(uuid7(), at.replace(tzinfo=_NoOffset()), 110.5, 30.5, 5.0), "invalid_time",
         "time must carry a time zone offset"),
        (PointIn(uuid7(), ago(minutes=-6), 110.5, 30.5, 5.0), "future_time",
         "time is more than 5 minutes in the future"),
        (PointIn(uuid7(), started - timedelta(minutes=6), 110.5, 30.5, 5.0), "before_start",
         "time is before the patrol started"),
    ]  # fmt: skip
    result = await TrackService(db).append_track_points(
        world.inspector, pid, [*points, *taken, *(p for p, _, _ in odd)]
    )
    assert [(r.id, r.reason, r.detail) for r in result.rejected] == [
        *((p.id, reason, detail) for p, (_, reason, detail) in zip(points, cases, strict=True)),
        *((p.id, reason, detail) for p, reason, detail in odd),
    ]
    assert result.stored == 2
    # a point timed after the end of a closed patrol
    end = at + timedelta(minutes=1)
    await PatrolService(db).end_patrol(world.inspector, pid, ended_at=end)
    late = PointIn(uuid7(), end + timedelta(seconds=1), 110.5, 30.5, 5.0)
    [refused] = (await TrackService(db).append_track_points(world.inspector, pid, [late])).rejected
    assert (refused.reason, refused.detail) == ("after_end", "time is after the patrol ended")
    await db.commit()


async def test_a_track_counts_as_a_visit_of_the_targets_it_passes(
    world: World, db: AsyncSession
) -> None:
    areas = AreaService(db)
    # the walk goes north from (110.2, 30.2), 15 m every 10 s, for 135 m
    near = await areas.add_target(
        world.captain, world.area.id, kind="custom", name="on the way",
        lon=110.2, lat=30.2 + 60 / M_PER_DEG_LAT, visit_radius_m=20.0,
    )  # fmt: skip
    side = (
        110.2 + 25.4567 / (M_PER_DEG_LAT * math.cos(math.radians(30.2 + 135 / M_PER_DEG_LAT))),
        30.2 + 135 / M_PER_DEG_LAT,
    )
    edge = await areas.add_target(
        world.captain, world.area.id, kind="custom", name="off to the side",
        lon=side[0], lat=side[1], visit_radius_m=30.0,
    )  # fmt: skip
    await areas.add_target(
        world.captain, world.area.id, kind="custom", name="too far",
        lon=110.3, lat=30.3, visit_radius_m=50.0,
    )  # fmt: skip
    pid, started = await start_patrol(world, db)
    points = walk(started, n=10)
    await TrackService(db).append_track_points(world.inspector, pid, points)
    await PatrolService(db).end_patrol(
        world.inspector, pid, ended_at=points[-1].t + timedelta(seconds=5)
    )
    rows = (
        await db.execute(
            select(TargetVisit).where(TargetVisit.session_id == pid, TargetVisit.source == "track")
        )
    ).scalars()
    visits = {v.target_id: (v.first_at, v.min_distance_m) for v in rows}
    # the near target: first within 20 m at the 4th fix (15 m short), passed at 0 m at the 5th;
    # the one to the side: within 30 m from the 9th fix (29 m), 25.46 m at the last
    assert visits.keys() == {near.id, edge.id}
    first, closest = visits[near.id]
    assert first == points[3].t and closest == pytest.approx(0.0, abs=0.01)
    first, closest = visits[edge.id]
    expected = haversine_m(points[9].lon, points[9].lat, *side)
    assert first == points[8].t and closest == round(expected, 2) != round(expected, 3)
    await db.commit()


async def test_a_patrol_read_after_its_points_in_one_session_shows_their_figures(
    world: World, db: AsyncSession
) -> None:
    pid, started = await start_patrol(world, db)
    await TrackService(db).append_track_points(world.inspector, pid, walk(started, n=4))
    patrol = await PatrolService(db).get_patrol(world.inspector, pid)
    assert (patrol.summary_stale, patrol.distance_m, patrol.used_point_count) == (False, 45.0, 4)
    await db.commit()


async def test_a_patrol_held_while_its_points_arrive_shows_their_figures(
    world: World, db: AsyncSession
) -> None:
    # the session's identity map keeps an object only while someone holds it: here the
    # reader holds it, so the second read is the same object and must see the new points
    pid, started = await start_patrol(world, db)
    patrols = PatrolService(db)
    held = await patrols.get_patrol(world.inspector, pid)
    await TrackService(db).append_track_points(world.inspector, pid, walk(started, n=4))
    again = await patrols.get_patrol(world.inspector, pid)
    assert again is held
    assert (again.summary_stale, again.distance_m, again.used_point_count) == (False, 45.0, 4)
    await db.commit()


@pytest.mark.parametrize(
    ("night", "start", "end", "is_night"),
    [
        ((19, 6), (18, 30), (18, 50), False),
        ((19, 6), (19, 20), (19, 40), True),
        ((19, 6), (5, 20), (5, 40), True),
        ((19, 6), (5, 50), (6, 10), False),
        ((1, 5), (0, 50), (1, 10), True),  # a night that does not cross midnight
        ((1, 5), (0, 30), (0, 50), False),
        ((1, 5), (4, 50), (5, 10), False),
        ((6, 6), (5, 50), (6, 10), False),  # no night at all
        ((6, 6), (23, 50), (0, 10), False),
    ],
)
async def test_a_patrol_is_at_night_when_its_middle_is(
    world: World,
    db: AsyncSession,
    night: tuple[int, int],
    start: tuple[int, int],
    end: tuple[int, int],
    is_night: bool,
) -> None:
    config = PatrolConfig(night_start_hour=night[0], night_end_hour=night[1])
    day = clock.TODAY - timedelta(days=2)
    began = datetime(day.year, day.month, day.day, *start, tzinfo=clock.CHINA)
    until = datetime(day.year, day.month, day.day, *end, tzinfo=clock.CHINA)
    if until < began:
        until += timedelta(days=1)
    patrols = PatrolService(db, config=config)
    pid = uuid7()
    await patrols.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=began)
    patrol = await patrols.end_patrol(world.inspector, pid, ended_at=until)
    assert (patrol.is_night, patrol.duration_s) == (is_night, (until - began).total_seconds())
    await db.commit()


async def test_a_patrol_ended_as_it_started_lasted_no_time(world: World, db: AsyncSession) -> None:
    pid, started = await start_patrol(world, db)
    patrol = await PatrolService(db).end_patrol(world.inspector, pid, ended_at=started)
    assert (patrol.duration_s, patrol.distance_m, patrol.moving_s) == (0.0, 0.0, 0.0)
    await db.commit()


async def test_a_batch_replayed_while_it_is_being_stored_waits_and_answers_duplicates(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as db:
        pid, started = await start_patrol(world, db)
        await db.commit()
    points = walk(started, n=5)
    async with session_factory() as first, session_factory() as second:
        done = await TrackService(first).append_track_points(world.inspector, pid, points)
        assert done.stored == 5
        replay = asyncio.create_task(
            TrackService(second).append_track_points(world.inspector, pid, points)
        )
        # the replay waits for the first batch's transaction (on the patrol row) ...
        async with session_factory() as watch:
            for _ in range(500):
                waiting = await watch.scalar(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                )
                if waiting or replay.done():
                    break
                await asyncio.sleep(0.01)
        await first.commit()
        # ... and then finds every point stored
        again = await replay
        assert (again.stored, again.duplicates, again.point_count) == (0, 5, 5)
        await second.commit()


async def test_only_the_fixes_the_filter_keeps_count_as_visits_and_visits_are_kept(
    world: World, db: AsyncSession
) -> None:
    areas = AreaService(db)
    north = 1 / M_PER_DEG_LAT
    # a fix, then one 3 m on within the noise of the two (still), then a poor fix 200 m on
    pid, started = await start_patrol(world, db)
    fixes = [
        PointIn(uuid7(), started + timedelta(seconds=10), 110.2, 30.25, 4.0),
        PointIn(uuid7(), started + timedelta(seconds=20), 110.2, 30.25 + 3 * north, 4.0),
        PointIn(uuid7(), started + timedelta(seconds=30), 110.2, 30.25 + 200 * north, 80.0),
    ]
    # reached by the still fix only (7 m away; the first is 10 m away)
    by_still = await areas.add_target(
        world.captain, world.area.id, kind="custom", name="by the still fix",
        lon=110.2, lat=30.25 + 10 * north, visit_radius_m=7.5,
    )  # fmt: skip
    # under the poor fix: not a visit by track, but the inspector signs in there
    by_poor = await areas.add_target(
        world.captain, world.area.id, kind="custom", name="under the poor fix",
        lon=110.2, lat=30.25 + 200 * north, visit_radius_m=10.0,
    )  # fmt: skip
    tracks, patrols = TrackService(db), PatrolService(db)
    await tracks.append_track_points(world.inspector, pid, fixes)
    await patrols.sign_in(
        world.inspector, pid, uuid7(), at=started + timedelta(seconds=40),
        lon=110.2, lat=30.25 + 200 * north, accuracy_m=5.0,
    )  # fmt: skip
    patrol = await patrols.end_patrol(world.inspector, pid, ended_at=started + timedelta(minutes=1))

    async def visits(session_id: uuid.UUID) -> list[tuple[uuid.UUID, str, datetime]]:
        rows = await db.execute(
            select(TargetVisit.target_id, TargetVisit.source, TargetVisit.first_at)
            .where(TargetVisit.session_id == session_id)
            .order_by(TargetVisit.source)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    expected = [
        (by_poor.id, "sign_in", started + timedelta(seconds=40)),
        (by_still.id, "track", fixes[1].t),
    ]
    assert await visits(pid) == expected
    # another patrol past the same target keeps the first's visits; so does a new summary
    other, other_start = await start_patrol(world, db)
    await tracks.append_track_points(
        world.inspector, other, [replace(fixes[1], id=uuid7(), t=other_start)]
    )
    await patrols.end_patrol(world.inspector, other, ended_at=other_start + timedelta(minutes=1))
    await refresh_summary(db, patrol, PatrolConfig())
    assert await visits(pid) == expected
    assert await visits(other) == [(by_still.id, "track", other_start)]
    await db.commit()


async def test_the_filter_counts_poor_fixes_and_keeps_a_lone_fixs_time() -> None:
    config = PatrolConfig()
    north = 1 / M_PER_DEG_LAT
    stats = filter_track(
        [0.0, 10.0, 20.0], [110.2] * 3, [30.2, 30.2 + 20 * north, 30.2 + 40 * north],
        [80.0, 4.0, 90.0], config,
    )  # fmt: skip
    assert (stats.poor_accuracy, stats.used, stats.first_fix, stats.last_fix) == (2, 1, 10.0, 10.0)


def test_after_a_jump_is_taken_the_next_one_needs_its_own_run_of_flags() -> None:
    """Three fixes in a row too fast to reach move the anchor to the third; a second jump
    from there needs three flagged fixes again, not two."""
    config = PatrolConfig()
    km = 1000 / M_PER_DEG_LAT
    lats = [30.2, 30.2 + km, 30.2 + km, 30.2 + km, 30.2 + 2 * km, 30.2 + 2 * km]
    lats.append(30.2 + 2 * km + 10 / M_PER_DEG_LAT)
    ts = [float(i) for i in range(len(lats))]
    stats = filter_track(ts, [110.2] * len(lats), lats, [4.0] * len(lats), config)
    assert stats.statuses == ["used", *["speed_flagged"] * 6]
    assert (stats.distance_m, stats.used) == (0.0, 1)


def test_a_fix_exactly_at_a_targets_radius_reaches_it() -> None:
    target = uuid.uuid4()
    ts, lons, lats = np.array([5.0]), np.array([110.2]), np.array([30.2 + 20 / M_PER_DEG_LAT])
    [(_, _, distance)] = _nearest_visits(ts, lons, lats, [(target, 110.2, 30.2, 100.0)])
    assert _nearest_visits(ts, lons, lats, [(target, 110.2, 30.2, distance)]) == [
        (target, 5.0, distance)
    ]
