"""The county administration pages of the console in headless Debian chromium against the
real app: users and roles (用户与角色), townships and villages (乡镇与村), layer import (图层导入),
devices (设备) and county settings (县级设置).

The admin creates an inspector's account, which is then in the list and logs in; a second one
with the same name is refused with the API's message next to the form; once disabled, the
account's login is refused with the message shown. A township is added from a GeoJSON file
(an unreadable text and an open ring are refused first, each with its reason) and drawn on
the map, then a village under it. A layer file above the (lowered) background threshold goes
through the import job: the progress bar waits while queued and reaches the file's total
when the worker has run, and the new version is in the list; a small file's result shows at
once. A phone's device token is revoked after a confirmation and the API refuses it from
then on. A holiday is entered in the work calendar (a weekend "holiday" is refused with the
API's reason), and the settings in force are the API's. A captain has none of these pages in
the menu, and an address typed by hand says the page is not for his role. Screenshots:
``docs/screenshots/admin-*.png``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, Page
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests.conftest import CountyFixture
from tests.console.conftest import SCREENSHOTS, TIMEOUT_MS, VIEWPORT, log_in, rendered, serve
from tests.jobs import run_jobs

Client = AsyncTestClient[Litestar]
MakeCounty = Callable[..., Awaitable[CountyFixture]]
LON, LAT = 112.1, 28.5  # the middle of make_county's county
THRESHOLD = 4_000  # layer files above this many bytes are imported in the background here
ADMIN_PAGES = {
    "users": "用户与角色",
    "regions": "乡镇与村",
    "layers": "图层导入",
    "devices": "设备",
    "settings": "县级设置",
}


@pytest.fixture(scope="module")
def admin_settings(settings: Settings) -> Settings:
    """The test app with a low background-import threshold (a few-kilobyte file is "large")."""
    return replace(settings, layers=replace(settings.layers, import_job_bytes=THRESHOLD))


@pytest.fixture
def admin_url(admin_settings: Settings, engine: AsyncEngine) -> Iterator[str]:
    del engine  # migrated
    yield from serve(admin_settings)


async def _screenshot(page: Page, name: str) -> None:
    """The whole page (a viewport as tall as its content), then the 1280×800 one again."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = await page.evaluate("() => document.querySelector('.review-page').scrollHeight")
    await page.set_viewport_size(
        {"width": VIEWPORT["width"], "height": min(int(height) + 60, 2400)}
    )
    await page.screenshot(path=str(SCREENSHOTS / name))
    await page.set_viewport_size(VIEWPORT)


def _unexpected(errors: list[str], *statuses: int) -> list[str]:
    """The page's errors but the refusals the test provokes (the browser logs each one)."""
    return [e for e in errors if not any(f"status of {s}" in e for s in statuses)]


async def _open(page: Page, name: str, ready: str) -> None:
    await page.locator(f"nav a[data-page={name}]").click()
    await page.locator(ready).first.wait_for()


