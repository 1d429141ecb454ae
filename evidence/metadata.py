"""Metadata read from the file itself: Pillow (+ pillow-heif) for photos, PyAV for videos.

Untrusted bytes are only ever parsed here, and only by Pillow, pillow-heif and FFmpeg (piexif
never sees an upload: it spent 37 s and 4.5 GB on a 1.1 KB corrupt JPEG). Decompression
bombs are refused from the header before any pixel is decoded: images are opened through
their format's plugin class (chosen from the sniffed type), so the pixel count is checked
here against ``max_pixels`` rather than by Pillow's global warning. Every EXIF value is
coerced defensively: a bad value becomes ``None`` and a warning, never an exception. XMP
packets (capture times only) are bounded and parsed by defusedxml (no DTD, no entities).

Capture time precedence, each winner named in ``FileMeta.captured_source``:

==========================================  ===============================================
photos, first present wins                  ``captured_source``
==========================================  ===============================================
EXIF DateTimeOriginal (+ OffsetTimeOriginal ``exif:DateTimeOriginal``
or OffsetTime, + SubSecTimeOriginal)
XMP exif:DateTimeOriginal                   ``xmp:exif:DateTimeOriginal``
XMP photoshop:DateCreated                   ``xmp:photoshop:DateCreated``
XMP xmp:CreateDate                          ``xmp:xmp:CreateDate``
EXIF DateTime (+ OffsetTime, + SubSecTime)  ``exif:DateTime``
==========================================  ===============================================

Videos: a vendor creation key (:data:`VIDEO_CREATION_KEYS`, ``quicktime:<key>``) beats the
container's ``creation_time`` (``quicktime:creation_time``). A time without an offset is
kept as local time (``captured_local``); :mod:`evidence.trust` assumes +08:00 and says so.
"""

from __future__ import annotations

import math
import re
import struct
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone
from typing import IO, Any

from PIL import ExifTags, ImageFile

from evidence.errors import FileCorruptError, ImageTooLargeError
from evidence.media import MediaType

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "VIDEO_CREATION_KEYS",
    "FileMeta",
    "GpsFix",
    "open_image",
    "parse_iso6709",
    "parse_iso_datetime",
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
    captured_source: str | None = None  # which tag gave the time (see _capture_time)
    gps: GpsFix | None = None
    direction_deg: float | None = None
    direction_ref: str | None = None
    duration_s: float | None = None
    codec: str | None = None
    rotation: int | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (times as ISO 8601); what ``asdict`` gives, without its
        deep copies (read on every intake)."""
        data = {f.name: getattr(self, f.name) for f in _META_FIELDS}
        data["captured_at"] = self.captured_at.isoformat() if self.captured_at else None
        data["warnings"] = list(self.warnings)
        if self.gps is not None:
            gps = {f.name: getattr(self.gps, f.name) for f in _GPS_FIELDS}
            if self.gps.at is not None:
                gps["at"] = self.gps.at.isoformat()
            data["gps"] = gps
        return data


_META_FIELDS = fields(FileMeta)
_GPS_FIELDS = fields(GpsFix)


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
_TAIL_BYTES = 64 * 1024  # where a whole JPEG's end marker is found


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
    one ``FF D9`` after the first start-of-scan means the file arrived whole. The marker is
    looked for in the file's last :data:`_TAIL_BYTES` first, where a whole file has it (a
    forward search through megabytes of entropy-coded data costs as much as hashing them);
    only a file with a long trailer after its end marker is searched from the start. Nothing
    is decoded (the thumbnail job decodes the pixels later).
    """
    _jpeg_scan_start(fp)
    scan_at = fp.tell()
    end = fp.seek(0, 2)
    tail_at = max(scan_at, end - _TAIL_BYTES)
    fp.seek(tail_at)
    if b"\xff\xd9" in fp.read(end - tail_at):
        return
    fp.seek(scan_at)
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


