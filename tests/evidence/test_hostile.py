"""The hostile-file corpus: every file gets a clear 4xx (or is accepted and flagged)."""

from __future__ import annotations

import io
import tracemalloc

import pytest

from evidence.errors import (
    EvidenceSizeMismatchError,
    EvidenceTypeMismatchError,
    FileCorruptError,
    ImageTooLargeError,
)
from evidence.media import declared_media_type
from evidence.metadata import read_photo_meta
from tests.evidence import media
from tests.evidence.conftest import Kit, declaration
from tests.worlds import World


def test_corrupt_exif_is_read_in_bounded_time_and_memory() -> None:
    data = media.corrupt_exif_jpeg()
    assert 1000 < len(data) < 1300  # the 1.1 KB file that cost piexif 37 s and 4.5 GB
    tracemalloc.start()
    meta = read_photo_meta(io.BytesIO(data), declared_media_type("image/jpeg"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the bound on the work: the parse that took 37 s built 4.5 GB; this one stays small
    assert peak < 100 * 1024 * 1024
    assert meta.gps is None
    assert meta.warnings  # recorded as data, not raised


async def test_corrupt_exif_photo_is_accepted_and_flagged(kit: Kit, county: World) -> None:
    evidence = await kit.accept(county.inspector, media.corrupt_exif_jpeg(), "image/jpeg")
    assert {"exif_corrupt", "exif_gps_missing"} <= set(evidence.flags)
    assert evidence.position_source == "device"


@pytest.mark.parametrize(
    ("name", "content_type", "error", "code"),
    [
        ("truncated_jpeg", "image/jpeg", FileCorruptError, "file_corrupt"),
        ("truncated_png", "image/png", FileCorruptError, "file_corrupt"),
        ("truncated_heic", "image/heic", FileCorruptError, "file_corrupt"),
        ("truncated_mp4", "video/mp4", FileCorruptError, "file_corrupt"),
        ("truncated_faststart_mp4", "video/mp4", FileCorruptError, "file_corrupt"),
        ("png_bomb", "image/png", ImageTooLargeError, "image_too_large"),
        ("jpeg_bomb", "image/jpeg", ImageTooLargeError, "image_too_large"),
        ("garbage", "image/jpeg", EvidenceTypeMismatchError, "evidence_type_mismatch"),
        ("jpeg_header_only", "image/jpeg", FileCorruptError, "file_corrupt"),
    ],
)
async def test_hostile_files_get_a_clear_refusal(
    kit: Kit,
    county: World,
    name: str,
    content_type: str,
    error: type[Exception],
    code: str,
) -> None:
    data = _hostile(name)
    new = declaration(data, content_type)
    await kit.send(await kit.create(county.inspector, new), data)
    with pytest.raises(error) as info:
        await kit.complete(county.inspector, new)
    assert getattr(info.value, "code", None) == code
    ticket = await kit.get(county.inspector, new)
    assert ticket.status == "open"  # nothing stored as evidence; the phone may try again


async def test_a_zero_byte_object_is_a_size_mismatch(kit: Kit, county: World) -> None:
    data = media.jpeg()
    new = declaration(data, "image/jpeg", content_md5=media.md5_b64(b""))
    await kit.send(await kit.create(county.inspector, new), b"")
    with pytest.raises(EvidenceSizeMismatchError):
        await kit.complete(county.inspector, new)


def _hostile(name: str) -> bytes:  # noqa: PLR0911 - one case per file
    clip = media.video("mp4", frames=30)
    if name == "truncated_jpeg":
        whole = media.jpeg(1200, 900)
        return whole[: len(whole) // 2]
    if name == "truncated_png":
        whole = media.photo("PNG", size=(600, 400))
        return whole[: len(whole) - 40]
    if name == "truncated_heic":
        whole = media.photo("HEIF", size=(600, 400))
        return whole[: len(whole) // 2]
    if name == "truncated_mp4":  # moov at the end: it is simply missing
        return clip[: len(clip) // 2]
    if name == "truncated_faststart_mp4":  # moov first, mdat cut short
        fast = media.video("mp4", frames=30, options={"movflags": "faststart"})
        return fast[: len(fast) - 200]
    if name == "png_bomb":
        return media.png_bomb()
    if name == "jpeg_bomb":
        return media.jpeg_bomb()
    if name == "jpeg_header_only":
        whole = media.jpeg(64, 64)
        return whole[: whole.find(b"\xff\xda") + 2]
    return bytes(range(256)) * 4
