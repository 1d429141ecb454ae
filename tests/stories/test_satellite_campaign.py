"""A quarter's satellite campaign (卫片执法), from the province's file to the report up and the
case, against the real app, PostGIS and S3.

The county admin has imported the land survey (two parcels: permanent basic farmland west of
the village, cultivated land east of it). On Wednesday 18 November 2026 the captain receives
the province's file of the third quarter: four change polygons with their monitoring numbers
and monitored areas. A dry run shows where they fall (three in the inspector's contract
area, one outside every area) and stores nothing; the import makes one task per polygon,
three already targets in the area's plan, due on the schedule's day (the quarter's end plus
60 days to report, results 10 days before: 19 November). The captain gives the fourth to the
inspector.

The inspector's phone pulls the four tasks with their polygons and monitored figures, and,
offline on the 19th, verifies three: one legal (a farmland conversion approval), one not new
construction (an agricultural facility), one illegal (a levelled plot partly built by a
company, on cultivated land) — one push. The captain sends the legal one back (the approval
number is missing a digit); the phone sees the reason, the inspector records it again. The
captain passes the three and submits them; a submitted polygon cannot change. The illegal one
becomes a case whose source is the task; the task names the case. The fourth, never
verified, is overdue from the 20th.

Each step goes over HTTP with the app's clock pinned to its moment (``app.state.clock``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.ids import uuid7
from infra.scope import Role
from tests import clock
from tests.conftest import CountyFixture

Client = AsyncTestClient[Any]
API = "/api/v1"
LON, LAT = 112.1, 28.5
CHINA = clock.CHINA


def _china(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA).astimezone(UTC)  # type: ignore[misc]


def _wire(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _square(lon: float, lat: float, half: float) -> dict[str, Any]:
    return shapely.geometry.mapping(shapely.box(lon - half, lat - half, lon + half, lat + half))


def _collection(features: list[tuple[dict[str, Any], dict[str, Any]]]) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
        },
        ensure_ascii=False,
    ).encode()


class Clock:
    def __init__(self) -> None:
        self.now = clock.NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fixed(app: Litestar) -> Iterator[Clock]:
    story = Clock()
    app.state.clock = story
    yield story
    del app.state.clock


async def _pull(client: Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The satellite tasks a fresh phone of this user holds after a full pull, by id."""
    tasks: dict[str, dict[str, Any]] = {}
    cursor = None
    for _ in range(50):
        body: dict[str, Any] = {"limit": 500} if cursor is None else {"cursor": cursor}
        resp = await client.post(f"{API}/sync/pull", json=body, headers=headers)
        assert resp.status_code == 200, resp.text
        changes = resp.json()["changes"]["satelliteTasks"]
        for record in changes["upserts"]:
            tasks[record["id"]] = record
        for gone in changes["deletes"]:
            tasks.pop(gone, None)
        cursor = resp.json()["cursor"]
        if not resp.json()["hasMore"]:
            return tasks
    raise AssertionError("the pull did not end")


