"""The console's records pages in headless Debian chromium against the real app, PostGIS and S3.

* 巡查记录: the captain lists the month's patrols, narrows them to an inspector and to those
  under way, opens one (its figures, sign-ins and findings as the API gives them) and follows
  its link to the track replay, which shows that patrol.
* 我的巡查: an inspector sees his own patrols only, without the other inspector's.
* 发现问题: the security squad sees the one finding screened above the basic-farmland threshold
  (not the others), with the suggestion and the location check, flags it for referral with the
  reason, and finds it on the referrals page.
* 案件: with the app's clock and the browser's pinned to :data:`tests.clock.NOW`, a filed case
  shows the 90-day decision deadline counting down to the API's due time, its steps and its
  document; its 案卷 downloads and verifies, in the page and with ``verify_package``, and a
  copy with one byte of the photo changed on the way fails the page's check, naming the file.
* 案件, the procuratorate: a referred case read-only, the parts the API refuses it (documents,
  evidence, the 案卷) saying so, its referral package verified in the page.
* 证据库: a photo uploaded through the upload flow shows as its worker-made thumbnail (loaded
  from the store), with its trust flag; its panel shows the file's SHA-256 and the custody
  chain, and downloading the original (the original's bytes) adds an entry on screen.

Screenshots go to ``docs/screenshots`` like the other console tests'.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, Page, Route
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from evidence.cases.package import verify_package
from evidence.cases.package_keys import load_public_keys
from infra.ids import uuid7
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.api.test_county_findings import Scene, county_with_findings
from tests.api.test_evidence_api import _upload
from tests.cases.conftest import LAT, LON, add_evidence
from tests.conftest import CountyFixture
from tests.console.conftest import SCREENSHOTS, TIMEOUT_MS, log_in, narrow_then_widen, serve
from tests.evidence import media
from tests.jobs import run_jobs

Client = AsyncTestClient[Litestar]
API = "/api/v1"
CUSTODY_KEY = "console-records-custody-key-" + "c" * 16


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _minute(iso: str | datetime) -> str:
    """A time as the console shows it (the county's time, to the minute)."""
    at = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    return at.astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M")


def _shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


async def _call(client: Client, headers: dict[str, str], method: str, path: str,
                body: Any = None) -> Any:  # fmt: skip
    resp = await client.request(method, API + path, json=body, headers=headers)
    assert resp.status_code in {200, 201}, f"{method} {path}: {resp.text}"
    return resp.json() if resp.content else None


async def _open_page(page: Page, name: str) -> None:
    await page.locator(f"nav a[data-page='{name}']").click()
    await page.wait_for_selector(".review-page h1")


# -- patrol records -------------------------------------------------------------------------------
async def _patrol_day(client: Client, scene: Scene) -> None:
    """Inspector A signs in on his patrol and ends it; B's stays under way."""
    a = scene.headers("a")
    start = min(scene.found.values()) - timedelta(minutes=10)
    await _call(client, a, "PUT", f"/patrols/{scene.patrol_a}/sign-ins/{uuid7()}",
                {"at": _iso(start + timedelta(minutes=5)), "lon": 112.085, "lat": 28.495,
                 "accuracyM": 5.0})  # fmt: skip
    await _call(client, a, "POST", f"/patrols/{scene.patrol_a}/end",
                {"endedAt": _iso(max(scene.found.values()) + timedelta(minutes=5))})  # fmt: skip


@pytest.fixture
async def scene(client: Client, make_county: Any,
                session_factory: async_sessionmaker[AsyncSession]) -> Scene:  # fmt: skip
    county: CountyFixture = await make_county()
    found = await county_with_findings(client, county, session_factory)
    await _patrol_day(client, found)
    return found


def _month(scene: Scene) -> str:
    return min(scene.found.values()).astimezone(clock.CHINA).strftime("%Y-%m")


async def _rows(page: Page, table: str, attribute: str) -> list[str]:
    found: list[str] = await page.locator(f"{table} tbody tr").evaluate_all(
        f"(rows) => rows.map((r) => r.getAttribute('{attribute}'))"
    )
    return found


async def test_the_captain_lists_the_patrols_and_opens_one(
    browser: Browser, live_url: str, scene: Scene, client: Client
) -> None:
    county = scene.county
    page, errors = await log_in(browser, live_url, county.users[Role.CAPTAIN].username)
    await _open_page(page, "patrols")
    await page.get_by_label("月份").fill(_month(scene))
    await page.get_by_label("月份").dispatch_event("change")
    await page.wait_for_function(
        "() => document.querySelectorAll('#pt-table tbody tr').length === 2"
    )
    assert await _rows(page, "#pt-table", "data-patrol-id") == [scene.patrol_b, scene.patrol_a]
    row_a = page.locator(f"#pt-table tr[data-patrol-id='{scene.patrol_a}']")
    assert await row_a.locator("td[data-col=status]").inner_text() == "已结束"
    listed = await _call(client, county.headers(Role.CAPTAIN), "GET", f"/patrols/{scene.patrol_a}")
    assert await row_a.locator("td[data-col=started]").inner_text() == _minute(listed["startedAt"])

    # an inspector, then those under way
    await page.get_by_label("巡查员").select_option(str(scene.people["a"].user_id))
    await page.wait_for_function(
        "() => document.querySelectorAll('#pt-table tbody tr').length === 1"
    )
    assert await _rows(page, "#pt-table", "data-patrol-id") == [scene.patrol_a]
    await page.get_by_label("巡查员").select_option("")
    await page.locator("#pt-status").select_option("ongoing")
    await page.wait_for_function(
        f"() => [...document.querySelectorAll('#pt-table tbody tr')].map((r) => r.dataset.patrolId)"
        f".join() === '{scene.patrol_b}'"
    )
    await page.locator("#pt-status").select_option("")
    await page.wait_for_function(
        "() => document.querySelectorAll('#pt-table tbody tr').length === 2"
    )

    # the patrol's panel: its sign-in, its findings, its replay
    await row_a.get_by_role("button", name="查看").click()
    await page.wait_for_selector("#pt-findings")
    assert await page.locator("#pt-signins tbody tr").count() == 1
    findings = await _rows(page, "#pt-findings", "data-finding-id")
    assert findings == [scene.findings["farm"], scene.findings["small"]]
    farm = page.locator(f"#pt-findings tr[data-finding-id='{scene.findings['farm']}']")
    assert "项目farm" in await farm.inner_text()
    assert await farm.locator("td[data-col=suggestion]").inner_text() == "1 条提示"
    assert await page.locator("#pt-panel .pt-status").get_attribute("data-status") == "ended"
    replay = page.locator("#pt-replay")
    assert await replay.get_attribute("href") == f"#/replay?patrol={scene.patrol_a}"
    await page.screenshot(path=_shot("patrols.png"), full_page=True)

    await replay.click()
    await page.wait_for_selector("#replay-events li")
    assert await page.locator("#replay-patrol").input_value() == scene.patrol_a
    assert await page.locator("nav a[aria-current=page]").get_attribute("data-page") == "replay"
    events = await page.locator("#replay-events li").all_inner_texts()
    assert any("项目farm" in e for e in events) and any("签到" in e for e in events)
    assert errors == [], errors
    await page.context.close()


async def test_an_inspector_sees_only_his_own_patrols(
    browser: Browser, live_url: str, scene: Scene
) -> None:
    page, errors = await log_in(browser, live_url, scene.usernames["b"])
    assert await page.locator("nav a[data-page=patrols]").count() == 0
    await _open_page(page, "my-patrols")
    await page.get_by_label("月份").fill(_month(scene))
    await page.get_by_label("月份").dispatch_event("change")
    await page.wait_for_selector("#pt-table")
    assert await _rows(page, "#pt-table", "data-patrol-id") == [scene.patrol_b]
    assert await page.locator("#pt-inspector").count() == 0  # no one else's to choose
    await page.locator(f"tr[data-patrol-id='{scene.patrol_b}'] button.open").click()
    await page.wait_for_selector("#pt-findings")
    assert await _rows(page, "#pt-findings", "data-finding-id") == [scene.findings["east"]]
    assert await page.locator("#pt-replay").count() == 0  # the replay is the captains' page
    await page.screenshot(path=_shot("my-patrols.png"), full_page=True)

    # A's patrol is not in B's list, and its panel is refused by the API
    await page.goto(f"{live_url}/console/#/my-patrols?patrol={scene.patrol_a}")
    await page.wait_for_selector("#pt-panel .failure")
    assert "无权查看" in await page.locator("#pt-panel .failure").inner_text()
    assert await _rows(page, "#pt-table", "data-patrol-id") == [scene.patrol_b]
    assert all("status of 403" in e for e in errors), errors
    await page.context.close()


# -- findings -------------------------------------------------------------------------------------
async def test_the_squad_flags_a_screened_finding_and_sees_it_among_referrals(
    browser: Browser, live_url: str, scene: Scene, client: Client
) -> None:
    county = scene.county
    farm = scene.findings["farm"]
    page, errors = await log_in(browser, live_url, county.users[Role.SECURITY_SQUAD].username)
    await _open_page(page, "findings")
    await page.wait_for_selector("#fd-table")
    # the squad's view: the finding screened above the threshold, not the two others
    assert await _rows(page, "#fd-table", "data-finding-id") == [farm]
    row = page.locator(f"#fd-table tr[data-finding-id='{farm}']")
    assert await row.locator("td[data-col=suggestion]").inner_text() == "1 条提示"
    assert await row.locator("td[data-col=flagged]").inner_text() == "—"
    await row.get_by_role("button", name="查看").click()
    await page.wait_for_selector("#fd-suggestions li[data-rule='342.basic_farmland']")
    api_view = await _call(client, county.headers(Role.SECURITY_SQUAD), "GET", "/findings")
    [suggestion] = api_view["items"][0]["suggestions"]
    assert suggestion["message"] in await page.locator("#fd-suggestions").inner_text()
    assert "永久基本农田" in await page.locator("#fd-location-check").inner_text()
    assert await page.locator("#fd-flag-reason").input_value() == suggestion["message"]
    await page.screenshot(path=_shot("findings.png"), full_page=True)

    reason = "占用永久基本农田5.1亩，建议移送公安"
    await page.locator("#fd-flag-reason").fill(reason)
    await page.locator("#fd-flag-submit").click()
    await page.wait_for_selector("#fd-flagged")
    assert await row.locator("td[data-col=flagged]").inner_text() == "已标记"
    flags = await _call(client, county.headers(Role.SECURITY_SQUAD), "GET",
                        "/referral-flags?findings_only=true")  # fmt: skip
    assert [(f["findingId"], f["reason"]) for f in flags] == [(farm, reason)]

    # the referrals page lists the flagged finding with its reason
    await page.locator("#fd-to-referrals").click()
    flagged = page.locator(f"#rf-flagged-findings tr[data-finding-id='{farm}']")
    await flagged.wait_for()
    assert await flagged.locator("td[data-col=reason]").inner_text() == reason
    assert "项目farm" in await flagged.inner_text()
    assert errors == [], errors
    await page.context.close()


# -- cases ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def signing_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    keys = tmp_path_factory.mktemp("console-records-keys")
    evidence = replace(settings.evidence, package_signing_key=CUSTODY_KEY, package_key_dir=keys)
    return replace(settings, evidence=evidence)


@pytest.fixture
def pinned_url(signing_settings: Settings, engine: AsyncEngine) -> Iterator[str]:
    """The app with a package signing key and its clock at :data:`tests.clock.NOW`."""
    del engine
    yield from serve(signing_settings, clock=lambda: clock.NOW)


async def test_a_case_counts_down_to_its_deadline_and_exports_a_verified_case_file(
    browser: Browser,
    pinned_url: str,
    client: Client,
    make_county: Any,
    db: AsyncSession,
    store: S3ObjectStore,
    tmp_path: Path,
) -> None:
    county: CountyFixture = await make_county()
    captain = county.headers(Role.CAPTAIN)
    original = b"\xff\xd8\xff\xe0" + os.urandom(3_000) + b"\xff\xd9"
    photo = await add_evidence(db, store, county.principal(Role.INSPECTOR), original)
    await db.commit()
    body = {"cause": "未经批准占用耕地建设厂房", "violationKind": "land_occupation", "lon": LON,
            "lat": LAT, "evidenceIds": [str(photo)],
            "parties": [{"name": "张三", "idNo": "430124197803156411"}]}  # fmt: skip
    case = await _call(client, captain, "POST", "/cases", body)
    # the steps, through the app with the pinned clock (the shared client's clock is real)
    page, errors = await log_in(browser, pinned_url, county.users[Role.CAPTAIN].username)
    await page.clock.set_fixed_time(clock.NOW)
    for kind, days in (("clue", 2), ("filing", 1)):
        at = _iso(clock.NOW - timedelta(days=days))
        resp = await page.request.post(
            f"{pinned_url}{API}/cases/{case['id']}/steps", data={"kind": kind, "at": at},
            headers=captain,
        )  # fmt: skip
        assert resp.status == 201, await resp.text()
    steps = await (await page.request.get(f"{pinned_url}{API}/cases/{case['id']}/steps",
                                          headers=captain)).json()  # fmt: skip
    filing = next(s for s in steps if s["kind"] == "filing")
    made = await page.request.post(
        f"{pinned_url}{API}/cases/{case['id']}/documents",
        data={"kind": "filing_approval", "stepId": filing["id"]}, headers=captain,
    )  # fmt: skip
    assert made.status == 201, await made.text()
    document = await made.json()
    procedure = await (await page.request.get(f"{pinned_url}{API}/cases/{case['id']}/procedure",
                                              headers=captain)).json()  # fmt: skip
    decision = next(d for d in procedure["deadlines"] if d["step"] == "decision")
    left = datetime.fromisoformat(decision["dueAt"]) - clock.NOW
    assert timedelta(days=80) < left < timedelta(days=90), decision

    await page.reload()
    await _open_page(page, "cases")
    row = page.locator(f"#case-table tr[data-case-id='{case['id']}']")
    await row.get_by_role("button", name="查看").click()
    countdown = page.locator("#case-deadlines tr[data-step=decision] .countdown")
    await countdown.wait_for()
    # the browser's clock is the app's: the time left is the API's due time less NOW
    assert await countdown.inner_text() == f"剩余 {left.days}天{left.seconds // 3600}小时"
    due = page.locator("#case-deadlines tr[data-step=decision] td[data-col=dueAt]")
    assert await due.inner_text() == _minute(decision["dueAt"])
    filed = page.locator("#case-deadlines tr[data-step=filing] td[data-col=state]")
    assert await filed.inner_text() == "按期完成"
    assert await _rows(page, "#case-steps", "data-kind") == ["clue", "filing"]
    doc_row = page.locator(f"#case-documents tr[data-document-id='{document['id']}']")
    assert document["docNo"] in await doc_row.inner_text()
    await page.locator(f".case-panel .ev-tile[data-evidence-id='{photo}']").wait_for()  # its photo
    assert await page.locator(".case-panel .ev-tile").count() == 1
    await page.screenshot(path=_shot("cases.png"), full_page=True)

    # the document's PDF, then the 案卷: downloaded, checked in the page, and by the verifier
    async with page.expect_download() as info:
        await doc_row.get_by_role("button", name="下载").click()
    pdf = await (await info.value).path()
    assert (
        hashlib.sha256(await asyncio.to_thread(Path(pdf).read_bytes)).hexdigest()
        == document["sha256"]
    )
    async with page.expect_download(timeout=TIMEOUT_MS * 2) as info:
        await page.locator("#case-file-package").click()
    download = await info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    check = page.locator("#case-file-check")
    await check.wait_for(timeout=TIMEOUT_MS * 2)
    assert await check.get_attribute("data-ok") == "true", await check.inner_text()
    assert "校验通过" in await check.inner_text()
    keys = await page.request.get(f"{pinned_url}{API}/signing-keys/", headers=captain)
    listing = tmp_path / "signing-keys.json"
    listing.write_bytes(await keys.body())
    report = verify_package(saved, public_keys=load_public_keys(listing))
    assert report.ok and report.signature_valid, report.problems
    assert report.case_no == case["caseNo"]
    assert f"{report.files_checked} 个文件" in await check.inner_text()
    assert report.key_id and report.key_id in await check.inner_text()

    # one byte of the photo changed on the way: the page's check names the file
    async def tamper(route: Route) -> None:
        answer = await route.fetch()
        body = await answer.body()
        at = body.index(original[:64]) + 100
        await route.fulfill(
            response=answer, body=body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]
        )

    await page.route("**/case-file", tamper)
    async with page.expect_download(timeout=TIMEOUT_MS * 2):
        await page.locator("#case-file-package").click()
    await page.locator("#case-file-check[data-ok=false]").wait_for(timeout=TIMEOUT_MS * 2)
    changed = page.locator("#case-file-check li[data-problem=file_modified]")
    assert await changed.count() == 1
    assert f"{photo}.jpg" in await changed.inner_text()  # the original's path in the 案卷
    assert "校验未通过" in await page.locator("#case-file-check").inner_text()
    assert errors == [], errors
    await page.context.close()


