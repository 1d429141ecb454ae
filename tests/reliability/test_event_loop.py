"""Heavy geometry work leaves the event loop free: a 100k-vertex overlay through the real app.

The app is built with ``create_app`` and driven through ``httpx.ASGITransport`` so that it
runs on the test's own event loop; the geometry work is shown to run on worker threads, not on
that loop, while a concurrent ``/health`` request is answered.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from geofence import overlay as overlay_module
from geofence import seed_demo_layers
from geofence.overlay import MAX_OVERLAY_VERTICES
from infra.scope import Role
from infra.settings import Settings
from tests.conftest import CountyFixture, record_threads
from tests.reliability.conftest import ring_polygon

OVERLAY = "/api/v1/geofence/overlay"
LON, LAT = 112.1, 28.5


@asynccontextmanager
async def app_on_this_loop(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, with its lifespan, on this test's event loop (the shared test client runs
    it on a loop of its own, where a ticker here could not see it). Entered and left in one
    task, as the lifespan's task group requires."""
    app: Litestar = create_app(settings)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # ASGI types differ
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


async def _seeded(
    make_county: Callable[..., Awaitable[CountyFixture]],
    session_factory: async_sessionmaker[AsyncSession],
) -> CountyFixture:
    county = await make_county(lon=LON, lat=LAT, size=0.2)
    box = shapely.box(LON - 0.1, LAT - 0.1, LON + 0.1, LAT + 0.1)
    async with session_factory() as session:
        await seed_demo_layers(session, county.id, box, parcel_side_m=400.0)
        await session.commit()
    return county


async def test_a_large_overlay_runs_off_the_event_loop(
    settings: Settings,
    make_county: Callable[..., Awaitable[CountyFixture]],
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    county = await _seeded(make_county, session_factory)
    async with app_on_this_loop(settings) as http:
        await _overlay_beside_health(http, county.headers(Role.INSPECTOR), monkeypatch)


async def _overlay_beside_health(
    loop_client: httpx.AsyncClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    small = await loop_client.post(
        OVERLAY, json={"polygon": ring_polygon(64, 0.03)}, headers=headers
    )
    assert small.status_code == 200, small.text  # the county's index is loaded now
    content = json.dumps({"polygon": ring_polygon(100_000, 0.03)}).encode()
    calls = record_threads(monkeypatch, overlay_module, "_parse", "_overlay")
    overlay, health = await asyncio.gather(
        loop_client.post(
            OVERLAY, content=content, headers={**headers, "Content-Type": "application/json"}
        ),
        loop_client.get("/health"),
    )
    assert overlay.status_code == 200, overlay.text
    assert overlay.json()["areaM2"] > 2_000_000
    assert health.status_code == 200
    # Parsing the polygon and the overlay itself ran on worker threads, never on the event
    # loop (work on the loop stalled it 3.8 s of a 4.4 s overlay before the fix). How long the
    # loop waits is measured by bench_reliability.py, not asserted here.
    assert [name for name, _ in calls] == ["_parse", "_overlay"]
    loop_thread = threading.get_ident()
    assert all(thread != loop_thread for _, thread in calls), calls


async def test_an_overlay_above_the_vertex_limit_is_refused(
    client: AsyncTestClient[Litestar], make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    polygon = ring_polygon(MAX_OVERLAY_VERTICES + 1, 0.03)
    resp = await client.post(
        OVERLAY, json={"polygon": polygon}, headers=county.headers(Role.INSPECTOR)
    )
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["code"] == "too_many_vertices"
    assert problem["details"]["limit"] == MAX_OVERLAY_VERTICES
    assert problem["errors"][0]["field"] == "polygon"
    assert resp.headers["content-type"].startswith("application/problem+json")
