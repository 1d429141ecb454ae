"""Walks the jitter filter must get right, and each of its numbers at its edge.

Slow walks (steps smaller than ``min_step_m``) must add up to the walked length; standing
still with GPS jitter adds nothing and leaves the anchor where the inspector stopped; jitter
along a walk cancels out. Each filter setting (``min_step_m``, ``max_accuracy_m``,
``max_speed_mps``, ``reanchor_after``, ``gap_limit_s``) is checked at its value and one step
either side, with the setting set to the exact step the test walks (floats compare exactly).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from patrol.config import PatrolConfig
from patrol.sessions import PatrolService
from patrol.tracks import PointIn, TrackService, TrackStats, filter_track, haversine_m
from tests.clock import ago
from tests.patrol.helpers import M_PER_DEG_LAT
from tests.worlds import World

CFG = PatrolConfig()
LON0, LAT0 = 110.2, 30.2
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT0))


def _fixes(
    offsets: list[tuple[float, float]], *, every_s: float = 2.0, accuracy_m: float = 5.0
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Fixes at ``(north, east)`` metre offsets from a start point, ``every_s`` apart."""
    ts = [i * every_s for i in range(len(offsets))]
    lats = [LAT0 + n / M_PER_DEG_LAT for n, _ in offsets]
    lons = [LON0 + e / M_PER_DEG_LON for _, e in offsets]
    return ts, lons, lats, [accuracy_m] * len(offsets)


def _run(offsets: list[tuple[float, float]], config: PatrolConfig = CFG, **kw: float) -> TrackStats:
    return filter_track(*_fixes(offsets, **kw), config)


def _jitter(i: int, size_m: float) -> float:
    """A fixed pseudo-random jitter in [-size_m, size_m] (deterministic)."""
    return size_m * math.sin(i * 2.399963)  # golden angle: never repeats a pattern


# -- slow walks --------------------------------------------------------------------------


@pytest.mark.parametrize("step_m", [1.0, 1.5, 2.0, 2.4, 3.0, 4.9])
def test_a_slow_walk_adds_up_to_its_length(step_m: float) -> None:
    """120 steps below ``min_step_m`` (5 m): the anchor waits until 5 m are walked, then the
    whole way from it counts; 120 is a multiple of every anchor period here, so the figure
    is the walked length exactly, and so is the moving time."""
    assert step_m < CFG.min_step_m
    n = 120
    stats = _run([(i * step_m, 0.0) for i in range(n + 1)], every_s=2.0)
    assert stats.distance_m == pytest.approx(n * step_m, rel=1e-9)
    assert stats.moving_s == n * 2.0
    assert stats.used == n + 1 and stats.speed_flagged == 0 == stats.poor_accuracy
    period = math.ceil(CFG.min_step_m / step_m)  # steps between two anchors
    assert stats.statuses[: period + 1] == ["used"] + ["still"] * (period - 1) + ["used"]


def test_a_one_metre_walk_with_two_metre_jitter_stays_within_a_step() -> None:
    """1 m steps with up to 2 m jitter along the way: the figure is the walk's length, give
    or take one anchor step and the jitter at both ends (never the jitter summed)."""
    n = 400
    stats = _run([(i * 1.0 + _jitter(i, 2.0), 0.0) for i in range(n + 1)])
    assert abs(stats.distance_m - n) <= CFG.min_step_m + 2 * 2.0
    assert stats.speed_flagged == 0


# -- stops -------------------------------------------------------------------------------


def test_standing_still_with_jitter_adds_nothing_and_keeps_the_anchor() -> None:
    """100 m north, 20 minutes standing with up to 3 m jitter, 100 m on: exactly 200 m.
    The first step after the stop is measured from where the inspector stopped, not from a
    jittered fix."""
    walk1 = [(i * 10.0, 0.0) for i in range(11)]
    stop = [(100.0 + _jitter(i, 3.0), _jitter(i + 7, 3.0)) for i in range(240)]
    walk2 = [(100.0 + i * 10.0, 0.0) for i in range(1, 11)]
    stats = _run(walk1 + stop + walk2, every_s=5.0)
    assert stats.distance_m == pytest.approx(200.0, rel=1e-9)
    assert stats.statuses[11:251] == ["still"] * 240
    # 20 steps of 5 s, but the first step after a stop longer than gap_limit_s (600 s)
    # counts no moving time
    assert stats.moving_s == 19 * 5.0
    assert stats.used == 11 + 240 + 10


