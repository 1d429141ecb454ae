"""Satellite batches over HTTP: import (GeoJSON, GeoPackage, zipped Shapefile; field map; dry
run), the schedule's due dates, placement by township and contract area (targets in the
plans), bulk assignment and reassignment, refusals, and what the phones pull."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import mapping
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.errors import InvalidSatelliteBatchError
from evidence.cases.satellite_batches import BatchInput, SatelliteBatchService, schedule
from evidence.cases.satellite_models import SatelliteTask, SatelliteTaskEvent
from geofence.models import LayerVersion
from infra.scope import Role
from infra.settings import SatelliteSettings
from patrol.field_models import PatrolTarget
from tests import clock
from tests.conftest import CountyFixture, add_user, principal_of
from tests.satellite import _files

API = "/api/v1"
LON, LAT = 112.1, 28.5
Client = AsyncTestClient[Litestar]
MakeCounty = Callable[..., Awaitable[CountyFixture]]
Factory = async_sessionmaker[AsyncSession]

# area A around (LON - 0.05, LAT), area B around (LON + 0.05, LAT); a township west of LON
IN_A = (LON - 0.05, LAT)
IN_B = (LON + 0.05, LAT)
NOWHERE = (LON, LAT + 0.07)  # in the county, in no area and no township
WEST_TOWN = "430101001"


def _square(lon: float, lat: float, half: float) -> dict[str, Any]:
    return dict(mapping(_files.square(lon, lat, half)))


def _props(no: str, **more: Any) -> dict[str, Any]:
    return {"JCBH": no, "PCNF": 2026, "JD": 4, "GDMJ": 1333.34, **more}


async def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def _code(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["code"] == code, resp.text


async def _setup(client: Client, county: CountyFixture, factory: Factory) -> dict[str, Any]:
    """Township, areas A (led by the inspector) and B (led by a second inspector), this
    month's stored plan of A."""
    admin, captain = county.headers(Role.ADMIN), county.headers(Role.CAPTAIN)
    town = await _ok(
        await client.post(
            f"{API}/townships",
            json={"code": WEST_TOWN, "name": "西镇", "geometry": _square(LON - 0.05, LAT, 0.04)},
            headers=admin,
        ),
        201,
    )
    async with factory() as session:
        second = await add_user(session, county.id, Role.INSPECTOR, "inspector2")
        await session.commit()
    areas = {}
    for code, (x, y), leader in (
        ("A", IN_A, county.users[Role.INSPECTOR].id),
        ("B", IN_B, second.id),
    ):
        body = {"code": code, "name": f"{code}片", "grade": 1, "geometry": _square(x, y, 0.02),
                "leaderId": str(leader)}  # fmt: skip
        areas[code] = await _ok(await client.post(f"{API}/areas", json=body, headers=captain), 201)
    month = clock.this_month().strftime("%Y-%m")
    await _ok(
        await client.put(
            f"{API}/areas/{areas['A']['id']}/plans/{month}", json={"quota": 4}, headers=captain
        )
    )
    return {"town": town, "areas": areas, "second": second, "month": month}


async def _import(
    client: Client,
    county: CountyFixture,
    data: bytes,
    *,
    role: Role = Role.CAPTAIN,
    filename: str = "batch.geojson",
    **form: Any,
) -> Any:
    fields = {"name": f"2026年第4季度-{uuid.uuid4().hex[:6]}", "kind": "quarterly",
              "year": "2026", "quarter": "4", **form}  # fmt: skip
    return await client.post(
        f"{API}/satellite/batches",
        data={k: str(v) for k, v in fields.items() if v is not None},
        files={"file": (filename, data, "application/octet-stream")},
        headers=county.headers(role),
    )


async def _versions(factory: Factory, county: CountyFixture) -> int:
    async with factory() as session:
        return int(
            await session.scalar(select(func.count()).where(LayerVersion.county_id == county.id))
            or 0
        )


