"""The satellite campaign page (卫片执法) in headless Debian chromium against the real app.

A county with the demo layers and the demo quarterly batch over its 40 change polygons in
every state. The captain opens 卫片执法 and sees the batch with its counts by status, the
figures table whose total row says what ``GetSatelliteFigures`` says, and every polygon on the
map coloured by its status; downloads the national table; enters an illegal result for an
assigned polygon through the form, passes it in review and sees it passed in the table (and
the figures count it). An inspector has no 卫片执法 entry. The screenshot goes to
``docs/screenshots/satellite.png``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, Page
from shapely.geometry import box
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.satellite_demo import seed_demo_satellite
from geofence import seed_demo_layers
from infra.scope import Role
from tests.console.conftest import SCREENSHOTS, TIMEOUT_MS, log_in, narrow_then_widen, rendered
from tests.worlds import World, build_world

Client = AsyncTestClient[Litestar]
LON, LAT, SIZE = 111.7, 28.9, 0.2
STATUSES = {"unassigned", "assigned", "verified", "sent_back", "passed", "submitted"}
COLOURS = {
    "unassigned": "#9e9e9e",
    "assigned": "#1e88e5",
    "verified": "#f9a825",
    "sent_back": "#8e24aa",
    "passed": "#2e7d32",
    "submitted": "#00695c",
}
# each rendered polygon's status and the fill colour MapLibre evaluated for it
_FILLS = """() => {
  const map = window.patrolMap;
  if (!map || !map.isStyleLoaded() || !map.getLayer('sat-fill')) return null;
  const found = map.queryRenderedFeatures({ layers: ['sat-fill'] }).map((f) => {
    const c = f.layer.paint['fill-color'];
    const hex = (v) => Math.round(v * 255).toString(16).padStart(2, '0');
    return { id: f.properties.id, status: f.properties.status,
             colour: typeof c === 'string' ? c : '#' + hex(c.r) + hex(c.g) + hex(c.b) };
  });
  return found.length ? found : null;
}"""


class Campaign:
    def __init__(self, world: World, client: Client, batch_id: str) -> None:
        self.world = world
        self.client = client
        self.batch_id = batch_id

    async def get(self, path: str, **params: Any) -> Any:
        resp = await self.client.get(
            f"/api/v1{path}", params=params, headers=self.world.headers(Role.CAPTAIN)
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def tasks(self, **filters: Any) -> list[dict[str, Any]]:
        page = await self.get("/satellite/tasks", batch_id=self.batch_id, limit=1000, **filters)
        assert page["nextCursor"] is None
        items: list[dict[str, Any]] = page["items"]
        return items


@pytest.fixture
async def campaign(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession], client: Client
) -> Campaign:
    world = await build_world(session_factory, app.state.tokens, lon=LON, lat=LAT, size=SIZE)
    outline = box(LON - SIZE / 2, LAT - SIZE / 2, LON + SIZE / 2, LAT + SIZE / 2)
    async with session_factory() as db:
        await seed_demo_layers(db, world.county_id, outline, parcel_side_m=400.0)
        batch_id = await seed_demo_satellite(db, world.county_id)
        await db.commit()
    assert batch_id is not None
    return Campaign(world, client, str(batch_id))


def _shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


def _round(value: float, places: str) -> str:
    """As the page shows it: rounded half up from the shortest decimal, with thousands commas."""
    return f"{Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP):,}"


def _mu(value: float) -> str:
    return _round(value, "0.01")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{_round(value * 100, '0.1')}%"


async def _cells(row: Any) -> dict[str, str]:
    found: dict[str, str] = await row.evaluate(
        "(tr) => Object.fromEntries([...tr.querySelectorAll('[data-col]')]"
        ".map((c) => [c.dataset.col, c.innerText.trim()]))"
    )
    return found


async def _total_matches(page: Page, total: dict[str, Any]) -> None:
    cells = await _cells(page.locator("#sat-figures tr[data-total]"))
    assert cells["name"] == "合计"
    assert cells["polygons"] == str(total["polygons"])
    assert cells["area"] == _mu(total["polygonAreaMu"])
    assert cells["verified"] == str(total["verified"])
    assert cells["overdue"] == str(total["overdue"])
    for key in ("legal", "notNew", "illegal"):
        assert cells[key] == str(total[key]), (key, cells)
    for key in ("legalArea", "notNewArea", "illegalArea"):
        assert cells[key.replace("Area", "Mu")] == _mu(total[f"{key}Mu"]), (key, cells)
    assert cells["illegalCultivatedMu"] == _mu(total["illegalCultivatedMu"])
    assert cells["illegalBasicFarmlandMu"] == _mu(total["illegalBasicFarmlandMu"])
    assert cells["ratio"] == _percent(total["cultivatedRatio"])


async def test_captain_follows_the_campaign_and_verifies_a_polygon_from_the_console(
    live_url: str, browser: Browser, campaign: Campaign
) -> None:
    captain = campaign.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await page.locator("nav a[data-page=satellite]").click()
    await page.get_by_role("heading", name="卫片执法").wait_for()

    # the batch with its due dates and counts by status
    batch = await campaign.get(f"/satellite/batches/{campaign.batch_id}")
    picker = page.get_by_label("批次")
    assert await picker.input_value() == campaign.batch_id
    assert batch["name"] in await picker.inner_text()
    assert await page.locator("#sat-verify-due").inner_text() == batch["verifyDueOn"]
    assert await page.locator("#sat-report-due").inner_text() == batch["reportDueOn"]
    counts = {
        "unassigned": "unassigned",
        "assigned": "assigned",
        "verified": "verified",
        "sent_back": "sentBack",
        "passed": "passed",
        "submitted": "submitted",
    }
    for status, key in counts.items():
        shown = await page.locator(f"#sat-counts li[data-status={status}] strong").inner_text()
        assert shown == str(batch["byStatus"][key]), (status, shown, batch["byStatus"])
    assert sum(batch["byStatus"].values()) == 40

    # the figures: the total row says what GetSatelliteFigures says, last
    figures = await campaign.get(f"/satellite/batches/{campaign.batch_id}/figures")
    await page.locator("#sat-figures tr[data-total]").wait_for()
    rows = page.locator("#sat-figures tbody tr")
    assert await rows.count() == len(figures["townships"]) + 1
    assert await rows.last.get_attribute("data-total") == "true"
    await _total_matches(page, figures["total"])
    warning = await page.locator("#sat-ratio-warning").inner_text()
    assert _percent(figures["total"]["cultivatedRatio"]) in warning or "无违法占耕比例" in warning
    assert ("问责线" in warning) == (figures["total"]["cultivatedRatio"] is not None)

    # the map: every polygon, coloured by its status
    tasks = {t["id"]: t for t in await campaign.tasks()}
    assert len(tasks) == 40
    assert {t["status"] for t in tasks.values()} == STATUSES
    await rendered(page, ["sat-fill"])
    handle = await page.wait_for_function(
        f"() => {{ const f = ({_FILLS})(); "
        f"return f && new Set(f.map((x) => x.id)).size === {len(tasks)} ? f : null; }}",
        timeout=TIMEOUT_MS,
    )
    drawn = await handle.json_value()
    assert {f["id"] for f in drawn} == set(tasks)
    for f in drawn:
        assert f["status"] == tasks[f["id"]]["status"], f
        assert f["colour"] == COLOURS[f["status"]], f
    legend = await page.locator("#sat-legend").inner_text()
    for word in ("未分派", "待核查", "待审核", "已退回", "审核通过", "已上报", "逾期"):
        assert word in legend, legend

    # the national table, saved under its own name
    async with page.expect_download() as download:
        await page.get_by_role("button", name="下载一览表（XLSX）").click()
    assert (await download.value).suggested_filename.endswith("图斑核查情况一览表.xlsx")

    # an assigned polygon: its result entered through the form
    task = next(t for t in sorted(tasks.values(), key=lambda t: t["monitoringNo"])
                if t["status"] == "assigned")  # fmt: skip
    await page.get_by_label("状态", exact=True).select_option("assigned")
    row = page.locator(f"#sat-tasks tr[data-task-id='{task['id']}']")
    await row.wait_for()
    await row.get_by_role("button", name=task["monitoringNo"]).click()
    status = page.locator("#sat-task-status")
    await status.wait_for()
    assert await status.get_attribute("data-status") == "assigned"
    assert task["monitoringNo"] in await page.locator("#sat-task-title").inner_text()
    await page.get_by_role("button", name="录入核查结果").click()
    form = page.locator("#sat-result-form")
    await form.get_by_label("违法", exact=True).check()
    await form.get_by_label("违法主体").fill("某砂石公司")
    await form.get_by_label("主体类型").select_option("organisation")
    await form.get_by_label("用途").select_option("industrial")
    await form.get_by_label("建设状态").select_option("partly_built")
    await form.get_by_label("备注").fill("未经批准堆场硬化")
    await form.get_by_role("button", name="保存核查结果").click()
    await page.wait_for_selector("#sat-task-status[data-status=verified]")
    stored = await campaign.get(f"/satellite/tasks/{task['id']}")
    assert stored["status"] == "verified" and stored["outcome"] == "illegal"
    result = stored["result"]
    assert (result["violator"], result["violatorType"]) == ("某砂石公司", "organisation")
    assert (result["landUse"], result["constructionStatus"]) == ("industrial", "partly_built")
    assert result["verifiedBy"] == str(captain.id)
    assert "某砂石公司" in await page.locator("#sat-result").inner_text()
    assert "录入核查结果" in await page.locator("#sat-events").inner_text()

    # the review passes it: the panel, the table and the figures say so
    await page.get_by_role("button", name="审核通过").click()
    await page.wait_for_selector("#sat-task-status[data-status=passed]")
    assert (await campaign.get(f"/satellite/tasks/{task['id']}"))["status"] == "passed"
    await page.get_by_label("状态", exact=True).select_option("")
    passed_row = page.locator(f"#sat-tasks tr[data-task-id='{task['id']}'][data-status=passed]")
    await passed_row.wait_for()
    assert "审核通过" in await passed_row.locator("td[data-col=status]").inner_text()
    assert "违法" in await passed_row.locator("td[data-col=outcome]").inner_text()
    assert await page.get_by_role("button", name="转立案").count() == 1
    await page.screenshot(path=_shot("satellite.png"))
    after = await campaign.get(f"/satellite/batches/{campaign.batch_id}/figures")
    assert after["total"]["illegal"] == figures["total"]["illegal"] + 1
    await page.wait_for_function(
        "(n) => document.querySelector('#sat-figures tr[data-total] [data-col=illegal]')"
        "?.innerText.trim() === String(n)",
        arg=after["total"]["illegal"],
    )
    await _total_matches(page, after["total"])
    await page.wait_for_function(
        f"() => {{ const f = ({_FILLS})(); "
        f"return f && f.some((x) => x.id === '{task['id']}' && x.status === 'passed'); }}",
        timeout=TIMEOUT_MS,
    )
    assert errors == [], errors
    await page.context.close()


async def test_an_inspector_has_no_satellite_page(
    live_url: str, browser: Browser, campaign: Campaign
) -> None:
    inspector = campaign.world.county.users[Role.INSPECTOR]
    page, errors = await log_in(browser, live_url, inspector.username)
    menu = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.dataset.page)")
    assert "satellite" not in menu, menu
    assert "卫片执法" not in await page.locator("nav").inner_text()
    await page.evaluate("() => { location.hash = '#/satellite'; }")
    await page.wait_for_selector("nav a[data-page=map][aria-current=page]")
    assert await page.locator("#sat-figures, #sat-tasks, #sat-map").count() == 0
    assert errors == [], errors
    await page.context.close()


async def test_the_task_table_shows_the_filter_asked_last_whatever_answers_last(
    live_url: str, browser: Browser, campaign: Campaign
) -> None:
    """The captain narrows the table to one status and at once back to every status; the
    narrow answer is held until the full table shows, then let through: the table still
    shows every polygon (an older answer arriving late is dropped, not drawn)."""
    captain = campaign.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await page.locator("nav a[data-page=satellite]").click()
    await page.locator("#sat-tasks tbody tr").first.wait_for()
    status = page.get_by_label("状态", exact=True)
    await narrow_then_widen(page, "**/api/v1/satellite/tasks?*status=assigned*",
                            lambda: status.select_option("assigned"),
                            lambda: status.select_option(""),
                            "#sat-tasks tbody tr", 40)  # fmt: skip
    rows = page.locator("#sat-tasks tbody tr")
    shown = set(await rows.evaluate_all("(rs) => rs.map((r) => r.dataset.status)"))
    assert shown == STATUSES
    assert errors == [], errors
    await page.context.close()
