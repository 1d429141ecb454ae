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
    "AnnotationChange",
    "AnnotationChanges",
    "CreateUploadRequest",
    "CustodyDetails",
    "CustodyEntry",
    "CustodyHistory",
    "DerivativeInfo",
    "DerivativeKindName",
    "DeviceFix",
    "Evidence",
    "EvidencePage",
    "EvidenceTrust",
    "FileGps",
    "FileMetadata",
    "FlagRequest",
    "LocationCheck",
    "LocationCheckHit",
    "LocationLayerVersion",
    "MediaKindName",
    "OriginalUrlRequest",
    "PartReceived",
    "PresignedUrl",
    "TrustDeviceFix",
    "UploadMethodName",
    "UploadRequest",
    "UploadStatusName",
    "UploadTicket",
    "ViewTypeName",
]

_DEPRECATED_TRUST = (
    "Deprecated: the same facts, typed and in camelCase, are in ``trustInfo``. "
    "Kept unchanged (snake_case keys) for apps built before it."
)
_DEPRECATED_FILE_META = (
    "Deprecated: the same facts, typed and in camelCase, are in ``fileMetadata``. "
    "Kept unchanged (snake_case keys) for apps built before it."
)
_DEPRECATED_DETAILS = (
    "Deprecated: the same facts, typed and in camelCase, are in ``entryDetails``. "
    "Kept unchanged (snake_case keys, as hashed into the chain) for apps built before it."
)

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
    tip_off_id: uuid.UUID | None = None  # a 12336 clue (clue desk, captains, admins)
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


class TrustDeviceFix(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """The device fix declared with the upload, as the phone sent it (``crs`` included)."""

    lon: float | None = None
    lat: float | None = None
    crs: str | None = None
    accuracy_m: float | None = None


class EvidenceTrust(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """How far the file, the phone and the patrol agree (see the flags). A member is absent
    when it was not measured (no device time, no patrol track...).

    Distances in metres, times in seconds: ``exifVsDeviceDistanceM`` (the file's GPS to the
    device fix), ``exifAccuracyAssumedM`` (the accuracy assumed for a file GPS without one),
    ``clockSkewS`` (file time minus the phone's claimed time), ``receiptLagS`` (receipt minus
    capture), ``deviceFixGapS`` (between the device fix and capture), ``trackDistanceM`` and
    ``trackTimeGapS`` (to the patrol's nearest track point), ``assumedOffset`` (the UTC
    offset assumed for a file's local time).
    """

    position_reason: str | None = None
    in_county: bool | None = None
    in_patrol_area: bool | None = None
    device_fix: TrustDeviceFix | None = None
    exif_vs_device_distance_m: float | None = None
    exif_accuracy_assumed_m: float | None = None
    clock_skew_s: float | None = None
    receipt_lag_s: float | None = None
    device_fix_gap_s: float | None = None
    track_distance_m: float | None = None
    track_time_gap_s: float | None = None
    assumed_offset: str | None = None


class FileGps(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """The GPS position written into the file (WGS84); ``hpeM``: its horizontal error."""

    lon: float
    lat: float
    altitude_m: float | None = None
    hpe_m: float | None = None
    at: datetime | None = None


class FileMetadata(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """What the file says about itself (EXIF, XMP, QuickTime); absent when it does not say.

    ``capturedAt`` carries the file's own offset; a local time without one is in
    ``capturedLocal`` (``capturedSource`` names the tag). ``warnings``: what was wrong with
    the metadata block (the evidence is then flagged ``exif_corrupt``).
    """

    media_type: str | None = None
    kind: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    make: str | None = None
    model: str | None = None
    captured_at: datetime | None = None
    captured_local: str | None = None
    captured_offset: str | None = None
    captured_source: str | None = None
    gps: FileGps | None = None
    direction_deg: float | None = None
    direction_ref: str | None = None
    duration_s: float | None = None
    codec: str | None = None
    rotation: int | None = None
    warnings: list[str] | None = None


class Evidence(msgspec.Struct, kw_only=True, rename="camel"):
    """A verified original: its SHA-256 was computed by the server from the stored bytes.

    ``positionSource`` says which position was used (``file`` or ``device``) and
    ``trustInfo.positionReason`` why; ``flags`` name what did not agree (``exif_gps_missing``,
    ``outside_patrol_area``, ``clock_skew`` ...) and ``trustInfo`` holds the numbers;
    ``fileMetadata`` is what the file says about itself. ``trust`` and ``fileMeta`` carry the
    same as untyped snake_case objects and are deprecated.

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
    trust: Annotated[
        dict[str, Any],
        msgspec.Meta(extra_json_schema={"deprecated": True}, description=_DEPRECATED_TRUST),
    ]
    file_meta: Annotated[
        dict[str, Any],
        msgspec.Meta(extra_json_schema={"deprecated": True}, description=_DEPRECATED_FILE_META),
    ]
    location_check: LocationCheck
    derivatives: list[DerivativeInfo]
    trust_info: EvidenceTrust
    file_metadata: FileMetadata


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


class AnnotationChange(msgspec.Struct, kw_only=True, rename="camel"):
    """One descriptive field's value before (``from``) and after (``to``); null: unset."""

    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None


class AnnotationChanges(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """The descriptive fields an ``annotated`` entry changed (the others are absent)."""

    caption: AnnotationChange | None = None
    proves: AnnotationChange | None = None
    view_type: AnnotationChange | None = None


class CustodyDetails(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """What a custody entry records; which members are present depends on ``action``:

    * ``accepted``: ``sha256``, ``sizeBytes``, ``mediaType``, ``objectKey``, ``uploaderId``,
      ``capturedAt``, ``positionSource``, ``flags``;
    * ``viewed`` / ``downloaded``: ``role`` and the link's ``expiresAt``;
    * ``exported``: ``packageId`` and ``purpose``, or (a case package) ``packageId``,
      ``caseId``, ``caseNo`` and the file's ``path`` in the package;
    * ``flagged``: ``flag`` and ``note``;
    * ``derivative_created``: ``kind``, ``objectKey``, ``sha256``;
    * ``annotated``: ``changes`` and ``versionBefore``.
    """

    sha256: str | None = None
    size_bytes: int | None = None
    media_type: str | None = None
    object_key: str | None = None
    uploader_id: uuid.UUID | None = None
    captured_at: datetime | None = None
    position_source: str | None = None
    flags: list[str] | None = None
    role: str | None = None
    expires_at: datetime | None = None
    package_id: uuid.UUID | None = None
    purpose: str | None = None
    case_id: uuid.UUID | None = None
    case_no: str | None = None
    path: str | None = None
    flag: str | None = None
    note: str | None = None
    kind: str | None = None
    changes: AnnotationChanges | None = None
    version_before: int | None = None


class CustodyEntry(msgspec.Struct, kw_only=True, rename="camel"):
    seq: int
    action: str
    actor_id: uuid.UUID | None = None
    at: datetime
    details: Annotated[
        dict[str, Any],
        msgspec.Meta(extra_json_schema={"deprecated": True}, description=_DEPRECATED_DETAILS),
    ]
    prev_hash: str
    entry_hash: str
    entry_details: CustodyDetails


class CustodyHistory(msgspec.Struct, kw_only=True, rename="camel"):
    """The evidence's entries in the county's hash-chained custody log, oldest first."""

    evidence_id: uuid.UUID
    entries: list[CustodyEntry]


class FlagRequest(msgspec.Struct, kw_only=True, rename="camel"):
    flag: Flag
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""
