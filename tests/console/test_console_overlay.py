"""The map page's land-class breakdown (地类分析) in headless Debian chromium against the real app.

A county with the demo layers (parcels, planning zones, change polygons, mine sites) and a
closed mine of our own. A captain draws an area over the parcels around that mine by clicking
its corners on the map and double-clicking the last: the sheet shows the area in m² and mu, a
bar per land class and the table by land class, the current use, the plan's zones, the mine
and the change polygons, each figure what ``OverlayArea`` answers the test for the very
polygon the page sent. The polygon stays on the map when the sheet is closed and goes when it
is cleared; Esc cancels a drawing; a boundary that crosses itself (closed with 完成) is refused
with the API's message next to the tool. An inspector loads an area from a GeoJSON file and
sees its breakdown; one outside the county and one of more corners than the API takes are
refused with the API's message. A security-squad officer draws an area from the keyboard
(moving the map with the arrow keys and adding its centre). The screenshot goes to
``docs/screenshots/console-map-overlay.png``.
"""

from __future__ import annotations

import json
import secrets
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Page
from shapely.geometry import box
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence import seed_demo_layers
from infra.scope import Role
from mobile_contract.v1.geofence import MAX_OVERLAY_VERTICES
from tests.console.conftest import RENDERED, SCREENSHOTS, TIMEOUT_MS, log_in, rendered
from tests.reliability.conftest import ring_polygon
from tests.worlds import World, build_world

Client = AsyncTestClient[Litestar]
LON, LAT, SIZE = 112.6, 28.1, 0.2
WEST = LON - SIZE / 2  # the world's area A1 is the county's west half
SITE_LON, SITE_LAT = WEST + 0.05, LAT
# the drawn area: a square of about 2 km around the mine, corners counter-clockwise
D = 0.01
CORNERS = [
    (SITE_LON - D, SITE_LAT - D),
    (SITE_LON + D, SITE_LAT - D),
    (SITE_LON + D, SITE_LAT + D),
    (SITE_LON - D, SITE_LAT + D),
]
OVERLAY = "/api/v1/geofence/overlay"
LAND_CLASS = {
    "permanent_basic_farmland": "永久基本农田",
    "cultivated": "耕地",
    "other_farmland": "其他农用地",
    "construction_approved": "已批建设用地",
    "construction_unapproved": "未批建设用地",
    "unused": "未利用地",
    "other": "其他",
}
ZONE = {
    "basic_farmland": "永久基本农田保护红线",
    "ecological_redline": "生态保护红线",
    "urban_development": "城镇开发边界",
    "village_construction": "村庄建设边界",
    "other": "其他分区",
}


def _shown(value: float | None) -> str:
    """An area as the page shows it: two places (the number's exact value rounded half up,
    as ``toLocaleString`` does) with thousands separators; a dash when there is none."""
    if value is None:
        return "—"
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


@pytest.fixture
async def world(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession], client: Client
) -> tuple[World, str]:
    built = await build_world(session_factory, app.state.tokens, lon=LON, lat=LAT, size=SIZE)
    outline = box(LON - SIZE / 2, LAT - SIZE / 2, LON + SIZE / 2, LAT + SIZE / 2)
    async with session_factory() as db:
        await seed_demo_layers(db, built.county_id, outline, parcel_side_m=400.0)
        await db.commit()
    code = f"KS{secrets.token_hex(3)}"
    half = 0.002
    resp = await client.post(
        "/api/v1/geofence/mine-sites",
        headers=built.headers(Role.CAPTAIN),
        json={
            "code": code,
            "name": "青石岭采石场",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [SITE_LON - half, SITE_LAT - half],
                        [SITE_LON + half, SITE_LAT - half],
                        [SITE_LON + half, SITE_LAT + half],
                        [SITE_LON - half, SITE_LAT + half],
                        [SITE_LON - half, SITE_LAT - half],
                    ]
                ],
            },
            "status": "closed",
        },
    )
    assert resp.status_code == 201, resp.text
    return built, code