async def _text(page: Page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def _login_form(browser: Browser, base: str, username: str, password: str) -> Page:
    """A new browser context at the login page with the form filled in and sent."""
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(f"{base}/")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    return page


def _parcels(cells: int) -> bytes:
    """``cells`` parcels in a row inside the county, as a GeoJSON file."""
    features = [
        {
            "type": "Feature",
            "properties": {"DLBM": "0103", "DLMC": "旱地"},
            "geometry": mapping(
                shapely.box(LON + i * 0.001, LAT, LON + (i + 1) * 0.001, LAT + 0.001)
            ),
        }
        for i in range(cells)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


async def test_the_admin_creates_a_user_who_logs_in_until_disabled(
    admin_url: str, browser: Browser, make_county: MakeCounty
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    page, errors = await log_in(browser, admin_url, county.users[Role.ADMIN].username)
    menu = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.dataset.page)")
    assert set(ADMIN_PAGES) <= set(menu), menu
    names = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.textContent)")
    assert set(ADMIN_PAGES.values()) <= set(names), names
    await _open(page, "users", "#us-table")
    listed = await page.locator("#us-table tbody tr").count()
    assert listed == len(county.users)  # one account per role

    username = f"wang.wu.{uuid.uuid4().hex[:6]}"
    form = page.locator("#us-form")
    await form.get_by_label("用户名").fill(username)
    await form.get_by_label("姓名").fill("王五")
    await form.get_by_label("角色").select_option("inspector")
    await form.get_by_label("密码").fill("first-password-1")
    await form.get_by_label("电话").fill("13800000001")
    await form.get_by_role("button", name="创建账号").click()
    await page.get_by_text(f"已创建账号 {username}。").wait_for()
    row = page.locator(f"#us-table tr[data-username='{username}']")
    await row.wait_for()
    assert (
        await _text(page, f"#us-table tr[data-username='{username}'] td[data-col=role]") == "巡查员"
    )
    assert await row.get_attribute("data-active") == "true"
    assert await page.locator("#us-table tbody tr").count() == listed + 1

    # the same name again: the API's problem next to the form
    await form.get_by_label("用户名").fill(username)
    await form.get_by_label("姓名").fill("王五二")
    await form.get_by_label("角色").select_option("captain")
    await form.get_by_label("密码").fill("first-password-1")
    await form.get_by_role("button", name="创建账号").click()
    await page.locator("#us-create-status.error").wait_for()
    assert await _text(page, "#us-create-status") == "创建失败：用户名已被占用"
    await _screenshot(page, "admin-users.png")

    # the new user logs in (an inspector lands on the map)
    new = await _login_form(browser, admin_url, username, "first-password-1")
    await new.wait_for_selector("nav a[data-page=map][aria-current=page]")
    assert "王五" in await _text(new, "header.top .who")
    await new.context.close()

    # disabled (after a confirmation), the account's login is refused with the message
    panel = page.locator("#us-panel")
    assert await _text(page, "#us-panel-title") == f"王五（{username}）"
    await panel.get_by_role("button", name="停用账号").click()
    await panel.get_by_role("button", name="确认停用").click()
    await page.get_by_text(f"已停用账号 {username}：其登录和设备已失效。").wait_for()
    assert await row.get_attribute("data-active") == "false"
    assert (
        await _text(page, f"#us-table tr[data-username='{username}'] td[data-col=status]")
        == "已停用"
    )
    refused = await _login_form(browser, admin_url, username, "first-password-1")
    await refused.locator("#login-status", has_text="用户名或密码错误").wait_for()
    assert await _text(refused, "#login-status") == "登录失败: 用户名或密码错误"
    assert await refused.locator("nav").count() == 0
    await refused.context.close()
    assert _unexpected(errors, 409) == [], errors
    await page.context.close()


BOUNDARY = {
    "type": "Feature",
    "properties": {"name": "青石镇"},
    "geometry": mapping(shapely.box(LON - 0.05, LAT - 0.05, LON + 0.05, LAT + 0.05)),
}
# a ring whose last position does not repeat its first
OPEN_RING = {
    "type": "Polygon",
    "coordinates": [[[LON, LAT], [LON + 0.01, LAT], [LON + 0.01, LAT + 0.01], [LON, LAT + 0.01]]],
}


async def test_the_admin_adds_a_township_from_a_file_and_a_village_under_it(
    admin_url: str, browser: Browser, make_county: MakeCounty, client: Client, tmp_path: Path
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    page, errors = await log_in(browser, admin_url, county.users[Role.ADMIN].username)
    await _open(page, "regions", "#rg-township-form")
    await page.locator("#rg-empty").wait_for()
    form = page.locator("#rg-township-form")
    await form.get_by_label("代码").fill("430999101")
    await form.get_by_label("名称").fill("青石镇")
    await form.get_by_label("类型").select_option("town")

    # a text that is not JSON: said before anything is sent
    await form.get_by_label("或粘贴 GeoJSON").fill('{"type": "Polygon", "coordinates": [[')
    await form.get_by_role("button", name="新增").click()
    status = page.locator("#rg-tw-status.error")
    await status.wait_for()
    assert (await status.inner_text()).startswith("未能新增：边界不是有效的 JSON")
    # an open ring: the API refuses it and says why
    await form.get_by_label("或粘贴 GeoJSON").fill(json.dumps(OPEN_RING))
    await form.get_by_role("button", name="新增").click()
    await page.locator("#rg-tw-status.error", has_text="几何图形无效").wait_for()
    assert await status.inner_text() == (
        "未能新增：几何图形无效：环未闭合（最后一个坐标须与第一个相同）"
    )

    # the boundary from a file
    path = tmp_path / "qingshi.geojson"
    path.write_text(json.dumps(BOUNDARY), encoding="utf-8")
    await form.get_by_label("GeoJSON 文件").set_input_files(str(path))
    await page.get_by_text("已读取文件 qingshi.geojson").wait_for()
    await form.get_by_role("button", name="新增").click()
    await page.locator("#rg-tw-status.ok", has_text="已新增 青石镇。").wait_for()
    township = page.locator("#rg-table tr.township[data-code='430999101']")
    await township.wait_for()
    assert await _text(page, "#rg-table tr.township td[data-col=kind]") == "镇"

    # a village under it
    village = page.locator("#rg-village-form")
    await village.get_by_label("所属乡镇").select_option(label="青石镇（430999101）")
    await village.get_by_label("代码").fill("430999101001")
    await village.get_by_label("名称").fill("河口村")
    small = mapping(shapely.box(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01))
    await village.get_by_label("或粘贴 GeoJSON").fill(json.dumps(small))
    await village.get_by_role("button", name="新增").click()
    await page.locator("#rg-vi-status.ok", has_text="已新增 河口村。").wait_for()
    row = page.locator("#rg-table tr.village[data-code='430999101001']")
    await row.wait_for()
    tw_id = await township.get_attribute("data-township-id")
    assert await row.get_attribute("data-township-id") == tw_id

    # renamed (the boundary kept: the new-boundary box left empty)
    await township.get_by_role("button", name="修改：青石镇").click()
    edit = page.locator("#rg-edit")
    await edit.get_by_label("名称").fill("青石镇（新）")
    await edit.get_by_role("button", name="保存修改").click()
    await page.locator("#rg-edit-status.ok", has_text="已保存。").wait_for()
    await page.locator("#rg-table tr.township th", has_text="青石镇（新）").wait_for()

    listed = await client.get("/api/v1/townships", headers=county.headers(Role.INSPECTOR))
    assert [(t["code"], t["name"], t["kind"]) for t in listed.json()] == [
        ("430999101", "青石镇（新）", "town")
    ]
    kept = shapely.geometry.shape(listed.json()[0]["geometry"])
    assert kept.equals(shapely.geometry.shape(BOUNDARY["geometry"]))
    drawn = await rendered(page, ["townships-fill"])
    assert {f["name"] for f in drawn} == {"青石镇（新）"}
    await _screenshot(page, "admin-regions.png")
    assert _unexpected(errors, 422) == [], errors
    await page.context.close()


async def test_a_large_layer_file_is_imported_in_the_background_with_a_progress_bar(
    admin_url: str,
    browser: Browser,
    make_county: MakeCounty,
    admin_settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    page, errors = await log_in(browser, admin_url, county.users[Role.ADMIN].username)
    await _open(page, "layers", "#ly-form")
    assert "还没有导入过此图层" in await _text(page, ".ly-kind[data-kind=parcels]")

    large = tmp_path / "parcels-large.geojson"
    large.write_bytes(_parcels(30))
    assert large.stat().st_size > THRESHOLD
    await page.locator("#ly-file").set_input_files(str(large))
    await page.locator("#ly-kind").select_option("parcels")
    await page.get_by_role("button", name="导入", exact=True).click()
    job = page.locator("#ly-job[data-state=queued]")
    await job.wait_for()  # no worker has run yet: the bar waits without a value
    bar = page.locator("#ly-progress")
    assert await bar.get_attribute("value") is None
    assert await _text(page, "#ly-progress-text") == "排队中：等待后台处理…"
    assert await _text(page, "#ly-job-state") == "排队中"

    # the worker imports it; the page, asking every second, draws the bar to the end
    await run_jobs(admin_settings.database, session_factory,
                   S3ObjectStore(admin_settings.object_store), admin_settings.evidence)  # fmt: skip
    await page.locator("#ly-job[data-state=done]").wait_for()
    assert (await bar.get_attribute("max"), await bar.get_attribute("value")) == ("30", "30")
    assert await _text(page, "#ly-progress-text") == "已读取 30 / 30 个要素（100%）"
    assert await _text(page, "#ly-job-state") == "已完成"
    assert "已导入为 地类图斑 第 1 版" in await _text(page, "#ly-result")
    version = page.locator("#ly-versions-parcels tr[data-version-no='1']")
    await version.wait_for()
    assert (
        await _text(page, "#ly-versions-parcels tr[data-version-no='1'] td[data-col=stored]")
        == "30"
    )
    assert (
        await _text(page, "#ly-versions-parcels tr[data-version-no='1'] td[data-col=file]")
        == large.name
    )
    await _screenshot(page, "admin-layers.png")

    # a small file is imported within the request: its result at once, no job
    small = tmp_path / "parcels-small.geojson"
    small.write_bytes(_parcels(2))
    assert small.stat().st_size <= THRESHOLD
    await page.locator("#ly-file").set_input_files(str(small))
    await page.get_by_role("button", name="导入", exact=True).click()
    await page.locator("#ly-result", has_text="第 2 版").wait_for()
    assert await page.locator("#ly-job").count() == 0
    assert "读取 2，入库 2" in await _text(page, "#ly-result")
    await page.locator("#ly-versions-parcels tr.current[data-version-no='2']").wait_for()
    assert errors == [], errors
    await page.context.close()


async def test_the_admin_revokes_a_phone_after_a_confirmation(
    admin_url: str, browser: Browser, make_county: MakeCounty, client: Client
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    inspector = county.users[Role.INSPECTOR]
    issued = await client.post(
        "/api/v1/auth/devices", json={"name": "巡查手机-01"}, headers=county.headers(Role.INSPECTOR)
    )
    assert issued.status_code == 201, issued.text
    device, device_token = issued.json()["device"], issued.json()["token"]
    phone = {"Authorization": f"Bearer {device_token}"}
    assert (await client.get("/api/v1/me", headers=phone)).status_code == 200

    page, errors = await log_in(browser, admin_url, county.users[Role.ADMIN].username)
    await _open(page, "devices", "#dv-table")
    row = page.locator(f"#dv-table tr[data-device-id='{device['id']}']")
    assert await _text(
        page, f"#dv-table tr[data-device-id='{device['id']}'] td[data-col=user]"
    ) == (f"{inspector.display_name}（{inspector.username}）")
    await row.get_by_role("button", name="吊销").click()
    question = row.locator(".confirm-box")
    assert "吊销" in await question.inner_text() and "巡查手机-01" in await question.inner_text()
    await _screenshot(page, "admin-devices.png")
    await row.get_by_role("button", name="取消").click()  # nothing happens
    assert (await client.get("/api/v1/me", headers=phone)).status_code == 200
    await row.get_by_role("button", name="吊销").click()
    await row.get_by_role("button", name="确认吊销").click()
    await page.get_by_text("已吊销设备 巡查手机-01。").wait_for()
    await row.wait_for(state="detached")  # only valid tokens are listed by default
    await page.get_by_label("也显示已吊销和已过期的").check()
    assert await row.get_attribute("data-state") == "revoked"
    assert (await client.get("/api/v1/me", headers=phone)).status_code == 401
    assert errors == [], errors
    await page.context.close()


async def test_the_admin_enters_a_holiday_and_sees_the_settings_in_force(
    admin_url: str, browser: Browser, make_county: MakeCounty, client: Client
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    page, errors = await log_in(browser, admin_url, county.users[Role.ADMIN].username)
    await _open(page, "settings", "#st-day-form")
    form = page.locator("#st-day-form")

    # a "holiday" on a Saturday: the API's reason next to the form
    await form.get_by_label("日期").fill("2026-10-03")
    await form.get_by_label("类型").select_option("holiday")
    await form.get_by_role("button", name="保存").click()
    await page.locator("#st-day-status.error").wait_for()
    assert await _text(page, "#st-day-status") == (
        "未能保存：节假日须为工作日（周一至周五），调休上班日须为周末"
    )
    assert await page.locator("#st-day-table tr[data-day='2026-10-03']").count() == 0

    await form.get_by_label("日期").fill("2026-10-01")
    await form.get_by_label("类型").select_option("holiday")
    await form.get_by_label("名称").fill("国庆节")
    await form.get_by_role("button", name="保存").click()
    await page.get_by_text("已登记 2026-10-01：节假日。").wait_for()
    day = page.locator("#st-day-table tr[data-day='2026-10-01']")
    await day.wait_for()
    assert "国庆节" in await day.inner_text() and "周四" in await day.inner_text()
    days = await client.get(
        "/api/v1/work-calendar", params={"from": "2026-01-01", "to": "2026-12-31"},
        headers=county.headers(Role.CAPTAIN),
    )  # fmt: skip
    assert [(d["day"], d["kind"], d["name"]) for d in days.json()] == [
        ("2026-10-01", "holiday", "国庆节")
    ]

    # the settings in force are the API's, and the rules its list
    got = (await client.get("/api/v1/county-settings", headers=county.headers(Role.CAPTAIN))).json()
    await page.locator("#st-tip-offs").wait_for()
    assert await _text(page, "#st-tip-offs dd[data-setting=cs_verify]") == (
        f"{got['tipOffs']['verifyWorkingDays']} 个工作日"
    )
    assert await _text(page, "#st-procedure dd[data-setting=cs_filing]") == (
        f"{got['procedure']['filingWorkingDays']} 个工作日"
    )
    # the served app's threshold (THRESHOLD bytes), not the shared client app's
    assert await _text(page, "#st-layer-imports dd[data-setting=cs_background]") == "4 KB"
    assert await _text(page, "#st-layer-imports dd[data-setting=cs_maxUpload]") == "512 MB"
    rules = (await client.get("/api/v1/referral-rules", headers=county.headers(Role.ADMIN))).json()
    assert await page.locator("#st-rule-table tbody tr").count() == len(rules) > 0
    await _screenshot(page, "admin-settings.png")
    assert _unexpected(errors, 422) == [], errors
    await page.context.close()


async def test_a_captain_has_no_administration_pages(
    admin_url: str, browser: Browser, make_county: MakeCounty
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    page, errors = await log_in(browser, admin_url, county.users[Role.CAPTAIN].username)
    menu = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.dataset.page)")
    assert not set(ADMIN_PAGES) & set(menu), menu
    for name, title in ADMIN_PAGES.items():
        await page.evaluate(f"() => {{ location.hash = '#/{name}'; }}")
        refusal = page.locator("#page-refused")
        await refusal.locator("h1", has_text=title).wait_for()
        assert await page.title() == f"{title} · 自然资源执法巡查 · 管理端"
        text = await refusal.inner_text()
        assert "此页面只供管理员使用，您的角色（中队长）不能使用。" in text, text
        assert await page.locator("nav a[aria-current=page]").count() == 0
        assert await page.locator("main form, main table").count() == 0
    assert errors == [], errors
    await page.context.close()