async def test_import_places_tasks_by_township_and_area_and_a_dry_run_stores_nothing(
    client: Client, make_county: MakeCounty, session_factory: Factory
) -> None:
    county = await make_county()
    world = await _setup(client, county, session_factory)
    area_a = world["areas"]["A"]
    data = _files.geojson([
        (*IN_A, _props("430101-001", XZQDM=WEST_TOWN)),
        (*IN_B, _props("430101-002")),
        (*NOWHERE, _props("430101-003")),
        (LON + 5, LAT, _props("430101-004")),  # far outside the county: rejected
    ])  # fmt: skip
    before = await _versions(session_factory, county)

    dry = await _ok(await _import(client, county, data, dryRun="true", name="预演"))
    assert dry["dryRun"] is True and dry["batch"] is None
    assert (dry["import"]["read"], dry["import"]["stored"], dry["import"]["rejected"]) == (4, 3, 1)
    assert dry["import"]["rejections"][0]["feature"] == 4
    assert dry["taskCount"] == 3 and dry["unassigned"] == 1
    by_area = {a["code"]: a["tasks"] for a in dry["byArea"]}
    assert by_area == {"A": 1, "B": 1, "": 1}
    assert {t["townshipId"]: t["tasks"] for t in dry["byTownship"]} == {
        world["town"]["id"]: 1, None: 2,
    }  # fmt: skip
    assert await _versions(session_factory, county) == before  # stored nothing
    listed = await _ok(
        await client.get(f"{API}/satellite/batches", headers=county.headers(Role.CAPTAIN))
    )
    assert listed == []

    done = await _ok(await _import(client, county, data, name="2026年第4季度"))
    batch = done["batch"]
    assert done["dryRun"] is False and done["taskCount"] == 3 and done["unassigned"] == 1
    # the schedule: the quarter ends 2026-12-31, reported 60 days on, results 10 days before
    assert (batch["reportDueOn"], batch["verifyDueOn"]) == ("2027-03-01", "2027-02-19")
    assert batch["byStatus"]["assigned"] == 2 and batch["byStatus"]["unassigned"] == 1
    assert batch["polygons"] == 3 and batch["layerVersionNo"] == 1
    got = await _ok(
        await client.get(
            f"{API}/satellite/batches/{batch['id']}", headers=county.headers(Role.ADMIN)
        )
    )
    assert got["taskCount"] == 3 and got["overdue"] == 0

    async with session_factory() as session:
        tasks = {
            t.monitoring_no: t
            for t in await session.scalars(
                select(SatelliteTask).where(SatelliteTask.batch_id == uuid.UUID(batch["id"]))
            )
        }
        in_a = tasks["430101-001"]
        assert (in_a.status, str(in_a.area_id)) == ("assigned", area_a["id"])
        assert str(in_a.township_id) == world["town"]["id"]
        assert in_a.due_on == date(2027, 2, 19)
        target = await session.get_one(PatrolTarget, in_a.target_id)
        assert (target.kind, target.name, target.ref_id) == (
            "change_polygon", "430101-001", in_a.change_polygon_id,
        )  # fmt: skip
        # a 100 m square: the radius reaches its corners from the middle (~70 m)
        assert 60 < target.visit_radius_m < 120 and target.due_on == date(2027, 2, 19)
        nowhere = tasks["430101-003"]
        assert (nowhere.status, nowhere.area_id, nowhere.target_id) == ("unassigned", None, None)
        kinds = sorted(
            (await session.scalars(select(SatelliteTaskEvent.kind).where(
                SatelliteTaskEvent.task_id.in_([t.id for t in tasks.values()])
            ))).all()
        )  # fmt: skip
        assert kinds == ["assigned", "assigned", "created"]
    plan = await _ok(
        await client.get(
            f"{API}/areas/{area_a['id']}/plans/{world['month']}",
            headers=county.headers(Role.CAPTAIN),
        )
    )
    assert str(in_a.target_id) in [t["id"] for t in plan["targets"]]

    again = await _import(client, county, data, name="2026年第4季度")
    _code(again, 409, "satellite_batch_exists")
    # the same polygons in another batch: named as repeats of the open batch
    repeat = await _ok(await _import(client, county, data, dryRun="true", name="复查"))
    assert repeat["repeatedMonitoringNos"] == ["430101-001", "430101-002", "430101-003"]