async def _overlay(base: str, world: World, role: Role, polygon: Any) -> Any:
    """What the server the page uses answers for ``polygon``, in the page's language."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        resp = await http.post(
            OVERLAY,
            headers={**world.headers(role), "Accept-Language": "zh-CN"},
            json={"polygon": polygon},
        )
    return resp.status_code, resp.json()


async def _open_map(page: Page) -> None:
    await page.locator("nav a[data-page=map]").click()
    await rendered(page, ["parcels-fill"])
    await page.get_by_role("button", name="绘制范围").wait_for()


async def _pixel(page: Page, lon: float, lat: float) -> dict[str, float]:
    x, y = await page.evaluate(
        "([lon, lat]) => { const p = window.patrolMap.project([lon, lat]); return [p.x, p.y]; }",
        [lon, lat],
    )
    return {"x": x, "y": y}


async def _on_map(page: Page, layer: str) -> int:
    """How many features of the drawn area's ``layer`` the map renders, once it is loaded."""
    found = await page.wait_for_function(
        f"(layers) => {{ const f = ({RENDERED})(layers); return f === null ? null : [f.length]; }}",
        arg=[layer],
        timeout=TIMEOUT_MS,
    )
    count: list[int] = await found.json_value()
    return count[0]


async def _cells(page: Page, table: str) -> dict[str, list[str]]:
    rows = await page.locator(f"#{table} tbody tr").evaluate_all(
        "(rows) => rows.map((r) => [r.dataset.key,"
        " [...r.querySelectorAll('th, td')].map((c) => c.textContent.trim())])"
    )
    found: dict[str, list[str]] = dict(rows)
    return found


async def _assert_sheet(page: Page, answer: dict[str, Any], site_code: str | None) -> None:
    """The sheet says what the API answered."""
    total = await page.locator("#overlay-total").inner_text()
    assert _shown(answer["areaM2"]) in total and _shown(answer["areaMu"]) in total, total
    assert answer["landClasses"], answer
    classes = await _cells(page, "overlay-classes")
    assert classes == {
        c["landClass"]: [
            LAND_CLASS[c["landClass"]],
            _shown(c["areaM2"]),
            _shown(c["areaMu"]),
            f"{c['parcels']:,}",
        ]
        for c in answer["landClasses"]
    }
    # the chart: a bar per land class, as high as its area in mu
    bars = await page.locator("#overlay-chart rect.bar").evaluate_all(
        "(bars) => bars.map((b) => [b.dataset.category, Number(b.dataset.value)])"
    )
    assert dict(bars) == {c["landClass"]: c["areaMu"] for c in answer["landClasses"]}
    use = await _cells(page, "overlay-use")
    assert use["cultivated"][1:] == [
        _shown(answer["currentUse"]["cultivated"]["m2"]),
        _shown(answer["currentUse"]["cultivated"]["mu"]),
    ]
    plan = answer["planning"]
    planning = await _cells(page, "overlay-planning")
    assert planning["conforming"][1:] == [
        _shown(plan["conforming"]["m2"]),
        _shown(plan["conforming"]["mu"]),
    ]
    assert planning["not_conforming"][1:] == [
        _shown(plan["notConforming"]["m2"]),
        _shown(plan["notConforming"]["mu"]),
    ]
    if plan["zones"]:
        zones = await _cells(page, "overlay-zones")
        assert zones == {
            z["zoneKind"]: [ZONE[z["zoneKind"]], _shown(z["area"]["m2"]), _shown(z["area"]["mu"])]
            for z in plan["zones"]
        }
    else:
        await page.locator("#overlay-no-zones").wait_for()
    if site_code is not None:
        sites = await _cells(page, "overlay-sites")
        assert {cells[0] for cells in sites.values()} == {s["code"] for s in answer["mineSites"]}
        ours = next(s for s in answer["mineSites"] if s["code"] == site_code)
        assert sites[ours["siteId"]] == [
            site_code,
            "青石岭采石场",
            "关闭矿山",
            "已关闭",
            _shown(ours["overlapM2"]),
            _shown(ours["overlapMu"]),
        ]
    if answer["changePolygons"]:
        changes = await _cells(page, "overlay-changes")
        assert {cells[0] for cells in changes.values()} == {
            c["monitoringNo"] for c in answer["changePolygons"]
        }