# Capture time precedence (the first candidate that gives a date and a time wins):
#   photos: EXIF DateTimeOriginal (+ OffsetTimeOriginal, else OffsetTime; + SubSecTimeOriginal)
#           > XMP exif:DateTimeOriginal > XMP photoshop:DateCreated > XMP xmp:CreateDate
#           > EXIF DateTime (+ OffsetTime; + SubSecTime) > the GPS date and time stamp (trust.py)
#   videos: vendor creation keys (VIDEO_CREATION_KEYS, local time with its offset)
#           > the container's creation_time (written when the recording is finalised).
# ``FileMeta.captured_source`` names the winner; it becomes the evidence's capturedAtSource.
_XMP_DATES = (
    ("http://ns.adobe.com/exif/1.0/", "DateTimeOriginal", "xmp:exif:DateTimeOriginal"),
    ("http://ns.adobe.com/photoshop/1.0/", "DateCreated", "xmp:photoshop:DateCreated"),
    ("http://ns.adobe.com/xap/1.0/", "CreateDate", "xmp:xmp:CreateDate"),
)
_XMP_MAX_BYTES = 1024 * 1024
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


def _exif_local(
    date_tag: Any, subsec_tag: Any, offset_tags: tuple[Any, ...]
) -> tuple[datetime, str | None] | None:
    """An EXIF ``YYYY:MM:DD HH:MM:SS`` with its sub-seconds, and the first offset present."""
    local = _exif_datetime(_text(date_tag, 32))
    if local is None:
        return None
    subsec = _text(subsec_tag, 9)
    if subsec and subsec.isdigit():
        local = local.replace(microsecond=int(subsec[:6].ljust(6, "0")))
    offset = next((t for t in (_text(o, 6) for o in offset_tags) if parse_utc_offset(t)), None)
    return local, offset


def parse_iso_datetime(text: str | None) -> tuple[datetime, str | None] | None:
    """An XMP/ISO 8601 date-time (to the minute at least) as local time and its offset text.

    ``Z`` gives ``+00:00``; a date alone, or an impossible date, gives ``None``.
    """
    match = _ISO_DATETIME.fullmatch(text.strip()) if text else None
    if match is None:
        return None
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(year, month, day, hour, minute, second, micro)  # noqa: DTZ001
    except ValueError:
        return None
    zone = match.group(8)
    if zone == "Z":
        return local, "+00:00"
    if zone and parse_utc_offset(zone) is None:
        return None
    return local, zone


def _xmp_values(packet: bytes, warnings_sink: list[str]) -> dict[str, str]:
    """The XMP date properties present (attribute or element form), by source name.

    The packet is bounded in size and parsed by defusedxml: a DTD or an entity declaration
    (which XMP never needs) is refused, so nothing is expanded or fetched.
    """
    if len(packet) > _XMP_MAX_BYTES:
        warnings_sink.append("XMP packet too large; ignored")
        return {}
    start = packet.find(b"<x:xmpmeta")
    if start < 0:
        start = packet.find(b"<rdf:RDF")
    body = packet[start:] if start > 0 else packet
    end = body.rfind(b">")
    body = body[: end + 1] if end >= 0 else body
    try:
        root = _defused_fromstring(body)
    except Exception as exc:  # any parse failure is a warning, never a 4xx
        warnings_sink.append(f"XMP unreadable: {type(exc).__name__}")
        return {}
    wanted = {f"{{{ns}}}{name}": source for ns, name, source in _XMP_DATES}
    found: dict[str, str] = {}
    for element in root.iter():
        for attribute, value in element.attrib.items():
            if attribute in wanted:
                found.setdefault(wanted[attribute], value)
        if element.tag in wanted and element.text and element.text.strip():
            found.setdefault(wanted[element.tag], element.text)
    return found


def _defused_fromstring(body: bytes) -> Any:
    from defusedxml.ElementTree import fromstring  # noqa: PLC0415 - only when XMP is present

    return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)


def _xmp_packet(image: ImageFile.ImageFile) -> bytes | None:
    raw = image.info.get("xmp")
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "replace")
    return raw if isinstance(raw, bytes) and raw else None


