"""Evidence tables: upload sessions, accepted evidence, derivatives, custody log.

* ``evidence_uploads`` — one row per client evidence id (UUIDv7 minted by the phone): the
  declaration (hash, size, type, device fix, links, caption) and the upload mechanics.
* ``evidence`` — one row per *verified* upload, same id. Nothing unverified is ever here.
  A database trigger refuses deletes and changes to the integrity columns.
* ``evidence_derivatives`` — thumbnails, share copies, poster frames, captioned copies.
* ``evidence_custody`` — the append-only, hash-chained custody log (one chain per county);
  a trigger refuses updates and deletes.

Links to patrol sessions, findings, mine sites and cases are plain UUID columns: those
tables belong to other packages and the ids come from phones (possibly before the linked row
has synced).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infra.db import Base, CountyOwned, Timestamped, UuidPk, utcnow

__all__ = [
    "CustodyEntry",
    "Derivative",
    "Evidence",
    "Upload",
]


class Upload(CountyOwned, Timestamped, Base):
    """An upload session, addressed by the phone's evidence id; every call is idempotent on it.

    ``attempt`` grows when the phone re-declares the file (after a rejected complete); each
    attempt has its own ``object_key`` so bytes of an earlier attempt are never overwritten.
    """

    __tablename__ = "evidence_uploads"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'accepted', 'aborted')", name="status"),
        CheckConstraint("kind IN ('photo', 'video')", name="kind"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        Index("ix_evidence_uploads_county_created", "county_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    uploader_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), default="open")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    object_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(255), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_md5: Mapped[str | None] = mapped_column(String(24))
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    part_md5s: Mapped[list[str] | None] = mapped_column(ARRAY(String(24)))
    multipart_upload_id: Mapped[str | None] = mapped_column(Text)
    claimed_captured_at: Mapped[datetime | None]
    device_lon: Mapped[float] = mapped_column(Float)
    device_lat: Mapped[float] = mapped_column(Float)
    device_accuracy_m: Mapped[float] = mapped_column(Float)
    device_crs: Mapped[str] = mapped_column(String(8), default="wgs84")
    device_fix_at: Mapped[datetime | None]
    heading_deg: Mapped[float | None] = mapped_column(Float)
    patrol_session_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    finding_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    mine_site_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    case_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    tip_off_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    caption: Mapped[str] = mapped_column(Text, default="")
    proves: Mapped[str] = mapped_column(Text, default="")
    view_type: Mapped[str | None] = mapped_column(String(10))
    completed_at: Mapped[datetime | None]
    aborted_at: Mapped[datetime | None]


class Evidence(CountyOwned, Base):
    """A verified original: its SHA-256 was computed here from the stored bytes.

    ``geom`` is the position used for the location check (``position_source`` says which:
    the file's own GPS or the device fix); ``trust`` holds the cross-check numbers and
    ``flags`` the names of what did not agree.
    """

    __tablename__ = "evidence"
    __table_args__ = (
        Index("ix_evidence_county_captured", "county_id", "captured_at"),
        Index("ix_evidence_flags", "flags", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evidence_uploads.id", ondelete="RESTRICT"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_key: Mapped[str] = mapped_column(String(300), unique=True)
    original_etag: Mapped[str] = mapped_column(String(80), default="")
    captured_at: Mapped[datetime]
    captured_at_source: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    geom: Mapped[object] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True), nullable=False
    )
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    position_source: Mapped[str] = mapped_column(String(12))
    position_accuracy_m: Mapped[float] = mapped_column(Float)
    file_meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    trust: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    flags: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    location_check: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    accepted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    upload: Mapped[Upload] = relationship(lazy="selectin", viewonly=True)
    derivatives: Mapped[list[Derivative]] = relationship(
        lazy="selectin", order_by="Derivative.kind", viewonly=True
    )


class Derivative(UuidPk, CountyOwned, Base):
    """A new object made from an original (the original itself is never touched)."""

    __tablename__ = "evidence_derivatives"
    __table_args__ = (UniqueConstraint("evidence_id", "kind"),)

    evidence_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evidence.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))
    object_key: Mapped[str] = mapped_column(String(300), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustodyEntry(UuidPk, CountyOwned, Base):
    """One custody event. ``entry_hash`` covers every field and ``prev_hash`` (the chain)."""

    __tablename__ = "evidence_custody"
    __table_args__ = (UniqueConstraint("county_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