async def test_captain_draws_an_area_and_reads_its_land_classes(
    live_url: str, browser: Any, world: tuple[World, str]
) -> None:
    built, site_code = world
    page, errors = await log_in(browser, live_url, built.county.users[Role.CAPTAIN].username)
    await _open_map(page)
    tool = page.locator(".overlay-tool")

    # corners clicked on the map, the last one double-clicked: the page asks OverlayArea
    await tool.get_by_role("button", name="绘制范围").click()
    await tool.get_by_text("已选 0 个拐点").wait_for()
    for lon, lat in CORNERS[:-1]:
        await page.locator("#map canvas").click(position=await _pixel(page, lon, lat))
    await tool.get_by_text("已选 3 个拐点").wait_for()
    async with page.expect_request(f"**{OVERLAY}") as asked:
        await page.locator("#map canvas").dblclick(position=await _pixel(page, *CORNERS[-1]))
    polygon = (await asked.value).post_data_json["polygon"]
    ring = polygon["coordinates"][0]
    assert polygon["type"] == "Polygon" and len(ring) == 5 and ring[0] == ring[-1]
    for (lon, lat), (x, y) in zip(CORNERS, ring, strict=False):
        assert abs(lon - x) < 5e-4 and abs(lat - y) < 5e-4  # a pixel is ~30 m here

    status, answer = await _overlay(live_url, built, Role.CAPTAIN, polygon)
    assert status == 200, answer
    sheet = page.locator("#overlay-panel")
    await sheet.locator("#overlay-total").wait_for()
    assert await sheet.locator("#overlay-result-title").evaluate(
        "(el) => document.activeElement === el"
    )
    await _assert_sheet(page, answer, site_code)
    assert await _on_map(page, "overlay-fill") > 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "console-map-overlay.png"))

    # the sheet closes, the area stays on the map until it is cleared
    await sheet.get_by_role("button", name="关闭").click()
    assert await sheet.is_hidden()
    assert await _on_map(page, "overlay-fill") > 0

    # Esc cancels a drawing: no corner left, the tool as before
    await tool.get_by_role("button", name="绘制范围").click()
    for lon, lat in CORNERS[:2]:
        await page.locator("#map canvas").click(position=await _pixel(page, lon, lat))
    await tool.get_by_text("已选 2 个拐点").wait_for()
    await page.keyboard.press("Escape")
    await tool.get_by_text("已取消绘制。").wait_for()
    assert await tool.get_by_role("button", name="绘制范围").is_visible()
    assert await _on_map(page, "overlay-corner") == 0

    # a boundary that crosses itself, closed with 完成: the API's refusal next to the tool
    bowtie = [CORNERS[0], CORNERS[2], CORNERS[1], CORNERS[3]]
    await tool.get_by_role("button", name="绘制范围").click()
    for lon, lat in bowtie:
        await page.locator("#map canvas").click(position=await _pixel(page, lon, lat))
    async with page.expect_request(f"**{OVERLAY}") as asked:
        await tool.get_by_role("button", name="完成").click()
    crossed = (await asked.value).post_data_json["polygon"]
    status, refusal = await _overlay(live_url, built, Role.CAPTAIN, crossed)
    assert status == 422 and refusal["code"] == "invalid_geometry", refusal
    alert = tool.locator("#overlay-error")
    await alert.get_by_text(refusal["detail"], exact=False).wait_for()
    assert "边界不能自相交" in await alert.inner_text()  # what to do about it
    assert await sheet.is_hidden()
    assert await _on_map(page, "overlay-line") > 0  # the refused area stays to be seen

    # 清除范围 takes it off the map
    await tool.get_by_role("button", name="清除范围").click()
    gone = f"() => {{ const f = ({RENDERED})(['overlay-fill']); return f?.length === 0; }}"
    await page.wait_for_function(gone, timeout=TIMEOUT_MS)
    assert await alert.inner_text() == ""
    # the browser logs the refused request (422) as an error; nothing else may be logged
    assert [e for e in errors if "422" not in e] == [], errors
    await page.context.close()