async def test_field_map_and_other_formats(
    client: Client, make_county: MakeCounty, session_factory: Factory
) -> None:
    county = await make_county()
    await _setup(client, county, session_factory)
    spots = [
        (*IN_A, {"BH": "G-1", "ND": "2026", "JDU": "3", "XZDM2": WEST_TOWN}),
        (*NOWHERE, {"BH": "G-2", "ND": "2026", "JDU": "3", "XZDM2": ""}),
    ]
    mapping = json.dumps({"monitoring_no": "BH", "batch_year": "ND", "batch_quarter": "JDU",
                          "township_code": "XZDM2"})  # fmt: skip
    for name, data, filename in (
        ("gpkg", _files.geopackage(spots), "batch.gpkg"),
        ("shp", _files.zipped_shapefile(spots), "batch.zip"),
    ):
        resp = await _import(
            client, county, data, filename=filename, name=name, fieldMap=mapping, kind="special",
            quarter=None,
        )  # fmt: skip
        done = await _ok(resp)
        assert done["import"]["sourceFormat"] == {"gpkg": "geopackage", "shp": "shapefile"}[name]
        assert done["taskCount"] == 2 and done["unassigned"] == 1
        towns = {t["name"]: t["tasks"] for t in done["byTownship"]}
        assert towns == {"西镇": 1, "": 1}
    unmapped = await _import(client, county, _files.geopackage(spots), filename="b.gpkg")
    _code(unmapped, 422, "invalid_field_map")
    bad = await _import(client, county, _files.geopackage(spots), filename="b.gpkg",
                        fieldMap="{not json")  # fmt: skip
    _code(bad, 422, "invalid_field_map")


def test_due_dates_follow_the_schedule() -> None:
    s = SatelliteSettings(quarter_report_days=60, review_days=10)
    today = date(2026, 11, 18)
    assert schedule("monthly", 2026, quarter=None, month=1, today=today, settings=s) == (
        date(2026, 2, 18), date(2026, 2, 28),
    )  # fmt: skip
    assert schedule("monthly", 2026, quarter=None, month=12, today=today, settings=s) == (
        date(2027, 1, 21), date(2027, 1, 31),
    )  # fmt: skip
    assert schedule("quarterly", 2026, quarter=2, month=None, today=today, settings=s) == (
        date(2026, 8, 19), date(2026, 8, 29),
    )  # fmt: skip
    assert schedule("special", 2026, quarter=None, month=None, today=today, settings=s) == (
        date(2027, 1, 7), date(2027, 1, 17),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"quarter": None}, "quarter"),  # quarterly without its quarter
        ({"kind": "monthly", "quarter": None}, "month"),
        ({"kind": "monthly", "month": "5", "quarter": "3"}, "quarter"),
        ({"verifyDueOn": "2027-04-01", "reportDueOn": "2027-03-01"}, "verifyDueOn"),
        ({"year": "1999"}, "year"),
        ({"name": " "}, "name"),
    ],
)
async def test_invalid_batches_are_refused(
    client: Client, make_county: MakeCounty, form: dict[str, str | None], field: str
) -> None:
    county = await make_county()
    data = _files.geojson([(LON, LAT, _props("X-1"))])
    resp = await _import(client, county, data, **form)
    _code(resp, 422, "invalid_satellite_batch")
    assert resp.json()["errors"][0]["field"] == field


async def test_given_due_dates_and_a_monthly_batch(client: Client, make_county: MakeCounty) -> None:
    county = await make_county()
    data = _files.geojson([(LON, LAT, _props("M-1"))])
    done = await _ok(await _import(client, county, data, kind="monthly", quarter=None, month="11"))
    batch = done["batch"]
    assert (batch["quarter"], batch["month"]) == (4, 11)
    assert (batch["verifyDueOn"], batch["reportDueOn"]) == ("2026-12-21", "2026-12-31")
    given = await _ok(await _import(client, county, data, reportDueOn="2027-01-20"))
    assert (given["batch"]["verifyDueOn"], given["batch"]["reportDueOn"]) == (
        "2027-01-10", "2027-01-20",
    )  # fmt: skip


async def test_only_captains_and_admins_import_read_and_assign(
    client: Client, make_county: MakeCounty
) -> None:
    county = await make_county()
    data = _files.geojson([(LON, LAT, _props("R-1"))])
    for role in (Role.INSPECTOR, Role.JOINT_TEAM, Role.SECURITY_SQUAD, Role.CLUE_DESK):
        _code(await _import(client, county, data, role=role), 403, "role_not_allowed")
        resp = await client.get(f"{API}/satellite/batches", headers=county.headers(role))
        _code(resp, 403, "role_not_allowed")
    done = await _ok(await _import(client, county, data, role=Role.ADMIN))
    assert done["batch"]["createdBy"] == str(county.users[Role.ADMIN].id)


