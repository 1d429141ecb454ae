"""The plans, mine-sites and duty pages of the console in headless Debian chromium against the
real app.

The county has area A1 (led by the inspector) with a frequency rule of five patrols a month,
and four patrols in October 2026 (:data:`tests.clock.LAST_MONTH`, fixed: the 5th, the 6th and
two on the 14th, one of them at night). Two closed mine sites: KS-001 with four of its five
roles held (the village cadre is a gap) and its safety officer's last check ten days ago
(overdue for a weekly cycle), KS-002 with a full roster checked two hours ago. The captain
sees A1's October calendar with those days and counts, the quota and the patrols still
missing, changes the rule and finds it saved after a reload, and edits the month's plan; sees
the gap and the overdue member, fills the gap, changes a site's status with its reason (the
site stays listed and on the map); records a duty check that ends the overdue. The inspector
reads his own plan and gets neither the mine-sites nor the duty page. Screenshots go to
``docs/screenshots/``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.scope import Role
from tests import clock
from tests.console.conftest import RENDERED, SCREENSHOTS, TIMEOUT_MS, log_in
from tests.worlds import World, build_world

Client = AsyncTestClient[Litestar]
LON, LAT, SIZE = 113.2, 27.4, 0.2
OCTOBER = clock.LAST_MONTH.strftime("%Y-%m")  # 2026-10, before the fixed clock's day
# (day of October, hour in China) of the patrols in A1: the 14th has two, one at night
PATROLS = ((5, 9), (6, 10), (14, 9), (14, 21))
ROSTER = {
    "township_leader": {"contactName": "王乡长", "contactPhone": "13900000001"},
    "safety_officer": {"contactName": "李站长", "contactPhone": "13900000002"},
    "land_resources_staff": {"contactName": "赵所长", "contactPhone": "13900000003"},
}


def _box(w: float, s: float, size: float) -> dict[str, Any]:
    e, n = w + size, s + size
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _october(day: int, hour: int) -> datetime:
    return datetime(clock.LAST_MONTH.year, clock.LAST_MONTH.month, day, hour, tzinfo=clock.CHINA)


class Scene:
    """The world and what the tests look for in it."""

    def __init__(self, world: World, client: Client) -> None:
        self.world = world
        self.client = client
        self.rule_id = ""
        self.sites: dict[str, str] = {}

    async def send(self, role: Role, method: str, path: str, body: Any = None) -> Any:
        resp = await self.client.request(
            method, f"/api/v1{path}", json=body, headers=self.world.headers(role)
        )
        assert resp.status_code in {200, 201}, f"{method} {path}: {resp.text}"
        return resp.json()

    async def get(self, path: str, role: Role = Role.CAPTAIN) -> Any:
        return await self.send(role, "GET", path)

    async def site(self, code: str, name: str, west: float, south: float) -> str:
        body = {"code": code, "name": name, "geometry": _box(west, south, 0.004), "mineral": "石料"}
        created = await self.send(Role.CAPTAIN, "POST", "/geofence/mine-sites", body)
        self.sites[code] = created["id"]
        return str(created["id"])

    async def check(self, site_id: str, member_id: str, at: datetime) -> None:
        body = {
            "siteId": site_id,
            "memberId": member_id,
            "checkedAt": at.isoformat(),
            "status": "still_closed",
        }
        await self.send(Role.CAPTAIN, "PUT", f"/duty-checks/{uuid7()}", body)

    async def members(self, site_id: str) -> dict[str, str]:
        [status] = await self.get(f"/duty-status?site_id={site_id}")
        return {m["role"]: m["memberId"] for m in status["members"]}


@pytest.fixture
async def scene(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession], client: Client
) -> Scene:
    world = await build_world(session_factory, app.state.tokens, lon=LON, lat=LAT, size=SIZE)
    s = Scene(world, client)
    area = str(world.area.id)
    rule = {
        "name": "A1 月度定额",
        "areaId": area,
        "minPerMonth": 5,
        "minPerWeek": 1,
        "priority": 10,
    }
    s.rule_id = str(uuid7())
    await s.send(Role.CAPTAIN, "PUT", f"/frequency-rules/{s.rule_id}", rule)
    target = {"kind": "custom", "name": "河滩取土点", "lon": LON - SIZE / 4, "lat": LAT}
    await s.send(Role.CAPTAIN, "POST", f"/areas/{area}/targets", target)
    for day, hour in PATROLS:
        pid, start = uuid7(), _october(day, hour)
        await s.send(
            Role.INSPECTOR,
            "PUT",
            f"/patrols/{pid}",
            {"areaId": area, "startedAt": start.isoformat()},
        )
        end = {"endedAt": (start + timedelta(minutes=45)).isoformat()}
        await s.send(Role.INSPECTOR, "POST", f"/patrols/{pid}/end", end)

    west, south = LON - SIZE / 4, LAT - SIZE / 4
    gap_site = await s.site("KS-001", "青石岭采石场", west, south)
    full_site = await s.site("KS-002", "老虎冲采砂点", west + 0.02, south + 0.02)
    liaison = {"userId": str(world.inspector2.user_id), "dutyPeriod": "weekly"}
    for site_id in (gap_site, full_site):
        for role, body in (*ROSTER.items(), ("village_liaison_cadre", liaison)):
            await s.send(Role.CAPTAIN, "PUT", f"/geofence/mine-sites/{site_id}/roster/{role}", body)
    cadre = {"contactName": "周村长", "contactPhone": "13900000009"}
    await s.send(
        Role.CAPTAIN, "PUT", f"/geofence/mine-sites/{full_site}/roster/village_cadre", cadre
    )
    # every member checked two hours ago, but KS-001's safety officer ten days ago (weekly)
    for site_id in (gap_site, full_site):
        for role, member_id in (await s.members(site_id)).items():
            late = site_id == gap_site and role == "safety_officer"
            await s.check(site_id, member_id, clock.ago(days=10) if late else clock.ago(hours=2))
    return s


async def _open(page: Page, name: str) -> None:
    await page.locator(f"nav a[data-page={name}]").click()
    await page.wait_for_selector(f"nav a[data-page={name}][aria-current=page]")


def _shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


async def _text(page: Page, selector: str) -> str:
    text: str = await page.locator(selector).inner_text()
    return text.strip()


async def _calendar(page: Page) -> dict[str, int]:
    """The calendar's days with patrols: ``{"2026-10-05": 1, ...}``."""
    cells = page.locator("#plan-calendar td[data-day]")
    days: dict[str, int] = {}
    for i in range(await cells.count()):
        cell = cells.nth(i)
        count = int(await cell.get_attribute("data-patrols") or "0")
        if count:
            days[await cell.get_attribute("data-day") or ""] = count
    return days


