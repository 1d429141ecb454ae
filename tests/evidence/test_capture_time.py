"""Capture time precedence: EXIF DateTimeOriginal > XMP dates > EXIF DateTime; for videos,
vendor creation keys > the container's creation_time; each winner named as its source."""

from __future__ import annotations

import io
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evidence.media import declared_media_type
from evidence.metadata import FileMeta, parse_iso_datetime, read_photo_meta, read_video_meta
from tests.evidence import media
from tests.evidence.conftest import Kit
from tests.worlds import World

CST = timezone(timedelta(hours=8))
ORIGINAL = datetime(2026, 11, 20, 16, 0, 0, tzinfo=CST)  # the shot
MODIFIED = datetime(2026, 11, 22, 9, 30, 0, tzinfo=CST)  # an editor saved the file later
XMP_TIME = datetime(2026, 11, 20, 15, 59, 58, tzinfo=CST)
MIME = {
    "JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic",
    "mp4": "video/mp4", "mov": "video/quicktime",
}  # fmt: skip
USE_KEYS = {"movflags": "use_metadata_tags"}  # write mdta keys (Apple, Samsung)


def _photo_meta(
    fmt: str = "JPEG", *, exif: bytes | None = None, xmp: bytes | None = None
) -> FileMeta:
    if fmt == "JPEG":
        data = media.jpeg(64, 48, exif=exif, xmp=xmp)
    else:
        data = media.photo(fmt, exif=exif, xmp=xmp, size=(64, 48))
    return read_photo_meta(io.BytesIO(data), declared_media_type(MIME[fmt]))