async def _pull_all(client: Client, headers: dict[str, str], cursor: str | None) -> Any:
    ups: dict[str, Any] = {}
    deletes: list[str] = []
    while True:
        page = await _ok(
            await client.post(f"{API}/sync/pull", json={"cursor": cursor}, headers=headers)
        )
        cursor = page["cursor"]
        tasks = page["changes"]["satelliteTasks"]
        ups.update({t["id"]: t for t in tasks["upserts"]})
        deletes += tasks["deletes"]
        if not page["hasMore"]:
            return cursor, ups, deletes


async def test_assignment_reassignment_and_what_phones_pull(
    client: Client, make_county: MakeCounty, session_factory: Factory
) -> None:
    county = await make_county()
    other = await make_county(lon=113.0, lat=28.0)
    world = await _setup(client, county, session_factory)
    second = world["second"]
    area_a, area_b = world["areas"]["A"], world["areas"]["B"]
    data = _files.geojson([
        (*IN_A, _props("S-1")), (*IN_B, _props("S-2")), (*NOWHERE, _props("S-3")),
    ])  # fmt: skip
    done = await _ok(await _import(client, county, data, name="卫片"))
    async with session_factory() as session:
        rows = await session.scalars(
            select(SatelliteTask).where(SatelliteTask.batch_id == uuid.UUID(done["batch"]["id"]))
        )
        ids = {t.monitoring_no: str(t.id) for t in rows}

    first_headers = county.headers(Role.INSPECTOR)
    cursor, seen, _ = await _pull_all(client, first_headers, None)
    assert set(seen) == {ids["S-1"]}  # area A's task, not area B's nor the unassigned one
    record = seen[ids["S-1"]]
    assert record["monitoringNo"] == "S-1" and record["batchName"] == "卫片"
    assert record["status"] == "assigned" and record["areaId"] == area_a["id"]
    assert record["geometry"]["type"] == "MultiPolygon"
    assert record["monitoredAreasMu"] == {"cultivated": 2.0}
    assert 1.5 < record["areaMu"] < 18.0  # a ~100 m square: about 15 mu

    captain = county.headers(Role.CAPTAIN)
    assign = f"{API}/satellite/tasks/assign"
    # a joint-team member in no area is told to name one
    lonely = {"taskIds": [ids["S-3"]], "inspectorId": str(county.users[Role.JOINT_TEAM].id)}
    refused = await client.post(assign, json=lonely, headers=captain)
    _code(refused, 422, "no_area_for_satellite_task")
    # the unassigned task goes to the inspector's nearest area (B, which they lead)
    moved = await _ok(
        await client.post(
            assign, json={"taskIds": [ids["S-3"]], "inspectorId": str(second.id)}, headers=captain
        )
    )
    assert moved["assigned"] == 1
    [task] = moved["tasks"]
    assert (task["status"], task["areaId"], task["inspectorId"]) == (
        "assigned", area_b["id"], str(second.id),
    )  # fmt: skip
    # area A's task to the second inspector in area B: the old target is retired
    async with session_factory() as session:
        old_target = (await session.get_one(SatelliteTask, uuid.UUID(ids["S-1"]))).target_id
    body = {"taskIds": [ids["S-1"]], "inspectorId": str(second.id), "areaId": area_b["id"]}
    [task] = (await _ok(await client.post(assign, json=body, headers=captain)))["tasks"]
    assert task["areaId"] == area_b["id"] and task["targetId"] != str(old_target)
    async with session_factory() as session:
        assert (await session.get_one(PatrolTarget, old_target)).active is False
        new_target = await session.get_one(PatrolTarget, uuid.UUID(task["targetId"]))
        assert (new_target.area_id, new_target.active) == (uuid.UUID(area_b["id"]), True)

    _, seen_again, gone = await _pull_all(client, first_headers, cursor)
    assert gone == [ids["S-1"]] and not seen_again  # left the first inspector's scope
    second_headers = {"Authorization": f"Bearer {county.tokens.access_token(principal_of(second))}"}
    _, second_sees, _ = await _pull_all(client, second_headers, None)
    assert set(second_sees) == {ids["S-1"], ids["S-2"], ids["S-3"]}
    assert second_sees[ids["S-1"]]["inspectorId"] == str(second.id)

    # refusals
    wrong_role = {"taskIds": [ids["S-2"]], "inspectorId": str(county.users[Role.CAPTAIN].id)}
    _code(await client.post(assign, json=wrong_role, headers=captain), 422, "unknown_user")
    foreign = {"taskIds": [ids["S-2"]], "inspectorId": str(other.users[Role.INSPECTOR].id)}
    _code(await client.post(assign, json=foreign, headers=captain), 422, "unknown_user")
    elsewhere = {"taskIds": [ids["S-2"]], "inspectorId": str(second.id)}
    _code(
        await client.post(assign, json=elsewhere, headers=other.headers(Role.CAPTAIN)),
        404,
        "satellite_task_not_found",
    )
    _code(
        await client.post(assign, json=elsewhere, headers=county.headers(Role.INSPECTOR)),
        403,
        "role_not_allowed",
    )
    _code(
        await client.get(
            f"{API}/satellite/batches/{done['batch']['id']}",
            headers=other.headers(Role.CAPTAIN),
        ),
        404,
        "satellite_batch_not_found",
    )
    async with session_factory() as session:
        await session.execute(
            update(SatelliteTask)
            .where(SatelliteTask.id == uuid.UUID(ids["S-2"]))
            .values(status="submitted", submitted_at=clock.now())
        )
        await session.commit()
    _code(await client.post(assign, json=elsewhere, headers=captain), 409,
          "satellite_task_submitted")  # fmt: skip


