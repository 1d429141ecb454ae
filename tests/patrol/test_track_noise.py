"""GPS noise as phones report it: each fix lies anywhere within its reported accuracy.

A step counts only when it is longer than the noise of its two fixes (``min_step_m`` and the
sum of their accuracies), and moving time counts no step slower than
``min_moving_speed_mps``. So an hour standing adds no distance and no moving time, a slow walk
adds up to its length, and a stop in a walk is not moving time; the patrol's stored figures
show the same through the API.

The jitter here is white (each fix independent of the last, uniform over the accuracy
disc): the worst case for a walk's length, since real fixes drift slowly and consecutive
ones differ less. Before this rule an hour standing added 1.9 km (5 m fixes) to 9.6 km
(15 m), a 1 km walk at 10 m accuracy counted 8.3 to 8.7 km, and a 5-minute stop counted as
moving.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from infra.scope import Role
from patrol.config import PatrolConfig
from patrol.tracks import TrackStats, filter_track
from tests.conftest import CountyFixture
from tests.patrol.helpers import M_PER_DEG_LAT, start_patrol_over_http

CFG = PatrolConfig()
LON0, LAT0 = 110.2, 30.2
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT0))
ACCURACIES = [5.0, 10.0, 15.0]

Offsets = list[tuple[float, float]]


def _jittered(offsets: Offsets, accuracy_m: float, seed: int) -> Offsets:
    """Each ``(north, east)`` offset moved to a random place within ``accuracy_m`` of it."""
    rng = random.Random(seed)
    out = []
    for n, e in offsets:
        r, a = accuracy_m * math.sqrt(rng.random()), rng.uniform(0.0, 2 * math.pi)
        out.append((n + r * math.cos(a), e + r * math.sin(a)))
    return out


def _run(offsets: Offsets, *, every_s: float, accuracy_m: float) -> TrackStats:
    ts = [i * every_s for i in range(len(offsets))]
    lats = [LAT0 + n / M_PER_DEG_LAT for n, _ in offsets]
    lons = [LON0 + e / M_PER_DEG_LON for _, e in offsets]
    return filter_track(ts, lons, lats, [accuracy_m] * len(offsets), CFG)


@pytest.mark.parametrize("accuracy_m", ACCURACIES)
def test_an_hour_standing_with_jitter_up_to_the_accuracy_adds_nothing(accuracy_m: float) -> None:
    """720 fixes, 5 s apart, each anywhere within its accuracy of where the inspector
    stands: no two are farther apart than their accuracies summed, so no step counts."""
    offsets = _jittered([(0.0, 0.0)] * 720, accuracy_m, seed=int(accuracy_m))
    stats = _run(offsets, every_s=5.0, accuracy_m=accuracy_m)
    assert stats.distance_m < 1.0
    assert stats.moving_s < 1.0
    assert stats.used == 720 and stats.statuses.count("still") == 719


def test_standing_with_fixes_of_changing_accuracy_adds_nothing() -> None:
    """The accuracy changes from fix to fix (5 to 15 m); each fix stays within its own."""
    rng = random.Random(4)
    accs = [rng.uniform(5.0, 15.0) for _ in range(720)]
    offsets = [_jittered([(0.0, 0.0)], acc, seed=i)[0] for i, acc in enumerate(accs)]
    ts = [i * 5.0 for i in range(720)]
    lats = [LAT0 + n / M_PER_DEG_LAT for n, _ in offsets]
    lons = [LON0 + e / M_PER_DEG_LON for _, e in offsets]
    stats = filter_track(ts, lons, lats, accs, CFG)
    assert (stats.distance_m, stats.moving_s) == (0.0, 0.0)


@pytest.mark.parametrize("accuracy_m", ACCURACIES)
def test_a_slow_walk_with_jitter_adds_up_to_its_length(accuracy_m: float) -> None:
    """1 km north at 1 m/s, a fix a second, each within its accuracy. The figure is the
    length less at most the noise at the end (twice the accuracy) and the first fix's own
    error, and at most 15 % more: a polyline through scattered fixes zig-zags (white jitter
    on every fix is the worst case). Moving time is the walk's, less the same last stretch."""
    n = 1000
    offsets = _jittered([(float(i), 0.0) for i in range(n + 1)], accuracy_m, seed=1)
    stats = _run(offsets, every_s=1.0, accuracy_m=accuracy_m)
    assert n - 3 * accuracy_m <= stats.distance_m <= 1.15 * n
    assert n - 3 * accuracy_m <= stats.moving_s <= n
    assert stats.speed_flagged == 0


