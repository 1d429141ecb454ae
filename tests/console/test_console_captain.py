"""The captain's pages of the console in headless Debian chromium against the real app.

A county with three contract areas (quota met, not met, none), an ended patrol with its
track, a sign-in and a finding, a patrol running now, and two open alerts (one of the new
``tip_off_overdue`` kind). The captain sees the coverage map coloured and the table's figures
equal to ``GetCoverage``'s, the live board (refreshed by polling), a replayed track whose
marker the slider moves, and acknowledges an alert, which leaves the open list. An inspector
gets none of these pages. Screenshots go to ``docs/screenshots/``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, Page, Route
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Principal, Role
from patrol import raise_alert
from tests import clock
from tests.console.conftest import RENDERED, SCREENSHOTS, TIMEOUT_MS, log_in, rendered
from tests.worlds import World, build_world

Client = AsyncTestClient[Litestar]
LON, LAT, SIZE = 113.4, 27.6, 0.2
WEST, SOUTH, EAST, NORTH = LON - SIZE / 2, LAT - SIZE / 2, LON + SIZE / 2, LAT + SIZE / 2
STEP = 0.0006  # about 60 m east every 30 s
FIXES = 20
REVIEW_PAGES = {"coverage", "live", "replay", "alerts"}


def _ring(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


class Scene:
    """The world and what the tests look for in it."""

    def __init__(self, world: World, client: Client) -> None:
        self.world = world
        self.client = client
        self.areas: dict[str, str] = {"A1": str(world.area.id)}
        self.patrol_id = ""
        self.running_id = ""
        self.alerts: dict[str, str] = {}

    def headers(self, who: Role | Principal) -> dict[str, str]:
        if isinstance(who, Role):
            return self.world.headers(who)
        return {"Authorization": f"Bearer {self.world.county.tokens.access_token(who)}"}

    async def send(self, who: Role | Principal, method: str, path: str, body: Any = None) -> Any:
        resp = await self.client.request(
            method, f"/api/v1{path}", json=body, headers=self.headers(who)
        )
        assert resp.status_code in {200, 201}, f"{method} {path}: {resp.text}"
        return resp.json()

    async def get(self, path: str) -> Any:
        return await self.send(Role.CAPTAIN, "GET", path)

    async def rule(self, code: str, per_month: int, per_week: int) -> None:
        rule = {
            "name": f"{code} 定额",
            "areaId": self.areas[code],
            "minPerMonth": per_month,
            "minPerWeek": per_week,
            "priority": 10,
        }
        await self.send(Role.CAPTAIN, "PUT", f"/frequency-rules/{uuid7()}", rule)

    async def patrol(
        self,
        role: Role | Principal,
        area: str,
        lon: float,
        lat: float,
        *,
        ago_min: float,
        end: bool,
    ) -> str:
        patrol_id = str(uuid7())
        start = clock.ago(minutes=ago_min)
        await self.send(
            role,
            "PUT",
            f"/patrols/{patrol_id}",
            {"areaId": self.areas[area], "startedAt": start.isoformat()},
        )
        count = FIXES if end else 4
        points = [
            {
                "id": str(uuid7()),
                "t": (start + timedelta(seconds=30 * (i + 1))).isoformat(),
                "lon": lon + STEP * i,
                "lat": lat,
                "accuracyM": 5.0,
            }
            for i in range(count)
        ]
        await self.send(role, "POST", f"/patrols/{patrol_id}/track", {"points": points})
        if not end:
            return patrol_id
        sign_in = points[4]
        await self.send(
            role,
            "PUT",
            f"/patrols/{patrol_id}/sign-ins/{uuid7()}",
            {
                "at": sign_in["t"],
                "lon": sign_in["lon"],
                "lat": lat,
                "accuracyM": 5.0,
                "address": "河口村村委会",
            },
        )
        found = points[12]
        await self.send(
            role,
            "PUT",
            f"/patrols/{patrol_id}/findings/{uuid7()}",
            {
                "foundAt": found["t"],
                "lon": found["lon"],
                "lat": lat,
                "accuracyM": 5.0,
                "projectName": "河滩违法取土",
                "constructionStatus": "levelled",
            },
        )
        ended = start + timedelta(seconds=30 * (FIXES + 1))
        await self.send(role, "POST", f"/patrols/{patrol_id}/end", {"endedAt": ended.isoformat()})
        return patrol_id


@pytest.fixture
async def scene(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession], client: Client
) -> Scene:
    world = await build_world(session_factory, app.state.tokens, lon=LON, lat=LAT, size=SIZE)
    s = Scene(world, client)
    leader2 = str(world.inspector2.user_id)
    for code, ring in (("A2", _ring(LON, LAT, EAST, NORTH)), ("A3", _ring(LON, SOUTH, EAST, LAT))):
        area = await s.send(
            Role.CAPTAIN,
            "POST",
            "/areas",
            {
                "code": code,
                "name": f"{code} 片区",
                "grade": 2,
                "geometry": ring,
                "leaderId": leader2,
            },
        )
        s.areas[code] = area["id"]
    await s.rule("A1", 1, 0)  # one patrol this month: met
    await s.rule("A2", 5, 0)  # five: not met
    await s.rule("A3", 0, 0)  # no quota
    s.patrol_id = await s.patrol(Role.INSPECTOR, "A1", WEST + 0.02, LAT, ago_min=30, end=True)
    s.running_id = await s.patrol(
        world.inspector2, "A2", LON + 0.02, LAT + 0.05, ago_min=5, end=False
    )
    async with session_factory() as db:
        for kind, severity, message in (
            ("tip_off_overdue", "medium", "线索 12336 核查逾期"),
            ("site_reopening", "high", "青石岭采石场有复采迹象"),
        ):
            await raise_alert(
                db,
                county_id=world.county_id,
                kind=kind,
                severity=severity,
                dedupe_key=f"console:{uuid.uuid4()}",
                message=message,
            )
        await db.commit()
    for alert in await s.get("/alerts"):
        s.alerts[alert["kind"]] = alert["id"]
    return s


async def _open(page: Page, name: str) -> None:
    await page.locator(f"nav a[data-page={name}]").click()
    await page.wait_for_selector(f"nav a[data-page={name}][aria-current=page]")


def _shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


def _fixed(value: float) -> str:
    return f"{value:,.1f}"


async def test_coverage_map_is_coloured_and_the_table_says_what_get_coverage_says(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    captain = scene.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await _open(page, "coverage")
    coverage = await scene.get("/coverage")
    state = {
        a["code"]: "no_quota"
        if not any(a["requirement"][k] for k in ("minPerMonth", "minPerWeek"))
        else ("met" if a["quotaMet"] else "not_met")
        for a in coverage["areas"]
    }
    assert state == {"A1": "met", "A2": "not_met", "A3": "no_quota"}, coverage

    await page.wait_for_function(
        f"() => {{ const f = ({RENDERED})(['coverage-fill']); "
        "return f !== null && new Set(f.map((p) => p.code)).size === 3; }",
        timeout=TIMEOUT_MS,
    )
    drawn = await rendered(page, ["coverage-fill"])
    assert {f["code"]: f["quota"] for f in drawn} == state
    legend = await page.locator("#coverage-legend").inner_text()
    for words in ("月度定额", "已达标", "未达标", "无定额"):
        assert words in legend, legend

    assert await page.locator("#coverage-month").input_value() == coverage["month"]
    for a in coverage["areas"]:
        row = page.locator(f"#coverage-table tr[data-area-id='{a['areaId']}']")

        async def cell(col: str, row: Any = row) -> str:
            text: str = await row.locator(f"td[data-col={col}]").inner_text()
            return text.strip()

        assert await cell("code") == a["code"]
        assert await cell("patrols") == str(a["patrols"])
        assert await cell("quota") == str(a["requirement"]["minPerMonth"])
        assert await cell("weeks") == f"{a['weeksMet']}/{a['weeksTotal']}"
        assert await cell("km") == _fixed(a["distanceKm"])
        assert await cell("hours") == _fixed(a["hours"])
        assert await cell("visited") == str(len(a["targetsVisited"]))
        assert await cell("unvisited") == str(len(a["targetsNotVisited"]))
        assert await row.get_attribute("data-state") == state[a["code"]]
    statuses = await page.locator("#coverage-table td[data-col=status]").all_inner_texts()
    assert {t.strip() for t in statuses} == {"已达标", "未达标", "无定额"}, statuses

    # sorting by patrols, descending: A1 (one patrol) comes first
    sort = page.locator("th button[data-sort=patrols]")
    await sort.click()
    await sort.click()
    assert await page.locator("th:has(button[data-sort=patrols])").get_attribute("aria-sort") == (
        "descending"
    )
    first = page.locator("#coverage-table tbody tr").first
    assert await first.get_attribute("data-area-id") == scene.areas["A1"]
    await page.locator("#duty-title").wait_for()
    await page.screenshot(path=_shot("console-coverage.png"))

    # another month: last month had no patrols
    last = (clock.this_month() - timedelta(days=1)).strftime("%Y-%m")
    await page.locator("#coverage-month").fill(last)
    await page.wait_for_function(
        f"() => document.querySelector('#coverage-month')?.value === '{last}' "
        "&& document.querySelector('#coverage-table') !== null"
    )
    cells = await page.locator("#coverage-table td[data-col=patrols]").all_inner_texts()
    assert cells == ["0", "0", "0"], cells
    assert errors == [], errors
    await page.context.close()


async def test_live_status_lists_and_maps_the_crews_and_refreshes(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    captain = scene.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await _open(page, "live")
    board = await scene.get("/live-status")
    status = {p["userId"]: p["status"] for p in board["inspectors"]}
    assert status[str(scene.world.inspector.user_id)] == "patrolled_today"
    assert status[str(scene.world.inspector2.user_id)] == "patrolling"
    for user_id, state in status.items():
        await page.locator(f"section[data-status={state}] li[data-user-id='{user_id}']").wait_for()
    heading = await page.locator("section[data-status=patrolling] h2").inner_text()
    assert "正在巡查" in heading and "1" in heading, heading
    on_map = await rendered(page, ["people-circle"])
    assert {f["user_id"] for f in on_map} == {str(scene.world.inspector2.user_id)}
    assert "最后刷新" in await page.locator("#live-refreshed").inner_text()
    await page.screenshot(path=_shot("console-live.png"))
    # the board is asked again within 15 s
    await page.wait_for_function(
        "() => Number(document.querySelector('#live-refreshed')?.dataset.refreshes) >= 2",
        timeout=25_000,
    )
    assert errors == [], errors
    await page.context.close()


_CURSOR = """() => {
  const map = window.patrolMap;
  if (!map || !map.isStyleLoaded()) return null;
  if (!map.getLayer('cursor-circle')) return null;
  const f = map.queryRenderedFeatures({ layers: ['cursor-circle'] });
  return f.length ? f[0].properties : null;
}"""


async def _cursor(page: Page, other_than: float | None = None) -> dict[str, Any]:
    cond = "p !== null" if other_than is None else f"p !== null && p.lon !== {other_than!r}"
    handle = await page.wait_for_function(
        f"() => {{ const p = ({_CURSOR})(); return {cond} ? p : null; }}", timeout=TIMEOUT_MS
    )
    found: dict[str, Any] = await handle.json_value()
    return found


async def test_a_track_replays_with_its_sign_ins_and_findings(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    captain = scene.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await _open(page, "replay")
    await page.get_by_label("选择巡查记录").select_option(scene.patrol_id)
    slider = page.locator("#replay-slider")
    await slider.wait_for()
    route = await rendered(page, ["route-line"])
    assert route
    # a point near a tile's edge is rendered once per tile: counted by id
    assert len({f["id"] for f in await rendered(page, ["signins-circle"])}) == 1
    findings = await rendered(page, ["findings-circle"])
    assert {f["name"] for f in findings} == {"河滩违法取土"}
    events = await page.locator("#replay-events li").all_inner_texts()
    assert len(events) == 2 and "签到" in events[0] and "河滩违法取土" in events[1], events

    start = await _cursor(page)
    assert start["lon"] == pytest.approx(WEST + 0.02, abs=1e-6)
    # keyboard: the slider takes the focus and moves with the keys
    await slider.focus()
    await page.keyboard.press("End")
    end = await _cursor(page, other_than=start["lon"])
    assert end["lon"] == pytest.approx(WEST + 0.02 + STEP * (FIXES - 1), abs=1e-6)
    await page.keyboard.press("Home")
    back = await _cursor(page, other_than=end["lon"])
    assert back["lon"] == pytest.approx(start["lon"], abs=1e-6)
    for _ in range(5):
        await page.keyboard.press("ArrowRight")
    moved = await _cursor(page, other_than=back["lon"])
    assert start["lon"] < moved["lon"] < end["lon"]
    # the finding in the list jumps to its time and place
    await page.locator("#replay-events li[data-kind=finding] button").click()
    at_finding = await _cursor(page, other_than=moved["lon"])
    assert at_finding["lon"] == pytest.approx(WEST + 0.02 + STEP * 12, abs=1e-6)
    assert "当前位置" in await page.locator("#replay-position").inner_text()
    await page.screenshot(path=_shot("console-replay.png"))
    assert errors == [], errors
    await page.context.close()


async def test_an_acknowledged_alert_leaves_the_open_list(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    captain = scene.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)

    # the feed out of reach: the page says so and what to do, and its button tries again
    async def unavailable(route: Route) -> None:
        await route.fulfill(
            status=503,
            content_type="application/problem+json",
            body='{"title": "服务暂不可用", "status": 503}',
        )

    await page.route("**/api/v1/alerts?*", unavailable)
    await _open(page, "alerts")
    failure = page.locator("#alert-list .failure")
    await failure.wait_for()
    assert "请检查网络连接" in await failure.inner_text()
    await page.unroute("**/api/v1/alerts?*", unavailable)
    await failure.get_by_role("button", name="重试").click()
    tip_off = page.locator(f"tr[data-alert-id='{scene.alerts['tip_off_overdue']}']")
    site = page.locator(f"tr[data-alert-id='{scene.alerts['site_reopening']}']")
    await tip_off.wait_for()
    text = await tip_off.inner_text()
    for words in ("线索办理逾期", "中", "线索 12336 核查逾期"):
        assert words in text, text
    assert "高" in await site.locator("td[data-col=severity]").inner_text()
    await page.screenshot(path=_shot("console-alerts.png"))

    await tip_off.get_by_role("button", name="确认已阅").click()
    await tip_off.wait_for(state="detached")
    assert await site.count() == 1
    unacknowledged = await scene.get("/alerts?unacknowledged_only=true")
    assert [a["kind"] for a in unacknowledged] == ["site_reopening"]

    # after a reload it stays out; with the acknowledged ones shown it is there, marked
    await _open(page, "live")
    await _open(page, "alerts")
    await site.wait_for()
    assert await tip_off.count() == 0
    await page.get_by_label("显示已确认的预警").check()
    await tip_off.wait_for()
    assert "已确认" in await tip_off.inner_text()
    # the kind filter
    await page.get_by_label("类型").select_option("tip_off_overdue")
    await tip_off.wait_for()
    assert await site.count() == 0
    # in English
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Alerts").wait_for()
    assert "Site reopening" in await site.inner_text()  # the page again, unfiltered
    await page.get_by_role("button", name="中文").click()
    await page.get_by_role("heading", name="预警提醒").wait_for()
    assert [e for e in errors if "503" not in e] == [], errors
    await page.context.close()


async def test_an_inspector_gets_none_of_the_review_pages(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    inspector = scene.world.county.users[Role.INSPECTOR]
    page, errors = await log_in(browser, live_url, inspector.username)
    menu = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.dataset.page)")
    assert not REVIEW_PAGES & set(menu), menu
    for name in sorted(REVIEW_PAGES):
        await page.evaluate(f"() => {{ location.hash = '#/{name}'; }}")
        await page.wait_for_selector("nav a[data-page=map][aria-current=page]")
        assert (
            await page.locator("#coverage-table, #live-lists, #replay-slider, #alert-list").count()
            == 0
        )
    assert errors == [], errors
    await page.context.close()