@pytest.fixture
def keyed_url(signing_settings: Settings, engine: AsyncEngine) -> Iterator[str]:
    """The app with a package signing key, on its own clock."""
    del engine
    yield from serve(signing_settings)


async def test_the_procuratorate_reads_a_referred_case_and_checks_its_package(
    browser: Browser,
    keyed_url: str,
    client: Client,
    make_county: Any,
    db: AsyncSession,
    store: S3ObjectStore,
) -> None:
    county: CountyFixture = await make_county()
    captain, squad = county.headers(Role.CAPTAIN), county.headers(Role.SECURITY_SQUAD)
    photo = await add_evidence(db, store, county.principal(Role.INSPECTOR),
                               b"\xff\xd8\xff\xe0" + os.urandom(3_000) + b"\xff\xd9")  # fmt: skip
    await db.commit()
    body = {"cause": "河道非法采砂", "violationKind": "illegal_mining", "lon": LON, "lat": LAT,
            "evidenceIds": [str(photo)]}  # fmt: skip
    case = await _call(client, captain, "POST", "/cases", body)
    await _call(
        client, captain, "POST", "/referral-flags", {"caseId": case["id"], "reason": "采砂价值超标"}
    )
    team = [str(county.users[r].id) for r in (Role.SECURITY_SQUAD, Role.CAPTAIN)]
    await _call(client, squad, "POST", f"/cases/{case['id']}/referrals",
                {"teamIds": team, "report": "经核实，涉嫌非法采矿罪"})  # fmt: skip

    page, errors = await log_in(browser, keyed_url, county.users[Role.PROCURATORATE].username)
    nav = set(await page.locator("nav a").evaluate_all("(a) => a.map((x) => x.dataset.page)"))
    assert nav == {"cases", "referrals"}
    row = page.locator(f"#case-table tr[data-case-id='{case['id']}']")
    await row.wait_for()
    assert await row.locator("td[data-col=status]").inner_text() == "已移送公安（原状态：线索）"
    assert "只读" in await page.locator(".cases-page").inner_text()
    await row.get_by_role("button", name="查看").click()
    await page.wait_for_selector("#case-deadlines")
    # what the API refuses the role: a note, the rest of the panel stays
    note = "您的角色不能查看此部分。"
    await page.locator("#case-documents-box").filter(has_text=note).wait_for()
    await page.locator(".case-panel .ev-linked").filter(has_text=note).wait_for()
    assert await page.locator("#case-referred").count() == 1
    # the referral package is its to check: downloaded and verified in the page
    async with page.expect_download(timeout=TIMEOUT_MS * 2):
        await page.locator("#case-package-package").click()
    check = page.locator("#case-package-check")
    await check.wait_for(timeout=TIMEOUT_MS * 2)
    assert await check.get_attribute("data-ok") == "true", await check.inner_text()
    # the 案卷 is not: the API's refusal is shown
    await page.locator("#case-file-package").click()
    refusal = page.locator("#case-file-package-status.error")
    await refusal.filter(has_text="您的角色不能进行此操作").wait_for()
    assert errors and all("status of 403" in e for e in errors), errors
    await page.context.close()


