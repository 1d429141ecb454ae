"""Media types: what a phone may declare, and what the bytes really are (sniffed).

A declared type is accepted when the sniffed family is compatible with it: HEIC and HEIF are
one family, and an ISO-BMFF video is compatible with every family its ``ftyp`` brands name
(a ``3gp4`` file listing ``isom`` is also an MP4).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO

from evidence.errors import FileCorruptError, UnsupportedMediaTypeError

__all__ = [
    "DECLARABLE_TYPES",
    "SNIFF_BYTES",
    "MediaType",
    "Sniffed",
    "check_container",
    "declared_media_type",
    "sniff",
]

SNIFF_BYTES = 64
"""How many leading bytes :func:`sniff` needs."""


@dataclass(frozen=True, slots=True)
class MediaType:
    family: str
    kind: str  # "photo" | "video"
    mime: str
    extension: str


_FAMILIES: dict[str, MediaType] = {
    "jpeg": MediaType("jpeg", "photo", "image/jpeg", "jpg"),
    "png": MediaType("png", "photo", "image/png", "png"),
    "webp": MediaType("webp", "photo", "image/webp", "webp"),
    "heif": MediaType("heif", "photo", "image/heic", "heic"),
    "avif": MediaType("avif", "photo", "image/avif", "avif"),
    "mp4": MediaType("mp4", "video", "video/mp4", "mp4"),
    "mov": MediaType("mov", "video", "video/quicktime", "mov"),
    "3gp": MediaType("3gp", "video", "video/3gpp", "3gp"),
}

DECLARABLE_TYPES: dict[str, str] = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heif",
    "image/heif": "heif",
    "image/heic-sequence": "heif",
    "image/heif-sequence": "heif",
    "image/avif": "avif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/3gpp": "3gp",
    "video/3gpp2": "3gp",
}
"""Content types a phone may declare, by family."""

_BRANDS: dict[str, str] = {
    **dict.fromkeys(
        ("heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1", "mif2"),
        "heif",
    ),
    **dict.fromkeys(("avif", "avis"), "avif"),
    **dict.fromkeys(
        (
            "isom",
            "iso2",
            "iso3",
            "iso4",
            "iso5",
            "iso6",
            "iso7",
            "iso8",
            "iso9",
            "mp41",
            "mp42",
            "avc1",
            "dash",
            "M4V ",
            "mmp4",
            "MSNV",
            "XAVC",
            "f4v ",
            "hvc1",
        ),
        "mp4",
    ),
    "qt  ": "mov",
    **dict.fromkeys(
        ("3gp4", "3gp5", "3gp6", "3gp7", "3gp8", "3gp9", "3gg6", "3gg9", "3g2a", "3g2b", "3g2c"),
        "3gp",
    ),
}


@dataclass(frozen=True, slots=True)
class Sniffed:
    """The real type of some bytes: ``media`` plus every family the bytes also satisfy."""

    media: MediaType
    compatible: frozenset[str]

    def agrees_with(self, declared: MediaType) -> bool:
        return declared.family in self.compatible


def declared_media_type(content_type: str) -> MediaType:
    """The media type a declared ``Content-Type`` stands for (parameters are ignored)."""
    base = content_type.split(";", 1)[0].strip().lower()
    family = DECLARABLE_TYPES.get(base)
    if family is None:
        msg = f"content type {base!r} is not accepted as evidence"
        raise UnsupportedMediaTypeError(msg, content_type=base, accepted=sorted(DECLARABLE_TYPES))
    return _FAMILIES[family]


def _sniff_isobmff(head: bytes) -> Sniffed | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box_size = struct.unpack(">I", head[:4])[0]
    major = head[8:12].decode("latin-1")
    end = min(len(head), box_size if box_size >= 16 else 16)
    brands = [major]
    brands += [head[i : i + 4].decode("latin-1") for i in range(16, end - 3, 4)]
    families = {_BRANDS[b] for b in brands if b in _BRANDS}
    primary = _BRANDS.get(major)
    if primary == "heif" and "avif" in families and major in {"mif1", "msf1"}:
        primary = "avif"
    if primary is None:
        primary = next((f for f in ("heif", "avif", "mp4", "mov", "3gp") if f in families), None)
    if primary is None:
        return None
    return Sniffed(_FAMILIES[primary], frozenset(families | {primary}))


def sniff(head: bytes) -> Sniffed | None:
    """The type of a file from its first :data:`SNIFF_BYTES` bytes, ``None`` if unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(_FAMILIES["jpeg"], frozenset({"jpeg"}))
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(_FAMILIES["png"], frozenset({"png"}))
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(_FAMILIES["webp"], frozenset({"webp"}))
    return _sniff_isobmff(head)


def _check_isobmff(fp: IO[bytes], size: int) -> None:
    """Walk the top-level boxes: each must fit in the file, and they must tile it exactly."""
    pos = 0
    boxes = 0
    seen: set[bytes] = set()
    while pos < size:
        fp.seek(pos)
        header = fp.read(16)
        if len(header) < 8:
            msg = "the file ends inside a box header (truncated)"
            raise FileCorruptError(msg, offset=pos)
        box_size, box_type = struct.unpack(">I4s", header[:8])
        if box_size == 1:
            if len(header) < 16:
                msg = "the file ends inside a box header (truncated)"
                raise FileCorruptError(msg, offset=pos)
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:
            box_size = size - pos
        if box_size < 8 or pos + box_size > size:
            msg = "a box runs past the end of the file (truncated)"
            raise FileCorruptError(msg, offset=pos, box=box_type.decode("latin-1"))
        seen.add(box_type)
        pos += box_size
        boxes += 1
        if boxes > 100_000:
            msg = "too many top-level boxes"
            raise FileCorruptError(msg)
    needed = {b"moov"} if b"meta" not in seen else {b"meta"}
    if not needed <= seen:
        msg = "the file has no movie/meta box (truncated or not a media file)"
        raise FileCorruptError(msg)


def _check_webp(fp: IO[bytes], size: int) -> None:
    fp.seek(4)
    declared = struct.unpack("<I", fp.read(4))[0] + 8
    if declared > size:
        msg = "the WebP file is shorter than its header says (truncated)"
        raise FileCorruptError(msg, declared=declared, size=size)


def check_container(fp: IO[bytes], size: int, media: MediaType) -> None:
    """Cheap structural checks that catch truncation without decoding (ISO-BMFF, WebP).

    JPEG and PNG truncation is found by decoding (see :mod:`evidence.metadata`).
    """
    if media.family in {"heif", "avif", "mp4", "mov", "3gp"}:
        _check_isobmff(fp, size)
    elif media.family == "webp":
        _check_webp(fp, size)
    fp.seek(0)
