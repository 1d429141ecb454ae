"""Walks the jitter filter must get right, and each of its numbers at its edge.

Slow walks (steps smaller than the noise: ``min_step_m`` and the sum of two fixes'
accuracies) must add up to the walked length, less at most one noise's worth at the end;
standing still with GPS jitter adds nothing and leaves the anchor where the inspector stopped;
jitter along a walk cancels out. Each filter setting (``min_step_m``, the accuracy sum,
``max_accuracy_m``, ``max_speed_mps``, ``reanchor_after``, ``gap_limit_s``) is checked at its
value and one step either side, with the setting set to the exact step the test walks (floats
compare exactly). Walks of 10 m steps use 4 m fixes: two 5 m fixes 10 m apart are noise.
"""

from __future__ import annotations

import itertools
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
ACC = 5.0  # the accuracy of the slow walks' fixes: two of them are noise up to 10 m apart
NOISE = 2 * ACC
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
    """120 steps below the noise of two 5 m fixes (10 m): the anchor waits until the walk has
    left the noise, then the whole way from it counts. The figure is the walk up to the last
    anchor, exactly: the walked length less a last stretch no longer than the noise; the
    moving time is the time up to that anchor (0.5 m/s and faster: all of it counts)."""
    assert step_m < NOISE
    n = 120
    stats = _run([(i * step_m, 0.0) for i in range(n + 1)], every_s=2.0, accuracy_m=ACC)
    anchors = [i for i, s in enumerate(stats.statuses) if s == "used"]
    last = anchors[-1]
    assert stats.distance_m == pytest.approx(last * step_m, rel=1e-9)
    assert n * step_m - NOISE <= stats.distance_m <= n * step_m * (1 + 1e-9)
    assert stats.moving_s == pytest.approx(last * 2.0, rel=1e-9)
    assert stats.used == n + 1 and stats.speed_flagged == 0 == stats.poor_accuracy
    # anchors the fewest steps apart that leave the noise (1 m and 2 m steps reach exactly
    # 10 m, where the rounding of the distance decides)
    for a, b in itertools.pairwise(anchors):
        assert (b - a - 1) * step_m <= NOISE + 1e-6 and (b - a) * step_m >= NOISE - 1e-6


def test_a_one_metre_walk_with_two_metre_jitter_stays_within_a_step() -> None:
    """1 m steps with up to 2 m jitter along the way: the figure is the walk's length, give
    or take one anchor step (the noise) and the jitter at both ends (never the jitter
    summed)."""
    n = 400
    stats = _run([(i * 1.0 + _jitter(i, 2.0), 0.0) for i in range(n + 1)], accuracy_m=ACC)
    assert abs(stats.distance_m - n) <= NOISE + 2 * 2.0
    assert stats.speed_flagged == 0


# -- stops -------------------------------------------------------------------------------


def test_standing_still_with_jitter_adds_nothing_and_keeps_the_anchor() -> None:
    """100 m north, 20 minutes standing with up to 3 m jitter, 100 m on: exactly 200 m.
    The first step after the stop is measured from where the inspector stopped, not from a
    jittered fix. (4 m fixes: 10 m steps are longer than their noise.)"""
    walk1 = [(i * 10.0, 0.0) for i in range(11)]
    stop = [(100.0 + _jitter(i, 3.0), _jitter(i + 7, 3.0)) for i in range(240)]
    walk2 = [(100.0 + i * 10.0, 0.0) for i in range(1, 11)]
    stats = _run(walk1 + stop + walk2, every_s=5.0, accuracy_m=4.0)
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
    """With 2 m fixes (noise 4 m) ``min_step_m`` decides."""
    step = _north(5.0)
    fixes = [(0.0, 0.0), (5.0, 0.0)]
    at = _run(fixes, replace(CFG, min_step_m=step), accuracy_m=2.0)
    above = _run(fixes, replace(CFG, min_step_m=math.nextafter(step, 0.0)), accuracy_m=2.0)
    below = _run(fixes, replace(CFG, min_step_m=math.nextafter(step, 9.0)), accuracy_m=2.0)
    assert (at.statuses[1], at.distance_m) == ("used", step)
    assert (above.statuses[1], above.distance_m) == ("used", step)
    assert (below.statuses[1], below.distance_m) == ("still", 0.0)


@pytest.mark.parametrize("first", [True, False])
def test_a_step_must_be_longer_than_the_two_accuracies_summed(first: bool) -> None:
    """A 20 m step between fixes whose accuracies sum to 20 m is noise; one just under 20 m
    and it counts, whichever of the two fixes (the anchor or the new one) reports it."""
    step = _north(20.0)
    ts, lons, lats, _ = _fixes([(0.0, 0.0), (20.0, 0.0)], every_s=10.0)

    def status(acc: float) -> tuple[str, float]:
        stats = filter_track(ts, lons, lats, [acc, 0.0] if first else [0.0, acc], CFG)
        return stats.statuses[1], stats.distance_m

    assert status(step) == ("still", 0.0)
    assert status(math.nextafter(step, 0.0)) == ("used", step)
    assert status(math.nextafter(step, 99.0)) == ("still", 0.0)