def test_jitter_alone_over_an_hour_adds_nothing() -> None:
    """An hour of fixes scattered within 2.3 m of one spot (any two closer than
    ``min_step_m``), the first fix as scattered as the rest."""
    stats = _run([(_jitter(i, 1.6), _jitter(i + 3, 1.6)) for i in range(720)], every_s=5.0)
    assert (stats.distance_m, stats.moving_s) == (0.0, 0.0)


# -- jitter around a straight walk -------------------------------------------------------


def test_jitter_along_a_straight_walk_cancels_out() -> None:
    """Jitter of up to 2 m along a 15 m-a-step walk: each fix is off, the sum is not."""
    n = 40
    offsets = [(i * 15.0 + (_jitter(i, 2.0) if 0 < i < n else 0.0), 0.0) for i in range(n + 1)]
    stats = _run(offsets)
    assert stats.distance_m == pytest.approx(n * 15.0, rel=1e-9)


def test_sideways_jitter_lengthens_the_walk_by_pythagoras_only() -> None:
    """A zig-zag of ±1.5 m across a 10 m-a-step walk: each step is √(10² + 3²)."""
    n = 30
    stats = _run([(i * 10.0, 1.5 if i % 2 else -1.5) for i in range(n + 1)])
    assert stats.distance_m == pytest.approx(n * math.hypot(10.0, 3.0), rel=1e-5)


# -- each filter setting at its edge -----------------------------------------------------


def _north(m: float) -> float:
    return haversine_m(LON0, LAT0, LON0, LAT0 + m / M_PER_DEG_LAT)


def test_min_step_at_its_value_counts_and_just_below_does_not() -> None:
    step = _north(5.0)
    at = _run([(0.0, 0.0), (5.0, 0.0)], replace(CFG, min_step_m=step))
    above = _run([(0.0, 0.0), (5.0, 0.0)], replace(CFG, min_step_m=math.nextafter(step, 0.0)))
    below = _run([(0.0, 0.0), (5.0, 0.0)], replace(CFG, min_step_m=math.nextafter(step, 9.0)))
    assert (at.statuses[1], at.distance_m) == ("used", step)
    assert (above.statuses[1], above.distance_m) == ("used", step)
    assert (below.statuses[1], below.distance_m) == ("still", 0.0)


@pytest.mark.parametrize(
    ("accuracy_m", "status"),
    [(CFG.max_accuracy_m - 0.01, "used"), (CFG.max_accuracy_m, "used"), (50.01, "poor_accuracy")],
)
def test_max_accuracy_at_its_value_is_used(accuracy_m: float, status: str) -> None:
    assert CFG.max_accuracy_m == 50.0
    ts, lons, lats, _ = _fixes([(0.0, 0.0), (20.0, 0.0)], every_s=10.0)
    stats = filter_track(ts, lons, lats, [5.0, accuracy_m], CFG)
    assert stats.statuses[1] == status
    assert stats.distance_m == (_north(20.0) if status == "used" else 0.0)
    assert stats.poor_accuracy == (status == "poor_accuracy")


@pytest.mark.parametrize(("dt", "counted_s"), [(1.0, 1.0), (0.5, 0.5), (10.0, 10.0)])
def test_max_speed_at_its_value_is_used_and_just_over_is_flagged(
    dt: float, counted_s: float
) -> None:
    """The step allowed is ``max_speed_mps`` times the time taken (at least one second)."""
    step = _north(30.0)
    speed = step / max(dt, 1.0)
    allowed = max(dt, 1.0) * speed
    at_cfg = replace(CFG, max_speed_mps=speed if allowed >= step else math.nextafter(speed, 99.0))
    over_cfg = replace(CFG, max_speed_mps=math.nextafter(at_cfg.max_speed_mps, 0.0))
    at = _run([(0.0, 0.0), (30.0, 0.0)], at_cfg, every_s=dt)
    over = _run([(0.0, 0.0), (30.0, 0.0)], over_cfg, every_s=dt)
    assert (at.statuses, at.distance_m, at.moving_s) == (["used", "used"], step, counted_s)
    assert (over.statuses, over.distance_m, over.speed_flagged) == (
        ["used", "speed_flagged"],
        0.0,
        1,
    )


