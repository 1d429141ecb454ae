"""ExportSatelliteBatch: the national XLSX table opened with openpyxl, the GeoJSON layer, the
download headers and the custody entry (the batch of ``test_figures``)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.cases import CaseInput, open_case
from evidence.cases.satellite_models import SatelliteTask
from evidence.custody import CustodyEntry
from geofence.overlay import to_mu
from infra.scope import Role
from tests import clock
from tests.satellite_figures.conftest import Scenario

API = "/api/v1"
Client = AsyncTestClient[Litestar]


async def _with_case(factory: async_sessionmaker[AsyncSession], s: Scenario) -> str:
    """B2 became a case (source: the task); its number."""
    task_id = s.b.tasks["B2"].id
    async with factory() as session:
        case = await open_case(
            session, s.county.principal(Role.CAPTAIN),
            CaseInput(cause="卫片图斑B2违法占地", violation_kind="land_occupation", lon=112.12,
                      lat=28.5, source_kind="satellite", source_id=task_id),
        )  # fmt: skip
        task = await session.get(SatelliteTask, task_id)
        assert task is not None
        task.case_id = case.id
        await session.commit()
    return case.case_no


async def _export(client: Client, s: Scenario, fmt: str) -> Any:
    resp = await client.get(
        f"{API}/satellite/batches/{s.b.batch.id}/export",
        params={"format": fmt},
        headers=s.county.headers(Role.CAPTAIN),
    )
    assert resp.status_code == 200, resp.text
    return resp


def _mu(m2: float) -> float:
    return to_mu(m2, 4)


async def test_xlsx_is_the_national_table(
    client: Client, scenario: Scenario, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    case_no = await _with_case(session_factory, scenario)
    resp = await _export(client, scenario, "xlsx")
    assert resp.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert resp.headers["content-type"].count("charset") <= 1
    name = "2026年第3季度卫片图斑核查情况一览表.xlsx"
    disposition = resp.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    ws = load_workbook(io.BytesIO(resp.content)).active
    assert ws is not None
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert "遥感监测图斑核查情况一览表" in rows[0][0] and scenario.county.county.name in rows[0][0]
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:AF1", "A2:AF2", "A3:A4", "B3:C3", "F3:K3", "L3:N3", "O3:S3", "U3:Z3"} <= merged
    assert {"D3:D4", "E3:E4", "AA3:AA4", "AF3:AF4"} <= merged
    top, sub = rows[2], rows[3]
    assert top[0] == "序号" and top[1] == "行政区" and sub[1:3] == ["县级行政区", "乡镇"]
    assert top[3] == "监测编号" and top[4] == "图斑面积（亩）" and top[5] == "监测面积（亩）"
    assert top[11] == "核查结果（亩）" and sub[11:14] == ["合法", "非新增建设", "违法"]
    assert top[14] == "合法用地" and sub[14:19] == [
        "用地手续类型", "批准文号", "批准机关", "批准日期", "批准面积（亩）",
    ]  # fmt: skip
    assert top[19] == "非新增建设" and sub[19] == "类型"
    assert top[20] == "违法用地" and sub[20:26] == [
        "违法主体", "主体类型", "用途", "建设状态",
        "占用耕地面积（亩）", "占用永久基本农田面积（亩）",
    ]  # fmt: skip
    assert top[26:] == ["核查人", "核查时间", "审核状态", "上报时间", "立案编号", "备注"]

    data, totals = rows[4:-1], rows[-1]
    assert [r[3] for r in data] == ["A1", "A2", "A3", "A4", "A5", "B1", "B2", "N1", "N2"]
    assert [r[0] for r in data] == list(range(1, 10))
    by_no = {r[3]: r for r in data}
    county_name = scenario.county.county.name
    assert {r[1] for r in data} == {county_name}
    assert [by_no[n][2] for n in ("A1", "B1", "N1")] == ["甲镇", "乙乡", "（未落入乡镇）"]
    legal, illegal, sent_back, b2 = by_no["A3"], by_no["A4"], by_no["A5"], by_no["B2"]
    assert legal[4] == _mu(2100) and legal[11] == _mu(2000) and legal[13] is None
    approved_on = (clock.TODAY - timedelta(days=200)).isoformat()
    assert legal[14:19] == [
        "农用地转用审批", "湘政地〔2026〕12号", "湖南省人民政府", approved_on, _mu(2500),
    ]  # fmt: skip
    assert illegal[13] == _mu(3000) and illegal[20:24] == [
        "某建材公司",
        "企业、单位",
        "工矿仓储",
        "已建成",
    ]
    assert illegal[24] == _mu(1500) and illegal[25] == _mu(500)
    assert illegal[28] == "审核通过" and illegal[31] == "未批先建厂房"
    assert by_no["B1"][12] == _mu(1500) and by_no["B1"][19] == "设施农用地"
    assert by_no["B1"][28] == "已上报" and by_no["B1"][29]
    assert b2[30] == case_no and b2[26].endswith("同志") and b2[27]
    # a sent-back result does not stand: no result, the reason in the remarks
    assert sent_back[11:14] == [None, None, None] and sent_back[20] is None
    assert sent_back[28] == "已退回" and sent_back[31] == "审核退回：照片不清，请补拍"
    assert by_no["A1"][28] == "未分派" and by_no["A1"][26] is None

    assert totals[0] == "合计" and totals[3] == "9个图斑"
    assert totals[4] == _mu(900 + 1000 + 2100 + 3100 + 1000 + 1600 + 1300 + 2000)
    assert (totals[11], totals[12], totals[13]) == (_mu(2000), _mu(1500), _mu(4200))
    assert totals[24] == _mu(1500 + 1200) and totals[25] == _mu(500 + 1200)
    assert totals[18] == _mu(2500)

    async with session_factory() as session:
        entries = (
            await session.scalars(
                select(CustodyEntry).where(
                    CustodyEntry.county_id == scenario.county.id,
                    CustodyEntry.subject_id == scenario.b.batch.id,
                )
            )
        ).all()
    [entry] = entries
    assert entry.action == "exported" and entry.actor_id == scenario.county.users[Role.CAPTAIN].id
    assert entry.details["format"] == "xlsx" and entry.details["polygons"] == 9
    assert entry.details["bytes"] == len(resp.content)
    assert entry.details["sha256"] == resp.headers["x-content-sha256"]


async def test_geojson_has_every_attribute(
    client: Client, scenario: Scenario, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    case_no = await _with_case(session_factory, scenario)
    resp = await _export(client, scenario, "geojson")
    assert resp.headers["content-type"].startswith("application/geo+json")
    assert resp.headers["content-type"].count("charset") <= 1
    assert "filename*=UTF-8''" in resp.headers["content-disposition"]
    doc = resp.json()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 9
    by_no = {f["properties"]["monitoring_no"]: f for f in doc["features"]}
    b2 = by_no["B2"]
    assert b2["geometry"]["type"] == "MultiPolygon"
    p = b2["properties"]
    assert p["task_id"] == str(scenario.b.tasks["B2"].id) == b2["id"]
    assert p["township"] == "乙乡" and p["status"] == "verified" and p["status_label"] == "待审核"
    assert p["case_no"] == case_no and p["case_id"]
    assert p["outcome"] == "illegal" and p["result_standing"] is True
    r = p["result"]
    assert r["violator"] == "张某" and r["land_use"] == "housing"
    assert r["overlay_areas"] == {"permanent_basic_farmland": 1200}
    assert r["overlay_area_mu"] == _mu(1200) and r["verifier"].endswith("同志")
    assert p["polygon_area_m2"] == 1300 and p["due_on"] == clock.TODAY.isoformat()
    a5 = by_no["A5"]["properties"]
    assert a5["result_standing"] is False and a5["outcome"] is None
    assert a5["result"]["outcome"] == "illegal" and a5["review_note"] == "照片不清，请补拍"
    assert by_no["A1"]["properties"]["result"] is None
    b1 = by_no["B1"]["properties"]
    assert b1["submitted_at"] and b1["submitter"].endswith("同志")
    a4 = by_no["A4"]["properties"]
    assert a4["reviewed_at"] and a4["reviewer"].endswith("同志")
