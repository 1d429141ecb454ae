"""Heavy geometry work leaves the event loop free: a 100k-vertex overlay through the real app.

The app is built with ``create_app`` and driven through ``httpx.ASGITransport`` so that it
runs on the test's own event loop; a ticker task on that loop records the largest gap between
its ticks while the overlay runs, and a concurrent ``/health`` request is timed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from geofence import seed_demo_layers
from geofence.overlay import MAX_OVERLAY_VERTICES
from infra.scope import Role
from infra.settings import Settings
from tests.conftest import CountyFixture, record_loop_gaps
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


async def test_a_large_overlay_does_not_stall_other_requests(
    settings: Settings,
    make_county: Callable[..., Awaitable[CountyFixture]],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    county = await _seeded(make_county, session_factory)
    async with app_on_this_loop(settings) as http:
        await _overlay_beside_a_ticker(http, county.headers(Role.INSPECTOR))


async def _overlay_beside_a_ticker(loop_client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    small = await loop_client.post(
        OVERLAY, json={"polygon": ring_polygon(64, 0.03)}, headers=headers
    )
    assert small.status_code == 200, small.text  # the county's index is loaded now
    # encoded before the ticker starts: the client's own JSON encoding is not the server's
    content = json.dumps({"polygon": ring_polygon(100_000, 0.03)}).encode()
    gaps: list[float] = []
    done = asyncio.Event()

    # the same ticker with nothing else to do: what this machine's load alone costs
    ticker = asyncio.create_task(record_loop_gaps(gaps, done, 0.005))
    await asyncio.sleep(1.0)
    done.set()
    await ticker
    baseline = max(gaps)
    gaps.clear()
    done.clear()

    async def health_during() -> float:
        # from when it was due: a stalled loop delays the request before it is even sent
        due = time.perf_counter() + 0.3
        await asyncio.sleep(0.3)
        answer = await loop_client.get("/health")
        assert answer.status_code == 200
        return time.perf_counter() - due

    ticker = asyncio.create_task(record_loop_gaps(gaps, done, 0.005))
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    try:
        overlay, health_s = await asyncio.gather(
            loop_client.post(
                OVERLAY,
                content=content,
                headers={**headers, "Content-Type": "application/json"},
            ),
            health_during(),
        )
    finally:
        took = time.perf_counter() - started
        done.set()
        await ticker
    assert overlay.status_code == 200, overlay.text
    assert overlay.json()["areaM2"] > 2_000_000
    worst = max(gaps)
    print(
        f"overlay {took:.2f} s; largest loop gap {worst * 1000:.1f} ms (idle loop on this "
        f"machine: {baseline * 1000:.1f} ms); /health {health_s:.3f} s"
    )
    assert took > 0.3  # long enough that a stalled loop would show
    # Work done on the event loop would show as one gap of most of the overlay's time (it was
    # 3.8 s of 4.4 s on main before the fix). The gap in milliseconds depends on the machine's
    # load, so the millisecond target (50 ms) is measured by bench_reliability.py, not here:
    # this test holds the loop to a small share of the overlay, whatever the load.
    assert worst < 0.25 * took, f"the event loop stalled {worst * 1000:.0f} ms of {took:.2f} s"
    assert health_s < 0.25 * took, f"/health waited {health_s:.2f} s of {took:.2f} s"


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
