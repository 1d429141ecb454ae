"""The web console in headless Debian chromium against the real app on a real port.

A captain of a county with a contract area and a mine site logs in, sees the map with the
area and the site drawn from the vector tiles (asked of MapLibre with queryRenderedFeatures)
and the legend, clicks the site and reads its attributes and the location check; an
inspector logs in and has no administration menu. Screenshots go to ``docs/screenshots/``
(git-ignored: made fresh by every run).
"""

from __future__ import annotations

import secrets

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Role
from tests.console.conftest import (
    RENDERED,
    SCREENSHOTS,
    TIMEOUT_MS,
    VIEWPORT,
    log_in,
    rendered,
    watch,
)
from tests.worlds import World, build_world

LON, LAT, SIZE = 112.1, 28.5, 0.2
SITE_LON, SITE_LAT = LON - SIZE / 4, LAT  # inside the world's area (the county's west half)


@pytest.fixture
async def world(
    app: Litestar,
    session_factory: async_sessionmaker[AsyncSession],
    client: AsyncTestClient[Litestar],
) -> World:
    built = await build_world(session_factory, app.state.tokens, lon=LON, lat=LAT, size=SIZE)
    half = 0.002
    ring = [
        [SITE_LON - half, SITE_LAT - half],
        [SITE_LON + half, SITE_LAT - half],
        [SITE_LON + half, SITE_LAT + half],
        [SITE_LON - half, SITE_LAT + half],
        [SITE_LON - half, SITE_LAT - half],
    ]
    resp = await client.post(
        "/api/v1/geofence/mine-sites",
        headers=built.headers(Role.CAPTAIN),
        json={
            "code": f"KS{secrets.token_hex(3)}",
            "name": "青石岭采石场",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "status": "signs_of_reopening",
        },
    )
    assert resp.status_code == 201, resp.text
    return built


async def test_captain_sees_area_and_site_and_clicks_the_site(
    live_url: str, browser: Browser, world: World
) -> None:
    captain = world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    # captains land on the overview; the map is the next entry
    await page.wait_for_selector("nav a[data-page=overview][aria-current=page]")
    await page.locator("nav a[data-page=map]").click()

    areas = await rendered(page, ["areas-fill", "areas-line"])
    assert {a["code"] for a in areas} == {"A1"}
    sites = await rendered(page, ["mine_sites-fill", "mine_sites-circle"])
    assert {s["name"] for s in sites} == {"青石岭采石场"}
    assert {s["status"] for s in sites} == {"signs_of_reopening"}

    legend = await page.locator(".legend").inner_text()
    for words in (
        "图例与图层",
        "承包区域",
        "地类图斑",
        "规划分区",
        "变化图斑",
        "矿点",
        "有复采迹象",
    ):
        assert words in legend, legend
    admin_menu = await page.locator("nav a[data-page=users]").count()
    assert admin_menu == 0  # captains manage the field work, not the accounts
    assert await page.locator("nav a[data-page=cases]").count() == 1

    # a click on the site: its attributes, its coordinates and the location check
    x, y = await page.evaluate(
        "([lon, lat]) => { const p = window.patrolMap.project([lon, lat]); return [p.x, p.y]; }",
        [SITE_LON, SITE_LAT],
    )
    await page.locator("#map canvas").click(position={"x": x, "y": y})
    panel = page.locator("#feature-panel")
    await panel.locator("section.feature[data-layer=mine_sites]").wait_for()
    await panel.locator(".hits li").first.wait_for()
    text = await panel.inner_text()
    assert "青石岭采石场" in text and "有复采迹象" in text, text
    assert "位置核查" in text and "WGS84" in text, text
    await panel.get_by_role("button", name="显示 GCJ-02 坐标").click()
    assert await panel.locator(".gcj02").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "console-map-captain.png"))

    # the layer toggle hides the areas from the rendering
    await page.get_by_label("承包区域").uncheck()
    await page.wait_for_function(
        f"() => {{ const f = ({RENDERED})(['areas-fill']); return f !== null && f.length === 0; }}",
        timeout=TIMEOUT_MS,
    )
    await page.get_by_label("承包区域").check()
    await rendered(page, ["areas-fill"])
    assert errors == [], errors
    await page.context.close()


async def test_inspector_has_no_admin_menu_and_a_lost_token_means_login(
    live_url: str, browser: Browser, world: World
) -> None:
    inspector = world.county.users[Role.INSPECTOR]
    page, errors = await log_in(browser, live_url, inspector.username)
    menu = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.dataset.page)")
    assert "map" in menu and "my-patrols" in menu
    assert not {"users", "regions", "layers", "devices"} & set(menu), menu
    await rendered(page, ["areas-fill"])  # the inspector leads the area
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "console-map-inspector.png"))

    # a page of the menu, then the English switch
    await page.locator("nav a[data-page=my-patrols]").click()
    await page.get_by_role("heading", name="我的巡查").wait_for()
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="My patrols").wait_for()
    await page.get_by_role("button", name="中文").click()
    await page.locator("#pt-table, #pt-empty").first.wait_for()  # its list has come

    # a token the server no longer takes: the next call answers 401 and the login comes back
    await page.evaluate("() => sessionStorage.setItem('patrol.console.token', 'not-a-token')")
    await page.locator("nav a[data-page=map]").click()
    await page.get_by_text("登录已失效，请重新登录。").wait_for()
    assert await page.get_by_label("用户名").is_visible()
    assert [e for e in errors if "401" not in e] == [], errors
    await page.context.close()


async def test_docs_pages_load_nothing_from_another_origin(live_url: str, browser: Browser) -> None:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    errors = watch(page)
    await page.goto(f"{live_url}/schema/swagger")
    # Swagger UI draws long documents virtually (only what is in view): the first tag's
    # operations show that the document loaded and the page drew it
    await page.locator(".opblock-summary-path", has_text="/api/v1/auth/token").wait_for()
    await page.goto(f"{live_url}/schema")
    await page.get_by_role("heading", name="Field patrol and inspection API").first.wait_for()
    await page.wait_for_timeout(3000)  # what the page asks for once it is drawn
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "docs-scalar.png"))
    foreign = [u for u in requested if not u.startswith((live_url, "data:", "blob:"))]
    assert foreign == [], foreign
    assert errors == [], errors
    await context.close()
