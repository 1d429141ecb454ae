"""Fixtures for the evidence tests: a world of their own, a service factory and a kit."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence import ClaimedFix, EvidenceService, NewUpload, NoLayersChecker, UploadTicket
from evidence.models import Evidence
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Principal
from infra.settings import DatabaseSettings, EvidenceSettings, Settings
from tests.jobs import run_jobs
from tests.worlds import World, build_world

# Evidence worlds are square counties around (116.5, 40.0).
INSIDE = (116.4074, 39.9042)
OUTSIDE = (118.5, 41.5)


@pytest.fixture(scope="session")
def evidence_settings(settings: Settings) -> EvidenceSettings:
    return replace(settings.evidence, package_signing_key=secrets.token_urlsafe(32))


@pytest.fixture
def other_world(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession]
) -> Callable[[], Awaitable[World]]:
    """Build another world (see :mod:`tests.worlds`) on demand, in a 1 x 1 degree county
    around (116.5, 40.0)."""

    async def make() -> World:
        return await build_world(session_factory, app.state.tokens, lon=116.5, lat=40.0, size=1.0)

    return make


@pytest.fixture
async def county(other_world: Callable[[], Awaitable[World]]) -> World:
    return await other_world()


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