def _set_capture(meta: FileMeta, local: datetime, offset: str | None, source: str) -> None:
    meta.captured_local = local.isoformat()
    meta.captured_source = source
    tz = parse_utc_offset(offset)
    if tz is not None:
        meta.captured_offset = offset
        meta.captured_at = local.replace(tzinfo=tz).astimezone(UTC)


def _capture_time(
    exif_ifd: dict[int, Any], ifd0: dict[int, Any], xmp: bytes | None, meta: FileMeta
) -> None:
    offsets = (exif_ifd.get(0x9011), exif_ifd.get(0x9010))
    original = _exif_local(exif_ifd.get(0x9003), exif_ifd.get(0x9291), offsets)
    if original is not None:
        _set_capture(meta, *original, "exif:DateTimeOriginal")
        return
    if xmp is not None:
        values = _xmp_values(xmp, meta.warnings)
        for _ns, _name, source in _XMP_DATES:
            parsed = parse_iso_datetime(values.get(source))
            if parsed is not None:
                _set_capture(meta, *parsed, source)
                return
    modified = _exif_local(ifd0.get(0x0132), exif_ifd.get(0x9290), (exif_ifd.get(0x9010),))
    if modified is not None:
        _set_capture(meta, *modified, "exif:DateTime")


def _exif(image: ImageFile.ImageFile, meta: FileMeta) -> tuple[dict[int, Any], dict[int, Any]]:
    """Device, orientation and GPS into ``meta``; returns IFD0 and the EXIF IFD for the time."""
    exif = image.getexif()
    ifd0 = dict(exif)
    meta.make = _text(ifd0.get(0x010F))
    meta.model = _text(ifd0.get(0x0110))
    orientation = ifd0.get(0x0112)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        meta.orientation = orientation
    exif_ifd = dict(exif.get_ifd(ExifTags.IFD.Exif))
    gps_ifd = dict(exif.get_ifd(ExifTags.IFD.GPSInfo))
    _gps(gps_ifd, meta)
    return ifd0, exif_ifd


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
            ifd0: dict[int, Any] = {}
            exif_ifd: dict[int, Any] = {}
            try:
                ifd0, exif_ifd = _exif(image, meta)
            except Exception as exc:  # any EXIF failure is a warning, never a 4xx
                meta.warnings.append(f"EXIF unreadable: {type(exc).__name__}")
            try:
                _capture_time(exif_ifd, ifd0, _xmp_packet(image), meta)
            except Exception as exc:  # a time we cannot read is a warning too
                meta.warnings.append(f"capture time unreadable: {type(exc).__name__}")
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


VIDEO_CREATION_KEYS = (
    # Apple (mdta key): when the recording started, local time with its UTC offset.
    "com.apple.quicktime.creationdate",
    # QuickTime user data ``©day`` (FFmpeg calls it ``date``), written by Samsung's and other
    # Android camera apps as local time with its offset; a year alone is not a capture time.
    "date",
)
"""Vendor tags that say when a video was shot; the first one readable beats ``creation_time``
(the ``mvhd`` time, which phones write when they finalise the file, at the end of recording)."""

_VIDEO_OFFSET_KEYS = ("com.samsung.android.utc_offset",)  # Samsung: the phone's UTC offset


def _video_time(tags: dict[str, str], meta: FileMeta) -> None:
    for key in VIDEO_CREATION_KEYS:
        parsed = parse_iso_datetime(tags.get(key))
        if parsed is not None:
            _set_capture(meta, *parsed, f"quicktime:{key}")
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
    meta.captured_source = "quicktime:creation_time"
    offset = next((tags[k] for k in _VIDEO_OFFSET_KEYS if parse_utc_offset(tags.get(k))), None)
    tz = parse_utc_offset(offset)
    if offset is not None and tz is not None:
        meta.captured_offset = offset
        meta.captured_local = meta.captured_at.astimezone(tz).replace(tzinfo=None).isoformat()


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
