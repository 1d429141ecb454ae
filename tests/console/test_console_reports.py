"""The overview (总览) and statistics and reports (统计报表) in headless Debian chromium.

The county of :mod:`tests.reports.seed` (records of every kind over 2025 and 2026, a satellite
batch), a second contract area with its own October patrols, a patrol running now and two open
alerts. The captain lands on 总览 and every tile says what the API says (one tile failing
alone, then retried); on 统计报表 for October 2026 by contract area every figure, its previous
period and last year equal ``GetStatistics``'s, and the charts draw one bar per week and area,
per channel and per case stage with the API's values; a monthly report is generated (queued,
then done when the worker has run), downloaded as XLSX and opened with openpyxl. An inspector
gets neither page. Screenshots: ``docs/screenshots/overview.png`` and ``reports.png``.
"""

from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, Route
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from patrol import raise_alert
from patrol.field_models import PatrolSession
from tests import clock
from tests.console.conftest import SCREENSHOTS, log_in
from tests.jobs import run_jobs
from tests.reports.seed import seed
from tests.worlds import World, build_world

Client = AsyncTestClient[Litestar]
OCTOBER = date(2026, 10, 15)
LON, LAT, SIZE = 112.1, 28.5, 0.2  # build_world's default place, where the seed puts its records


class County:
    def __init__(self, world: World, client: Client) -> None:
        self.world = world
        self.client = client

    async def get(self, path: str, **params: Any) -> Any:
        resp = await self.client.get(
            f"/api/v1{path}", params=params, headers=self.world.headers(Role.CAPTAIN)
        )
        assert resp.status_code == 200, resp.text
        return resp.json()


