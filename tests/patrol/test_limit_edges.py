"""Input limits of field work at their edges: a track batch of ``max_points_per_batch``
points is taken and one more is refused; a fix's accuracy may be anything from 0 to
10,000 m (``geofence.MAX_ACCURACY_M``) on a track point, a sign-in and a location check."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.errors import InvalidCoordinatesError
from geofence.geometry import MAX_ACCURACY_M, validate_fix
from infra.ids import uuid7
from patrol.config import PatrolConfig
from patrol.errors import InvalidPatrolInputError
from patrol.sessions import PatrolService
from patrol.tracks import PointIn, TrackService
from tests.patrol.helpers import walk
from tests.worlds import World

NOW = datetime(2025, 6, 18, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
OVER = math.nextafter(MAX_ACCURACY_M, math.inf)


def _clock() -> datetime:
    return NOW


async def _patrol(world: World, db: AsyncSession) -> tuple[uuid.UUID, datetime]:
    pid, started = uuid7(), NOW - timedelta(hours=1)
    await PatrolService(db, clock=_clock).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=started
    )
    return pid, started


async def test_a_batch_of_the_limit_is_taken_and_one_more_refused(
    world: World, db: AsyncSession
) -> None:
    pid, started = await _patrol(world, db)
    tracks = TrackService(db, config=PatrolConfig(max_points_per_batch=5), clock=_clock)
    taken = await tracks.append_track_points(world.inspector, pid, walk(started, n=5))
    assert (taken.stored, taken.rejected) == (5, [])
    with pytest.raises(InvalidPatrolInputError) as err:
        await tracks.append_track_points(world.inspector, pid, walk(started, n=6))
    assert (err.value.code, err.value.extra["limit"]) == ("too_many_points", 5)
    assert PatrolConfig().max_points_per_batch == 20_000
    await db.rollback()


async def test_track_point_accuracy_from_zero_to_ten_kilometres(
    world: World, db: AsyncSession
) -> None:
    assert MAX_ACCURACY_M == 10_000.0
    pid, started = await _patrol(world, db)
    points = [
        PointIn(uuid7(), started + timedelta(seconds=10 * i), 110.2, 30.2, acc)
        for i, acc in enumerate((0.0, MAX_ACCURACY_M, OVER, -0.01))
    ]
    result = await TrackService(db, clock=_clock).append_track_points(world.inspector, pid, points)
    assert result.stored == 2
    assert [(r.id, r.reason) for r in result.rejected] == [
        (points[2].id, "invalid_accuracy"),
        (points[3].id, "invalid_accuracy"),
    ]
    await db.rollback()


async def test_sign_in_accuracy_up_to_ten_kilometres(world: World, db: AsyncSession) -> None:
    pid, started = await _patrol(world, db)
    patrols = PatrolService(db, clock=_clock)
    at = started + timedelta(minutes=5)
    ok = await patrols.sign_in(
        world.inspector, pid, uuid7(), at=at, lon=110.2, lat=30.2, accuracy_m=MAX_ACCURACY_M
    )
    assert ok.accuracy_m == MAX_ACCURACY_M
    with pytest.raises(InvalidPatrolInputError) as err:
        await patrols.sign_in(
            world.inspector, pid, uuid7(), at=at, lon=110.2, lat=30.2, accuracy_m=OVER
        )
    assert err.value.code == "invalid_accuracy"
    await db.rollback()


def test_a_location_check_takes_accuracy_up_to_ten_kilometres() -> None:
    validate_fix(112.1, 28.5, MAX_ACCURACY_M)
    validate_fix(112.1, 28.5, 0.0)
    for bad in (OVER, -0.01):
        with pytest.raises(InvalidCoordinatesError) as err:
            validate_fix(112.1, 28.5, bad)
        assert err.value.field == "accuracy_m"
