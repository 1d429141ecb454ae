"""Evidence: direct-to-storage uploads, verified originals, derivatives, custody.

Upload flow: ``CreateUpload`` (the phone's UUIDv7 evidence id in the path) answers the exact
requests to send — one presigned PUT, or one per part of a multipart upload — each with every
header it must carry (``Content-MD5`` included). The phone sends the bytes straight to
storage, resumes with ``GetUpload`` (parts received, requests for what is missing), then calls
``CompleteUpload``. Every call may be replayed. After a refused complete (for example
``evidence_hash_mismatch``) the phone calls ``CreateUpload`` again with the same id.

Positions are WGS84 unless the fix says ``crs: gcj02``; times carry a UTC offset.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from mobile_contract.v1.geofence import CoordinateSystem

__all__ = [
    "CreateUploadRequest",
    "CustodyEntry",
    "CustodyHistory",
    "DerivativeInfo",
    "DerivativeKindName",
    "DeviceFix",
    "Evidence",
    "EvidencePage",
    "FlagRequest",
    "LocationCheck",
    "LocationCheckHit",
    "LocationLayerVersion",
    "MediaKindName",
    "OriginalUrlRequest",
    "PartReceived",
    "PresignedUrl",
    "UploadMethodName",
    "UploadRequest",
    "UploadStatusName",
    "UploadTicket",
    "ViewTypeName",
]

Sha256 = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the file, hex")
]
Md5 = Annotated[
    str,
    msgspec.Meta(min_length=22, max_length=32, description="base64 of the 16-byte MD5 digest"),
]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Flag = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,40}$")]


class ViewTypeName(enum.StrEnum):
    FAR = "far"  # 远景
    CLOSE = "close"  # 近景
    CORNER = "corner"  # a corner of an irregular parcel
    INTERIOR = "interior"


class MediaKindName(enum.StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


class UploadStatusName(enum.StrEnum):
    OPEN = "open"  # send ``requests``, then complete
    ACCEPTED = "accepted"  # verified: the evidence exists
    ABORTED = "aborted"


class UploadMethodName(enum.StrEnum):
    SINGLE = "single"
    MULTIPART = "multipart"


class DerivativeKindName(enum.StrEnum):
    THUMBNAIL = "thumbnail"  # 512 px, orientation applied
    SHARE = "share"  # full size, every EXIF/XMP/GPS block removed; a video re-muxed without tags
    POSTER = "poster"  # a video's first frame
    CAPTIONED = "captioned"  # position, azimuth, time, place, inspector and unit, in Chinese


class DeviceFix(msgspec.Struct, kw_only=True, rename="camel"):
    """The phone's own position fix when the photo or video was taken."""

    lon: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
    lat: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
    accuracy_m: Annotated[float, msgspec.Meta(gt=0.0, le=100_000.0)]
    crs: CoordinateSystem = CoordinateSystem.WGS84
    at: datetime | None = None


class CreateUploadRequest(msgspec.Struct, kw_only=True, rename="camel"):
    """The declaration of one file. ``contentMd5`` is required for a single PUT; for a
    multipart upload the phone may fix ``partSize`` (≥ 5 MiB) and give each part's MD5."""

    sha256: Sha256
    size_bytes: Annotated[int, msgspec.Meta(ge=0)]
    content_type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    file_name: Annotated[str, msgspec.Meta(max_length=255)] = ""
    content_md5: Md5 | None = None
    part_size: Annotated[int, msgspec.Meta(ge=1)] | None = None
    part_md5s: list[Md5] | None = msgspec.field(default=None, name="partMd5s")
    claimed_captured_at: datetime | None = None
    fix: DeviceFix
    heading_deg: Annotated[float, msgspec.Meta(ge=0.0, le=360.0)] | None = None
    patrol_id: uuid.UUID | None = None
    finding_id: uuid.UUID | None = None
    mine_site_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    caption: Text = ""
    proves: Text = ""  # 证明对象: what the evidence is to prove
    view_type: ViewTypeName | None = None


class UploadRequest(msgspec.Struct, kw_only=True, rename="camel"):
    """Send the bytes (the whole file, or part ``partNumber``) exactly like this."""

    part_number: int | None = None
    method: str
    url: str
    headers: dict[str, str]
    expires_at: datetime


class PartReceived(msgspec.Struct, kw_only=True, rename="camel"):
    part_number: int
    size: int
    etag: str


