"""What a phone declares when it starts an upload, and what it gets back.

:class:`NewUpload` is the declaration (validated by :func:`validate_new_upload`);
:class:`UploadTicket` is the answer to create/get/abort: the state, the parts received, and
the exact requests (method, URL, headers) the phone must send for what is still missing.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from evidence.errors import FileEmptyError, InvalidUploadError, UploadTooLargeError
from evidence.media import MediaType, declared_media_type
from infra import error_codes as codes
from infra.ids import is_uuid7
from infra.objectstore import MIN_PART_BYTES, PartInfo, PresignedRequest
from infra.settings import EvidenceSettings

__all__ = [
    "DEFAULT_PART_BYTES",
    "MULTIPART_THRESHOLD_BYTES",
    "VIEW_TYPES",
    "ClaimedFix",
    "NewUpload",
    "PartRequest",
    "UploadTicket",
    "default_part_size",
    "part_count",
    "validate_new_upload",
]

MULTIPART_THRESHOLD_BYTES = 16 * 1024 * 1024
"""Files above this size are uploaded in parts (unless the phone asks for parts anyway)."""
DEFAULT_PART_BYTES = 8 * 1024 * 1024
_MAX_PART_BYTES = 5 * 1024 * 1024 * 1024
_MAX_PARTS = 10_000
_MAX_ACCURACY_M = 100_000.0
VIEW_TYPES = frozenset({"far", "close", "corner", "interior"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CRS_NAMES = frozenset({"wgs84", "gcj02"})


@dataclass(frozen=True, slots=True)
class ClaimedFix:
    """The phone's position when the photo/video was taken (``crs`` "wgs84" or "gcj02")."""

    lon: float
    lat: float
    accuracy_m: float
    crs: str = "wgs84"
    at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewUpload:
    """A phone's declaration of one file (``CreateUpload``).

    ``content_md5`` (base64 MD5 of the whole file) is required for a single PUT. For a
    multipart upload the phone may fix ``part_size`` and give every part's base64 MD5 in
    ``part_md5s`` (then each part URL requires it); otherwise the server picks the part
    size (:func:`default_part_size`) and the final SHA-256 check protects the bytes.
    """

    evidence_id: uuid.UUID
    sha256: str
    size_bytes: int
    content_type: str
    fix: ClaimedFix
    file_name: str = ""
    content_md5: str | None = None
    part_size: int | None = None
    part_md5s: Sequence[str] | None = None
    claimed_captured_at: datetime | None = None
    heading_deg: float | None = None
    patrol_session_id: uuid.UUID | None = None
    finding_id: uuid.UUID | None = None
    mine_site_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    tip_off_id: uuid.UUID | None = None
    caption: str = ""
    proves: str = ""
    view_type: str | None = None


@dataclass(frozen=True, slots=True)
class PartRequest:
    """One request the phone must send: ``part_number`` is ``None`` for a single PUT."""

    part_number: int | None
    request: PresignedRequest


@dataclass(frozen=True, slots=True)
class UploadTicket:
    """The state of an upload and what is still to send.

    ``status``: "open" (send ``requests``, then complete), "accepted" (``evidence_id`` is
    evidence now) or "aborted". ``assembled`` means every byte is in storage and only
    ``complete_upload`` is missing.
    """

    evidence_id: uuid.UUID
    status: str
    attempt: int
    method: str  # "single" | "multipart"
    size_bytes: int
    part_size: int | None
    part_count: int
    parts_received: list[PartInfo] = field(default_factory=list)
    missing_parts: list[int] = field(default_factory=list)
    requests: list[PartRequest] = field(default_factory=list)
    assembled: bool = False


def default_part_size(size: int) -> int:
    """8 MiB, or larger (whole MiB) when 8 MiB parts would exceed S3's 10,000 parts."""
    needed = math.ceil(size / _MAX_PARTS)
    mib = 1024 * 1024
    return max(DEFAULT_PART_BYTES, math.ceil(needed / mib) * mib)


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def _bad(detail: str, code: str, **extra: object) -> InvalidUploadError:
    return InvalidUploadError(detail, code=code, **extra)


def _check_md5(value: str, field_name: str) -> None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        msg = f"{field_name} must be the base64 of a 16-byte MD5 digest"
        raise _bad(msg, codes.INVALID_MD5, field=field_name)


