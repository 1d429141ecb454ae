"""Fixtures for case, screening, referral and package tests.

The database is the session's, migrated to the full head like every test package; the world
is the shared one (:mod:`tests.worlds`) around (112.1, 28.5). Evidence rows are written
directly (with their original in the real S3 store), as if the upload flow had accepted them.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from geoalchemy2.elements import WKTElement
from geoalchemy2.shape import from_shape
from litestar import Litestar
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.package_keys import PackageKeyring
from evidence.models import Evidence, Upload
from geofence.enums import LandClass, LayerKind
from geofence.layers import new_layer_version
from geofence.models import Parcel
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Principal
from patrol.field_models import Finding, PatrolSession
from tests import clock
from tests.worlds import World, build_world, fresh_province

LON, LAT = 112.1, 28.5  # the middle of every test county
SIGNING_KEY = "cases-test-package-signing-key-" + "k" * 16


@pytest.fixture
def other_world(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession]
) -> Callable[[], Awaitable[World]]:
    """Build another world (see :mod:`tests.worlds`) on demand, each in a province of its own
    so that rules added by one test never reach another test's cases."""

    async def make() -> World:
        return await build_world(session_factory, app.state.tokens, province=fresh_province())

    return make


@pytest.fixture
def package_keys(tmp_path: Path) -> PackageKeyring:
    """A package keyring of the test's own (its key pair made on first use)."""
    return PackageKeyring(tmp_path / "package-keys")


@pytest.fixture
async def world(other_world: Callable[[], Awaitable[World]]) -> World:
    return await other_world()


def square(lon: float, lat: float, side_m: float) -> Polygon:
    """A square of about ``side_m`` metres centred on (lon, lat)."""
    dlat = side_m / 111_320 / 2
    dlon = side_m / (111_320 * 0.8788) / 2  # cos(28.5°)
    return box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def geojson(poly: Polygon) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [[list(c) for c in poly.exterior.coords]]}


async def add_parcels(db: AsyncSession, county_id: uuid.UUID) -> None:
    """West half of the county is permanent basic farmland, east half other cultivated land."""
    version = await new_layer_version(db, county_id, LayerKind.PARCELS, source_name="test")
    halves = [
        (LandClass.PERMANENT_BASIC_FARMLAND, box(LON - 0.1, LAT - 0.1, LON, LAT + 0.1)),
        (LandClass.CULTIVATED, box(LON, LAT - 0.1, LON + 0.1, LAT + 0.1)),
    ]
    for n, (land_class, geom) in enumerate(halves, start=1):
        db.add(
            Parcel(
                county_id=county_id,
                layer_version_id=version.id,
                feature_no=n,
                land_class=land_class.value,
                area_m2=0.0,
                attrs={},
                geom=from_shape(MultiPolygon([geom]), srid=4326),
            )
        )
    await db.commit()


async def add_evidence(
    db: AsyncSession,
    store: S3ObjectStore,
    owner: Principal,
    data: bytes,
    *,
    lon: float = LON,
    lat: float = LAT,
    finding_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    tip_off_id: uuid.UUID | None = None,
    caption: str = "远景，西侧",
    proves: str = "占用耕地建房的位置和范围",
) -> uuid.UUID:
    """Store ``data`` as an accepted photo original of ``owner``'s county (naming the finding,
    case or tip-off given)."""
    evidence_id = uuid7()
    key = f"originals/{owner.county_id}/{evidence_id}.jpg"
    await store.put_bytes(key, data, content_type="image/jpeg")
    digest = hashlib.sha256(data).hexdigest()
    now = clock.now()
    db.add(
        Upload(
            id=evidence_id,
            county_id=owner.county_id,
            uploader_id=owner.user_id,
            status="accepted",
            object_key=key,
            kind="photo",
            content_type="image/jpeg",
            file_name=f"IMG_{evidence_id.hex[:6]}.jpg",
            size_bytes=len(data),
            sha256=digest,
            device_lon=lon,
            device_lat=lat,
            device_accuracy_m=5.0,
            finding_id=finding_id,
            case_id=case_id,
            tip_off_id=tip_off_id,
            caption=caption,
            proves=proves,
            heading_deg=135.0,
            completed_at=now,
        )
    )
    await db.flush()
    db.add(
        Evidence(
            id=evidence_id,
            county_id=owner.county_id,
            kind="photo",
            media_type="image/jpeg",
            size_bytes=len(data),
            sha256=digest,
            original_key=key,
            captured_at=now,
            captured_at_source="exif",
            received_at=now,
            geom=WKTElement(f"POINT({lon} {lat})", srid=4326),
            lon=lon,
            lat=lat,
            position_source="file",
            position_accuracy_m=5.0,
            file_meta={"make": "TestMake", "model": "TestPhone"},
            trust={},
            flags=[],
            location_check={},
            accepted_by=owner.user_id,
        )
    )
    await db.commit()
    return evidence_id


async def make_finding(db: AsyncSession, world: World) -> uuid.UUID:
    """A patrol of area A1 with one finding (rows written directly)."""
    now = clock.now()
    patrol = PatrolSession(
        id=uuid7(),
        county_id=world.county_id,
        area_id=world.area.id,
        inspector_id=world.inspector.user_id,
        started_at=now,
    )
    db.add(patrol)
    await db.flush()
    finding = Finding(
        id=uuid7(),
        county_id=world.county_id,
        session_id=patrol.id,
        reported_by=world.inspector.user_id,
        found_at=now,
        project_name="河道采砂点",
        construction_status="active",
        geom=WKTElement(f"POINT({LON} {LAT})", srid=4326),
    )
    db.add(finding)
    await db.commit()
    return finding.id