class UploadTicket(msgspec.Struct, kw_only=True, rename="camel"):
    """The state of an upload and what is still to send (answer to every upload call)."""

    evidence_id: uuid.UUID
    status: UploadStatusName
    attempt: int
    method: UploadMethodName
    size_bytes: int
    part_size: int | None = None
    part_count: int
    parts_received: list[PartReceived]
    missing_parts: list[int]
    requests: list[UploadRequest]
    assembled: bool  # every byte is in storage; only CompleteUpload is missing


class LocationCheckHit(msgspec.Struct, kw_only=True, rename="camel"):
    kind: str
    feature_id: uuid.UUID
    layer_version_id: uuid.UUID | None = None
    relation: str
    distance_m: float
    edge_distance_m: float | None = None
    land_class: str | None = None
    mine_site_id: uuid.UUID | None = None
    attributes: dict[str, Any]


class LocationLayerVersion(msgspec.Struct, kw_only=True, rename="camel"):
    kind: str
    version_id: uuid.UUID
    version_no: int


class LocationCheck(msgspec.Struct, kw_only=True, rename="camel"):
    """The location check made at intake, with the layer versions it used."""

    lon: float
    lat: float
    accuracy_m: float
    outside_county: bool
    features: list[LocationCheckHit]
    layer_versions: list[LocationLayerVersion]


class DerivativeInfo(msgspec.Struct, kw_only=True, rename="camel"):
    kind: DerivativeKindName
    content_type: str
    size_bytes: int
    width: int
    height: int
    sha256: str
    created_at: datetime


class Evidence(msgspec.Struct, kw_only=True, rename="camel"):
    """A verified original: its SHA-256 was computed by the server from the stored bytes.

    ``positionSource`` says which position was used (``file`` or ``device``) and
    ``trust.positionReason`` why; ``flags`` name what did not agree (``exif_gps_missing``,
    ``outside_patrol_area``, ``clock_skew`` ...) and ``trust`` holds the numbers.

    ``capturedAtSource`` names where the capture time came from, in this order of precedence:
    ``exif:DateTimeOriginal``, ``xmp:exif:DateTimeOriginal``, ``xmp:photoshop:DateCreated``,
    ``xmp:xmp:CreateDate``, ``exif:DateTime``, ``exif:GPSDateStamp`` for photos;
    ``quicktime:com.apple.quicktime.creationdate``, ``quicktime:date``,
    ``quicktime:creation_time`` for videos; else ``device`` (the phone's claimed time) or
    ``server`` (the time of receipt). Evidence taken before says ``file``, ``file_local`` or
    ``file_gps``.
    """

    id: uuid.UUID
    kind: MediaKindName
    media_type: str
    size_bytes: int
    sha256: str
    file_name: str
    uploader_id: uuid.UUID
    captured_at: datetime
    captured_at_source: str
    received_at: datetime
    lon: float
    lat: float
    position_source: str
    position_accuracy_m: float
    heading_deg: float | None = None
    patrol_id: uuid.UUID | None = None
    finding_id: uuid.UUID | None = None
    mine_site_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    caption: str
    proves: str
    view_type: ViewTypeName | None = None
    flags: list[str]
    trust: dict[str, Any]
    file_meta: dict[str, Any]
    location_check: LocationCheck
    derivatives: list[DerivativeInfo]


class EvidencePage(msgspec.Struct, kw_only=True, rename="camel"):
    """Newest capture first; pass ``nextCursor`` back as ``cursor`` for the next page."""

    items: list[Evidence]
    next_cursor: str | None = None


class OriginalUrlRequest(msgspec.Struct, kw_only=True, rename="camel"):
    inline: bool = False  # view in the browser instead of downloading


class PresignedUrl(msgspec.Struct, kw_only=True, rename="camel"):
    """A short-lived request for the object: send ``method`` to ``url`` with ``headers``."""

    method: str
    url: str
    headers: dict[str, str]
    expires_at: datetime


class CustodyEntry(msgspec.Struct, kw_only=True, rename="camel"):
    seq: int
    action: str
    actor_id: uuid.UUID | None = None
    at: datetime
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


class CustodyHistory(msgspec.Struct, kw_only=True, rename="camel"):
    """The evidence's entries in the county's hash-chained custody log, oldest first."""

    evidence_id: uuid.UUID
    entries: list[CustodyEntry]


class FlagRequest(msgspec.Struct, kw_only=True, rename="camel"):
    flag: Flag
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""
