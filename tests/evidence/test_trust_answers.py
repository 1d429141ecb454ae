"""The whole answer of ``evidence.trust.assess``: which position and time are recorded, from
which source, with which reason, and every figure of ``trust`` to its stated precision.

The flags at their thresholds are in ``test_trust_edges.py``; here each case pins the full
:class:`~evidence.trust.TrustResult`, so a changed source name, reason, rounding or an extra
figure is noticed (a court reads these, a phone shows them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyproj import Geod

from evidence.metadata import FileMeta, GpsFix
from evidence.ports import TrackFix
from evidence.trust import ASSUMED_OFFSET, DeviceFix, TrustResult, assess, distance_m

LON, LAT = 112.1, 28.5
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
_GEOD = Geod(ellps="WGS84")
DEVICE_REASON = "the file has no GPS position; the device fix was used"
FILE_REASON = "the file's own GPS position, written at capture"


def _north_of(metres: float) -> tuple[float, float]:
    lon, lat, _ = _GEOD.fwd(LON, LAT, 0.0, metres)
    return float(lon), float(lat)


def _meta(**kw: object) -> FileMeta:
    return FileMeta(media_type="image/jpeg", kind="photo", **kw)  # type: ignore[arg-type]


def test_a_file_that_says_nothing_takes_the_device_fix_and_the_server_clock() -> None:
    received = T0 + timedelta(seconds=42)
    got = assess(_meta(), DeviceFix(LON, LAT, 6.5, None), claimed_at=None, received_at=received)
    assert got == TrustResult(
        lon=LON,
        lat=LAT,
        accuracy_m=6.5,
        position_source="device",
        position_reason=DEVICE_REASON,
        captured_at=received,
        captured_at_source="server",
        trust={"receipt_lag_s": 0.0},
        flags=["exif_time_missing", "exif_gps_missing"],
    )


def test_without_a_file_time_the_phones_claim_is_used_and_not_compared_with_itself() -> None:
    claimed = T0 + timedelta(seconds=1.23456)
    device = DeviceFix(LON, LAT, 4.0, T0 + timedelta(seconds=2.5))
    got = assess(_meta(), device, claimed_at=claimed, received_at=T0 + timedelta(seconds=20))
    assert got.captured_at == claimed
    assert got.captured_at_source == "device"
    assert got.trust == {"receipt_lag_s": 18.765, "device_fix_gap_s": 1.265}
    assert got.flags == ["exif_time_missing", "exif_gps_missing"]


def test_the_gps_time_stamp_is_the_capture_time_when_the_file_has_no_other() -> None:
    at = T0 - timedelta(seconds=3)
    gps = GpsFix(LON, LAT, hpe_m=12.0, at=at)
    got = assess(_meta(gps=gps), DeviceFix(LON, LAT, 5.0, None), claimed_at=None, received_at=T0)
    assert (got.captured_at, got.captured_at_source) == (at, "exif:GPSDateStamp")
    assert got.trust == {"exif_vs_device_distance_m": 0.0, "receipt_lag_s": 3.0}
    assert got.flags == []


def test_a_local_time_without_offset_is_read_as_china_time_and_says_so() -> None:
    meta = _meta(captured_local="2026-05-01T18:00:00", captured_source="exif:DateTimeOriginal")
    got = assess(meta, DeviceFix(LON, LAT, 5.0, None), claimed_at=None, received_at=T0)
    assert got.captured_at == datetime(2026, 5, 1, 18, 0, tzinfo=ASSUMED_OFFSET)
    assert got.captured_at == T0  # 18:00 at UTC+08:00
    assert got.captured_at_source == "exif:DateTimeOriginal"
    assert got.trust == {"assumed_offset": "+08:00", "receipt_lag_s": 0.0}
    assert got.flags == ["exif_time_offset_assumed", "exif_gps_missing"]


def test_a_file_time_without_a_named_tag_is_the_files() -> None:
    got = assess(
        _meta(captured_at=T0), DeviceFix(LON, LAT, 5.0, None), claimed_at=None, received_at=T0
    )
    assert got.captured_at_source == "file"
    local = assess(
        _meta(captured_local="2026-05-01T18:00:00"),
        DeviceFix(LON, LAT, 5.0, None),
        claimed_at=None,
        received_at=T0,
    )
    assert local.captured_at_source == "file"


def test_every_source_disagreeing_is_measured_to_its_precision() -> None:
    file_lon, file_lat = _north_of(123.456)
    track_lon, track_lat = _north_of(123.456 + 300.04)
    meta = _meta(
        captured_at=T0,
        captured_source="xmp:photoshop:DateCreated",
        gps=GpsFix(file_lon, file_lat, hpe_m=8.0),
        warnings=["exif: bad IFD"],
    )
    got = assess(
        meta,
        DeviceFix(LON, LAT, 5.0, T0 + timedelta(seconds=120.0004)),
        claimed_at=T0 + timedelta(seconds=10.0006),
        received_at=T0 + timedelta(seconds=60.4444),
        track=TrackFix(track_lon, track_lat, 10.0, T0 - timedelta(seconds=30.5004)),
        in_patrol_area=False,
    )
    assert got == TrustResult(
        lon=file_lon,
        lat=file_lat,
        accuracy_m=8.0,
        position_source="file",
        position_reason=FILE_REASON,
        captured_at=T0,
        captured_at_source="xmp:photoshop:DateCreated",
        trust={
            "exif_vs_device_distance_m": 123.5,
            "clock_skew_s": -10.001,
            "receipt_lag_s": 60.444,
            "device_fix_gap_s": 120.0,
            "track_distance_m": 300.0,
            "track_time_gap_s": 30.5,
            "in_patrol_area": False,
        },
        flags=["exif_vs_device_far", "track_far", "outside_patrol_area", "exif_corrupt"],
    )


def test_a_file_position_without_accuracy_is_taken_as_thirty_metres() -> None:
    file_lon, file_lat = _north_of(50.0)
    got = assess(
        _meta(captured_at=T0, gps=GpsFix(file_lon, file_lat)),
        DeviceFix(LON, LAT, 5.0, None),
        claimed_at=None,
        received_at=T0,
        in_patrol_area=True,
    )
    assert got.accuracy_m == 30.0
    assert got.trust == {
        "exif_vs_device_distance_m": 50.0,
        "exif_accuracy_assumed_m": 30.0,
        "receipt_lag_s": 0.0,
        "in_patrol_area": True,
    }
    assert got.flags == []


def test_the_track_is_compared_with_the_recorded_position_and_its_accuracy() -> None:
    # the device fix is recorded (no file GPS) with its 60 m accuracy: 2 × (60 + 10) = 140 m
    near_lon, near_lat = _north_of(140.0)
    far_lon, far_lat = _north_of(140.5)
    device = DeviceFix(LON, LAT, 60.0, None)
    near = assess(
        _meta(captured_at=T0),
        device,
        claimed_at=None,
        received_at=T0,
        track=TrackFix(near_lon, near_lat, 10.0, T0 + timedelta(seconds=5)),
    )
    far = assess(
        _meta(captured_at=T0),
        device,
        claimed_at=None,
        received_at=T0,
        track=TrackFix(far_lon, far_lat, 10.0, T0 + timedelta(seconds=5)),
    )
    assert near.flags == ["exif_gps_missing"]
    assert far.flags == ["exif_gps_missing", "track_far"]
    assert (far.trust["track_distance_m"], far.trust["track_time_gap_s"]) == (140.5, 5.0)


def test_distance_is_geodesic_on_wgs84() -> None:
    lon, lat = _north_of(1000.0)
    assert abs(distance_m(LON, LAT, lon, lat) - 1000.0) < 1e-6
    assert distance_m(LON, LAT, LON, LAT) == 0.0
