"""Reference-layer tables: layer versions, parcels, planning zones, change polygons, mine sites.

Parcels, planning zones and change polygons are immutable rows of one layer version: an
import writes a new version and never touches older ones. Closed-mine sites are a managed
register with stable ids (rosters and patrol targets point at them); every change to the
register writes a new ``mine_sites`` layer version and a revision row per changed site, so
older versions stay readable there too.

Geometries are EPSG:4326, never NULL, validated and repaired before they are stored. Every
geometry column has a GiST index on ``geography(geom)`` (``func.geography``, which is what
distance queries must use to hit it) besides the plain geometry GiST index.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    column,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, CountyOwned, Timestamped, UuidPk, utcnow

__all__ = [
    "ChangePolygon",
    "ImportJob",
    "LayerVersion",
    "MineSite",
    "MineSiteRevision",
    "Parcel",
    "PlanningZone",
    "RosterMember",
]


def _geog_index(table: str) -> Index:
    """GiST index on ``geography(geom)``; matched by ``func.geography(Model.geom)``."""
    return Index(f"ix_{table}_geog", func.geography(column("geom")), postgresql_using="gist")


def _version_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("geofence_layer_versions.id", ondelete="RESTRICT"), index=True)


class LayerVersion(UuidPk, CountyOwned, Base):
    """One import (or register change) of one layer kind in one county.

    ``version_no`` counts from 1 per county and kind; the highest is the current version.
    ``report`` keeps the per-feature repair and rejection messages of an import.
    """

    __tablename__ = "geofence_layer_versions"
    __table_args__ = (UniqueConstraint("county_id", "kind", "version_no"),)

    kind: Mapped[str] = mapped_column(String(20))
    version_no: Mapped[int] = mapped_column(Integer)
    source_name: Mapped[str] = mapped_column(String(255), default="")
    source_format: Mapped[str] = mapped_column(String(20), default="")
    source_crs: Mapped[str] = mapped_column(String(64), default="")
    read_count: Mapped[int] = mapped_column(Integer, default=0)
    stored_count: Mapped[int] = mapped_column(Integer, default=0)
    repaired_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ImportJob(UuidPk, CountyOwned, Base):
    """A layer upload imported in the background (see :mod:`geofence.jobs`).

    ``state`` goes queued → running → done or failed. The process running the import writes
    its counts and ``heartbeat_at`` every few seconds; a job whose heartbeat is older than
    its lease was left by a process that died and is marked failed when next seen.
    ``issues`` holds the first rejections and repairs (capped like a version's report),
    ``error`` the ``code`` and ``detail`` of a failure, ``summary`` the finished import.
    """

    __tablename__ = "geofence_import_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
        Index("ix_geofence_import_jobs_unfinished", "heartbeat_at",
              postgresql_where=column("state").in_(("queued", "running"))),
    )  # fmt: skip

    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    source_name: Mapped[str] = mapped_column(String(255), default="")
    source_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    total: Mapped[int | None] = mapped_column(Integer)
    read_count: Mapped[int] = mapped_column(Integer, default=0)
    stored_count: Mapped[int] = mapped_column(Integer, default=0)
    repaired_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    issues: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    layer_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("geofence_layer_versions.id", ondelete="SET NULL")
    )
    runner: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column()


class Parcel(UuidPk, CountyOwned, Base):
    __tablename__ = "geofence_parcels"
    __table_args__ = (_geog_index("geofence_parcels"),)

    layer_version_id: Mapped[uuid.UUID] = _version_fk()
    feature_no: Mapped[int] = mapped_column(Integer)
    land_class: Mapped[str] = mapped_column(String(32))
    source_code: Mapped[str] = mapped_column(String(32), default="")
    source_name: Mapped[str] = mapped_column(String(100), default="")
    area_m2: Mapped[float] = mapped_column(Float)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    geom: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )


class PlanningZone(UuidPk, CountyOwned, Base):
    __tablename__ = "geofence_planning_zones"
    __table_args__ = (_geog_index("geofence_planning_zones"),)

    layer_version_id: Mapped[uuid.UUID] = _version_fk()
    feature_no: Mapped[int] = mapped_column(Integer)
    zone_kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(100), default="")
    area_m2: Mapped[float] = mapped_column(Float)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    geom: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )


class ChangePolygon(UuidPk, CountyOwned, Base):
    """A satellite change polygon (卫片图斑): a clue, never a penalty basis by itself."""

    __tablename__ = "geofence_change_polygons"
    __table_args__ = (_geog_index("geofence_change_polygons"),)

    layer_version_id: Mapped[uuid.UUID] = _version_fk()
    feature_no: Mapped[int] = mapped_column(Integer)
    monitoring_no: Mapped[str] = mapped_column(String(64))
    batch_year: Mapped[int] = mapped_column(Integer)
    batch_quarter: Mapped[int] = mapped_column(Integer)
    monitored_areas: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    area_m2: Mapped[float] = mapped_column(Float)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    geom: Mapped[object] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )


class MineSite(UuidPk, CountyOwned, Timestamped, Base):
    """A closed illegal mine or a removed dredging boat: current state of the register."""

    __tablename__ = "geofence_mine_sites"
    __table_args__ = (UniqueConstraint("county_id", "code"), _geog_index("geofence_mine_sites"))

    layer_version_id: Mapped[uuid.UUID] = _version_fk()
    code: Mapped[str] = mapped_column(String(64))
    site_kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    mineral: Mapped[str] = mapped_column(String(50), default="")
    closed_on: Mapped[date | None] = mapped_column(Date)
    closure_method: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    #: why the status was last set by hand ("" when set by a check or an import)
    status_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: when the status last changed (``None`` for sites registered before it was kept)
    status_changed_at: Mapped[datetime | None] = mapped_column()
    signboard: Mapped[bool] = mapped_column(Boolean, default=False)
    signboard_text: Mapped[str] = mapped_column(Text, default="")
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    geom: Mapped[object] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=True), nullable=False
    )


class MineSiteRevision(UuidPk, CountyOwned, Base):
    """The state of one site as of one ``mine_sites`` layer version (history, immutable)."""

    __tablename__ = "geofence_mine_site_revisions"
    __table_args__ = (
        UniqueConstraint("site_id", "layer_version_id"),
        _geog_index("geofence_mine_site_revisions"),
    )

    site_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("geofence_mine_sites.id", ondelete="RESTRICT"), index=True
    )
    layer_version_id: Mapped[uuid.UUID] = _version_fk()
    code: Mapped[str] = mapped_column(String(64))
    site_kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    mineral: Mapped[str] = mapped_column(String(50), default="")
    closed_on: Mapped[date | None] = mapped_column(Date)
    closure_method: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    signboard: Mapped[bool] = mapped_column(Boolean, default=False)
    signboard_text: Mapped[str] = mapped_column(Text, default="")
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    geom: Mapped[object] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=True), nullable=False
    )


class RosterMember(UuidPk, CountyOwned, Timestamped, Base):
    """One of the five people responsible for a site (五包一): a user or an external contact."""

    __tablename__ = "geofence_roster_members"
    __table_args__ = (
        UniqueConstraint("site_id", "role"),
        CheckConstraint(
            "user_id IS NOT NULL OR (contact_name <> '' AND contact_phone <> '')",
            name="user_or_contact",
        ),
        CheckConstraint("duty_checks >= 1", name="duty_checks_positive"),
    )

    site_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("geofence_mine_sites.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    duty_period: Mapped[str] = mapped_column(String(16))
    duty_checks: Mapped[int] = mapped_column(Integer, default=1)
