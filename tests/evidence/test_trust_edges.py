"""Evidence trust flags at their edges (``evidence.trust``): each flag is raised just past its
figure and not at it.

* ``clock_skew``: the file's time and the phone's claimed time differ by more than 300 s;
* ``captured_after_receipt``: the file claims a time more than 300 s after the server got it;
* ``device_fix_stale``: the device fix is more than 600 s from the capture time;
* ``exif_vs_device_far`` / ``track_far``: positions further apart than
  ``max(100 m, 2 × (accuracy + accuracy))``, the file's accuracy taken as 30 m when it has
  none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyproj import Geod

from evidence.metadata import FileMeta, GpsFix
from evidence.ports import TrackFix
from evidence.trust import DeviceFix, assess

LON, LAT = 112.1, 28.5
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
_GEOD = Geod(ellps="WGS84")


def _north_of(metres: float) -> tuple[float, float]:
    lon, lat, _ = _GEOD.fwd(LON, LAT, 0.0, metres)
    return float(lon), float(lat)


def _meta(*, at: datetime | None = T0, gps: GpsFix | None = None) -> FileMeta:
    return FileMeta(
        media_type="image/jpeg",
        kind="photo",
        captured_at=at,
        captured_source="exif:DateTimeOriginal" if at else None,
        gps=gps,
    )


def _flags(
    meta: FileMeta,
    device: DeviceFix | None = None,
    *,
    claimed: datetime | None = None,
    received: datetime = T0 + timedelta(minutes=1),
    track: TrackFix | None = None,
) -> list[str]:
    device = device or DeviceFix(LON, LAT, 5.0, None)
    return assess(meta, device, claimed_at=claimed, received_at=received, track=track).flags


@pytest.mark.parametrize(
    ("claimed", "flagged"),
    [
        (T0 + timedelta(seconds=300), False),
        (T0 + timedelta(seconds=300) + MS, True),
        (T0 - timedelta(seconds=300), False),
        (T0 - timedelta(seconds=300) - MS, True),
    ],
)
def test_clock_skew_over_five_minutes(claimed: datetime, flagged: bool) -> None:
    assert ("clock_skew" in _flags(_meta(gps=GpsFix(LON, LAT, hpe_m=5.0)), claimed=claimed)) is (
        flagged
    )


@pytest.mark.parametrize(
    ("received", "flagged"),
    [(T0 - timedelta(seconds=300), False), (T0 - timedelta(seconds=300) - MS, True)],
)
def test_captured_after_receipt_beyond_five_minutes(received: datetime, flagged: bool) -> None:
    flags = _flags(_meta(gps=GpsFix(LON, LAT, hpe_m=5.0)), received=received)
    assert ("captured_after_receipt" in flags) is flagged


@pytest.mark.parametrize(
    ("fix_at", "flagged"),
    [
        (T0 - timedelta(seconds=600), False),
        (T0 - timedelta(seconds=600) - MS, True),
        (T0 + timedelta(seconds=600), False),
        (T0 + timedelta(seconds=600) + MS, True),
    ],
)
def test_a_device_fix_more_than_ten_minutes_off_is_stale(fix_at: datetime, flagged: bool) -> None:
    flags = _flags(_meta(gps=GpsFix(LON, LAT, hpe_m=5.0)), DeviceFix(LON, LAT, 5.0, fix_at))
    assert ("device_fix_stale" in flags) is flagged


@pytest.mark.parametrize(
    ("exif_acc", "device_acc", "limit"),
    [
        (5.0, 5.0, 100.0),  # the 100 m floor
        (None, 25.0, 110.0),  # the file's accuracy unknown: 30 m assumed, 2 × (30 + 25)
        (40.0, 20.0, 120.0),  # 2 × (40 + 20)
    ],
)
def test_file_and_device_positions_far_apart(
    exif_acc: float | None, device_acc: float, limit: float
) -> None:
    got = []
    for gap in (limit - 0.01, limit + 0.01):
        lon, lat = _north_of(gap)
        result = assess(
            _meta(gps=GpsFix(lon, lat, hpe_m=exif_acc)),
            DeviceFix(LON, LAT, device_acc, None),
            claimed_at=None,
            received_at=T0,
        )
        got.append(
            ("exif_vs_device_far" in result.flags, result.trust["exif_vs_device_distance_m"])
        )
    assert got == [(False, round(limit - 0.01, 1)), (True, round(limit + 0.01, 1))]


@pytest.mark.parametrize(("track_acc", "limit"), [(10.0, 100.0), (60.0, 130.0)])
def test_track_far_from_the_evidence(track_acc: float, limit: float) -> None:
    """The evidence at a 5 m fix; the track's fix ``track_acc``: the limit is
    ``max(100, 2 × (5 + track_acc))``."""
    got = []
    for gap in (limit - 0.01, limit + 0.01):
        lon, lat = _north_of(gap)
        track = TrackFix(lon, lat, track_acc, T0)
        got.append("track_far" in _flags(_meta(gps=GpsFix(LON, LAT, hpe_m=5.0)), track=track))
    assert got == [False, True]