def _check_fix(fix: ClaimedFix) -> None:
    values = (fix.lon, fix.lat, fix.accuracy_m)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        msg = "the device fix must be finite numbers"
        raise _bad(msg, codes.INVALID_COORDINATES, field="fix")
    if not (-180 <= fix.lon <= 180 and -90 <= fix.lat <= 90):
        msg = "the device fix is outside the valid longitude/latitude range"
        raise _bad(msg, codes.INVALID_COORDINATES, field="fix")
    if not 0 < fix.accuracy_m <= _MAX_ACCURACY_M:
        msg = "the device fix accuracy must be a positive number of metres"
        raise _bad(msg, codes.INVALID_COORDINATES, field="fix.accuracy_m")
    if fix.crs not in CRS_NAMES:
        msg = f"the device fix CRS must be one of {sorted(CRS_NAMES)}"
        raise _bad(msg, codes.INVALID_COORDINATES, field="fix.crs")
    if fix.at is not None and fix.at.tzinfo is None:
        msg = "times must carry a UTC offset"
        raise _bad(msg, codes.INVALID_TIME, field="fix.at")


def _check_parts(new: NewUpload) -> None:
    if new.part_size is not None:
        if not MIN_PART_BYTES <= new.part_size <= _MAX_PART_BYTES:
            msg = "part_size must be between 5 MiB and 5 GiB"
            raise _bad(msg, codes.INVALID_PART_SIZE, field="part_size")
        if part_count(new.size_bytes, new.part_size) > _MAX_PARTS:
            msg = "part_size is too small for this file (more than 10,000 parts)"
            raise _bad(msg, codes.INVALID_PART_SIZE, field="part_size")
    if new.part_md5s is not None:
        if new.part_size is None:
            msg = "part_md5s needs part_size"
            raise _bad(msg, codes.INVALID_PART_MD5S, field="part_md5s")
        if len(new.part_md5s) != part_count(new.size_bytes, new.part_size):
            msg = "part_md5s must list one MD5 per part"
            raise _bad(msg, codes.INVALID_PART_MD5S, field="part_md5s")
        for md5 in new.part_md5s:
            _check_md5(md5, "part_md5s")


def validate_new_upload(new: NewUpload, settings: EvidenceSettings) -> MediaType:
    """Check a declaration; return the declared media type. Raises 422 errors only."""
    if not is_uuid7(new.evidence_id):
        msg = "evidence_id must be a UUIDv7 minted by the phone"
        raise _bad(msg, codes.INVALID_ID, field="evidence_id")
    if not _SHA256.match(new.sha256):
        msg = "sha256 must be 64 lowercase hex digits"
        raise _bad(msg, codes.INVALID_SHA256, field="sha256")
    media = declared_media_type(new.content_type)
    if new.size_bytes == 0:
        msg = "an empty file is not evidence"
        raise FileEmptyError(msg)
    if new.size_bytes < 0:
        msg = "size_bytes must be positive"
        raise _bad(msg, codes.INVALID_SIZE, field="size_bytes")
    limit = settings.max_video_bytes if media.kind == "video" else settings.max_photo_bytes
    if new.size_bytes > limit:
        msg = f"a {media.kind} may have at most {limit} bytes"
        raise UploadTooLargeError(msg, limit=limit, size=new.size_bytes, kind=media.kind)
    if new.content_md5 is not None:
        _check_md5(new.content_md5, "content_md5")
    _check_parts(new)
    _check_fix(new.fix)
    if new.heading_deg is not None and not (
        math.isfinite(new.heading_deg) and 0 <= new.heading_deg <= 360
    ):
        msg = "heading_deg must be within 0..360"
        raise _bad(msg, codes.INVALID_HEADING, field="heading_deg")
    if new.claimed_captured_at is not None and new.claimed_captured_at.tzinfo is None:
        msg = "times must carry a UTC offset"
        raise _bad(msg, codes.INVALID_TIME, field="claimed_captured_at")
    if new.view_type is not None and new.view_type not in VIEW_TYPES:
        msg = f"view_type must be one of {sorted(VIEW_TYPES)}"
        raise _bad(msg, codes.INVALID_VIEW_TYPE, field="view_type")
    if len(new.file_name) > 255 or len(new.caption) > 4000 or len(new.proves) > 4000:
        msg = "file_name, caption or proves is too long"
        raise _bad(msg, codes.INVALID_TEXT, field="caption")
    return media