# -- the evidence library -------------------------------------------------------------------------
async def test_the_evidence_library_shows_a_real_photo_its_flags_and_its_custody(
    browser: Browser,
    live_url: str,
    client: Client,
    make_county: Any,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    store: S3ObjectStore,
    tmp_path: Path,
) -> None:
    county: CountyFixture = await make_county()
    when = clock.ago(hours=2).astimezone(clock.CHINA).replace(microsecond=0)
    # the file's GPS is 1 km east of where the phone says it was: a trust flag
    far = media.jpeg(1600, 1200, exif=media.exif_bytes(
        lon=LON + 0.01, lat=LAT, when=when, direction=90.0, hpe=5.0))  # fmt: skip
    near = media.jpeg(800, 600, exif=media.exif_bytes(
        lon=LON, lat=LAT, when=when, direction=90.0, hpe=5.0))  # fmt: skip
    flagged = await _upload(client, county, Role.INSPECTOR, far, claimedCapturedAt=_iso(when),
                            caption="西侧远景")  # fmt: skip
    clean = await _upload(client, county, Role.INSPECTOR, near, claimedCapturedAt=_iso(when),
                          caption="东侧近景")  # fmt: skip
    assert "exif_vs_device_far" in flagged["flags"] and clean["flags"] == []
    await run_jobs(settings.database, session_factory, store, settings.evidence)  # thumbnails

    page, errors = await log_in(browser, live_url, county.users[Role.CAPTAIN].username)
    await _open_page(page, "evidence")
    tile = page.locator(f".ev-tile[data-evidence-id='{flagged['id']}']")
    await tile.wait_for()
    assert await _tiles(page) == {flagged["id"], clean["id"]}
    # the worker's thumbnail, loaded from the store at the address presigned for it
    img = tile.locator("img.ev-img")
    await page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await img.element_handle()
    )
    width = await img.evaluate("(img) => img.naturalWidth")
    assert 0 < width <= 512
    assert (await img.get_attribute("src") or "").startswith(settings.object_store.endpoint_url)
    assert "文件 GPS 与手机定位相距过远" in await tile.locator(".ev-flags").inner_text()
    await page.locator("#ev-filter-flagged").check()
    await page.wait_for_function("() => document.querySelectorAll('.ev-tile').length === 1")
    assert await _tiles(page) == {flagged["id"]}

    # the panel: what the file says, its flag, its custody chain
    await tile.locator("button.ev-open").click()
    await page.wait_for_selector("#ev-custody")
    assert await page.locator("#ev-sha256").inner_text() == hashlib.sha256(far).hexdigest()
    assert await page.locator("#ev-trust-flags li[data-flag=exif_vs_device_far]").count() == 1
    assert "Huawei Mate 60" in await page.locator("#ev-facts").inner_text()
    before = await _custody(client, county, flagged["id"])
    actions = [e["action"] for e in before]  # accepted, then the worker's derivatives
    assert actions[0] == "accepted" and set(actions[1:]) == {"derivative_created"}, actions
    assert await _rows(page, "#ev-custody", "data-action") == [e["action"] for e in before]
    await page.screenshot(path=_shot("evidence.png"), full_page=True)

    # the original, byte for byte; its download is the chain's next entry, on screen at once
    async with page.expect_download() as info:
        await page.locator("#ev-download").click()
    original = await (await info.value).path()
    assert await asyncio.to_thread(Path(original).read_bytes) == far
    await page.wait_for_selector("#ev-custody tr[data-action=downloaded]")
    after = await _custody(client, county, flagged["id"])
    assert [e["action"] for e in after] == [*actions, "downloaded"]
    assert after[-1]["actorId"] == str(county.users[Role.CAPTAIN].id)
    last = page.locator("#ev-custody tr[data-action=downloaded]")
    assert county.users[Role.CAPTAIN].display_name in await last.inner_text()
    assert after[-1]["entryHash"][:12] in await last.inner_text()
    assert errors == [], errors
    await page.context.close()


