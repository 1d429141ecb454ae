"""How the console's files and the documentation pages are served (no browser needed)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from api.controllers.console import console_router, content_policy
from infra.scope import Role
from infra.settings import ObjectStoreSettings, ServerSettings, Settings
from tests.conftest import CountyFixture
from tests.console.conftest import require_build

Client = AsyncTestClient[Litestar]


def _asset(pattern: str) -> str:
    found = [p.name for p in require_build().iterdir() if re.fullmatch(pattern, p.name)]
    assert len(found) == 1, found
    return found[0]


async def test_root_sends_the_browser_to_the_console(client: Client) -> None:
    resp = await client.get("/", follow_redirects=False)
    assert resp.status_code in {301, 302, 307, 308}
    assert resp.headers["location"] == "/console/"


async def test_the_page_needs_no_token_and_is_revalidated(client: Client) -> None:
    require_build()
    for path in ("/console", "/console/", "/console/index.html"):
        resp = await client.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith("text/html")
        assert resp.headers["cache-control"] == "no-cache"
        policy = resp.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "https:" not in policy and "*" not in policy
        assert '<div id="app">' in resp.text
    again = await client.get("/console/", headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304


async def test_hashed_assets_are_cached_for_a_year_and_sent_gzipped(client: Client) -> None:
    script = _asset(r"main-[A-Z0-9]{8}\.js")
    resp = await client.get(f"/console/{script}", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.headers["content-type"].startswith("text/javascript")
    raw = (require_build() / script).read_bytes()
    assert resp.content == raw  # httpx undid the gzip: the same bytes as the file
    worker = _asset(r"maplibre-gl-worker-[A-Z0-9]{8}\.mjs")
    assert (await client.get(f"/console/{worker}")).status_code == 200
    assert gzip.decompress((require_build() / f"{script}.gz").read_bytes()) == raw


async def test_nothing_outside_the_build_is_served(client: Client) -> None:
    for path in (
        "/console/%2e%2e/build.mjs",
        "/console/..%2fpackage.json",
        "/console/nothing-here.js",
        "/console/index.html.gz",
        "/console/docs",
    ):
        resp = await client.get(path)
        assert resp.status_code == 404, path


async def test_the_api_still_wants_a_token(client: Client) -> None:
    assert (await client.get("/api/v1/console/config")).status_code == 401
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_console_config_without_a_basemap(
    client: Client, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    county = await make_county()
    resp = await client.get("/api/v1/console/config", headers=county.headers(Role.INSPECTOR))
    assert resp.status_code == 200
    body = resp.json()
    assert body["basemap"] is None
    assert body["tileUrlTemplate"] == "/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt"
    assert set(body["layers"]) == {"parcels", "planning_zones", "change_polygons", "mine_sites"}


def test_a_basemap_opens_the_policy_to_its_origin_only() -> None:
    url = "https://tiles.example.cn/wmts/{z}/{x}/{y}.png"
    settings = Settings(server=ServerSettings(console_basemap_url=url))
    policy = content_policy(settings)
    assert "img-src 'self' data: blob: https://tiles.example.cn;" in policy
    assert "connect-src 'self' https://tiles.example.cn;" in policy
    assert "script-src 'self';" in policy


def test_the_object_store_serves_images_only() -> None:
    """Evidence thumbnails are presigned GETs of the store's public address; nothing else
    of the page may come from there."""
    store = ObjectStoreSettings(
        endpoint_url="http://127.0.0.1:8001", public_url="http://192.168.1.10:8001/"
    )
    policy = content_policy(Settings(object_store=store))
    assert "img-src 'self' data: blob: http://192.168.1.10:8001;" in policy
    assert "connect-src 'self';" in policy and "127.0.0.1" not in policy
    internal = content_policy(
        Settings(object_store=ObjectStoreSettings(endpoint_url=store.endpoint_url))
    )
    assert "img-src 'self' data: blob: http://127.0.0.1:8001;" in internal


async def test_without_a_build_the_console_says_to_run_make_install(tmp_path: Path) -> None:
    app = Litestar(route_handlers=[console_router(tmp_path)], state=State({"settings": Settings()}))
    async with AsyncTestClient(app=app) as client:
        resp = await client.get("/console/")
    assert resp.status_code == 503
    assert resp.headers["content-type"].startswith("text/html")
    assert "管理端尚未构建" in resp.text and "make install" in resp.text


async def test_docs_pages_load_their_scripts_from_this_server(client: Client) -> None:
    require_build()
    for path in ("/schema", "/schema/swagger"):
        page = (await client.get(path)).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert sources, page[:500]
        for source in sources:
            assert source.startswith("/"), (path, source)
            if source.startswith("/console/docs/"):
                assert (await client.get(source)).status_code == 200, source
        assert "cdn." not in page and "unpkg" not in page, path
