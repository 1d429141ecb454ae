"""The web console's first load, measured in headless Debian chromium over loopback against
``patrol serve`` running as an operator runs it, with a county whose contract area holds the
demo reference layers (400 m parcels, zones, change polygons, mine sites):

* first load bytes: everything the browser fetched, as sent (gzip), from the navigation to
  the map's first rendered features, with an empty cache — the console's own files, and the
  API answers and vector tiles on top (target for the files: <= 1.5 MB);
* time to the map's first rendered features: from the navigation to ``/console/`` (the user
  logged in: the token in sessionStorage) to ``queryRenderedFeatures`` finding parcels
  (target <= 2 s), the median of a few fresh browser contexts.

Run with ``make bench`` (or ``python -m tests.benchmarks bench_console``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import time

import httpx
from playwright.async_api import Browser, Response, async_playwright

from api.controllers.console import CONSOLE_DIST
from infra.scope import Role
from tests.conftest import CountyFixture
from tests.reliability.conftest import served_county

RUNS = 5
PHASES = False  # True: print when each file, answer and tile of a load arrived
TARGET_BYTES = 1_500_000
TARGET_S = 2.0
_FIRST_FEATURES = """() => {
  const map = window.patrolMap;
  return !!map && map.isStyleLoaded() &&
    map.queryRenderedFeatures({ layers: ["parcels-fill"] }).length > 0;
}"""


async def _area(base: str, county: CountyFixture) -> None:
    ring = [[112.0, 28.4], [112.2, 28.4], [112.2, 28.6], [112.0, 28.6], [112.0, 28.4]]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        resp = await http.post(
            "/api/v1/areas",
            headers=county.headers(Role.CAPTAIN),
            json={
                "code": "B1",
                "name": "bench area",
                "grade": 1,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "leaderId": str(county.users[Role.INSPECTOR].id),
            },
        )
        assert resp.status_code == 201, resp.text


def _sent_size(name: str) -> int:
    packed = CONSOLE_DIST / f"{name}.gz"
    return (packed if packed.is_file() else CONSOLE_DIST / name).stat().st_size


async def _load(
    browser: Browser, base: str, county: CountyFixture
) -> tuple[float, int, int, int, set[str]]:
    """Seconds to the first features; bytes of the console's files, of the API, of the tiles."""
    captain = county.users[Role.CAPTAIN]
    token = county.headers(Role.CAPTAIN)["Authorization"].removeprefix("Bearer ")
    me = {
        "id": str(captain.id),
        "username": captain.username,
        "displayName": captain.display_name,
        "role": "captain",
        "county": {"id": str(county.id), "adminCode": "B", "name": "bench"},
    }
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.add_init_script(
        f"sessionStorage.setItem('patrol.console.token', {json.dumps(token)});"
        f"sessionStorage.setItem('patrol.console.me', {json.dumps(json.dumps(me))});"
    )
    page = await context.new_page()
    responses: list[Response] = []
    context.on("response", lambda r: responses.append(r))  # noqa: PLW0108 - a bound method fails
    started = time.perf_counter()
    await page.goto(f"{base}/console/")
    await page.wait_for_function(_FIRST_FEATURES, timeout=30_000, polling=20)
    elapsed = time.perf_counter() - started
    if PHASES:
        entries = await page.evaluate(
            "() => performance.getEntries().map((e) => [e.name.split('/').slice(-4).join('/'),"
            " Math.round(e.startTime), Math.round(e.responseEnd || e.startTime + e.duration)])"
        )
        for name, start, end in entries:
            print(f"  {start:6d} {end:6d} {name}")
    api = tiles = 0
    loaded: set[str] = set()
    for resp in list(responses):
        if "/api/" not in resp.url:
            loaded.add(resp.url.rsplit("/", 1)[-1] or "index.html")
            continue
        sizes = await resp.request.sizes()
        sent = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        if "/api/v1/tiles/" in resp.url:
            tiles += sent
        else:
            api += sent
    # the console's files as sent (their gzip copies), each file the page loaded once; the
    # worker's own fetch is not always reported to the page, so it is counted by name
    loaded |= {p.name for p in CONSOLE_DIST.glob("maplibre-gl-worker-*.mjs")}
    files = sum(_sent_size(name) for name in loaded)
    await context.close()
    return elapsed, files, api, tiles, loaded


async def main() -> None:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run `make install` as root"
    async with served_county("patrol-bench-console-") as (api, county):
        await _area(api.base, county)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium,
                args=["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"],
            )
            await _load(browser, api.base, county)  # warm up: first statements, connections
            runs = [await _load(browser, api.base, county) for _ in range(RUNS)]
            await browser.close()
    times = [r[0] for r in runs]
    files, api_bytes, tiles, loaded = runs[-1][1:]
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| console files, first load (gzip) | {files / 1e6:.2f} MB | "
          f"<= {TARGET_BYTES / 1e6:.1f} MB |")  # fmt: skip
    print(f"| API answers at first load | {api_bytes / 1e3:.0f} kB | |")
    print(f"| vector tiles at first load | {tiles / 1e3:.0f} kB | |")
    print(f"| time to first rendered features, median of {RUNS} | "
          f"{statistics.median(times):.2f} s | <= {TARGET_S:.1f} s |")  # fmt: skip
    print(f"| time to first rendered features, slowest | {max(times):.2f} s | |")
    print(f"\nruns: {', '.join(f'{t:.2f} s' for t in times)}; files: {', '.join(sorted(loaded))}")


if __name__ == "__main__":
    asyncio.run(main())
