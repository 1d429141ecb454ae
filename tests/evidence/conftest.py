"""Fixtures for the evidence tests: a county with users, the object store, a service factory."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from geoalchemy2 import WKTElement
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence import ClaimedFix, EvidenceService, NewUpload, NoLayersChecker, UploadTicket
from evidence.models import Evidence
from infra.ids import uuid7
from infra.launchers import LocalServices
from infra.objectstore import S3ObjectStore
from infra.scope import Principal, Role
from infra.settings import DatabaseSettings, EvidenceSettings, Settings
from patrol.models import County, User
from tests.jobs import run_jobs

# A square county around (116.5, 40.0).
WEST, SOUTH, EAST, NORTH = 116.0, 39.5, 117.0, 40.5
INSIDE = (116.4074, 39.9042)
OUTSIDE = (118.5, 41.5)


@dataclass(frozen=True)
class CountyUsers:
    county_id: object
    inspector: Principal
    inspector2: Principal
    captain: Principal
    squad: Principal


@pytest.fixture(scope="session")
def evidence_settings(settings: Settings) -> EvidenceSettings:
    return replace(settings.evidence, package_signing_key=secrets.token_urlsafe(32))


@pytest.fixture(scope="session")
async def store(services: LocalServices) -> S3ObjectStore:
    store = S3ObjectStore(services.object_store)
    await store.ensure_bucket()
    return store


async def make_county(session_factory: async_sessionmaker[AsyncSession]) -> CountyUsers:
    county_id = uuid7()
    ring = f"{WEST} {SOUTH}, {EAST} {SOUTH}, {EAST} {NORTH}, {WEST} {NORTH}, {WEST} {SOUTH}"
    principals: dict[str, Principal] = {}
    async with session_factory() as session:
        session.add(
            County(
                id=county_id,
                admin_code=str(secrets.randbelow(10**12)).zfill(12),
                name="Test county",
                province_code="11",
                boundary=WKTElement(f"MULTIPOLYGON((({ring})))", srid=4326),
            )
        )
        await session.flush()
        for name, role in (
            ("inspector", Role.INSPECTOR),
            ("inspector2", Role.INSPECTOR),
            ("captain", Role.CAPTAIN),
            ("squad", Role.SECURITY_SQUAD),
        ):
            user_id = uuid7()
            username = f"{name}-{user_id.hex[:12]}"
            session.add(
                User(
                    id=user_id,
                    county_id=county_id,
                    username=username,
                    display_name=name,
                    role=role.value,
                    password_hash="x",
                )
            )
            principals[name] = Principal(user_id, county_id, role, username)
        await session.commit()
    return CountyUsers(county_id=county_id, **principals)


@pytest.fixture
async def county(session_factory: async_sessionmaker[AsyncSession]) -> CountyUsers:
    return await make_county(session_factory)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


def service(
    session: AsyncSession, store: S3ObjectStore, evidence_settings: EvidenceSettings, **kw: object
) -> EvidenceService:
    return EvidenceService(session, store, evidence_settings, NoLayersChecker(), **kw)  # type: ignore[arg-type]


def declaration(
    data: bytes,
    content_type: str,
    *,
    evidence_id: object | None = None,
    lon: float = INSIDE[0],
    lat: float = INSIDE[1],
    **kw: object,
) -> NewUpload:
    digest = hashlib.md5(data, usedforsecurity=False).digest()
    values: dict[str, object] = {
        "evidence_id": evidence_id or uuid7(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": content_type,
        "content_md5": base64.b64encode(digest).decode(),
        "fix": ClaimedFix(lon=lon, lat=lat, accuracy_m=8.0),
        "file_name": "IMG_0001.jpg",
    }
    values.update(kw)
    return NewUpload(**values)  # type: ignore[arg-type]


async def send(http: httpx.AsyncClient, ticket: UploadTicket, data: bytes) -> None:
    """PUT every requested part (or the single file) exactly as the ticket says."""
    for item in ticket.requests:
        if item.part_number is None:
            body = data
        else:
            assert ticket.part_size is not None
            start = (item.part_number - 1) * ticket.part_size
            body = data[start : start + ticket.part_size]
        response = await http.request(
            item.request.method, item.request.url, content=body, headers=item.request.headers
        )
        assert response.status_code == 200, response.text


@dataclass
class Kit:
    """Everything a test needs to drive the service like a controller would."""

    session_factory: async_sessionmaker[AsyncSession]
    store: S3ObjectStore
    settings: EvidenceSettings
    http: httpx.AsyncClient
    database: DatabaseSettings

    def service(self, session: AsyncSession, **kw: object) -> EvidenceService:
        return service(session, self.store, self.settings, **kw)

    async def create(self, principal: Principal, new: NewUpload) -> UploadTicket:
        async with self.session_factory() as session:
            ticket = await self.service(session).create_upload(principal, new)
            await session.commit()
        return ticket

    async def get(self, principal: Principal, new: NewUpload) -> UploadTicket:
        async with self.session_factory() as session:
            ticket = await self.service(session).get_upload(principal, new.evidence_id)
            await session.commit()
        return ticket

    async def complete(self, principal: Principal, new: NewUpload) -> Evidence:
        async with self.session_factory() as session:
            evidence = await self.service(session).complete_upload(principal, new.evidence_id)
            await session.commit()
        return evidence

    async def send(self, ticket: UploadTicket, data: bytes) -> None:
        await send(self.http, ticket, data)

    async def accept(
        self, principal: Principal, data: bytes, content_type: str, **kw: Any
    ) -> Evidence:
        """Create, send and complete one upload; return the accepted evidence."""
        new = declaration(data, content_type, **kw)
        ticket = await self.create(principal, new)
        await self.send(ticket, data)
        return await self.complete(principal, new)

    async def run_jobs(self, *, caption_font: str | None = None) -> None:
        """Run every due job (derivatives), with another caption font if given."""
        evidence = self.settings
        if caption_font is not None:
            evidence = replace(evidence, caption_font=caption_font)
        await run_jobs(self.database, self.session_factory, self.store, evidence)


@pytest.fixture
def kit(
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    evidence_settings: EvidenceSettings,
    http: httpx.AsyncClient,
    settings: Settings,
) -> Kit:
    return Kit(session_factory, store, evidence_settings, http, settings.database)
