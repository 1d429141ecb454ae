"""Type sniffing, ISO 6709 parsing and container checks (no services needed)."""

from __future__ import annotations

import io

import piexif
import pytest

from evidence.errors import FileCorruptError, UnsupportedMediaTypeError
from evidence.media import MediaType, check_container, declared_media_type, sniff
from evidence.metadata import parse_iso6709, read_photo_meta
from tests.evidence import media


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (media.jpeg(8, 8), "image/jpeg"),
        (media.photo("PNG", size=(8, 8)), "image/png"),
        (media.photo("WEBP", size=(8, 8)), "image/webp"),
        (media.photo("HEIF", size=(8, 8)), "image/heic"),
        (media.photo("AVIF", size=(8, 8)), "image/avif"),
        (media.video("mp4", frames=2), "video/mp4"),
        (media.video("mov", frames=2), "video/quicktime"),
        (media.video("3gp", frames=2), "video/3gpp"),
    ],
)
def test_sniff_finds_the_real_type(data: bytes, mime: str) -> None:
    found = sniff(data[:64])
    assert found is not None
    assert found.media.mime == mime
    assert found.agrees_with(declared_media_type(mime))


def test_a_3gp_listing_isom_also_passes_as_mp4() -> None:
    found = sniff(media.video("3gp", frames=2)[:64])
    assert found is not None
    assert found.agrees_with(declared_media_type("video/mp4"))
    assert not found.agrees_with(declared_media_type("image/heic"))


def test_unknown_bytes_and_types() -> None:
    assert sniff(b"GIF89a" + bytes(60)) is None
    assert sniff(b"") is None
    with pytest.raises(UnsupportedMediaTypeError):
        declared_media_type("image/gif")
    assert declared_media_type("image/JPEG; charset=binary").mime == "image/jpeg"


@pytest.mark.parametrize(
    ("text", "lon", "lat", "alt"),
    [
        ("+39.9042+116.4074/", 116.4074, 39.9042, None),
        ("+39.9042+116.4074+050.000/", 116.4074, 39.9042, 50.0),
        ("-33.8568+151.2153-012.5/", 151.2153, -33.8568, -12.5),
        ("+3954.252+11624.444/", 116 + 24.444 / 60, 39 + 54.252 / 60, None),
        ("+395415.1+1162426.6/", 116 + 24 / 60 + 26.6 / 3600, 39 + 54 / 60 + 15.1 / 3600, None),
        ("+39.9042+116.4074CRSWGS_84/", 116.4074, 39.9042, None),
    ],
)
def test_iso6709(text: str, lon: float, lat: float, alt: float | None) -> None:
    fix = parse_iso6709(text)
    assert fix is not None
    assert fix.lon == pytest.approx(lon)
    assert fix.lat == pytest.approx(lat)
    assert fix.altitude_m == (pytest.approx(alt) if alt is not None else None)


@pytest.mark.parametrize("text", ["", "garbage", "+99.0+116.0/", "+39.0+190.0/", "+00.0+000.0/"])
def test_iso6709_rejects_nonsense(text: str) -> None:
    assert parse_iso6709(text) is None


def test_container_check_accepts_whole_files_and_refuses_cut_ones() -> None:
    clip = media.video("mp4", frames=5)
    media_type = declared_media_type("video/mp4")
    check_container(io.BytesIO(clip), len(clip), media_type)
    padded = media.padded(clip, len(clip) + 5000)
    check_container(io.BytesIO(padded), len(padded), media_type)
    with pytest.raises(FileCorruptError):
        check_container(io.BytesIO(clip[:-1]), len(clip) - 1, media_type)
    webp = media.photo("WEBP", size=(40, 40))
    with pytest.raises(FileCorruptError):
        check_container(io.BytesIO(webp[:-10]), len(webp) - 10, declared_media_type("image/webp"))


def _jpeg_with_exif_thumbnail(width: int, height: int) -> bytes:
    """A JPEG whose EXIF block carries its own small JPEG (with its own end marker)."""
    thumb = media.jpeg(160, 120)
    exif = piexif.dump({"0th": {}, "Exif": {}, "GPS": {}, "1st": {}, "thumbnail": thumb})
    return media.jpeg(width, height, exif=exif)


def _read(data: bytes) -> None:
    media_type = declared_media_type("image/jpeg")
    assert isinstance(media_type, MediaType)
    read_photo_meta(io.BytesIO(data), media_type)


def test_a_whole_jpeg_passes_whatever_trails_its_end_marker() -> None:
    whole = _jpeg_with_exif_thumbnail(800, 600)
    _read(whole)
    # a maker's trailer longer than the tail looked at first: found by the forward search
    _read(whole + b"\x00TRAILER" * 20_000)


def test_a_jpeg_cut_anywhere_in_its_scans_is_corrupt() -> None:
    whole = _jpeg_with_exif_thumbnail(800, 600)
    scan = whole.index(b"\xff\xda")
    # cut just before the end marker, in the middle, and right after the scan header: the
    # EXIF thumbnail's own end marker, within the last bytes of the short cuts, must not count
    for cut in (len(whole) - 2, len(whole) // 2, scan + 20):
        with pytest.raises(FileCorruptError):
            _read(whole[:cut])