def test_the_default_speed_limit_is_forty_metres_a_second() -> None:
    """A car at 39 m/s counts; a jump of 41 m in one second does not."""
    assert CFG.max_speed_mps == 40.0
    ok = _run([(0.0, 0.0), (39.0, 0.0)], every_s=1.0)
    jump = _run([(0.0, 0.0), (41.0, 0.0)], every_s=1.0)
    assert ok.statuses[1] == "used" and jump.statuses[1] == "speed_flagged"


def test_an_outlier_is_skipped_and_a_real_jump_reanchors_after_three() -> None:
    """One wild fix (1 km away) is ignored and the walk goes on from the last good fix;
    ``reanchor_after`` (3) wild fixes in a row mean the phone really moved: the track
    restarts there, and the jump adds no distance."""
    assert CFG.reanchor_after == 3
    one = _run([(0.0, 0.0), (10.0, 0.0), (1010.0, 0.0), (20.0, 0.0)], every_s=2.0)
    assert one.statuses == ["used", "used", "speed_flagged", "used"]
    assert one.distance_m == pytest.approx(20.0, rel=1e-9)

    two = _run([(0.0, 0.0), (1000.0, 0.0), (1010.0, 0.0), (20.0, 0.0)], every_s=2.0)
    assert two.statuses == ["used", "speed_flagged", "speed_flagged", "used"]
    assert two.distance_m == pytest.approx(20.0, rel=1e-9)

    jump = [(0.0, 0.0), (1000.0, 0.0), (1010.0, 0.0), (1020.0, 0.0), (1030.0, 0.0)]
    three = _run(jump, every_s=2.0)
    assert three.statuses == ["used"] + ["speed_flagged"] * 3 + ["used"]
    assert three.distance_m == pytest.approx(10.0, rel=1e-9)  # from the new anchor on


@pytest.mark.parametrize(("gap_s", "moving"), [(599.0, True), (600.0, True), (601.0, False)])
def test_a_gap_longer_than_the_limit_adds_distance_but_no_moving_time(
    gap_s: float, moving: bool
) -> None:
    assert CFG.gap_limit_s == 600.0
    ts, lons, lats, accs = _fixes([(0.0, 0.0), (10.0, 0.0), (20.0, 0.0)])
    ts = [0.0, 10.0, 10.0 + gap_s]
    stats = filter_track(ts, lons, lats, accs, CFG)
    assert stats.distance_m == pytest.approx(20.0, rel=1e-9)
    assert stats.moving_s == (10.0 + gap_s if moving else 10.0)


# -- the same walks end to end: the patrol's figures -------------------------------------


def _points(start: datetime, offsets: list[tuple[float, float]], every_s: float) -> list[PointIn]:
    return [
        PointIn(
            id=uuid7(),
            t=start + timedelta(seconds=i * every_s),
            lon=LON0 + e / M_PER_DEG_LON,
            lat=LAT0 + n / M_PER_DEG_LAT,
            accuracy_m=6.0,
            speed_mps=None,
            heading_deg=None,
        )
        for i, (n, e) in enumerate(offsets)
    ]


async def test_a_patrol_with_slow_steps_and_a_jittery_stop_shows_the_walked_distance(
    world: World, db: AsyncSession
) -> None:
    """What the captain sees for a patrol: 150 m at 1.5 m steps, a 10-minute stop with
    jitter, 150 m more at 3 m steps: 300 m."""
    pid = uuid7()
    started = ago(hours=3)
    service = PatrolService(db)
    await service.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=started)
    slow = [(i * 1.5, 0.0) for i in range(101)]
    stop = [(150.0 + _jitter(i, 2.5), _jitter(i + 5, 2.5)) for i in range(120)]
    on = [(150.0 + i * 3.0, 0.0) for i in range(1, 51)]
    points = _points(started, slow + stop + on, every_s=5.0)
    await TrackService(db).append_track_points(world.inspector, pid, points)
    patrol = await service.end_patrol(
        world.inspector, pid, ended_at=started + timedelta(minutes=40)
    )
    await db.commit()
    assert patrol.distance_m == pytest.approx(300.0, abs=0.01)
    assert patrol.used_point_count == len(points)
    assert patrol.speed_flagged_count == 0 == patrol.poor_accuracy_count
    assert patrol.duration_s == 40 * 60
