"""Location and time trust: cross-check the file against the device fix, clock and track.

Evidence is never refused for where or when it says it was taken (the place is a fact of the
case); disagreements become numbers in ``trust`` and names in ``flags``:

================================  ===========================================================
flag                              meaning
================================  ===========================================================
``exif_gps_missing``              the file has no usable GPS position (device fix used)
``exif_vs_device_far``            file and device positions further apart than both
                                  accuracies allow
``exif_time_missing``             the file has no capture time (device/server time used)
``exif_time_offset_assumed``      the file's local time has no UTC offset; UTC+08:00 assumed
``clock_skew``                    file time and the phone's claimed time differ > 5 min
``captured_after_receipt``        the file claims a time after the server received it
``device_fix_stale``              the device fix is > 10 min away from the capture time
``track_far``                     the patrol's own track was elsewhere at capture time
``outside_patrol_area``           the position is outside the linked patrol's area
``outside_county``                the position is outside the county boundary
``exif_corrupt``                  the metadata block had problems (see ``file_meta.warnings``)
================================  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pyproj import Geod

from evidence.metadata import FileMeta
from evidence.ports import TrackFix

__all__ = [
    "ASSUMED_OFFSET",
    "DeviceFix",
    "TrustResult",
    "assess",
    "distance_m",
]

ASSUMED_OFFSET = timezone(timedelta(hours=8))
"""China Standard Time: the offset assumed for a file's local time without one."""

_GEOD = Geod(ellps="WGS84")
_CLOCK_SKEW_S = 300.0
_STALE_FIX_S = 600.0
_UNKNOWN_EXIF_ACCURACY_M = 30.0
_MIN_DISAGREEMENT_M = 100.0


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance on WGS84, in metres."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


@dataclass(frozen=True, slots=True)
class DeviceFix:
    """The phone's fix, already converted to WGS84."""

    lon: float
    lat: float
    accuracy_m: float
    at: datetime | None


@dataclass(slots=True)
class TrustResult:
    lon: float
    lat: float
    accuracy_m: float
    position_source: str  # "file" | "device"
    position_reason: str
    captured_at: datetime
    # the file's tag (``exif:DateTimeOriginal``, ``xmp:…``, ``quicktime:…``, see
    # evidence.metadata), ``exif:GPSDateStamp``, or ``device`` / ``server``
    captured_at_source: str
    trust: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def _capture_time(
    meta: FileMeta, claimed: datetime | None, received: datetime, result: dict[str, Any]
) -> tuple[datetime, str, list[str]]:
    flags: list[str] = []
    source = meta.captured_source or "file"
    if meta.captured_at is not None:
        return meta.captured_at, source, flags
    if meta.captured_local is not None:
        local = datetime.fromisoformat(meta.captured_local)
        flags.append("exif_time_offset_assumed")
        result["assumed_offset"] = "+08:00"
        return local.replace(tzinfo=ASSUMED_OFFSET), source, flags
    if meta.gps is not None and meta.gps.at is not None:
        return meta.gps.at, "exif:GPSDateStamp", flags
    flags.append("exif_time_missing")
    if claimed is not None:
        return claimed, "device", flags
    return received, "server", flags


def _position(
    meta: FileMeta, device: DeviceFix, trust: dict[str, Any], flags: list[str]
) -> tuple[float, float, float, str, str]:
    if meta.gps is None:
        flags.append("exif_gps_missing")
        reason = "the file has no GPS position; the device fix was used"
        return device.lon, device.lat, device.accuracy_m, "device", reason
    exif_acc = meta.gps.hpe_m if meta.gps.hpe_m is not None else _UNKNOWN_EXIF_ACCURACY_M
    gap = distance_m(meta.gps.lon, meta.gps.lat, device.lon, device.lat)
    trust["exif_vs_device_distance_m"] = round(gap, 1)
    if gap > max(_MIN_DISAGREEMENT_M, 2 * (exif_acc + device.accuracy_m)):
        flags.append("exif_vs_device_far")
    if meta.gps.hpe_m is None:
        trust["exif_accuracy_assumed_m"] = _UNKNOWN_EXIF_ACCURACY_M
    reason = "the file's own GPS position, written at capture"
    return meta.gps.lon, meta.gps.lat, exif_acc, "file", reason


def _clocks(
    captured: datetime,
    time_source: str,
    *,
    claimed_at: datetime | None,
    received_at: datetime,
    device_at: datetime | None,
    trust: dict[str, Any],
    flags: list[str],
) -> None:
    if claimed_at is not None and time_source != "device":
        skew = (captured - claimed_at).total_seconds()
        trust["clock_skew_s"] = round(skew, 3)
        if abs(skew) > _CLOCK_SKEW_S:
            flags.append("clock_skew")
    lag = (received_at - captured).total_seconds()
    trust["receipt_lag_s"] = round(lag, 3)
    if lag < -_CLOCK_SKEW_S:
        flags.append("captured_after_receipt")
    if device_at is not None:
        fix_gap = abs((device_at - captured).total_seconds())
        trust["device_fix_gap_s"] = round(fix_gap, 3)
        if fix_gap > _STALE_FIX_S:
            flags.append("device_fix_stale")


def assess(
    meta: FileMeta,
    device: DeviceFix,
    *,
    claimed_at: datetime | None,
    received_at: datetime,
    track: TrackFix | None = None,
    in_patrol_area: bool | None = None,
) -> TrustResult:
    """Choose the position and time to record, and say how far the sources agree.

    The file's own GPS position is preferred (it was written at capture); the device fix is
    used when the file has none. ``outside_county`` is added by the service (it needs SQL).
    """
    trust: dict[str, Any] = {}
    captured, time_source, flags = _capture_time(meta, claimed_at, received_at, trust)
    lon, lat, accuracy, source, reason = _position(meta, device, trust, flags)
    _clocks(
        captured,
        time_source,
        claimed_at=claimed_at,
        received_at=received_at,
        device_at=device.at,
        trust=trust,
        flags=flags,
    )
    if track is not None:
        gap = distance_m(lon, lat, track.lon, track.lat)
        trust["track_distance_m"] = round(gap, 1)
        trust["track_time_gap_s"] = round(abs((track.at - captured).total_seconds()), 3)
        if gap > max(_MIN_DISAGREEMENT_M, 2 * (accuracy + track.accuracy_m)):
            flags.append("track_far")
    if in_patrol_area is not None:
        trust["in_patrol_area"] = in_patrol_area
        if not in_patrol_area:
            flags.append("outside_patrol_area")
    if meta.warnings:
        flags.append("exif_corrupt")
    return TrustResult(
        lon=lon,
        lat=lat,
        accuracy_m=accuracy,
        position_source=source,
        position_reason=reason,
        captured_at=captured,
        captured_at_source=time_source,
        trust=trust,
        flags=flags,
    )
