"""A video's share copy: the same packets, no location, device or vendor tags (no services)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest

from evidence.media import declared_media_type
from evidence.video_share import ShareCopyError, strip_video
from tests.evidence import media

# What phones write: Android ©xyz (FFmpeg "location"), Apple ISO 6709 and device keys, 3GPP
# loci (from "location" in 3GP), make/model, plus a title and a vendor key.
TAGS = {
    "location": "+39.9042+116.4074/",
    "location-eng": "+39.9042+116.4074/",
    "com.apple.quicktime.location.ISO6709": "+39.9042+116.4074+050.000/",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 15 Pro",
    "com.apple.quicktime.software": "18.1",
    "com.apple.quicktime.creationdate": "2026-11-20T16:00:00+0800",
    "com.samsung.android.utc_offset": "+0800",
    "make": "Xiaomi",
    "model": "23127PN0CC",
    "title": "吴家冲采石场",
    "creation_time": "2026-11-20T08:05:00Z",
}
LEAKS = (b"116.4074", b"39.9042", b"Apple", b"iPhone", b"Xiaomi", b"23127PN0CC", b"com.apple",
         b"com.samsung", "吴家冲".encode(), b"\xa9xyz", b"loci")  # fmt: skip
MIME = {"mp4": "video/mp4", "mov": "video/quicktime", "3gp": "video/3gpp"}


def _packets(path: Path) -> dict[str, list[bytes]]:
    with av.open(str(path)) as container:
        found: dict[str, list[bytes]] = {s.type: [] for s in container.streams}
        for packet in container.demux():
            if packet.size:
                found[packet.stream.type].append(bytes(packet))
    return found


@pytest.mark.parametrize("fmt", ["mp4", "mov", "3gp"])
def test_the_share_copy_has_the_same_packets_and_no_tags(fmt: str, tmp_path: Path) -> None:
    options = {"movflags": "use_metadata_tags"} if fmt != "3gp" else {}
    tags = TAGS if fmt != "3gp" else {"location": TAGS["location"], "title": "吴家冲采石场"}
    original = tmp_path / f"original.{fmt}"
    original.write_bytes(
        media.video(fmt, metadata=tags, rotation=90, options=options, audio=True, frames=12)
    )
    assert (b"loci" if fmt == "3gp" else b"116.4074") in original.read_bytes()

    made = strip_video(str(original), tmp_path / f"share.{fmt}", declared_media_type(MIME[fmt]))
    data = made.path.read_bytes()
    assert made.size == len(data)
    assert (made.width, made.height, made.streams) == (64, 48, 2)
    for leak in LEAKS:
        assert leak not in data, leak
    assert _packets(made.path) == _packets(original)  # copied, not re-encoded
    with av.open(str(made.path)) as share:
        assert not {k for k in share.metadata if k not in {"major_brand", "minor_version",
                                                            "compatible_brands"}}  # fmt: skip
        assert "creation_time" not in share.metadata
        for stream in share.streams:
            assert "creation_time" not in stream.metadata
            assert "language" not in stream.metadata or stream.metadata["language"] == "und"
        frame = next(share.decode(video=0))
        assert frame.rotation == 90  # the display rotation is kept
        assert share.format.name.startswith("mov")
    assert data[4:8] == b"ftyp"
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: playable while downloading


def test_the_share_copy_is_deterministic(tmp_path: Path) -> None:
    original = tmp_path / "original.mp4"
    original.write_bytes(media.video("mp4", metadata={"location": TAGS["location"]}))
    mp4 = declared_media_type("video/mp4")
    one = strip_video(str(original), tmp_path / "one.mp4", mp4).path.read_bytes()
    two = strip_video(str(original), tmp_path / "two.mp4", mp4).path.read_bytes()
    assert hashlib.sha256(one).digest() == hashlib.sha256(two).digest()
    assert b"Lavf" not in one  # bit-exact: no muxer version either


def test_what_ffmpeg_cannot_read_is_a_share_copy_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
    with pytest.raises(ShareCopyError):
        strip_video(str(broken), tmp_path / "out.mp4", declared_media_type("video/mp4"))
