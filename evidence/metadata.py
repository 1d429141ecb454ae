"""Metadata read from the file itself: Pillow (+ pillow-heif) for photos, PyAV for videos.

Untrusted bytes are only ever parsed here, and only by Pillow, pillow-heif and FFmpeg (piexif
never sees an upload: it spent 37 s and 4.5 GB on a 1.1 KB corrupt JPEG). Decompression
bombs are refused from the header before any pixel is decoded: images are opened through
their format's plugin class (chosen from the sniffed type), so the pixel count is checked
here against ``max_pixels`` rather than by Pillow's global warning. Every EXIF value is
coerced defensively: a bad value becomes ``None`` and a warning, never an exception.
"""

from __future__ import annotations

import math
import re
import struct
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import IO, Any

from PIL import ExifTags, ImageFile

from evidence.errors import FileCorruptError, ImageTooLargeError
from evidence.media import MediaType

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FileMeta",
    "GpsFix",
    "open_image",
    "parse_iso6709",
    "parse_utc_offset",
    "read_photo_meta",
    "read_video_meta",
]

DEFAULT_MAX_PIXELS = 120_000_000
"""Largest accepted image (pixels): above every phone's default mode, far below a bomb."""

_WARNINGS_LOCK = threading.RLock()
_MAX_WARNINGS = 10


@dataclass(slots=True)
class GpsFix:
    lon: float
    lat: float
    altitude_m: float | None = None
    hpe_m: float | None = None
    at: datetime | None = None


@dataclass(slots=True)
class FileMeta:
    """What the file says about itself. ``captured_at`` is aware when the offset is known."""

    media_type: str
    kind: str
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    make: str | None = None
    model: str | None = None
    captured_at: datetime | None = None
    captured_local: str | None = None
    captured_offset: str | None = None
    gps: GpsFix | None = None
    direction_deg: float | None = None
    direction_ref: str | None = None
    duration_s: float | None = None
    codec: str | None = None
    rotation: int | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["captured_at"] = self.captured_at.isoformat() if self.captured_at else None
        if self.gps is not None and self.gps.at is not None:
            data["gps"]["at"] = self.gps.at.isoformat()
        return data


# -- small coercions ---------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def _text(value: Any, limit: int = 100) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip().strip("\x00")
    return cleaned[:limit] or None


def _dms(value: Any) -> float | None:
    try:
        parts = [_num(v) for v in value]
    except TypeError:
        return _num(value)
    if not parts or any(p is None for p in parts):
        return None
    nums = [p for p in parts if p is not None]
    return (
        nums[0] + (nums[1] / 60 if len(nums) > 1 else 0) + (nums[2] / 3600 if len(nums) > 2 else 0)
    )


def parse_utc_offset(text: Any) -> timezone | None:
    """``+08:00`` / ``+0800`` as a timezone; ``None`` when absent or implausible."""
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text if isinstance(text, str) else "")
    if not match:
        return None
    sign = -1 if match.group(1) == "-" else 1
    delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    if delta > timedelta(hours=14):
        return None
    return timezone(sign * delta)


def _exif_datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007 - EXIF is naive
    except ValueError:
        return None