def _walk_stop_walk(stop_s: float) -> Offsets:
    """300 m at 1 m/s, a stop of ``stop_s`` seconds, 300 m more: a fix every 2 s."""
    there = [(i * 2.0, 0.0) for i in range(151)]
    stop = [(300.0, 0.0)] * int(stop_s / 2.0)
    back = [(300.0 + i * 2.0, 0.0) for i in range(1, 151)]
    return there + stop + back


@pytest.mark.parametrize("accuracy_m", ACCURACIES)
def test_a_five_minute_stop_is_not_moving_time(accuracy_m: float) -> None:
    """600 s walking around a 300 s stop: the moving time is the walk's, within a minute
    (the step that leaves the stop counts at most its length at ``min_moving_speed_mps``;
    the last stretch within the noise is not counted). The stop adds no distance."""
    offsets = _jittered(_walk_stop_walk(300.0), accuracy_m, seed=7)
    stats = _run(offsets, every_s=2.0, accuracy_m=accuracy_m)
    assert abs(stats.moving_s - 600.0) < 60.0
    assert 600.0 - 3 * accuracy_m <= stats.distance_m <= 1.15 * 600.0


def test_without_jitter_a_stop_costs_only_the_step_that_leaves_it() -> None:
    """Fixes exactly on the walk (10 m accuracy reported): the stop adds no distance, and
    its 300 s count only as the step that leaves it at the slowest walk (its length / 0.4)."""
    stats = _run(_walk_stop_walk(300.0), every_s=2.0, accuracy_m=10.0)
    walking = _run(_walk_stop_walk(0.0), every_s=2.0, accuracy_m=10.0)
    assert stats.distance_m == pytest.approx(walking.distance_m, abs=1e-6)
    leaving = 22.0  # the first step longer than 20 m: 300 m to 322 m
    assert stats.moving_s - walking.moving_s < leaving / CFG.min_moving_speed_mps
    assert walking.moving_s == pytest.approx(walking.distance_m / 1.0, rel=1e-6)


# -- the patrol's figures through the API --------------------------------------------------

Client = AsyncTestClient[Litestar]
API = "/api/v1"
CLON, CLAT = 112.1, 28.5  # the test county's centre
C_M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(CLAT))


async def test_a_jittery_stop_pushed_through_the_api_adds_no_distance_or_moving_time(
    client: Client, make_county: Any
) -> None:
    """A phone reporting 10 m accuracy: 300 m, a 5-minute stop, 300 m more, pushed with
    ``AppendTrackPoints``; the ended patrol shows about 600 m and 10 minutes moving."""
    county: CountyFixture = await make_county()
    me, cap = county.headers(Role.INSPECTOR), county.headers(Role.CAPTAIN)
    pid, start = await start_patrol_over_http(client, county)
    offsets = _jittered(_walk_stop_walk(300.0), 10.0, seed=11)
    points = [
        {"id": str(uuid7()), "t": (start + timedelta(seconds=2 * i)).isoformat(),
         "lon": CLON + e / C_M_PER_DEG_LON, "lat": CLAT + n / M_PER_DEG_LAT, "accuracyM": 10.0}
        for i, (n, e) in enumerate(offsets)
    ]  # fmt: skip
    sent = await client.post(f"{API}/patrols/{pid}/track", json={"points": points}, headers=me)
    assert sent.status_code == 200 and sent.json()["stored"] == len(points), sent.text
    end = start + timedelta(minutes=20)
    ended = await client.post(
        f"{API}/patrols/{pid}/end", json={"endedAt": end.isoformat()}, headers=me
    )
    assert ended.status_code == 200, ended.text
    patrol = (await client.get(f"{API}/patrols/{pid}", headers=cap)).json()
    assert 600.0 - 3 * 10.0 <= patrol["distanceM"] <= 1.15 * 600.0
    assert abs(patrol["movingS"] - 600.0) < 60.0
    assert patrol["durationS"] == 20 * 60
    assert patrol["usedPointCount"] == len(points)
