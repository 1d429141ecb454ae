"""The clue desk's page of the console (线索受理) in headless Debian chromium against the real app.

The desk takes a 12336 call about a party already reported nearby: the form registers it,
the receipt number it shows is the API's record's and the repeat is linked to the first clue.
The clue is in the queue with its decision's due time; the desk refuses it with a reason and
records the answer given to the caller, and the API says so. The reporter's identity shows
only on request. An inspector has no 线索受理 page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, Page

from infra.scope import Role
from tests.clock import CHINA
from tests.conftest import CountyFixture
from tests.console.conftest import SCREENSHOTS, TIMEOUT_MS, log_in, narrow_then_widen

Client = AsyncTestClient[Litestar]
LON, LAT = 112.1, 28.5
PARTY = "河口村张某"
FACTS = "河口村东侧有人夜间开挖河滩取砂，已持续一周。"


async def _call(
    client: Client, county: CountyFixture, method: str, path: str, body: Any = None
) -> Any:
    resp = await client.request(
        method, f"/api/v1{path}", json=body, headers=county.headers(Role.CLUE_DESK)
    )
    assert resp.status_code in {200, 201}, f"{method} {path}: {resp.text}"
    return resp.json()


async def _open_page(page: Page) -> None:
    await page.click("nav a[data-page=tipoffs]")
    await page.wait_for_selector("#tip-form")
    await page.wait_for_selector("#tip-table, #tip-empty")


async def test_the_desk_registers_a_call_refuses_it_and_records_the_answer(
    live_url: str,
    browser: Browser,
    client: Client,
    make_county: Callable[..., Awaitable[CountyFixture]],
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    first = await _call(
        client,
        county,
        "POST",
        "/tip-offs",
        {
            "channel": "letter",
            "receivedAt": datetime.now().astimezone().isoformat(),
            "facts": "来信反映河滩取砂。",
            "clueType": "mineral_illegal_mining",
            "lon": LON,
            "lat": LAT,
            "reportedParty": PARTY,
        },
    )
    desk = county.users[Role.CLUE_DESK]
    page, errors = await log_in(browser, live_url, desk.username)
    await _open_page(page)
    assert await page.locator("#tip-channel").input_value() == "phone_12336"
    default = datetime.fromisoformat(await page.locator("#tip-received").input_value())
    assert abs(default.replace(tzinfo=CHINA) - datetime.now(CHINA)) < timedelta(minutes=2)

    await page.get_by_label("线索类型").select_option("mineral_illegal_mining")
    await page.get_by_label("位置描述").fill("河口村东侧河滩")
    await page.get_by_label("经度").fill(str(LON))
    await page.get_by_label("纬度").fill(str(LAT))
    await page.get_by_label("被举报对象").fill(PARTY)
    await page.get_by_label("举报事实").fill(FACTS)
    await page.get_by_label("姓名").fill("刘举报")
    await page.get_by_label("电话").fill("13712345678")
    await page.get_by_role("button", name="登记").click()
    receipt = (await page.locator("#tip-receipt-no").inner_text(timeout=TIMEOUT_MS)).strip()

    listed = await _call(client, county, "GET", "/tip-offs?limit=50")
    mine = [c for c in listed if c["receiptNo"] == receipt]
    assert len(mine) == 1, (receipt, [c["receiptNo"] for c in listed])
    record = await _call(client, county, "GET", f"/tip-offs/{mine[0]['id']}")
    assert record["channel"] == "phone_12336"
    assert record["facts"] == FACTS
    assert record["reportedParty"] == PARTY
    assert record["anonymous"] is False
    assert record["status"] == "received"
    assert record["duplicateOf"] == first["id"]
    assert await page.locator("#tip-duplicate").get_attribute("data-tip-id") == first["id"]

    # the queue: the new clue with its decision's due time
    row = page.locator(f"#tip-table tr[data-receipt='{receipt}']")
    await row.wait_for()
    decide = next(s for s in record["steps"] if s["step"] == "decide")
    due_cell = row.locator("td[data-col=due]")
    shown = await due_cell.get_attribute("data-due")
    assert shown is not None
    assert datetime.fromisoformat(shown) == datetime.fromisoformat(decide["dueAt"])
    due_text = await due_cell.inner_text()
    assert "受理" in due_text and ("还剩" in due_text or "已逾期" in due_text), due_text
    assert await row.locator("td[data-col=status]").inner_text() == "待受理"
    assert await row.locator("td[data-col=channel]").inner_text() == "12336 热线"

    # its panel: refuse with a reason
    await row.locator("td[data-col=receipt] a").click()
    await page.wait_for_selector("#tip-decide")
    assert receipt in await page.locator("#tip-panel-title").inner_text()
    await page.locator("#tip-decision").select_option("refuse")
    await page.locator("#tip-refusal").select_option("ownership_compensation")
    assert not await page.locator("#tip-transfer-to").is_visible()
    await page.set_viewport_size({"width": 1280, "height": 1200})  # the form, queue and panel
    await page.screenshot(path=str(SCREENSHOTS / "tipoffs.png"))
    await page.locator("#tip-decide button[type=submit]").click()
    await page.wait_for_selector("#tip-feedback")
    refused = await _call(client, county, "GET", f"/tip-offs/{record['id']}")
    assert refused["status"] == "refused"
    assert refused["refusalReason"] == "ownership_compensation"
    assert "不予受理" in await page.locator("#tip-panel .tip-dl").first.inner_text()

    # the reporter only on request, the read announced as recorded
    assert await page.locator("#tip-reporter").count() == 0
    assert "记入" in await page.locator("#tip-reporter-box").inner_text()
    await page.get_by_role("button", name="查看举报人").click()
    await page.wait_for_selector("#tip-reporter")
    assert "刘举报" in await page.locator("#tip-reporter").inner_text()

    # the answer to the caller closes the clue
    await page.locator("#tip-fb-channel").select_option("phone")
    await page.locator("#tip-fb-content").fill("经核，属权属争议，已告知向乡镇政府申请处理。")
    await page.locator("#tip-feedback button[type=submit]").click()
    await page.wait_for_function(
        "() => !document.querySelector('#tip-feedback')"
        " && document.querySelector('#tip-steps tr[data-step=feedback] td:nth-child(3)')"
        "?.textContent !== '—'"
    )
    closed = await _call(client, county, "GET", f"/tip-offs/{record['id']}")
    assert closed["status"] == "closed"
    assert closed["feedbackChannel"] == "phone"
    assert closed["feedbackContent"].startswith("经核")
    await page.locator(f"#tip-table tr[data-receipt='{receipt}']").wait_for()
    await page.wait_for_function(
        "(r) => document.querySelector(`#tip-table tr[data-receipt='${r}'] td[data-col=status]`)"
        "?.textContent === '已办结'",
        arg=receipt,
    )
    assert errors == [], errors
    await page.context.close()


async def test_an_inspector_has_no_clue_desk_page(
    live_url: str, browser: Browser, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    page, errors = await log_in(browser, live_url, county.users[Role.INSPECTOR].username)
    menu = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.dataset.page)")
    assert "tipoffs" not in menu, menu
    assert await page.get_by_role("link", name="线索受理").count() == 0
    await page.evaluate("() => { location.hash = '#/tipoffs'; }")
    await page.wait_for_selector("nav a[data-page=map][aria-current=page]")
    assert await page.locator("#tip-form, #tip-queue").count() == 0
    assert errors == [], errors
    await page.context.close()


async def test_the_queue_shows_the_filter_asked_last(
    live_url: str,
    browser: Browser,
    client: Client,
    make_county: Callable[..., Awaitable[CountyFixture]],
) -> None:
    county = await make_county(lon=LON, lat=LAT)
    for facts in ("来信反映河滩取砂。", "来电反映村东夜间挖土。"):
        body = {"channel": "letter", "receivedAt": datetime.now().astimezone().isoformat(),
                "facts": facts, "clueType": "mineral_illegal_mining", "lon": LON, "lat": LAT,
                "reportedParty": PARTY}  # fmt: skip
        await _call(client, county, "POST", "/tip-offs", body)
    page, errors = await log_in(browser, live_url, county.users[Role.CLUE_DESK].username)
    await _open_page(page)
    await page.wait_for_function(
        "() => document.querySelectorAll('#tip-table tbody tr').length === 2"
    )
    overdue = page.locator("#tip-filter-overdue")
    await narrow_then_widen(page, "**/api/v1/tip-offs?*overdue=true*", overdue.check,
                            overdue.uncheck, "#tip-table tbody tr", 2)  # fmt: skip
    assert errors == [], errors
    await page.context.close()