async def test_inspector_loads_an_area_from_a_geojson_file(
    live_url: str, browser: Any, world: tuple[World, str], tmp_path: Path
) -> None:
    built, site_code = world
    page, errors = await log_in(browser, live_url, built.county.users[Role.INSPECTOR].username)
    await _open_map(page)
    tool = page.locator(".overlay-tool")
    ring = [[lon, lat] for lon, lat in CORNERS] + [list(CORNERS[0])]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    path = tmp_path / "area.geojson"
    feature = {"type": "Feature", "properties": {"name": "walked"}, "geometry": polygon}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    await tool.get_by_label("载入 GeoJSON 文件").set_input_files(str(path))

    status, answer = await _overlay(live_url, built, Role.INSPECTOR, polygon)
    assert status == 200, answer
    await page.locator("#overlay-panel #overlay-total").wait_for()
    await _assert_sheet(page, answer, site_code)
    assert await _on_map(page, "overlay-fill") > 0

    # a file of two areas is refused by the page, one outside the county by the API
    two = tmp_path / "two.geojson"
    two.write_text(json.dumps({"type": "FeatureCollection", "features": [feature, feature]}))
    await tool.get_by_label("载入 GeoJSON 文件").set_input_files(str(two))
    await tool.get_by_text("一次只能分析一个范围").wait_for()
    far = {"type": "Polygon", "coordinates": [[[100, 40], [100.1, 40], [100.1, 40.1], [100, 40]]]}
    away = tmp_path / "away.geojson"
    away.write_text(json.dumps(far))
    await tool.get_by_label("载入 GeoJSON 文件").set_input_files(str(away))
    status, refusal = await _overlay(live_url, built, Role.INSPECTOR, far)
    assert status == 422 and refusal["code"] == "outside_county", refusal
    await tool.locator("#overlay-error").get_by_text(refusal["detail"], exact=False).wait_for()
    assert await page.locator("#overlay-panel").is_hidden()

    # a boundary of more corners than the API takes (about 5 MB): its refusal with the limit
    many = ring_polygon(MAX_OVERLAY_VERTICES + 1, 0.01, lon=SITE_LON, lat=SITE_LAT)
    big = tmp_path / "walked.geojson"
    big.write_text(json.dumps(many))
    await tool.get_by_label("载入 GeoJSON 文件").set_input_files(str(big))
    status, refusal = await _overlay(live_url, built, Role.INSPECTOR, many)
    assert status == 422 and refusal["code"] == "too_many_vertices", refusal
    await tool.locator("#overlay-error").get_by_text(refusal["detail"], exact=False).wait_for()
    assert "简化边界" in await tool.locator("#overlay-error").inner_text()
    assert [e for e in errors if "422" not in e] == [], errors
    await page.context.close()


async def test_squad_draws_an_area_from_the_keyboard(
    live_url: str, browser: Any, world: tuple[World, str]
) -> None:
    built, _ = world
    page, errors = await log_in(browser, live_url, built.county.users[Role.SECURITY_SQUAD].username)
    await page.locator("nav a[data-page=map]").click()
    tool = page.locator(".overlay-tool")
    await tool.get_by_role("button", name="绘制范围").wait_for()
    # the squad leads no area, so its map does not start over the county: put it there
    await page.evaluate(
        "([lon, lat]) => window.patrolMap.jumpTo({ center: [lon, lat], zoom: 13 })",
        [SITE_LON, SITE_LAT],
    )
    await tool.get_by_role("button", name="绘制范围").press("Enter")
    add = tool.get_by_role("button", name="加入地图中心点")
    assert await add.evaluate("(el) => document.activeElement === el")
    # the map's centre, then the map moved with the arrow keys and its centre again
    await add.press("Enter")
    for key in ("ArrowRight", "ArrowDown", "ArrowLeft"):
        await page.locator("#map canvas").press(key)
        await page.wait_for_function("() => !window.patrolMap.isMoving()")
        await add.press("Enter")
    await tool.get_by_text("已选 4 个拐点").wait_for()
    async with page.expect_request(f"**{OVERLAY}") as asked:
        await tool.get_by_role("button", name="完成").press("Enter")
    polygon = (await asked.value).post_data_json["polygon"]
    assert len(polygon["coordinates"][0]) == 5
    status, answer = await _overlay(live_url, built, Role.SECURITY_SQUAD, polygon)
    assert status == 200, answer
    await page.locator("#overlay-panel #overlay-total").wait_for()
    await _assert_sheet(page, answer, None)
    assert errors == [], errors
    await page.context.close()