@pytest.mark.parametrize(
    ("accuracy_m", "status"),
    [(CFG.max_accuracy_m - 0.01, "used"), (CFG.max_accuracy_m, "used"), (50.01, "poor_accuracy")],
)
def test_max_accuracy_at_its_value_is_used(accuracy_m: float, status: str) -> None:
    assert CFG.max_accuracy_m == 50.0
    # a 60 m step: longer than the noise of a 5 m and a 50 m fix
    ts, lons, lats, _ = _fixes([(0.0, 0.0), (60.0, 0.0)], every_s=10.0)
    stats = filter_track(ts, lons, lats, [5.0, accuracy_m], CFG)
    assert stats.statuses[1] == status
    assert stats.distance_m == (_north(60.0) if status == "used" else 0.0)
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
    restarts there, and the jump adds no distance. (4 m fixes: 10 m steps count.)"""
    assert CFG.reanchor_after == 3
    one = _run([(0.0, 0.0), (10.0, 0.0), (1010.0, 0.0), (20.0, 0.0)], every_s=2.0, accuracy_m=4.0)
    assert one.statuses == ["used", "used", "speed_flagged", "used"]
    assert one.distance_m == pytest.approx(20.0, rel=1e-9)

    two = _run([(0.0, 0.0), (1000.0, 0.0), (1010.0, 0.0), (20.0, 0.0)], every_s=2.0, accuracy_m=4.0)
    assert two.statuses == ["used", "speed_flagged", "speed_flagged", "used"]
    assert two.distance_m == pytest.approx(20.0, rel=1e-9)

    jump = [(0.0, 0.0), (1000.0, 0.0), (1010.0, 0.0), (1020.0, 0.0), (1030.0, 0.0)]
    three = _run(jump, every_s=2.0, accuracy_m=4.0)
    assert three.statuses == ["used"] + ["speed_flagged"] * 3 + ["used"]
    assert three.distance_m == pytest.approx(10.0, rel=1e-9)  # from the new anchor on


@pytest.mark.parametrize(("gap_s", "moving"), [(599.0, True), (600.0, True), (601.0, False)])
def test_a_gap_longer_than_the_limit_adds_distance_but_no_moving_time(
    gap_s: float, moving: bool
) -> None:
    """A walk at 1 m/s through a gap in the fixes (the phone in a pocket)."""
    assert CFG.gap_limit_s == 600.0
    ts, lons, lats, accs = _fixes([(0.0, 0.0), (10.0, 0.0), (10.0 + gap_s, 0.0)])
    ts = [0.0, 10.0, 10.0 + gap_s]
    stats = filter_track(ts, lons, lats, accs, CFG)
    assert stats.distance_m == pytest.approx(10.0 + gap_s, rel=1e-9)
    assert stats.moving_s == (10.0 + gap_s if moving else 10.0)


def test_a_step_slower_than_the_slowest_walk_counts_the_time_at_that_speed() -> None:
    """Moving time is counted at no less than ``min_moving_speed_mps`` (0.4 m/s): 20 m in
    100 s counts 50 s; 20 m in 50 s (exactly that speed) and in 10 s count their time."""
    assert CFG.min_moving_speed_mps == 0.4
    step = _north(20.0)
    for every_s, counted in [(100.0, step / 0.4), (50.0, 50.0), (10.0, 10.0)]:
        stats = _run([(0.0, 0.0), (20.0, 0.0)], every_s=every_s)
        assert stats.moving_s == pytest.approx(counted, rel=1e-9)


# -- the same walks end to end: the patrol's figures -------------------------------------


def _points(
    start: datetime, offsets: list[tuple[float, float]], every_s: float, accuracy_m: float = 6.0
) -> list[PointIn]:
    return [
        PointIn(
            id=uuid7(),
            t=start + timedelta(seconds=i * every_s),
            lon=LON0 + e / M_PER_DEG_LON,
            lat=LAT0 + n / M_PER_DEG_LAT,
            accuracy_m=accuracy_m,
            speed_mps=None,
            heading_deg=None,
        )
        for i, (n, e) in enumerate(offsets)
    ]


async def test_a_patrol_with_slow_steps_and_a_jittery_stop_shows_the_walked_distance(
    world: World, db: AsyncSession
) -> None:
    """What the captain sees for a patrol: 150 m at 1.5 m steps, a 10-minute stop with
    jitter, 150 m more at 3 m steps: 300 m, less at most the noise of two 6 m fixes (12 m)
    walked after the last fix that counted."""
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
    assert 300.0 - 2 * 6.0 - 0.01 <= patrol.distance_m <= 300.0
    assert patrol.used_point_count == len(points)
    assert patrol.speed_flagged_count == 0 == patrol.poor_accuracy_count
    assert patrol.duration_s == 40 * 60