async def test_a_quarters_satellite_campaign_from_the_file_to_the_report_and_the_case(
    client: Client, make_county: Any, fixed: Clock
) -> None:
    county: CountyFixture = await make_county()
    captain, admin = county.headers(Role.CAPTAIN), county.headers(Role.ADMIN)
    inspector = county.headers(Role.INSPECTOR)
    inspector_id = str(county.users[Role.INSPECTOR].id)

    async def call(method: str, path: str, who: dict[str, str], body: Any = None) -> Any:
        resp = await client.request(method, f"{API}{path}", json=body, headers=who)
        assert resp.status_code in {200, 201}, resp.text
        return resp.json()

    # the land survey: basic farmland west of the village road, cultivated land east of it
    parcels = _collection([
        ({"DLBM": "0101", "JBNT": "1"}, _square(LON - 0.05, LAT, 0.05)),
        ({"DLBM": "0103", "JBNT": "0"}, _square(LON + 0.05, LAT, 0.05)),
    ])  # fmt: skip
    resp = await client.post(
        f"{API}/geofence/layers/import", headers=admin, data={"kind": "parcels"},
        files={"file": ("survey.geojson", parcels, "application/geo+json")},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    # the inspector's contract area around the village (but not the far polygon)
    area = await call("POST", "/areas", captain, {
        "code": "S01", "name": "东风片区", "grade": 1,
        "geometry": {"type": "Polygon", "coordinates": [[
            [LON - 0.03, LAT - 0.03], [LON + 0.03, LAT - 0.03], [LON + 0.03, LAT + 0.03],
            [LON - 0.03, LAT + 0.03], [LON - 0.03, LAT - 0.03]]]},
        "leaderId": inspector_id,
    })  # fmt: skip

    # the province's file: four polygons of about 15 mu (0.0005° ≈ 50 m half side)
    spots = {
        "430101-2026Q3-001": (LON - 0.01, LAT),  # west: basic farmland
        "430101-2026Q3-002": (LON + 0.01, LAT),  # east: cultivated
        "430101-2026Q3-003": (LON + 0.02, LAT + 0.01),  # east: cultivated
        "430101-2026Q3-004": (LON + 0.08, LAT + 0.05),  # outside every area
    }
    batch_file = _collection([
        ({"JCBH": no, "PCNF": 2026, "JD": 3, "GDMJ": 10_000.0}, _square(x, y, 0.0005))
        for no, (x, y) in spots.items()
    ])  # fmt: skip
    form = {"name": "2026年第三季度卫片", "kind": "quarterly", "year": "2026", "quarter": "3"}

    async def upload(dry_run: bool) -> Any:
        resp = await client.post(
            f"{API}/satellite/batches", headers=captain,
            data={**form, "dryRun": "true" if dry_run else "false"},
            files={"file": ("2026Q3.geojson", batch_file, "application/geo+json")},
        )  # fmt: skip
        assert resp.status_code == 200, resp.text
        return resp.json()

    fixed.now = _china(2026, 11, 18, 9)
    dry = await upload(dry_run=True)
    assert (dry["dryRun"], dry["taskCount"], dry["unassigned"]) == (True, 4, 1)
    assert {a["code"]: a["tasks"] for a in dry["byArea"] if a["areaId"]} == {"S01": 3}
    assert dry.get("batch") is None
    assert await call("GET", "/satellite/batches", captain) == []

    done = await upload(dry_run=False)
    batch = done["batch"]
    # the schedule: reported 60 days after the quarter, results 10 days before that
    assert (batch["reportDueOn"], batch["verifyDueOn"]) == ("2026-11-29", "2026-11-19")
    page = await call("GET", f"/satellite/tasks?batchId={batch['id']}", captain)
    tasks = {t["monitoringNo"]: t for t in page["items"]}
    assert sorted(tasks) == sorted(spots)
    far = tasks["430101-2026Q3-004"]
    assert far["status"] == "unassigned" and far["areaId"] is None
    for no in list(spots)[:3]:
        assert (tasks[no]["status"], tasks[no]["areaId"]) == ("assigned", area["id"])
        assert tasks[no]["dueOn"] == "2026-11-19"
    # the three are targets in the inspector's November plan, due on the 19th
    plan = await call("GET", f"/areas/{area['id']}/plans/2026-11", inspector)
    targets = {t["name"]: t for t in plan["targets"]}
    assert {n: targets[n]["dueOn"] for n in list(spots)[:3]} == dict.fromkeys(
        list(spots)[:3], "2026-11-19"
    )
    # the captain gives the far one to the inspector (it goes to the nearest area they lead)
    assigned = await call(
        "POST", "/satellite/tasks/assign", captain,
        {"taskIds": [far["id"]], "inspectorId": inspector_id},
    )  # fmt: skip
    assert assigned["assigned"] == 1
    assert assigned["tasks"][0]["areaId"] == area["id"]

    # the phone pulls the four, with their polygons and the monitored cultivated area (m² in
    # the file, 15 mu on the phone)
    held = await _pull(client, inspector)
    assert sorted(r["monitoringNo"] for r in held.values()) == sorted(spots)
    for record in held.values():
        assert record["geometry"]["type"] in {"Polygon", "MultiPolygon"}
        assert record["areaMu"] == pytest.approx(15.0, rel=0.2)
        assert record["monitoredAreasMu"]["cultivated"] == pytest.approx(15.0, abs=0.01)

    # offline on the 19th: legal, not new, illegal — one push in the evening
    legal, not_new, illegal = (tasks[no]["id"] for no in list(spots)[:3])
    verified_at = _china(2026, 11, 19, 15)

    def op(task_id: str, **fields: Any) -> dict[str, Any]:
        return {"type": "recordSatelliteResult", "opId": str(uuid7()), "taskId": task_id,
                "resultId": str(uuid7()), "verifiedAt": _wire(verified_at), **fields}  # fmt: skip

    fixed.now = _china(2026, 11, 19, 20)
    ops = [
        op(legal, outcome="legal", proofType="farmland_conversion", approvalNo="湘政地〔2026〕1",
           approvalBody="湖南省人民政府", approvalDate="2026-03-02", approvalAreaMu=15.0),
        op(not_new, outcome="not_new", notNewKind="agricultural_facility",
           note="大棚，已备案设施农用地"),
        op(illegal, outcome="illegal", violator="某建材有限公司", violatorType="organisation",
           landUse="industrial", constructionStatus="partly_built", note="平整后在建厂房"),
    ]  # fmt: skip
    pushed = await call("POST", "/sync/push", inspector, {"ops": ops})
    assert [r["status"] for r in pushed["receipts"]] == ["applied"] * 3, pushed

    # the illegal polygon lies on cultivated land: its overlay says so, in mu
    task = await call("GET", f"/satellite/tasks/{illegal}", captain)
    assert (task["status"], task["outcome"]) == ("verified", "illegal")
    overlay = task["result"]["overlayAreasMu"]
    assert overlay["cultivated"] == pytest.approx(task["polygonAreaMu"], rel=0.01)

    # the captain sends the legal one back; the phone sees why; the inspector corrects it
    fixed.now = _china(2026, 11, 20, 9)
    why = "批准文号不完整，请核对原件"
    back = await call("POST", f"/satellite/tasks/{legal}/review", captain,
                      {"decision": "send_back", "reason": why})  # fmt: skip
    assert back["status"] == "sent_back"
    assert (await _pull(client, inspector))[legal]["reviewNote"] == why
    again = op(legal, outcome="legal", proofType="farmland_conversion",
               approvalNo="湘政地〔2026〕12", approvalBody="湖南省人民政府",
               approvalDate="2026-03-02", approvalAreaMu=15.0)  # fmt: skip
    again["verifiedAt"] = _wire(_china(2026, 11, 20, 10))
    fixed.now = _china(2026, 11, 20, 11)
    pushed = await call("POST", "/sync/push", inspector, {"ops": [again]})
    assert pushed["receipts"][0]["status"] == "applied"

    # the review passes the three; the fourth, never verified, is overdue from the 20th
    for task_id in (legal, not_new, illegal):
        passed = await call("POST", f"/satellite/tasks/{task_id}/review", captain,
                            {"decision": "pass"})  # fmt: skip
        assert passed["status"] == "passed"
    legal_task = await call("GET", f"/satellite/tasks/{legal}", captain)
    assert legal_task["result"]["approvalNo"] == "湘政地〔2026〕12"
    overdue = await call("GET", f"/satellite/tasks?batchId={batch['id']}&overdue=true", captain)
    assert [t["id"] for t in overdue["items"]] == [far["id"]]

    # submitted (上报) with its time; a submitted polygon no longer changes
    fixed.now = _china(2026, 11, 25, 16)
    submitted = await call("POST", "/satellite/tasks/submit", captain,
                           {"taskIds": [legal, not_new, illegal]})  # fmt: skip
    assert submitted["count"] == 3
    assert {t["submittedAt"] for t in submitted["tasks"]} == {_wire(fixed.now)}
    late = await client.put(
        f"{API}/satellite/tasks/{not_new}/results/{uuid7()}", headers=inspector,
        json={"outcome": "illegal", "verifiedAt": _wire(fixed.now), "violator": "某人",
              "violatorType": "person", "landUse": "housing",
              "constructionStatus": "fully_built"},
    )  # fmt: skip
    assert (late.status_code, late.json()["code"]) == (409, "satellite_task_submitted")

    # the illegal one becomes a case (转立案), linked both ways
    task = await call("POST", f"/satellite/tasks/{illegal}/case", captain, {})
    case = await call("GET", f"/cases/{task['caseId']}", captain)
    assert (case["sourceKind"], case["sourceId"]) == ("satellite", illegal)
    assert "430101-2026Q3-003" in case["cause"] or "430101-2026Q3-003" in json.dumps(case)
    assert "某建材有限公司" in json.dumps(case, ensure_ascii=False)

    # the batch as the captain sees it now
    seen = await call("GET", f"/satellite/batches/{batch['id']}", captain)
    assert (seen["byStatus"]["submitted"], seen["byStatus"]["assigned"]) == (3, 1)
    assert seen["overdue"] == 1

    # the campaign's figures: the legal polygon sits on basic farmland, the illegal one on
    # cultivated land, so half the cultivated land new construction took was taken illegally
    figures = await call("GET", f"/satellite/batches/{batch['id']}/figures", captain)
    total = figures["total"]
    assert (total["polygons"], total["verified"], total["overdue"]) == (4, 3, 1)
    assert (total["legal"], total["notNew"], total["illegal"]) == (1, 1, 1)
    assert total["illegalCultivatedMu"] == pytest.approx(task["polygonAreaMu"], rel=0.01)
    assert total["illegalBasicFarmlandMu"] == 0
    assert total["cultivatedRatio"] == pytest.approx(0.5, abs=0.01)
    assert (figures["ratioThreshold"], total["overThreshold"]) == (0.15, True)

    # the national one-table export, as the province's system takes it
    resp = await client.get(
        f"{API}/satellite/batches/{batch['id']}/export", params={"format": "xlsx"},
        headers=captain,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert "filename*=UTF-8''" in resp.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content), read_only=True).active
    assert sheet is not None
    rows = [[str(c) for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    assert "遥感监测图斑核查情况一览表" in str(rows[0])
    by_no = {no: row for row in rows for no in spots if no in row}
    assert sorted(by_no) == sorted(spots)
    assert "某建材有限公司" in by_no["430101-2026Q3-003"]
    assert "湘政地〔2026〕12" in by_no["430101-2026Q3-001"]
    assert case["caseNo"] in by_no["430101-2026Q3-003"]
    assert any("合计" in row for row in rows)
