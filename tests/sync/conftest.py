"""Fixtures for sync tests: a county with an area, targets, a plan, layers and a mine site,
and a simulated phone that keeps its own store and talks to the real app."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence.enums import LayerKind
from geofence.layers import new_layer_version
from geofence.mines import RosterMemberInput, SiteInput, create_mine_site, set_roster_member
from geofence.store import insert_features
from infra.scope import Role
from patrol.areas import AreaService
from patrol.plans import PlanService
from tests import clock
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
COLLECTIONS = (
    "areas", "targets", "plans", "mineSites", "patrols", "findings", "features", "cases",
    "satelliteTasks",
)  # fmt: skip


def square(lon: float, lat: float, size: float) -> dict[str, Any]:
    return dict(shapely.geometry.mapping(shapely.box(lon, lat, lon + size, lat + size)))


@dataclass
class SyncWorld:
    """A county (the shared builder's) with what a phone syncs: see :func:`build_sync_world`."""

    county: CountyFixture
    area_id: uuid.UUID
    other_area_id: uuid.UUID
    site_id: uuid.UUID
    parcels_in: int

    def headers(self, role: Role = Role.INSPECTOR) -> dict[str, str]:
        return self.county.headers(role)


async def add_parcels(
    session: AsyncSession, county_id: uuid.UUID, boxes: list[shapely.Geometry]
) -> uuid.UUID:
    version = await new_layer_version(session, county_id, LayerKind.PARCELS, source_name="t")
    rows = [
        {"feature_no": i + 1, "land_class": "cultivated", "source_code": "0103",
         "source_name": "水田", "area_m2": 1000.0, "attrs": {},
         "wkb": shapely.to_wkb(shapely.MultiPolygon([b]))}
        for i, b in enumerate(boxes)
    ]  # fmt: skip
    await insert_features(session, LayerKind.PARCELS, county_id, version.id, rows)
    return version.id


async def build_sync_world(
    county: CountyFixture, factory: async_sessionmaker[AsyncSession], *, parcels: int = 20
) -> SyncWorld:
    """Area A1 (led by the inspector) at the county's west, A2 (not theirs) at the east."""
    lon, lat = 112.1, 28.5
    captain = county.principal(Role.CAPTAIN)
    inspector = county.users[Role.INSPECTOR]
    async with factory() as session:
        areas = AreaService(session)
        a1 = await areas.create_area(
            captain,
            code="A1",
            name="西片区",
            grade=1,
            geometry=square(lon - 0.09, lat - 0.05, 0.08),
            leader_id=inspector.id,
        )
        a2 = await areas.create_area(
            captain,
            code="A2",
            name="东片区",
            grade=2,
            geometry=square(lon + 0.01, lat - 0.05, 0.08),
            leader_id=county.users[Role.CAPTAIN].id,
        )
        await areas.add_target(captain, a1.id, kind="custom", name="T1", lon=lon - 0.05, lat=lat)
        await areas.add_target(captain, a2.id, kind="custom", name="T2", lon=lon + 0.05, lat=lat)
        await PlanService(session).upsert_plan(
            captain,
            a1.id,
            clock.this_month(),
            quota=6,
            min_per_week=1,
            inspector_ids=[inspector.id],
        )
        per_row = max(1, int(parcels**0.5))
        size = 0.07 / per_row
        boxes = [
            shapely.box(lon - 0.085 + (i % per_row) * size, lat - 0.045 + (i // per_row) * size,
                        lon - 0.085 + (i % per_row) * size + size * 0.9,
                        lat - 0.045 + (i // per_row) * size + size * 0.9)
            for i in range(parcels)
        ]  # fmt: skip
        boxes.append(shapely.box(lon + 0.03, lat, lon + 0.031, lat + 0.001))  # in A2 only
        await add_parcels(session, county.id, boxes)
        site = await create_mine_site(
            session,
            captain,
            SiteInput(code="M1", name="关停矿点", geometry=shapely.Point(lon - 0.04, lat + 0.01)),
        )
        await set_roster_member(
            session,
            captain,
            site.id,
            RosterMemberInput(role="land_resources_staff", user_id=inspector.id),
        )
        await session.commit()
    return SyncWorld(county, a1.id, a2.id, site.id, parcels)


@pytest.fixture
def make_world(
    make_county: Callable[..., Awaitable[CountyFixture]],
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[..., Awaitable[SyncWorld]]:
    async def make(*, parcels: int = 20) -> SyncWorld:
        return await build_sync_world(await make_county(), session_factory, parcels=parcels)

    return make


@dataclass
class Phone:
    """A phone: its own store of synced records, a cursor, and an outbox of operations."""

    client: Client
    headers: dict[str, str]
    store: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {c: {} for c in COLLECTIONS}
    )
    cursor: str | None = None
    outbox: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    msgpack: bool = False

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        if self.msgpack:
            headers = {
                **self.headers,
                "Content-Type": "application/msgpack",
                "Accept": "application/msgpack",
            }
            resp = await self.client.post(
                path, content=msgspec.msgpack.encode(body), headers=headers
            )
            assert resp.status_code == 200, resp.text
            return msgspec.msgpack.decode(resp.content)
        resp = await self.client.post(path, json=body, headers=self.headers)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def apply(self, page: dict[str, Any]) -> None:
        if page["reset"]:
            self.store = {c: {} for c in COLLECTIONS}
        for name, changes in page["changes"].items():
            for rid in changes["deletes"]:
                self.store[name].pop(rid, None)
            for rec in changes["upserts"]:
                self.store[name][rec["id"]] = rec

    async def pull_page(self, limit: int = 2000, *, lose_answer: bool = False) -> dict[str, Any]:
        page: dict[str, Any] = await self.post(
            "/api/v1/sync/pull", {"cursor": self.cursor, "limit": limit}
        )
        if lose_answer:
            return page
        self.pages.append(page)
        self.apply(page)
        self.cursor = page["cursor"]
        return page

    async def sync(self, limit: int = 2000) -> int:
        """Pull until nothing more; returns how many pages it took."""
        n = 0
        while True:
            page = await self.pull_page(limit)
            n += 1
            if not page["hasMore"]:
                return n

    def ids(self, name: str) -> set[str]:
        return set(self.store[name])

    async def push(self, *, lose_answer: bool = False) -> list[dict[str, Any]]:
        body = {"ops": self.outbox, "deviceTime": clock.now().isoformat()}
        answer = await self.post("/api/v1/sync/push", body)
        if not lose_answer:
            self.outbox = []
        receipts: list[dict[str, Any]] = answer["receipts"]
        return receipts


@pytest.fixture
def phone(client: Client) -> Callable[..., Phone]:
    def make(headers: dict[str, str], *, msgpack: bool = False) -> Phone:
        return Phone(client=client, headers=headers, msgpack=msgpack)

    return make