async def test_plans_calendar_rules_and_the_months_plan(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    captain = scene.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await _open(page, "plans")
    await page.wait_for_selector("#plan-calendar")
    await page.locator("#plan-month").fill(OCTOBER)
    await page.wait_for_selector(f"#plan-calendar-card h2:has-text('{OCTOBER}')")
    await page.locator("#plan-area").select_option(str(scene.world.area.id))
    await page.wait_for_selector("#plan-calendar")

    # the month's calendar: the days of the patrols the scene ran, and their counts
    assert await _calendar(page) == {f"{OCTOBER}-05": 1, f"{OCTOBER}-06": 1, f"{OCTOBER}-14": 2}
    night = await _text(page, f"#plan-calendar td[data-day='{OCTOBER}-14']")
    assert "2 次" in night and "夜 1" in night, night
    assert await _text(page, "#plan-quota-line [data-figure=patrols]") == "4"
    assert await _text(page, "#plan-quota-line [data-figure=quota]") == "5"
    assert await _text(page, "#plan-quota-line [data-figure=gap]") == "还差 1 次"
    coverage = await scene.get(f"/coverage?month={OCTOBER}")
    [a1] = [a for a in coverage["areas"] if a["code"] == "A1"]
    assert (a1["patrols"], a1["requirement"]["minPerMonth"]) == (4, 5)
    # the plan follows the rule (no plan is stored for October)
    assert "按频次规则" in await _text(page, ".plan-card [data-col=source]")
    assert await _text(page, ".plan-card [data-figure=quota]") == "5 次"
    assert await _text(page, ".plan-card .plan-targets") == "河滩取土点（自定目标）"
    # a day's patrols
    await page.locator(f"#plan-calendar td[data-day='{OCTOBER}-14'] button").click()
    await expect(page.locator("#plan-day-table tbody tr")).to_have_count(2)
    await page.screenshot(path=_shot("console-plans.png"), full_page=True)

    # the rule is edited (six a month) and is still so after a reload
    row = page.locator(f"#rules-table tr[data-rule-id='{scene.rule_id}']")
    await row.get_by_role("button", name="编辑：A1 月度定额").click()
    await page.locator("#rule-per-month").fill("6")
    await page.locator("#rule-night-month").fill("1")
    await page.locator("#rule-form").get_by_role("button", name="保存规则").click()
    await expect(page.locator("#plans-status")).to_have_text("已保存规则“A1 月度定额”。")
    await page.reload()
    await page.wait_for_selector("#rules-table")
    row = page.locator(f"#rules-table tr[data-rule-id='{scene.rule_id}']")
    assert await row.locator("td[data-col=perMonth]").inner_text() == "6"
    assert await row.locator("td[data-col=nightMonth]").inner_text() == "1"
    [stored] = [r for r in await scene.get("/frequency-rules") if r["id"] == scene.rule_id]
    assert (stored["minPerMonth"], stored["minNightPerMonth"]) == (6, 1)
    # October follows the new rule: two patrols short now
    await page.locator("#plan-month").fill(OCTOBER)
    await page.wait_for_selector(f"#plan-calendar-card h2:has-text('{OCTOBER}')")
    await expect(page.locator("#plan-quota-line [data-figure=gap]")).to_have_text("还差 2 次")

    # October's plan is set by hand: four a month, with a note; the quota is met then
    await page.locator("#plan-edit").click()
    await page.locator("#plan-quota").fill("4")
    assert await page.locator("#plan-target-list input:checked").count() == 1
    inspector2 = str(scene.world.inspector2.user_id)
    await page.locator(f"#plan-inspector-{inspector2}").check()
    await page.locator("#plan-note").fill("汛期加密巡查河道沿线")
    await page.screenshot(path=_shot("console-plan-form.png"), full_page=True)
    await page.locator("#plan-form").get_by_role("button", name="保存计划").click()
    await expect(page.locator(".plan-card [data-col=source]")).to_have_text("已制定本月计划")
    await expect(page.locator("#plan-quota-line [data-figure=gap]")).to_have_text("已达标")
    assert await _text(page, ".plan-card [data-col=note]") == "汛期加密巡查河道沿线"
    plan = await scene.get(f"/areas/{scene.world.area.id}/plans/{OCTOBER}")
    assert plan["planId"] and plan["requirement"]["minPerMonth"] == 4
    assert plan["note"] == "汛期加密巡查河道沿线"
    assert [t["name"] for t in plan["targets"]] == ["河滩取土点"]
    assert inspector2 in plan["inspectorIds"]
    assert errors == []


def _site_row(page: Page, code: str) -> Locator:
    return page.locator(f"#site-table tr[data-code='{code}']")


async def _listed(page: Page) -> list[str]:
    return [
        c or ""
        for c in await page.locator("#site-table tbody tr").evaluate_all(
            "(rows) => rows.map((r) => r.dataset.code)"
        )
    ]


async def test_mine_sites_gaps_overdue_roster_and_status(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    captain = scene.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await _open(page, "mine-sites")
    await page.wait_for_selector("#site-table")
    assert await _listed(page) == ["KS-001", "KS-002"]
    row = _site_row(page, "KS-001")
    assert await row.locator("li[data-role=village_cadre]").get_attribute("data-state") == "gap"
    assert (
        await row.locator("li[data-role=safety_officer]").get_attribute("data-state") == "overdue"
    )
    assert "李站长" in await row.locator("li[data-role=safety_officer]").inner_text()
    assert await row.locator("td[data-col=overdue]").inner_text() == "1"
    full = _site_row(page, "KS-002")
    states = await full.locator("li[data-role]").evaluate_all(
        "(l) => l.map((x) => x.dataset.state)"
    )
    assert states == ["filled"] * 5
    assert "有缺岗 1 处，有逾期未查 1 处" in await _text(page, "#site-totals")

    # the filters
    await page.locator("#site-only-gaps").check()
    assert await _listed(page) == ["KS-001"]
    await page.locator("#site-only-gaps").uncheck()
    await page.locator("#site-only-overdue").check()
    assert await _listed(page) == ["KS-001"]
    await page.locator("#site-only-overdue").uncheck()

    # both sites on the map, coloured by status
    drawn = await page.wait_for_function(
        f"() => {{ const f = ({RENDERED})(['sites-fill']); "
        "return f && new Set(f.map((p) => p.code)).size === 2 ? f : null; }",
        timeout=TIMEOUT_MS,
    )
    assert {f["code"]: f["status"] for f in await drawn.json_value()} == {
        "KS-001": "closed",
        "KS-002": "closed",
    }
    await page.screenshot(path=_shot("console-mine-sites.png"), full_page=True)

    # the gap is filled: an outside contact becomes the village cadre
    await row.get_by_role("button", name="详情：KS-001 青石岭采石场").click()
    panel = page.locator("#site-panel")
    await expect(panel.locator("#site-gaps")).to_contain_text("村干部")
    await panel.get_by_role("button", name="指派：村干部").click()
    await page.locator("#roster-kind-contact").check()
    await page.locator("#roster-name").fill("孙村长")
    await page.locator("#roster-phone").fill("13900000011")
    await page.locator("#roster-form").get_by_role("button", name="保存").click()
    await expect(page.locator("#site-notice")).to_have_text("已为“青石岭采石场”指派“村干部”。")
    await expect(panel.locator("#site-gaps")).to_have_count(0)
    cadre = (_site_row(page, "KS-001")).locator("li[data-role=village_cadre]")
    assert await cadre.get_attribute("data-state") != "gap"
    assert "孙村长" in await cadre.inner_text()
    await page.locator("#site-only-gaps").check()
    await expect(page.locator("#site-empty")).to_have_text("没有符合筛选条件的矿点。")
    await page.locator("#site-only-gaps").uncheck()
    site = await scene.get(f"/geofence/mine-sites/{scene.sites['KS-001']}")
    assert site["rosterComplete"] is True and site["missingRoles"] == []

    # the status, with its reason: still listed, on the map in its new colour
    await page.locator("#site-status").select_option("signs_of_reopening")
    await page.locator("#site-status-reason").fill("群众反映夜间有车辆进出")
    await page.locator("#site-status-form").get_by_role("button", name="保存状态").click()
    await expect(page.locator("#site-notice")).to_have_text(
        "已将“青石岭采石场”的状态改为“有复采迹象”。"
    )
    await expect(page.locator("#site-status-reason-now")).to_have_text("群众反映夜间有车辆进出")
    await expect(_site_row(page, "KS-001")).to_have_attribute("data-status", "signs_of_reopening")
    await page.wait_for_function(
        f"() => {{ const f = ({RENDERED})(['sites-fill']); "
        "return f && f.some((p) => p.code === 'KS-001' && p.status === 'signs_of_reopening'); }",
        timeout=TIMEOUT_MS,
    )
    await page.screenshot(path=_shot("console-mine-site-panel.png"), full_page=True)
    site = await scene.get(f"/geofence/mine-sites/{scene.sites['KS-001']}")
    assert (site["status"], site["statusReason"]) == (
        "signs_of_reopening",
        "群众反映夜间有车辆进出",
    )
    await page.reload()
    await page.wait_for_selector("#site-table")
    assert await _listed(page) == ["KS-001", "KS-002"]
    await expect(_site_row(page, "KS-001")).to_have_attribute("data-status", "signs_of_reopening")
    assert errors == []


async def test_duty_check_recorded_ends_the_overdue(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    captain = scene.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await _open(page, "duty")
    site = page.locator(f".duty-site[data-site-id='{scene.sites['KS-001']}']")
    late = site.locator("tr[data-role=safety_officer]")
    await expect(late).to_have_class("overdue")
    assert await late.locator("td[data-col=state]").inner_text() == "逾期"
    assert "逾期 1 人" in await _text(page, "#duty-totals")
    await page.locator("#duty-only-overdue").check()
    await expect(page.locator(".duty-site")).to_have_count(1)
    await page.locator("#duty-only-overdue").uncheck()
    await expect(page.locator(".duty-site")).to_have_count(2)

    site = page.locator(f".duty-site[data-site-id='{scene.sites['KS-001']}']")
    await site.get_by_role("button", name="记录检查：青石岭采石场 李站长").click()
    assert await page.locator("#duty-site").input_value() == scene.sites["KS-001"]
    members = await scene.members(scene.sites["KS-001"])
    assert await page.locator("#duty-member").input_value() == members["safety_officer"]
    await page.locator("#duty-result").select_option("still_closed")
    await page.locator("#duty-note").fill("封堵完好，无车辆痕迹")
    await page.locator("#duty-form").get_by_role("button", name="记录").click()
    await expect(page.locator("#duty-notice")).to_contain_text("已记录“青石岭采石场”的检查：仍关闭")
    site = page.locator(f".duty-site[data-site-id='{scene.sites['KS-001']}']")
    await expect(site.locator("tr[data-role=safety_officer] td[data-col=state]")).to_have_text(
        "按期"
    )
    assert "逾期 0 人" in await _text(page, "#duty-totals")
    assert "封堵完好，无车辆痕迹" in await _text(page, "#duty-checks")
    await page.screenshot(path=_shot("console-duty.png"), full_page=True)
    checks = await scene.get(f"/duty-checks?site_id={scene.sites['KS-001']}")
    assert checks[0]["memberId"] == members["safety_officer"]
    assert checks[0]["note"] == "封堵完好，无车辆痕迹"
    [status] = await scene.get(f"/duty-status?site_id={scene.sites['KS-001']}")
    assert status["overdueCount"] == 0
    assert errors == []


async def test_inspector_reads_his_plan_and_gets_no_site_pages(
    live_url: str, browser: Browser, scene: Scene
) -> None:
    inspector = scene.world.county.users[Role.INSPECTOR]
    page, errors = await log_in(browser, live_url, inspector.username)
    pages = await page.locator("nav a[data-page]").evaluate_all(
        "(l) => l.map((a) => a.dataset.page)"
    )
    assert "plans" in pages and "mine-sites" not in pages and "duty" not in pages
    await _open(page, "plans")
    await page.wait_for_selector("#plan-read-only")
    await page.locator("#plan-month").fill(OCTOBER)
    card = page.locator(f".plan-card[data-area-id='{scene.world.area.id}'][data-month='{OCTOBER}']")
    await expect(card.locator("[data-figure=quota]")).to_have_text("5 次")
    [mine] = await scene.get(f"/plans/mine?month={OCTOBER}", Role.INSPECTOR)
    assert mine["requirement"]["minPerMonth"] == 5
    # read only: no way to edit the plan or the rules, and no calendar of the county's patrols
    main = page.locator("main")
    assert await main.locator("#plan-edit, #rule-add, #rules-table, #plan-calendar").count() == 0
    assert await main.locator("input:not(#plan-month), textarea, select").count() == 0
    await page.screenshot(path=_shot("console-plans-inspector.png"), full_page=True)

    # the sites' pages are not his: the address falls back to his first page
    for name in ("mine-sites", "duty"):
        await page.goto(f"{live_url}/console/#/{name}")
        await page.wait_for_selector("nav a[aria-current=page]")
        current = await page.locator("nav a[aria-current=page]").get_attribute("data-page")
        assert current != name
        assert await page.locator("#site-table, .duty-site, #duty-form").count() == 0
    assert errors == []