def _video_meta(metadata: dict[str, str], fmt: str = "mp4") -> FileMeta:
    data = media.video(fmt, metadata=metadata, frames=2, options=USE_KEYS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"clip.{fmt}"
        path.write_bytes(data)
        return read_video_meta(str(path), declared_media_type(MIME[fmt]))


# -- photos ------------------------------------------------------------------------------------


def test_date_time_original_beats_date_time() -> None:
    exif = media.exif_bytes(when=ORIGINAL, modified=MODIFIED, modified_offset="+08:00")
    meta = _photo_meta(exif=exif)
    assert meta.captured_at == ORIGINAL
    assert meta.captured_source == "exif:DateTimeOriginal"
    assert meta.captured_offset == "+08:00"


def test_date_time_alone_is_used_with_its_own_offset() -> None:
    exif = media.exif_bytes(modified=MODIFIED, modified_offset="+09:00")
    meta = _photo_meta(exif=exif)
    assert meta.captured_source == "exif:DateTime"
    assert meta.captured_at == MODIFIED.replace(tzinfo=timezone(timedelta(hours=9)))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
@pytest.mark.parametrize(
    ("prop", "source"),
    [
        ("exif:DateTimeOriginal", "xmp:exif:DateTimeOriginal"),
        ("photoshop:DateCreated", "xmp:photoshop:DateCreated"),
        ("xmp:CreateDate", "xmp:xmp:CreateDate"),
    ],
)
def test_a_time_only_in_xmp_is_found(fmt: str, prop: str, source: str) -> None:
    packet = media.xmp({prop: "2026-11-20T15:59:58+08:00"})
    meta = _photo_meta(fmt, xmp=packet)
    assert meta.captured_at == XMP_TIME
    assert meta.captured_source == source
    assert meta.captured_offset == "+08:00"


def test_xmp_properties_written_as_elements_are_found_too() -> None:
    packet = media.xmp({"photoshop:DateCreated": "2026-11-20T07:59:58Z"}, elements=True)
    meta = _photo_meta(xmp=packet)
    assert meta.captured_at == XMP_TIME
    assert meta.captured_source == "xmp:photoshop:DateCreated"


def test_xmp_dates_in_their_order_between_the_two_exif_times() -> None:
    every = {
        "xmp:CreateDate": "2026-11-20T15:00:00+08:00",
        "photoshop:DateCreated": "2026-11-20T15:30:00+08:00",
        "exif:DateTimeOriginal": "2026-11-20T15:59:58+08:00",
    }
    modified = media.exif_bytes(modified=MODIFIED, modified_offset="+08:00")
    assert _photo_meta(exif=modified, xmp=media.xmp(every)).captured_at == XMP_TIME
    del every["exif:DateTimeOriginal"]
    meta = _photo_meta(exif=modified, xmp=media.xmp(every))
    assert (meta.captured_source, meta.captured_at) == (
        "xmp:photoshop:DateCreated",
        datetime(2026, 11, 20, 15, 30, tzinfo=CST),
    )
    original = media.exif_bytes(when=ORIGINAL, modified=MODIFIED)
    meta = _photo_meta(exif=original, xmp=media.xmp(every))
    assert (meta.captured_source, meta.captured_at) == ("exif:DateTimeOriginal", ORIGINAL)


def test_a_date_without_a_time_is_not_a_capture_time() -> None:
    packet = media.xmp({"photoshop:DateCreated": "2026-11-20", "xmp:CreateDate": "2026-11"})
    modified = media.exif_bytes(modified=MODIFIED, modified_offset="+08:00")
    meta = _photo_meta(exif=modified, xmp=packet)
    assert meta.captured_source == "exif:DateTime"


def test_an_xmp_time_without_offset_stays_local() -> None:
    meta = _photo_meta(xmp=media.xmp({"xmp:CreateDate": "2026-11-20T15:59:58"}))
    assert meta.captured_at is None
    assert meta.captured_local == "2026-11-20T15:59:58"
    assert meta.captured_source == "xmp:xmp:CreateDate"


def test_xmp_with_a_dtd_or_entities_is_not_parsed() -> None:
    laughs = (
        '<!DOCTYPE x [<!ENTITY a "2026-11-20T15:59:58+08:00">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    )
    packet = media.xmp({"xmp:CreateDate": "&b;"}, doctype=laughs)
    modified = media.exif_bytes(modified=MODIFIED, modified_offset="+08:00")
    meta = _photo_meta(exif=modified, xmp=packet)
    assert meta.captured_source == "exif:DateTime"  # the XMP was refused, the next one won
    assert any(w.startswith("XMP unreadable") for w in meta.warnings)


def test_broken_xmp_is_a_warning() -> None:
    meta = _photo_meta(xmp=b"<x:xmpmeta><rdf:RDF><rdf:Description")
    assert meta.captured_at is None
    assert any(w.startswith("XMP unreadable") for w in meta.warnings)


@pytest.mark.parametrize(
    ("text", "local", "offset"),
    [
        ("2026-11-20T15:59:58+08:00", datetime(2026, 11, 20, 15, 59, 58), "+08:00"),  # noqa: DTZ001
        ("2026-11-20T15:59:58.25+0800", datetime(2026, 11, 20, 15, 59, 58, 250000), "+0800"),  # noqa: DTZ001
        ("2026-11-20T07:59:58Z", datetime(2026, 11, 20, 7, 59, 58), "+00:00"),  # noqa: DTZ001
        ("2026-11-20T15:59", datetime(2026, 11, 20, 15, 59), None),  # noqa: DTZ001
    ],
)
def test_iso_datetimes(text: str, local: datetime, offset: str | None) -> None:
    assert parse_iso_datetime(text) == (local, offset)


@pytest.mark.parametrize(
    "text", ["", "2026-11-20", "2026", "2026-13-40T10:00:00", "2026-11-20T10:00+15:00", "now"]
)
def test_iso_datetimes_that_are_not_capture_times(text: str) -> None:
    assert parse_iso_datetime(text) is None


# -- videos ------------------------------------------------------------------------------------

FINALISED = "2026-11-20T08:05:00.000000Z"  # the phone wrote the file 5 minutes after the start


def test_apple_creation_date_beats_the_container_time() -> None:
    meta = _video_meta(
        {
            "creation_time": FINALISED,
            "com.apple.quicktime.creationdate": "2026-11-20T16:00:00+0800",
        },
        "mov",
    )
    assert meta.captured_at == ORIGINAL
    assert meta.captured_source == "quicktime:com.apple.quicktime.creationdate"
    assert meta.captured_offset == "+0800"


def test_the_user_data_date_beats_the_container_time() -> None:
    meta = _video_meta({"creation_time": FINALISED, "date": "2026-11-20T16:00:00+08:00"})
    assert meta.captured_at == ORIGINAL
    assert meta.captured_source == "quicktime:date"


def test_a_year_alone_leaves_the_container_time_with_samsungs_offset() -> None:
    meta = _video_meta(
        {"creation_time": FINALISED, "date": "2026", "com.samsung.android.utc_offset": "+0800"}
    )
    assert meta.captured_at == datetime(2026, 11, 20, 8, 5, tzinfo=UTC)
    assert meta.captured_source == "quicktime:creation_time"
    assert meta.captured_offset == "+0800"
    assert meta.captured_local == "2026-11-20T16:05:00"


# -- through intake ----------------------------------------------------------------------------


async def test_the_source_is_stored_with_the_evidence(kit: Kit, county: World) -> None:
    packet = media.xmp({"photoshop:DateCreated": "2026-11-20T15:59:58+08:00"})
    photo = await kit.accept(county.inspector, media.jpeg(xmp=packet), "image/jpeg")
    assert photo.captured_at == XMP_TIME
    assert photo.captured_at_source == "xmp:photoshop:DateCreated"
    assert "exif_time_missing" not in photo.flags
    assert photo.file_meta["captured_source"] == "xmp:photoshop:DateCreated"

    local = media.xmp({"xmp:CreateDate": "2026-11-20T15:59:58"})
    assumed = await kit.accept(county.inspector, media.jpeg(xmp=local), "image/jpeg")
    assert assumed.captured_at == XMP_TIME
    assert assumed.captured_at_source == "xmp:xmp:CreateDate"
    assert "exif_time_offset_assumed" in assumed.flags

    clip = media.video(
        "mov",
        metadata={
            "creation_time": FINALISED,
            "com.apple.quicktime.creationdate": "2026-11-20T16:00:00+0800",
        },
        options=USE_KEYS,
    )
    video = await kit.accept(county.inspector, clip, "video/quicktime")
    assert video.captured_at == ORIGINAL
    assert video.captured_at_source == "quicktime:com.apple.quicktime.creationdate"

    bare = await kit.accept(county.inspector, media.jpeg(), "image/jpeg")
    assert bare.captured_at_source == "server"


def test_the_stored_metadata_is_every_field_with_times_in_iso_8601() -> None:
    from dataclasses import asdict  # noqa: PLC0415 - the reference only

    from evidence.metadata import GpsFix  # noqa: PLC0415

    meta = FileMeta(
        media_type="image/jpeg", kind="photo", width=4000, height=3000, orientation=6,
        make="HUAWEI", model="P60", captured_at=ORIGINAL, captured_local="2026:11:20 16:00:00",
        captured_offset="+08:00", captured_source="exif_original",
        gps=GpsFix(lon=112.1, lat=28.5, altitude_m=51.5, hpe_m=4.0, at=ORIGINAL),
        direction_deg=123.0, direction_ref="T", warnings=["gps_time_missing"],
    )  # fmt: skip
    expected = asdict(meta)
    expected["captured_at"] = "2026-11-20T16:00:00+08:00"
    expected["gps"]["at"] = "2026-11-20T16:00:00+08:00"
    stored = meta.to_json()
    assert stored == expected and list(stored) == list(expected)
    stored["warnings"].append("x")  # the stored copy is its own
    assert meta.warnings == ["gps_time_missing"]
    bare = FileMeta(media_type="image/png", kind="photo")
    assert bare.to_json() == asdict(bare) and bare.to_json()["gps"] is None
