"""Fixtures for case, screening, referral and package tests.

The database is migrated to exactly the branches these services read (foundation, geofence,
patrol, evidence, cases), so parallel work on other branches cannot break these tests.
Evidence rows are written directly (with their original in the real S3 store), as if the
upload flow had accepted them.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from geoalchemy2.elements import WKTElement
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.models import MODEL_MODULES
from evidence.models import Evidence, Upload
from geofence.enums import LandClass, LayerKind
from geofence.layers import new_layer_version
from geofence.models import Parcel
from infra.db import create_engine
from infra.ids import uuid7
from infra.migrate import Migrator
from infra.objectstore import S3ObjectStore
from infra.scope import Principal, Role
from infra.settings import Settings
from patrol.field_models import ContractArea, Finding, PatrolSession
from patrol.models import County, User

TARGETS = ("0002_geofence", "0003_patrol", "0004_evidence", "0005_cases", "heads")  # teams: 0011
LON, LAT = 112.1, 28.5  # the middle of every test county
SIGNING_KEY = "cases-test-package-signing-key-" + "k" * 16


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database)
    migrator = Migrator(engine, MODEL_MODULES)
    for target in TARGETS:
        await migrator.upgrade(target)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def store(settings: Settings) -> S3ObjectStore:
    store = S3ObjectStore(settings.object_store)
    await store.ensure_bucket()
    return store


@dataclass
class World:
    """A county with one principal per role, a second squad officer and an inspector."""

    county_id: uuid.UUID
    province: str
    captain: Principal
    admin: Principal
    squad: Principal
    squad2: Principal
    inspector: Principal
    inspector2: Principal

    @property
    def team(self) -> list[uuid.UUID]:
        return [self.squad.user_id, self.squad2.user_id]


async def _user(db: AsyncSession, county_id: uuid.UUID, role: Role, name: str) -> Principal:
    user = User(
        county_id=county_id,
        username=f"{name}-{secrets.token_hex(5)}",
        display_name=f"{name} 同志",
        role=role.value,
        password_hash="x",
        active=True,
    )
    db.add(user)
    await db.flush()
    return Principal(user_id=user.id, county_id=county_id, role=role, username=user.username)


_PROVINCES: set[str] = set()


def _fresh_province() -> str:
    """A province code of its own (letters, never a real one), so rules added by one test
    never reach another test's cases."""
    while True:
        code = secrets.choice(string.ascii_uppercase) + secrets.choice(string.ascii_uppercase)
        if code not in _PROVINCES:
            _PROVINCES.add(code)
            return code


async def make_world(db: AsyncSession, *, province: str | None = None) -> World:
    province = province or _fresh_province()
    county = County(
        admin_code=f"C{secrets.token_hex(5)}",
        name="案件测试县",
        province_code=province,
        boundary=from_shape(MultiPolygon([box(LON - 0.1, LAT - 0.1, LON + 0.1, LAT + 0.1)]), 4326),
    )
    db.add(county)
    await db.flush()
    world = World(
        county_id=county.id,
        province=province,
        captain=await _user(db, county.id, Role.CAPTAIN, "captain"),
        admin=await _user(db, county.id, Role.ADMIN, "admin"),
        squad=await _user(db, county.id, Role.SECURITY_SQUAD, "squad"),
        squad2=await _user(db, county.id, Role.SECURITY_SQUAD, "squad2"),
        inspector=await _user(db, county.id, Role.INSPECTOR, "inspector"),
        inspector2=await _user(db, county.id, Role.INSPECTOR, "inspector2"),
    )
    await db.commit()
    return world


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    async with session_factory() as session:
        return await make_world(session)


@pytest.fixture
def other_world(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[], Awaitable[World]]:
    async def make() -> World:
        async with session_factory() as session:
            return await make_world(session)

    return make


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
    caption: str = "远景，西侧",
    proves: str = "占用耕地建房的位置和范围",
) -> uuid.UUID:
    """Store ``data`` as an accepted photo original of ``owner``'s county."""
    evidence_id = uuid7()
    key = f"originals/{owner.county_id}/{evidence_id}.jpg"
    await store.put_bytes(key, data, content_type="image/jpeg")
    digest = hashlib.sha256(data).hexdigest()
    now = datetime.now(UTC)
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
    """A patrol with one finding in the world's county (rows written directly)."""
    now = datetime.now(UTC)
    area = ContractArea(
        county_id=world.county_id,
        code=f"A{secrets.token_hex(3)}",
        name="测试片区",
        grade=1,
        geom=from_shape(box(LON - 0.1, LAT - 0.1, LON + 0.1, LAT + 0.1), srid=4326),
        leader_id=world.inspector.user_id,
    )
    db.add(area)
    await db.flush()
    patrol = PatrolSession(
        id=uuid7(),
        county_id=world.county_id,
        area_id=area.id,
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
