"""The security squad's referral page (移送管理) in headless Debian chromium against the real app.

A county with two referrals: one transferred to the police five days ago whose receipt is
now overdue, one just reported (the head's decision due in three days), and a case flagged
but not referred. The squad sees both referrals with the deadline of the step each waits for
equal to the API's (the overdue one in red, alone under "只看逾期"), records the police's
receipt on the overdue one, is told the head's decision is not its own, and downloads the
case's package: a ZIP that ``verify_package`` accepts with the keys the server publishes,
whose fingerprint the page shows, and that the page itself checks with them. An inspector
has no 移送管理 in the menu.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.app import create_app
from evidence.cases.package import verify_package
from evidence.cases.package_keys import load_public_keys
from infra.objectstore import S3ObjectStore
from infra.scope import Role
from infra.settings import Settings
from tests import clock
from tests.cases.conftest import LAT, LON, add_evidence
from tests.cases.rest import MATERIALS
from tests.conftest import CountyFixture
from tests.console.conftest import SCREENSHOTS, log_in, serve

Client = AsyncTestClient[Litestar]
API = "/api/v1"
CUSTODY_KEY = "console-referrals-custody-key-" + "r" * 16


@pytest.fixture(scope="module")
def signing_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    keys = tmp_path_factory.mktemp("console-referral-keys")
    evidence = replace(settings.evidence, package_signing_key=CUSTODY_KEY, package_key_dir=keys)
    return replace(settings, evidence=evidence)


@pytest.fixture
async def api(signing_settings: Settings, engine: AsyncEngine) -> AsyncIterator[Client]:
    """The app with a package signing key (the shared app has none)."""
    del engine  # migrated
    app = create_app(signing_settings)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def signing_url(signing_settings: Settings, engine: AsyncEngine) -> Iterator[str]:
    """The same app (same key directory) served on a real port for the browser."""
    del engine
    yield from serve(signing_settings)


async def _call(api: Client, county: CountyFixture, role: Role, method: str, path: str,
                body: Any = None) -> Any:  # fmt: skip
    resp = await api.request(method, API + path, json=body, headers=county.headers(role))
    assert resp.status_code in {200, 201}, f"{method} {path}: {resp.text}"
    return resp.json()


@dataclass
class Scene:
    county: CountyFixture
    late_case: str
    late: str  # transferred 5 days ago: the police's receipt is overdue
    fresh: str  # reported now: the head's decision is due in 3 days
    flagged_no: str  # a case flagged, not referred


async def _case(api: Client, county: CountyFixture, cause: str, evidence: list[str]) -> str:
    body = {"cause": cause, "violationKind": "land_occupation", "lon": LON, "lat": LAT,
            "evidenceIds": evidence}  # fmt: skip
    case = await _call(api, county, Role.CAPTAIN, "POST", "/cases", body)
    cid: str = case["id"]
    for kind in ("clue", "filing"):
        await _call(api, county, Role.CAPTAIN, "POST", f"/cases/{cid}/steps", {"kind": kind})
    await _call(api, county, Role.CAPTAIN, "POST", "/referral-flags",
                {"caseId": cid, "reason": "占用基本农田超过5亩"})  # fmt: skip
    return cid


async def _refer(api: Client, county: CountyFixture, cid: str, at: datetime) -> str:
    team = [str(county.users[r].id) for r in (Role.SECURITY_SQUAD, Role.CAPTAIN)]
    report = {"teamIds": team, "report": "经核实，涉嫌非法占用农用地罪", "at": at.isoformat()}
    referral = await _call(api, county, Role.SECURITY_SQUAD, "POST", f"/cases/{cid}/referrals",
                           report)  # fmt: skip
    rid: str = referral["id"]
    return rid


@pytest.fixture
async def scene(api: Client, make_county: Any, db: AsyncSession, store: S3ObjectStore) -> Scene:
    county: CountyFixture = await make_county()
    owner = county.principal(Role.INSPECTOR)
    photos = [
        str(
            await add_evidence(
                db, store, owner, b"\xff\xd8\xff\xe0" + os.urandom(4_000) + b"\xff\xd9"
            )
        )
        for _ in range(2)
    ]
    await db.commit()
    late_case = await _case(api, county, "非法占用基本农田建厂房", photos)
    at = clock.ago(days=5)
    late = await _refer(api, county, late_case, at)
    decision = {"approved": True, "note": "同意移送", "at": (at + timedelta(hours=2)).isoformat()}
    await _call(api, county, Role.CAPTAIN, "POST", f"/referrals/{late}/decision", decision)
    transfer = {"policeUnit": "县公安局森林警察大队", "materials": MATERIALS,
                "at": (at + timedelta(hours=5)).isoformat()}  # fmt: skip
    await _call(api, county, Role.SECURITY_SQUAD, "POST", f"/referrals/{late}/transfer", transfer)
    fresh_case = await _case(api, county, "河道非法采砂", [])
    fresh = await _refer(api, county, fresh_case, clock.ago(minutes=10))
    flagged = await _case(api, county, "未批先建", [])
    flagged_no = (await _call(api, county, Role.CAPTAIN, "GET", f"/cases/{flagged}"))["caseNo"]
    return Scene(county, late_case, late, fresh, flagged_no)


def _minute(iso: str) -> str:
    """The API's time as the console shows it (the county's time, to the minute)."""
    return datetime.fromisoformat(iso).astimezone(clock.CHINA).strftime("%Y-%m-%d %H:%M")


async def test_the_squad_follows_its_referrals_and_downloads_a_verifiable_package(
    browser: Browser, signing_url: str, scene: Scene, api: Client, tmp_path: Path
) -> None:
    county = scene.county
    listed = {
        r["id"]: r for r in await _call(api, county, Role.SECURITY_SQUAD, "GET", "/referrals")
    }
    assert set(listed) == {scene.late, scene.fresh}
    late, fresh = listed[scene.late], listed[scene.fresh]
    assert (late["nextStep"], late["overdue"]) == ("police_receipt", True)
    assert (fresh["nextStep"], fresh["overdue"]) == ("decision", False)

    page, errors = await log_in(browser, signing_url, county.users[Role.SECURITY_SQUAD].username)
    await page.locator("nav a[data-page=referrals]").click()
    await page.wait_for_selector("#rf-table")
    for ref, step, countdown in ((late, "公安签收", "已逾期"), (fresh, "负责人审批", "剩余")):
        row = page.locator(f"#rf-table tr[data-referral-id='{ref['id']}']")
        assert await row.locator("td[data-col=step]").inner_text() == step
        assert await row.locator("td[data-col=dueAt]").inner_text() == _minute(ref["nextDueAt"])
        assert (await row.locator(".countdown").inner_text()).startswith(countdown)
    late_row = page.locator(f"#rf-table tr[data-referral-id='{scene.late}']")
    assert "overdue" in (await late_row.locator(".countdown").get_attribute("class") or "")
    assert "overdue" not in (
        await page.locator(f"tr[data-referral-id='{scene.fresh}'] .countdown").get_attribute(
            "class"
        )
        or ""
    )

    # the overdue filter: the overdue feed's one step
    await page.locator("#rf-overdue-only").click()
    await page.wait_for_function(
        "() => document.querySelectorAll('#rf-table tbody tr').length === 1"
    )
    feed = await _call(api, county, Role.SECURITY_SQUAD, "GET", "/referrals/overdue")
    assert [(o["referralId"], o["step"]) for o in feed] == [(scene.late, "police_receipt")]
    only = page.locator("#rf-table tbody tr")
    assert await only.get_attribute("data-referral-id") == scene.late
    assert await only.locator("td[data-col=dueAt]").inner_text() == _minute(feed[0]["dueAt"])
    await page.locator("#rf-overdue-only").click()
    await page.wait_for_function(
        "() => document.querySelectorAll('#rf-table tbody tr').length === 2"
    )

    # the fresh referral waits for the head: the squad has nothing to record
    await page.locator(f"tr[data-referral-id='{scene.fresh}'] button.open").click()
    await page.wait_for_selector(f".rf-panel[data-referral-id='{scene.fresh}'] #rf-no-action")

    # the overdue one: its steps with the API's due times, then the receipt recorded
    await page.locator(f"tr[data-referral-id='{scene.late}'] button.open").click()
    await page.wait_for_selector(f".rf-panel[data-referral-id='{scene.late}'] #rf-action")
    got = await _call(api, county, Role.SECURITY_SQUAD, "GET", f"/referrals/{scene.late}")
    for step, due in (("decision", "decisionDueAt"), ("transfer", "transferDueAt"),
                      ("police_receipt", "receiptDueAt")):  # fmt: skip
        cell = page.locator(f"#rf-steps tr[data-step={step}] td[data-col=dueAt]")
        assert await cell.inner_text() == _minute(got[due]), step
    transfer_state = page.locator("#rf-steps tr[data-step=transfer] td[data-col=state]")
    assert await transfer_state.inner_text() == "按期完成"
    await page.locator("#rf-fingerprint").wait_for()
    keys = await api.get(f"{API}/signing-keys/", headers=county.headers(Role.SECURITY_SQUAD))
    assert keys.status_code == 200, keys.text
    current = next(k for k in keys.json()["keys"] if k["current"])
    assert await page.locator("#rf-fingerprint").inner_text() == current["fingerprintSha256"]
    assert "openssl pkeyutl -verify" in await page.locator("#rf-verify-command").inner_text()
    await page.screenshot(path=str(_shot("referrals.png")), full_page=True)

    # the package: a ZIP under the API's name that verifies with the published keys
    async with page.expect_download() as info:
        await page.locator("#rf-package").click()
    download = await info.value
    assert download.suggested_filename.endswith(".zip")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    listing = tmp_path / "signing-keys.json"
    listing.write_bytes(keys.content)
    report = verify_package(saved, public_keys=load_public_keys(listing))
    assert report.ok and report.signature_valid, report.problems
    assert report.case_no == late["caseNo"]
    # the page checked the same bytes against the same keys
    check = page.locator("#rf-check")
    await check.wait_for()
    assert await check.get_attribute("data-ok") == "true", await check.inner_text()
    assert f"{report.files_checked} 个文件" in await check.inner_text()

    await page.locator("#rf-receipt-no").fill("公(林)收字〔2026〕17号")
    await page.locator("#rf-action button[type=submit]").click()
    await page.wait_for_selector("#rf-action[data-step=police_decision]")
    after = await _call(api, county, Role.SECURITY_SQUAD, "GET", f"/referrals/{scene.late}")
    assert (after["status"], after["receiptNo"]) == ("received", "公(林)收字〔2026〕17号")
    receipt = next(s for s in after["steps"] if s["step"] == "police_receipt")
    assert receipt["late"] is True
    assert (
        "超期"
        in await page.locator(
            "#rf-steps tr[data-step=police_receipt] td[data-col=state]"
        ).inner_text()
    )

    # a refusal to file without the police's reason: the API's problem is shown, nothing moves
    await page.locator("#rf-action button[value=no]").click()
    refusal = page.locator("#rf-action-error")
    await refusal.filter(has_text="reason_required").wait_for()
    assert (await refusal.inner_text()).startswith("操作未成功：")
    still = await _call(api, county, Role.SECURITY_SQUAD, "GET", f"/referrals/{scene.late}")
    assert still["status"] == "received"

    # the case flagged but not referred is listed as flagged
    await page.wait_for_selector(f"#rf-suggestions td:text-is('{scene.flagged_no}')")
    # the browser logs the refused request itself, and nothing else goes wrong
    assert [e for e in errors if "status of 422" not in e] == [], errors
    assert len(errors) == 1, errors
    await page.context.close()

    inspector, _ = await log_in(browser, signing_url, county.users[Role.INSPECTOR].username)
    assert await inspector.locator("nav a[data-page=referrals]").count() == 0
    assert await inspector.locator("nav a[data-page=map]").count() == 1
    await inspector.context.close()


def _shot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