async def _tiles(page: Page) -> set[str]:
    ids: list[str] = await page.locator(".ev-tile").evaluate_all(
        "(tiles) => tiles.map((t) => t.dataset.evidenceId)"
    )
    return set(ids)


async def _custody(client: Client, county: CountyFixture, evidence_id: str) -> list[dict[str, Any]]:
    body = await _call(
        client, county.headers(Role.CAPTAIN), "GET", f"/evidence/{evidence_id}/custody"
    )
    entries: list[dict[str, Any]] = body["entries"]
    return entries


# -- a list drawn from the latest question --------------------------------------------------------
async def test_the_patrol_and_finding_lists_show_the_filter_asked_last(
    browser: Browser, live_url: str, scene: Scene
) -> None:
    county = scene.county
    page, errors = await log_in(browser, live_url, county.users[Role.CAPTAIN].username)
    await _open_page(page, "patrols")
    await page.get_by_label("月份").fill(_month(scene))
    await page.get_by_label("月份").dispatch_event("change")
    await page.wait_for_function(
        "() => document.querySelectorAll('#pt-table tbody tr').length === 2"
    )
    status = page.locator("#pt-status")
    await narrow_then_widen(page, "**/api/v1/patrols?*status=ongoing*",
                             lambda: status.select_option("ongoing"),
                             lambda: status.select_option(""), "#pt-table tbody tr", 2)  # fmt: skip

    await _open_page(page, "findings")
    everything = len(scene.findings)
    await page.wait_for_function(
        f"() => document.querySelectorAll('#fd-table tbody tr').length === {everything}"
    )
    flagged = page.locator("#fd-flagged-only")
    await narrow_then_widen(page, "**/api/v1/findings?*flagged=true*", flagged.check,
                             flagged.uncheck, "#fd-table tbody tr", everything)  # fmt: skip
    assert errors == [], errors
    await page.context.close()


async def test_the_case_list_shows_the_filter_asked_last(
    browser: Browser, live_url: str, client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    captain = county.headers(Role.CAPTAIN)
    for cause, kind in (("未经批准占用耕地建设厂房", "land_occupation"),
                        ("无证开采砂石", "illegal_mining")):  # fmt: skip
        body = {"cause": cause, "violationKind": kind, "lon": LON, "lat": LAT}
        await _call(client, captain, "POST", "/cases", body)
    page, errors = await log_in(browser, live_url, county.users[Role.CAPTAIN].username)
    await _open_page(page, "cases")
    await page.wait_for_function(
        "() => document.querySelectorAll('#case-table tbody tr').length === 2"
    )
    kind = page.locator("#case-filter-kind")
    await narrow_then_widen(page, "**/api/v1/cases?*violation_kind=land_occupation*",
                             lambda: kind.select_option("land_occupation"),
                             lambda: kind.select_option(""), "#case-table tbody tr", 2)  # fmt: skip
    assert errors == [], errors
    await page.context.close()