@pytest.fixture(scope="module")
async def county(
    app: Litestar, session_factory: async_sessionmaker[AsyncSession], client: Client
) -> AsyncIterator[County]:
    world = await build_world(session_factory, app.state.tokens, lon=LON, lat=LAT, size=SIZE)
    c = County(world, client)
    east = {
        "type": "Polygon",
        "coordinates": [[[LON, LAT - 0.1], [LON + 0.1, LAT - 0.1], [LON + 0.1, LAT + 0.1],
                         [LON, LAT + 0.1], [LON, LAT - 0.1]]],
    }  # fmt: skip
    resp = await client.post(
        "/api/v1/areas",
        headers=world.headers(Role.CAPTAIN),
        json={"code": "A2", "name": "东片区", "grade": 2, "geometry": east,
              "leaderId": str(world.inspector2.user_id)},
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    area2 = uuid.UUID(resp.json()["id"])
    async with session_factory() as db:
        await seed(db, world)
        # the east area's October patrols (one on the 1st, two in the week of the 12th) and a
        # patrol running now
        for day, hour in ((1, 9), (13, 9), (15, 20)):
            start = datetime(2026, 10, day, hour, tzinfo=clock.CHINA)
            db.add(_patrol(world, area2, start, ended=True))
        db.add(_patrol(world, area2, clock.ago(minutes=20), ended=False))
        for kind, severity, message in (
            ("tip_off_overdue", "medium", "线索 12336 核查逾期"),
            ("site_reopening", "high", "青石岭采石场有复采迹象"),
        ):
            await raise_alert(db, county_id=world.county_id, kind=kind, severity=severity,
                              dedupe_key=f"console:{uuid.uuid4()}", message=message)  # fmt: skip
        await db.commit()
    yield c


def _patrol(world: World, area_id: uuid.UUID, start: datetime, *, ended: bool) -> PatrolSession:
    duration = 3600.0
    return PatrolSession(
        id=uuid7(), county_id=world.county_id, area_id=area_id,
        inspector_id=world.inspector2.user_id, started_at=start,
        ended_at=start + timedelta(seconds=duration) if ended else None,
        duration_s=duration if ended else 0.0, moving_s=duration if ended else 0.0,
        distance_m=4000.0 if ended else 0.0, is_night=start.hour >= 19,
        has_violation=False, summary_stale=False,
    )  # fmt: skip


def _shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


def _num(value: float | None) -> str:
    """As the console shows a figure: whole numbers with separators, others to two places."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{Decimal(repr(value)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _trend(value: float | None, base: float | None) -> tuple[str, str]:
    """The change's class and its text before the percentage: ``▲ +3``, ``▼ −2``, ``0``."""
    if value is None or base is None:
        return "none", "—"
    diff = round((value - base) * 100) / 100
    if diff == 0:
        return "same", "0"
    arrow, sign = ("▲", "+") if diff > 0 else ("▼", "−")
    return ("up" if diff > 0 else "down"), f"{arrow} {sign}{_num(abs(diff))}"


def _weeks(start: date, end: date) -> list[tuple[date, date]]:
    """The period's ISO weeks, cut at its ends."""
    monday = start - timedelta(days=start.weekday())
    out = []
    while monday <= end:
        out.append((max(monday, start), min(monday + timedelta(days=6), end)))
        monday += timedelta(days=7)
    return out


async def _whole_page(page: Page) -> None:
    """A viewport as tall as the page's scrolled content, for a screenshot of all of it."""
    height = await page.evaluate("() => document.querySelector('.review-page').scrollHeight")
    await page.set_viewport_size({"width": 1280, "height": min(int(height) + 60, 2400)})


async def _text(page: Page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def _bars(page: Page, chart: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.locator(f"#{chart} rect.bar").evaluate_all(
        "(rs) => rs.map((r) => ({ series: r.dataset.series, category: r.dataset.category,"
        " row: r.dataset.row, value: Number(r.dataset.value), title: r.textContent,"
        " label: r.getAttribute('aria-label') }))"
    )
    return found


async def test_the_captain_lands_on_the_overview_whose_tiles_say_what_the_api_says(
    live_url: str, browser: Browser, county: County
) -> None:
    captain = county.world.county.users[Role.CAPTAIN]

    async def unavailable(route: Route) -> None:
        await route.fulfill(status=503, content_type="application/problem+json",
                            body='{"title": "服务暂不可用", "status": 503}')  # fmt: skip

    # the live board out of reach at first: its tile alone says so
    page, errors = await log_in(
        browser, live_url, captain.username, routes={"**/api/v1/live-status": unavailable}
    )
    await page.wait_for_selector("nav a[data-page=overview][aria-current=page]")
    menu = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.dataset.page)")
    assert menu[:2] == ["overview", "map"] and "reports" in menu, menu
    await page.get_by_role("heading", name="总览", exact=True).wait_for()
    live_tile = page.locator("#tile-live")
    await live_tile.locator(".failure").wait_for()
    await page.locator("#tile-coverage [data-figure=met]").wait_for()
    await page.unroute("**/api/v1/live-status", unavailable)
    await live_tile.get_by_role("button", name="重试").click()
    await live_tile.locator("[data-figure=patrolling]").wait_for()

    coverage = await county.get("/coverage")
    quotas = ("minPerMonth", "minPerWeek", "minNightPerMonth", "minNightPerWeek")
    with_quota = [a for a in coverage["areas"] if any(a["requirement"][k] for k in quotas)]
    assert await _text(page, "#tile-coverage [data-figure=met]") == str(
        sum(a["quotaMet"] for a in with_quota)
    )
    assert await _text(page, "#tile-coverage [data-figure=withQuota]") == str(len(with_quota))
    assert await _text(page, "#tile-coverage [data-figure=patrols]") == str(coverage["patrols"])

    board = await county.get("/live-status")
    assert board["patrolling"] == 1, board
    assert await _text(page, "#tile-live [data-figure=patrolling]") == "1"
    assert await _text(page, "#tile-live [data-figure=patrolledToday]") == str(
        board["patrolledToday"]
    )

    alerts = await county.get("/alerts", state="open", unacknowledged_only="true", limit=1000)
    kinds = Counter(a["kind"] for a in alerts)
    assert {"tip_off_overdue", "site_reopening"} <= set(kinds), kinds
    assert await _text(page, "#tile-alerts [data-figure=alerts]") == str(len(alerts))
    for kind, n in kinds.items():
        assert await _text(page, f"#tile-alerts li[data-kind={kind}] strong") == str(n)

    clues = await county.get("/tip-offs", overdue="true", limit=500)
    petitions, number = 0, 1
    while True:
        found = await county.get("/petitions", overdue="true", page=number)
        petitions += len(found["items"])
        if not found["hasMore"]:
            break
        number += 1
    assert clues, "the seed leaves clues late"
    assert await _text(page, "#tile-overdue [data-figure=tipOffs]") == str(len(clues))
    assert await _text(page, "#tile-overdue [data-figure=petitions]") == str(petitions)

    batch = (await county.get("/satellite/batches"))[0]
    figures = await county.get(f"/satellite/batches/{batch['id']}/figures")
    assert await _text(page, "#tile-satellite [data-figure=verified]") == str(
        figures["total"]["verified"]
    )
    assert await _text(page, "#tile-satellite [data-figure=polygons]") == str(
        figures["total"]["polygons"]
    )
    assert await _text(page, "#tile-satellite [data-figure=overdue]") == str(batch["overdue"])
    assert "问责线" in await _text(page, "#overview-ratio")

    stats = await county.get("/statistics", period="month", date=clock.today().isoformat(),
                             section="cases")  # fmt: skip
    stages = {f["key"].rsplit(".", 1)[1]: f["value"] for f in stats["figures"]
              if f["key"].startswith("cases.stage.") and f["value"]}  # fmt: skip
    assert stages, stats["figures"]
    shown = await page.locator("#overview-stages li").evaluate_all(
        "(ls) => ls.map((l) => [l.dataset.stage, l.querySelector('strong').innerText])"
    )
    assert dict(shown) == {k: _num(v) for k, v in stages.items()}
    assert await _text(page, "#tile-cases [data-figure=cases]") == _num(sum(stages.values()))

    # each tile's heading leads to its page
    links = await page.locator(".tile h2 a").evaluate_all("(as) => as.map((a) => a.hash)")
    assert links == ["#/coverage", "#/live", "#/alerts", "#/tipoffs", "#/satellite", "#/cases"]
    await page.screenshot(path=_shot("overview.png"), full_page=True)
    await page.locator("#tile-coverage h2 a").click()
    await page.wait_for_selector("nav a[data-page=coverage][aria-current=page]")
    assert [e for e in errors if "503" not in e] == [], errors
    await page.context.close()


async def test_statistics_tables_and_charts_say_what_get_statistics_says(
    live_url: str, browser: Browser, county: County
) -> None:
    captain = county.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await page.locator("nav a[data-page=reports]").click()
    await page.get_by_role("heading", name="统计报表").wait_for()
    await page.get_by_label("统计周期").select_option("month")
    await page.locator("#stats-date").fill(OCTOBER.isoformat())
    await page.get_by_label("分组").select_option("area")
    await page.locator("#stats-form button[type=submit]").click()
    await page.wait_for_selector("#stats-period[data-key='2026-10']")

    stats = await county.get("/statistics", period="month", date=OCTOBER.isoformat(),
                             group_by="area")  # fmt: skip
    assert "2026年10月" in await _text(page, "#stats-period")
    rows = await page.locator("table.figures tbody tr").evaluate_all(
        "(trs) => trs.map((tr) => [tr.dataset.key, Object.fromEntries([...tr.querySelectorAll("
        "'[data-col]')].map((c) => [c.dataset.col, { text: c.innerText.trim(),"
        " cls: c.className, href: c.querySelector('a')?.getAttribute('href') ?? null }]))])"
    )
    shown = dict(rows)
    assert set(shown) == {f["key"] for f in stats["figures"]}
    for f in stats["figures"]:
        cells = shown[f["key"]]
        assert cells["label"]["text"] == f["label"]
        assert cells["value"]["text"] == _num(f["value"]), (f, cells)
        assert cells["previous"]["text"] == _num(f["previous"]), (f, cells)
        assert cells["lastYear"]["text"] == _num(f["lastYear"]), (f, cells)
        trend, words = _trend(f["value"], f["previous"])
        assert f"trend-{trend}" in cells["change"]["cls"], (f, cells)
        assert cells["change"]["text"].split("（")[0] == words, (f, cells)
        trend, words = _trend(f["value"], f["lastYear"])
        assert cells["yoy"]["text"].split("（")[0] == words, (f, cells)
        # the list behind: the console's page where it has one, else the API's address
        if f["link"].startswith("/api/v1/satellite/tasks"):
            assert cells["link"]["href"] == "#/satellite"
        else:
            assert cells["link"]["text"] == f["link"]
    assert {f["value"] for f in stats["figures"]} - {0, None}, "the seed gives October figures"
    # by contract area: the patrols of each
    for g in stats["groups"]:
        count = next(f["value"] for f in g["figures"] if f["key"] == "patrols.count")
        cell = f"#groups-patrols tr[data-group='{g['key']}'] td[data-key='patrols.count']"
        assert await _text(page, cell) == _num(count)

    # patrols per week and area: a bar per (week, area), each the API's count for that week
    await page.locator("#chart-patrols").wait_for()
    expected: dict[tuple[str, str], float] = {}
    for lo, hi in _weeks(date(2026, 10, 1), date(2026, 10, 31)):
        week = await county.get("/statistics", group_by="area", section="patrols",
                                **{"from": lo.isoformat(), "to": hi.isoformat()})  # fmt: skip
        for g in week["groups"]:
            value = next(f["value"] for f in g["figures"] if f["key"] == "patrols.count")
            expected[(lo.isoformat(), g["key"] or "none")] = value
    areas = {area for _, area in expected}
    weeks = {w for w, _ in expected}
    assert len(weeks) == 5 and len(areas) == 2, expected
    bars = await _bars(page, "chart-patrols")
    assert len(bars) == len(weeks) * len(areas), bars
    drawn = {(b["category"], b["series"]): b["value"] for b in bars}
    assert drawn == {k: expected.get(k, 0) for k in drawn}
    assert set(drawn) == {(w, a) for w in weeks for a in areas}
    east = next(g["key"] for g in stats["groups"] if g["name"].endswith("东片区"))
    assert [drawn[(w, east)] for w in sorted(weeks)] == [1, 0, 2, 0, 0]
    first = page.locator(f"#chart-patrols rect.bar[data-series='{east}']").first
    await first.focus()
    assert "第40周" in await _text(page, "#chart-patrols .chart-readout")
    assert "1 次" in await _text(page, "#chart-patrols .chart-readout")

    # clues by channel: a bar per channel; the stages: a segment per stage with cases
    channels = {f["key"].rsplit(".", 1)[1]: f["value"] for f in stats["figures"]
                if f["key"].startswith("tip_offs.channel.")}  # fmt: skip
    bars = await _bars(page, "chart-channels")
    assert {b["category"]: b["value"] for b in bars} == channels
    assert len(bars) == len(channels)
    assert await page.locator("#chart-channels-data tbody tr").count() == len(channels)
    for row, key in (("value", "value"), ("previous", "previous"), ("lastYear", "lastYear")):
        stages = {f["key"].rsplit(".", 1)[1]: f[key] for f in stats["figures"]
                  if f["key"].startswith("cases.stage.") and f[key]}  # fmt: skip
        segments = [b for b in await _bars(page, "chart-stages") if b["row"] == row]
        assert {b["series"]: b["value"] for b in segments} == stages, row
        assert len(segments) == len(stages)
    assert "期末" in await _text(page, "#chart-stages figcaption")
    await _whole_page(page)
    await page.screenshot(path=_shot("reports.png"))
    assert errors == [], errors
    await page.context.close()


async def test_a_monthly_report_is_generated_and_its_workbook_downloaded(
    live_url: str,
    browser: Browser,
    county: County,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Any,
) -> None:
    captain = county.world.county.users[Role.CAPTAIN]
    page, errors = await log_in(browser, live_url, captain.username)
    await page.locator("nav a[data-page=reports]").click()
    await page.locator("#report-list").wait_for()
    await page.get_by_label("报表模板").select_option("monthly")
    await page.locator("#report-date").fill(OCTOBER.isoformat())
    await page.get_by_role("button", name="生成", exact=True).click()
    row = page.locator("#report-table tr[data-template=monthly][data-period='2026-10']")
    await row.wait_for()
    assert await row.get_attribute("data-status") in {"queued", "running"}
    assert "已提交生成" in await _text(page, "#report-status")
    listed = [r for r in await county.get("/reports") if r["periodKey"] == "2026-10"]
    assert [r["template"] for r in listed] == ["monthly"]
    report = listed[0]
    assert await _text(page, f"tr[data-report-id='{report['id']}'] td[data-col=dueOn]") == (
        report["dueOn"] + (" · ⚠ 逾期" if report["overdue"] else "")
    )

    # the worker makes it; the page, asking every few seconds, shows it done
    await run_jobs(settings.database, session_factory, S3ObjectStore(settings.object_store),
                   settings.evidence)  # fmt: skip
    done = page.locator(f"tr[data-report-id='{report['id']}'][data-status=done]")
    await done.wait_for(timeout=20_000)
    assert "已生成" in await done.locator("td[data-col=status]").inner_text()
    assert (await done.locator("td[data-col=generatedAt]").inner_text()).startswith("20")
    async with page.expect_download() as download:
        await done.locator("button[data-format=xlsx]").click()
    got = await download.value
    assert got.suggested_filename.endswith(".xlsx"), got.suggested_filename
    path = tmp_path / got.suggested_filename
    await got.save_as(path)
    book = load_workbook(io.BytesIO(path.read_bytes()))
    title = str(book.worksheets[0]["A1"].value)
    assert "工作月报" in title and report["periodLabel"] in title, title
    assert len(book.worksheets) >= 2  # the figures, then by township and by area
    assert errors == [], errors
    await page.context.close()


async def test_an_inspector_gets_neither_page(
    live_url: str, browser: Browser, county: County
) -> None:
    inspector = county.world.county.users[Role.INSPECTOR]
    page, errors = await log_in(browser, live_url, inspector.username)
    await page.wait_for_selector("nav a[data-page=map][aria-current=page]")
    menu = await page.locator("nav a").evaluate_all("(links) => links.map((a) => a.dataset.page)")
    assert menu[0] == "map" and not {"overview", "reports"} & set(menu), menu
    for name in ("overview", "reports"):
        await page.evaluate(f"() => {{ location.hash = '#/{name}'; }}")
        await page.wait_for_selector("nav a[data-page=map][aria-current=page]")
        assert await page.locator(".tile, #stats-form, #report-form").count() == 0
    assert errors == [], errors
    await page.context.close()