async def test_a_file_above_the_request_limit_is_refused_with_its_reason(
    make_county: MakeCounty, session_factory: Factory, tmp_path: Any
) -> None:
    county = await make_county()
    path = tmp_path / "big.geojson"
    path.write_bytes(_files.geojson([(LON, LAT, _props(f"B-{n}")) for n in range(20)]))
    async with session_factory() as session:
        service = SatelliteBatchService(session, SatelliteSettings(), import_limit_bytes=1000)
        with pytest.raises(InvalidSatelliteBatchError) as refused:
            await service.create_batch(
                county.principal(Role.CAPTAIN),
                BatchInput(name="大批次", kind="special", year=2026),
                path,
                source_name=path.name,
            )
    assert refused.value.extra["reason"] == "file_too_large"
    assert refused.value.extra["limit_bytes"] == 1000


async def test_a_new_batch_keeps_the_open_polygons_of_earlier_ones_on_the_map(
    client: Client, make_county: MakeCounty, session_factory: Factory
) -> None:
    """A batch is a new version of the change-polygon layer, which replaces the layer whole:
    the polygons earlier batches still wait on are carried into it, the submitted ones not."""
    county = await make_county()
    captain = county.headers(Role.CAPTAIN)
    spots = {"Q3-open": (LON - 0.01, LAT), "Q3-done": (LON + 0.01, LAT)}
    first = _files.geojson(
        [(x, y, {"JCBH": no, "PCNF": 2026, "JD": 3}) for no, (x, y) in spots.items()]
    )
    await _ok(await _import(client, county, first, quarter="3"))
    async with session_factory() as session:
        await session.execute(
            update(SatelliteTask)
            .where(SatelliteTask.county_id == county.id, SatelliteTask.monitoring_no == "Q3-done")
            .values(status="submitted")
        )
        await session.commit()
    second = _files.geojson([(LON, LAT + 0.02, {"JCBH": "Q4-new", "PCNF": 2026, "JD": 4})])
    done = await _ok(await _import(client, county, second))
    assert done["taskCount"] == 1  # the carried polygon makes no second task

    async def hits(lon: float, lat: float) -> list[str]:
        resp = await client.post(
            f"{API}/geofence/check", headers=captain,
            json={"lon": lon, "lat": lat, "accuracyM": 5, "kinds": ["change_polygons"]},
        )  # fmt: skip
        body = await _ok(resp)
        assert {v["versionId"] for v in body["layerVersions"]} == {done["batch"]["layerVersionId"]}
        return [h["attributes"].get("monitoring_no", "") for h in body["features"]]

    assert await hits(*spots["Q3-open"]) == ["Q3-open"]
    assert await hits(*spots["Q3-done"]) == []
    assert await hits(LON, LAT + 0.02) == ["Q4-new"]
    async with session_factory() as session:
        tasks = (
            await session.scalars(select(SatelliteTask).where(SatelliteTask.county_id == county.id))
        ).all()
    assert sorted(t.monitoring_no for t in tasks) == ["Q3-done", "Q3-open", "Q4-new"]