@contextmanager
def _recorded_warnings(sink: list[str]) -> Iterator[None]:
    """Pillow reports bad EXIF with ``warnings``; keep them as data, never as exceptions.

    ``catch_warnings`` swaps process-wide state, so parsing holds a lock (it takes ms).
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for item in caught[:_MAX_WARNINGS]:
                sink.append(str(item.message)[:200])


# -- images ------------------------------------------------------------------------------------
def _plugin(family: str) -> Callable[[IO[bytes]], ImageFile.ImageFile]:
    if family == "jpeg":
        from PIL.JpegImagePlugin import JpegImageFile  # noqa: PLC0415

        return JpegImageFile
    if family == "png":
        from PIL.PngImagePlugin import PngImageFile  # noqa: PLC0415

        return PngImageFile
    if family == "webp":
        from PIL.WebPImagePlugin import WebPImageFile  # noqa: PLC0415

        return WebPImageFile
    if family == "avif":
        from PIL.AvifImagePlugin import AvifImageFile  # noqa: PLC0415

        return AvifImageFile
    if family == "heif":
        from pillow_heif.as_plugin import HeifImageFile  # noqa: PLC0415

        plugin: Callable[[IO[bytes]], ImageFile.ImageFile] = HeifImageFile
        return plugin
    msg = f"not an image family: {family}"
    raise ValueError(msg)


def open_image(
    fp: IO[bytes], media: MediaType, *, max_pixels: int, warnings_sink: list[str] | None = None
) -> ImageFile.ImageFile:
    """Open (header only) with the sniffed format's plugin; refuse bombs before decoding.

    Opening a JPEG already reads EXIF (for its DPI); Pillow's complaints about a broken
    EXIF block go to ``warnings_sink`` instead of the warnings machinery.
    """
    fp.seek(0)
    sink: list[str] = [] if warnings_sink is None else warnings_sink
    try:
        with _recorded_warnings(sink):
            image = _plugin(media.family)(fp)
    except (
        OSError,
        SyntaxError,
        ValueError,
        struct.error,
        EOFError,
        IndexError,
        KeyError,
        TypeError,
        RuntimeError,
    ) as exc:
        msg = "the image header cannot be read"
        raise FileCorruptError(msg, reason=type(exc).__name__) from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        msg = "the image has no pixels"
        raise FileCorruptError(msg)
    if width * height > max_pixels:
        msg = "the image has more pixels than accepted (decompression bomb?)"
        raise ImageTooLargeError(msg, width=width, height=height, max_pixels=max_pixels)
    return image


def _decode_check(image: ImageFile.ImageFile, media: MediaType) -> None:
    """Decode once (JPEG at 1/8 scale) so truncated or corrupt pixel data is refused."""
    try:
        if media.family == "jpeg":
            width, height = image.size
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()
    except (
        OSError,
        SyntaxError,
        ValueError,
        struct.error,
        EOFError,
        IndexError,
        MemoryError,
        RuntimeError,
    ) as exc:
        msg = "the image data is truncated or corrupt"
        raise FileCorruptError(msg, reason=str(exc)[:200]) from exc


_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: markers without a length
_SCAN_CHUNK = 1024 * 1024


def _truncated() -> FileCorruptError:
    return FileCorruptError("the image data is truncated or corrupt", reason="no end of image")


def _jpeg_scan_start(fp: IO[bytes]) -> None:
    """Walk the header segments up to the first start-of-scan; leave ``fp`` after it."""
    fp.seek(0)
    if fp.read(2) != b"\xff\xd8":
        raise _truncated()
    while True:
        byte = fp.read(1)
        if byte != b"\xff":
            raise _truncated()
        marker = fp.read(1)
        while marker == b"\xff":  # fill bytes
            marker = fp.read(1)
        if not marker or marker == b"\xd9":
            raise _truncated()
        if marker[0] in _STANDALONE:
            continue
        size = fp.read(2)
        if len(size) != 2 or int.from_bytes(size, "big") < 2:
            raise _truncated()
        fp.seek(int.from_bytes(size, "big") - 2, 1)
        if marker == b"\xda":
            return


def _jpeg_complete(fp: IO[bytes]) -> None:
    """A JPEG's scans must end in an end-of-image marker: a cut file has none.

    Entropy-coded data never holds ``FF D9`` (an ``FF`` byte in it is followed by ``00`` or a
    restart marker), and the EXIF thumbnail's own end marker lies before the first scan, so
    one ``FF D9`` after the first start-of-scan means the file arrived whole. This reads the
    file once at disk speed instead of decoding it (the thumbnail job decodes it later).
    """
    _jpeg_scan_start(fp)
    tail = b""
    while chunk := fp.read(_SCAN_CHUNK):
        if b"\xff\xd9" in tail + chunk[:1] or b"\xff\xd9" in chunk:
            return
        tail = chunk[-1:]
    raise _truncated()


def _gps(gps_ifd: dict[int, Any], meta: FileMeta) -> None:
    lat = _dms(gps_ifd.get(2))
    lon = _dms(gps_ifd.get(4))
    if lat is None or lon is None:
        return
    if _text(gps_ifd.get(1)) == "S":
        lat = -lat
    if _text(gps_ifd.get(3)) == "W":
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        meta.warnings.append("GPS position out of range")
        return
    if lat == 0 and lon == 0:
        meta.warnings.append("GPS position is 0,0")
        return
    fix = GpsFix(lon=lon, lat=lat)
    altitude = _num(gps_ifd.get(6))
    if altitude is not None:
        ref = gps_ifd.get(5)
        below = ref in (1, b"\x01") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
        fix.altitude_m = -altitude if below else altitude
    hpe = _num(gps_ifd.get(31))
    fix.hpe_m = hpe if hpe is not None and hpe >= 0 else None
    fix.at = _gps_time(gps_ifd)
    meta.gps = fix
    direction = _num(gps_ifd.get(17))
    if direction is not None and 0 <= direction <= 360:
        meta.direction_deg = direction % 360
        meta.direction_ref = _text(gps_ifd.get(16), 1) or "T"


def _gps_time(gps_ifd: dict[int, Any]) -> datetime | None:
    date_text = _text(gps_ifd.get(29), 10)
    stamp = gps_ifd.get(7)
    if not date_text or stamp is None:
        return None
    try:
        day = datetime.strptime(date_text, "%Y:%m:%d").replace(tzinfo=UTC)
        hours, minutes, seconds = (_num(v) for v in stamp)
    except (ValueError, TypeError):
        return None
    if hours is None or minutes is None or seconds is None:
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 61):
        return None
    return day + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _capture_time(exif_ifd: dict[int, Any], ifd0: dict[int, Any], meta: FileMeta) -> None:
    raw = _text(exif_ifd.get(0x9003), 32) or _text(ifd0.get(0x0132), 32)
    local = _exif_datetime(raw)
    if local is None:
        return
    subsec = _text(exif_ifd.get(0x9291), 9)
    if subsec and subsec.isdigit():
        local = local.replace(microsecond=int(subsec[:6].ljust(6, "0")))
    meta.captured_local = local.isoformat()
    offset_text = _text(exif_ifd.get(0x9011), 6) or _text(exif_ifd.get(0x9010), 6)
    tz = parse_utc_offset(offset_text)
    if tz is not None:
        meta.captured_offset = offset_text
        meta.captured_at = local.replace(tzinfo=tz).astimezone(UTC)


def _exif(image: ImageFile.ImageFile, meta: FileMeta) -> None:
    exif = image.getexif()
    ifd0 = dict(exif)
    meta.make = _text(ifd0.get(0x010F))
    meta.model = _text(ifd0.get(0x0110))
    orientation = ifd0.get(0x0112)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        meta.orientation = orientation
    exif_ifd = dict(exif.get_ifd(ExifTags.IFD.Exif))
    gps_ifd = dict(exif.get_ifd(ExifTags.IFD.GPSInfo))
    _capture_time(exif_ifd, ifd0, meta)
    _gps(gps_ifd, meta)


def read_photo_meta(
    fp: IO[bytes], media: MediaType, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> FileMeta:
    """Dimensions, EXIF GPS/time/direction/device/orientation; refuses bombs and truncation.

    Raises :class:`~evidence.errors.ImageTooLargeError` from the header alone, and
    :class:`~evidence.errors.FileCorruptError` when the header or the pixel data is bad. A
    broken EXIF block is not an error: its problems land in ``warnings``.
    """
    meta = FileMeta(media_type=media.mime, kind="photo")
    image = open_image(fp, media, max_pixels=max_pixels, warnings_sink=meta.warnings)
    try:
        meta.width, meta.height = image.size
        with _recorded_warnings(meta.warnings):
            try:
                _exif(image, meta)
            except Exception as exc:  # any EXIF failure is a warning, never a 4xx
                meta.warnings.append(f"EXIF unreadable: {type(exc).__name__}")
        if media.family == "jpeg":
            _jpeg_complete(fp)  # truncation, without decoding every pixel
        else:
            _decode_check(image, media)  # outside the lock: decoding takes the longest
    finally:
        image.close()
    return meta


# -- videos ------------------------------------------------------------------------------------
_ISO6709 = re.compile(
    r"^\s*([+-])(\d+)(\.\d+)?([+-])(\d+)(\.\d+)?(?:([+-]\d+(?:\.\d+)?))?(?:CRS[^/]*)?/?\s*$"
)


def _iso_part(sign: str, whole: str, frac: str | None, deg_digits: int) -> float | None:
    fraction = float(frac) if frac else 0.0
    extra = len(whole) - deg_digits
    if extra == 0:
        value = int(whole) + fraction
    elif extra == 2:
        value = int(whole[:deg_digits]) + (int(whole[deg_digits:]) + fraction) / 60
    elif extra == 4:
        minutes = int(whole[deg_digits : deg_digits + 2])
        seconds = int(whole[deg_digits + 2 :]) + fraction
        value = int(whole[:deg_digits]) + minutes / 60 + seconds / 3600
    else:
        return None
    return -value if sign == "-" else value


def parse_iso6709(text: str) -> GpsFix | None:
    """``+39.9042+116.4074+050.000/`` (Apple, Android ``©xyz``, 3GPP ``loci`` via FFmpeg)."""
    match = _ISO6709.match(text)
    if not match:
        return None
    lat = _iso_part(match.group(1), match.group(2), match.group(3), 2)
    lon = _iso_part(match.group(4), match.group(5), match.group(6), 3)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None
    altitude = _num(match.group(7)) if match.group(7) else None
    return GpsFix(lon=lon, lat=lat, altitude_m=altitude)


def _video_time(tags: dict[str, str], meta: FileMeta) -> None:
    apple = tags.get("com.apple.quicktime.creationdate")
    if apple:
        try:
            local = datetime.fromisoformat(apple.replace("Z", "+00:00"))
        except ValueError:
            local = None
        if local is not None and local.tzinfo is not None:
            meta.captured_local = local.replace(tzinfo=None).isoformat()
            meta.captured_offset = local.strftime("%z")
            meta.captured_at = local.astimezone(UTC)
            return
    created = tags.get("creation_time")
    if not created:
        return
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        meta.warnings.append("creation_time unreadable")
        return
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when.year <= 1970:  # an unset QuickTime/MP4 time (1904 or 1970 epoch)
        return
    meta.captured_at = when.astimezone(UTC)


def read_video_meta(path: str, media: MediaType) -> FileMeta:
    """Creation time, location (``©xyz``, ISO 6709, ``loci``), duration, codec, rotation.

    Decodes the first frame (for rotation, and to refuse an undecodable file).
    """
    import av  # noqa: PLC0415 - heavy import, only for videos

    meta = FileMeta(media_type=media.mime, kind="video")
    try:
        with av.open(path, mode="r", metadata_errors="replace") as container:
            tags = {str(k): str(v) for k, v in dict(container.metadata).items()}
            if not container.streams.video:
                msg = "the video has no video stream"
                raise FileCorruptError(msg)
            stream = container.streams.video[0]
            for key, value in dict(stream.metadata).items():
                tags.setdefault(str(key), str(value))
            meta.make = _text(tags.get("com.apple.quicktime.make") or tags.get("make"))
            meta.model = _text(tags.get("com.apple.quicktime.model") or tags.get("model"))
            _video_time(tags, meta)
            for key in ("com.apple.quicktime.location.ISO6709", "location", "location-eng"):
                if tags.get(key):
                    meta.gps = parse_iso6709(tags[key])
                    if meta.gps is None:
                        meta.warnings.append(f"{key} unreadable")
                    break
            if container.duration is not None and container.duration > 0:
                meta.duration_s = round(container.duration / 1_000_000, 3)
            meta.codec = stream.codec_context.name
            meta.width = stream.codec_context.width or None
            meta.height = stream.codec_context.height or None
            frame = next(container.decode(stream), None)
            if frame is None:
                msg = "the video has no decodable frame"
                raise FileCorruptError(msg)
            meta.rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    except FileCorruptError:
        raise
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError, StopIteration) as exc:
        msg = "the video cannot be read (truncated or corrupt)"
        raise FileCorruptError(msg, reason=str(exc)[:200]) from exc
    return meta
