"""Every bad input is a 4xx: a corpus of hostile requests against the real app.

Each case is sent to a representative route as a user with the right to call it, and must
come back as an RFC 9457 problem with a stable ``code`` (and the offending field where there
is one), without changing anything stored for the county.
Bodies stay small (at most a few MB): the body size limit itself is tested elsewhere.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.cli import main
from infra.geometry import MAX_VERTICES
from infra.ids import uuid7
from infra.launchers import LocalServices
from infra.scope import Role
from infra.settings import Settings
from mobile_contract.v1.common import MAX_GEOMETRY_VERTICES
from tests import clock
from tests.worlds import World, build_world

Client = AsyncTestClient[Litestar]
API = "/api/v1"
LON, LAT = 112.1, 28.5
NUL = "\u0000"


def _ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _polygon(ring: list[list[Any]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass
class Case:
    """One hostile request and the problem it must get."""

    name: str
    method: str
    path: str  # ``{area}`` and ``{version}`` are filled from the world
    status: int
    code: str
    role: Role = Role.CAPTAIN
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    fld: str | None = None  # the field the problem must name


def _case_body(**extra: Any) -> dict[str, Any]:
    return {"cause": "未经批准占用耕地建设厂房", "violationKind": "land_occupation",
            "lon": LON, "lat": LAT, **extra}  # fmt: skip


def _upload_body(**extra: Any) -> dict[str, Any]:
    return {
        "sha256": "0" * 64,
        "sizeBytes": 1000,
        "contentType": "image/jpeg",
        "fileName": "IMG_0001.jpg",
        "claimedCapturedAt": "2026-05-01T08:00:00+08:00",
        "fix": {"lon": LON, "lat": LAT, "accuracyM": 6.0, "crs": "wgs84"},
        **extra,
    }


CHECK = f"{API}/geofence/check"
OVERLAY = f"{API}/geofence/overlay"
CASES = f"{API}/cases"
DEVICES = f"{API}/auth/devices"
TARGETS = f"{API}/areas/{{area}}/targets"
PUSH = f"{API}/sync/push"
PULL = f"{API}/sync/pull"
FEATURES = f"{API}/geofence/layers/versions/{{version}}/features"
MSGPACK = {"Content-Type": "application/msgpack"}
JSON_CT = {"Content-Type": "application/json"}
_CHECK_OK = {"lon": LON, "lat": LAT, "accuracyM": 5.0}
_BIG_RING = [
    [LON + (i % 1000) * 1e-6, LAT + (i // 1000) * 1e-6] for i in range(MAX_GEOMETRY_VERTICES)
]
_BIG_RING.append(_BIG_RING[0])

CORPUS: list[Case] = [
    # -- NUL characters, which PostgreSQL refuses in text ------------------------------------
    Case("nul in a device name", "POST", DEVICES, 422, "invalid_character",
         role=Role.INSPECTOR, json={"name": f"Huawei{NUL}P60"}, fld="name"),
    Case("nul in a case cause", "POST", CASES, 422, "invalid_character",
         json=_case_body(cause=f"占用{NUL}耕地"), fld="cause"),
    Case("nul in a target name", "POST", TARGETS, 422, "invalid_character",
         json={"kind": "custom", "name": f"桥{NUL}头", "lon": LON, "lat": LAT}, fld="name"),
    Case("nul in an evidence file name", "POST", f"{API}/evidence/uploads/{uuid7()}", 422,
         "invalid_character", role=Role.INSPECTOR,
         json=_upload_body(fileName=f"IMG{NUL}.jpg"), fld="fileName"),
    Case("nul deep in a body", "POST", CASES, 422, "invalid_character",
         json=_case_body(parties=[{"name": f"张{NUL}三", "kind": "person"}]),
         fld="parties[0].name"),
    Case("nul in an object key", "POST", CASES, 422, "invalid_character",
         json=_case_body(**{f"x{NUL}": 1})),
    Case("nul in the flags query", "GET", f"{API}/evidence", 422, "invalid_character",
         params={"flags": f"a{NUL}b"}, fld="flags"),
    Case("nul in a query name", "GET", f"{API}/evidence", 422, "invalid_character",
         params={f"fl{NUL}ags": "x"}),
    Case("nul in a path parameter", "GET", f"{API}/sync/layers/parcels%00x", 422,
         "invalid_character", fld="layer"),
    Case("nul in a push body outside the operations", "POST", PUSH, 422, "invalid_character",
         role=Role.INSPECTOR, json={"ops": [], "deviceTime": f"2026{NUL}"}, fld="deviceTime"),
    # -- nesting ---------------------------------------------------------------------------
    Case("json nested 40 levels", "POST", CASES, 422, "nesting_too_deep",
         json=_case_body(note=json.loads(_nested(40)))),
    Case("json nested 1,000 levels", "POST", CASES, 422, "nesting_too_deep",
         content=_nested(1000), headers=JSON_CT),
    Case("json nested 100,000 levels", "POST", CHECK, 422, "nesting_too_deep",
         content=_nested(100_000), headers=JSON_CT),
    Case("msgpack arrays nested 100,000 levels", "POST", PUSH, 422, "nesting_too_deep",
         role=Role.INSPECTOR, content=b"\x91" * 100_000 + b"\xc0", headers=MSGPACK),
    Case("msgpack maps nested 5,000 levels", "POST", PULL, 422, "nesting_too_deep",
         role=Role.INSPECTOR, content=b"\x81\xa1a" * 5_000 + b"\xc0", headers=MSGPACK),
    # -- numbers ---------------------------------------------------------------------------
    Case("offset beyond int64", "GET", FEATURES, 422, "number_out_of_range",
         params={"offset": str(2**63)}, fld="offset"),
    Case("offset of 400 digits", "GET", FEATURES, 422, "number_out_of_range",
         params={"offset": "9" * 400}, fld="offset"),
    Case("offset beyond its bound", "GET", FEATURES, 400, "validation_error",
         params={"offset": str(2**62)}, fld="offset"),
    Case("tile coordinate beyond int64", "GET", f"{API}/tiles/parcels/{10**30}/0/0", 422,
         "number_out_of_range", fld="z"),
    Case("integer beyond int64 in a body", "POST", CHECK, 422, "number_out_of_range",
         content=b'{"lon": 112.1, "lat": 28.5, "accuracyM": 99999999999999999999999}',
         headers=JSON_CT, fld="accuracyM"),
    Case("number beyond a double", "POST", CHECK, 400, "malformed_body",
         content=b'{"lon": 112.1, "lat": 1e400, "accuracyM": 5}', headers=JSON_CT),
    Case("NaN literal", "POST", CHECK, 400, "malformed_body",
         content=b'{"lon": 112.1, "lat": NaN, "accuracyM": 5}', headers=JSON_CT),
    Case("Infinity literal", "POST", CHECK, 400, "malformed_body",
         content=b'{"lon": Infinity, "lat": 28.5, "accuracyM": 5}', headers=JSON_CT),
    Case("msgpack NaN", "POST", PULL, 422, "number_out_of_range", role=Role.INSPECTOR,
         content=msgspec.msgpack.encode({"limit": float("nan")}), headers=MSGPACK,
         fld="limit"),
    Case("msgpack uint64", "POST", PULL, 422, "number_out_of_range", role=Role.INSPECTOR,
         content=b"\x81\xa5limit\xcf" + b"\xff" * 8, headers=MSGPACK, fld="limit"),
    # -- strict types ----------------------------------------------------------------------
    Case("string for a number", "POST", CHECK, 400, "validation_error",
         json={**_CHECK_OK, "lat": "28.5"}, fld="lat"),
    Case("string for a boolean", "POST", CASES, 400, "validation_error",
         json=_case_body(specialArea="true"), fld="specialArea"),
    Case("string for an integer", "POST", PULL, 400, "validation_error", role=Role.INSPECTOR,
         json={"limit": "5"}, fld="limit"),
    Case("number for a string", "POST", DEVICES, 400, "validation_error",
         role=Role.INSPECTOR, json={"name": 60}, fld="name"),
    Case("msgpack binary for a string", "POST", PULL, 400, "malformed_body",
         role=Role.INSPECTOR, content=msgspec.msgpack.encode({"cursor": b"abc"}),
         headers=MSGPACK),
    Case("msgpack extension type", "POST", PULL, 400, "malformed_body", role=Role.INSPECTOR,
         content=b"\x81\xa6cursor\xd4\x01\x00", headers=MSGPACK),
    Case("msgpack integer keys", "POST", PULL, 400, "malformed_body", role=Role.INSPECTOR,
         content=b"\x81\x01\x02", headers=MSGPACK),
    # -- broken text -----------------------------------------------------------------------
    Case("lone surrogate", "POST", DEVICES, 400, "malformed_body", role=Role.INSPECTOR,
         content=b'{"name": "\\ud800"}', headers=JSON_CT),
    Case("invalid utf-8", "POST", DEVICES, 400, "malformed_body", role=Role.INSPECTOR,
         content=b'{"name": "\xff\xfe"}', headers=JSON_CT),
    Case("truncated json", "POST", CASES, 400, "malformed_body",
         content=b'{"cause": "x', headers=JSON_CT),
    Case("overlong device name", "POST", DEVICES, 400, "validation_error",
         role=Role.INSPECTOR, json={"name": "x" * 100_000}, fld="name"),
    Case("overlong case cause", "POST", CASES, 400, "validation_error",
         json=_case_body(cause="占" * 200_000), fld="cause"),
    Case("overlong query value", "GET", f"{API}/evidence", 400, "validation_error",
         params={"cursor": "c" * 5_000}, fld="cursor"),
    # -- content types ---------------------------------------------------------------------
    Case("json sent as text/plain", "POST", CHECK, 415, "unsupported_media_type",
         content=json.dumps(_CHECK_OK).encode(), headers={"Content-Type": "text/plain"}),
    Case("xml body", "POST", CASES, 415, "unsupported_media_type",
         content=b"<case/>", headers={"Content-Type": "application/xml"}),
    Case("form body to a json route", "POST", DEVICES, 415, "unsupported_media_type",
         role=Role.INSPECTOR, content=b"name=x",
         headers={"Content-Type": "application/x-www-form-urlencoded"}),
    Case("msgpack to a json-only route", "POST", CHECK, 415, "unsupported_media_type",
         content=msgspec.msgpack.encode(_CHECK_OK), headers=MSGPACK),
    Case("msgpack labelled json", "POST", PULL, 400, "malformed_body", role=Role.INSPECTOR,
         content=msgspec.msgpack.encode({"limit": 5}), headers=JSON_CT),
    # -- geometry --------------------------------------------------------------------------
    Case("open ring in an overlay", "POST", OVERLAY, 422, "invalid_geometry",
         json={"polygon": _polygon(_ring(112.09, 28.49, 112.11, 28.51)[:-1])}, fld="polygon"),
    Case("3-d overlay", "POST", OVERLAY, 422, "invalid_geometry",
         json={"polygon": _polygon([[*p, 50.0] for p in _ring(112.09, 28.49, 112.11, 28.51)])},
         fld="polygon"),
    Case("string coordinates in an overlay", "POST", OVERLAY, 422, "invalid_geometry",
         json={"polygon": _polygon([[str(x), str(y)] for x, y in
                                    _ring(112.09, 28.49, 112.11, 28.51)])}, fld="polygon"),
    Case("too many vertices in an overlay", "POST", OVERLAY, 422, "too_many_vertices",
         json={"polygon": {"type": "Polygon", "coordinates": [[*_BIG_RING, _BIG_RING[0]]]}},
         fld="polygon"),
    Case("open ring in a case polygon", "POST", CASES, 422, "invalid_geometry",
         json=_case_body(surveyedGeometry=_polygon(_ring(112.09, 28.49, 112.11, 28.51)[:3])),
         fld="surveyed_geometry"),
    Case("msgpack infinity", "POST", PULL, 422, "number_out_of_range", role=Role.INSPECTOR,
         content=msgspec.msgpack.encode({"cursor": None, "limit": float("inf")}),
         headers=MSGPACK, fld="limit"),
]  # fmt: skip


# -- the checks ------------------------------------------------------------------------------


async def _stored(
    factory: async_sessionmaker[AsyncSession], county_id: uuid.UUID
) -> dict[str, int]:
    """Row counts of every table with a ``county_id``, for one county."""
    async with factory() as session:
        tables = (
            await session.execute(
                text(
                    "SELECT table_name FROM information_schema.columns WHERE column_name = "
                    "'county_id' AND table_schema = current_schema() ORDER BY table_name"
                )
            )
        ).scalars()
        counts: dict[str, int] = {}
        for table in list(tables):
            n = await session.scalar(
                text(f'SELECT count(*) FROM "{table}" WHERE county_id = :c'), {"c": county_id}
            )
            counts[table] = int(n or 0)
        return counts


@pytest.fixture
async def world(app: Litestar, session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory, app.state.tokens)


def _assert_problem(resp: Any, case: Case) -> None:
    assert resp.status_code == case.status, (case.name, resp.status_code, resp.text[:500])
    assert resp.headers["content-type"].startswith("application/problem+json"), case.name
    body = resp.json()
    assert body["code"] == case.code, (case.name, body)
    assert body["status"] == case.status and body["detail"], body
    if case.fld is not None:
        fields = [e.get("field") for e in body.get("errors") or []]
        assert case.fld in fields, (case.name, body)


async def _send(client: Client, world: World, case: Case) -> Any:
    # parameters are checked before the handler looks the layer version up: any id will do
    path = case.path.format(area=world.area.id, version=uuid7())
    kwargs: dict[str, Any] = {"headers": {**world.county.headers(case.role), **case.headers}}
    if case.params is not None:
        kwargs["params"] = case.params
    if case.json is not None:
        kwargs["content"] = json.dumps(case.json, ensure_ascii=False).encode()
        kwargs["headers"].setdefault("Content-Type", "application/json")
    elif case.content is not None:
        kwargs["content"] = case.content
    return await client.request(case.method, path, **kwargs)


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
async def test_hostile_request_is_a_4xx_problem(
    client: Client, world: World, session_factory: async_sessionmaker[AsyncSession], case: Case
) -> None:
    before = await _stored(session_factory, world.county.id)
    resp = await _send(client, world, case)
    _assert_problem(resp, case)
    assert await _stored(session_factory, world.county.id) == before, case.name
    # the app still answers an honest request after it
    ok = await client.post(CHECK, json=_CHECK_OK, headers=world.county.headers(Role.CAPTAIN))
    assert ok.status_code == 200, ok.text


# -- push: a hostile operation is rejected on its own, the rest of the batch applies ---------


def _iso(minutes_ago: int) -> str:
    return (clock.now() - timedelta(minutes=minutes_ago)).isoformat()


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
async def test_hostile_push_operations_are_rejected_one_by_one(
    client: Client, world: World, session_factory: async_sessionmaker[AsyncSession], msgpack: bool
) -> None:
    patrol, bad_patrol = uuid7(), uuid7()
    sign_in = {"type": "signIn", "opId": str(uuid7()), "patrolId": str(patrol),
               "signInId": str(uuid7()), "at": _iso(5), "accuracyM": 8.0, "lon": LON}  # fmt: skip
    ops: list[dict[str, Any]] = [
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(patrol),
         "areaId": str(world.area.id), "startedAt": _iso(30)},
        {"type": "startPatrol", "opId": str(uuid7()), "patrolId": str(bad_patrol),
         "areaId": str(world.area.id), "startedAt": _iso(30), "note": f"北{NUL}片"},
        {**sign_in, "lat": "28.5"},  # a string for a number
        {**sign_in, "signInId": str(uuid7()), "lat": 2**64 - 1},  # beyond int64
        {**sign_in, "signInId": str(uuid7()), "lat": json.loads(_nested(40))},
    ]  # fmt: skip
    headers = world.county.headers(Role.INSPECTOR)
    if msgpack:
        ops.append({**sign_in, "signInId": str(uuid7()), "lat": float("nan")})
        content = msgspec.msgpack.encode({"ops": ops})
        headers = {**headers, **MSGPACK}
    else:
        content = json.dumps({"ops": ops}, ensure_ascii=False).encode()
        headers = {**headers, **JSON_CT}
    resp = await client.post(PUSH, content=content, headers=headers)
    assert resp.status_code == 200, resp.text
    receipts = resp.json()["receipts"]
    got = [(r["status"], r.get("code")) for r in receipts]
    expected = [("applied", None), ("rejected", "invalid_character"), ("rejected", "invalid_op"),
                ("rejected", "number_out_of_range"), ("rejected", "nesting_too_deep")]  # fmt: skip
    if msgpack:
        expected.append(("rejected", "number_out_of_range"))
    assert got == expected, receipts
    assert "ops[1].note" in receipts[1]["reason"]
    async with session_factory() as session:
        stored = (
            await session.execute(
                text("SELECT id FROM patrol_sessions WHERE id IN (:a, :b)"),
                {"a": patrol, "b": bad_patrol},
            )
        ).scalars()
        assert list(stored) == [patrol]


# -- layer imports with nothing to import ------------------------------------------------------

EMPTY_FILES = {
    "empty collection": b'{"type": "FeatureCollection", "features": []}',
    "all null geometries": json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"DLBM": "0101"}, "geometry": None}] * 3}).encode(),
    "whitespace": b"  \n\t  \r\n",
    "empty file": b"",
}  # fmt: skip


@pytest.mark.parametrize("content", EMPTY_FILES.values(), ids=EMPTY_FILES.keys())
async def test_import_without_features_is_no_features(
    client: Client, world: World, session_factory: async_sessionmaker[AsyncSession], content: bytes
) -> None:
    before = await _stored(session_factory, world.county.id)
    resp = await client.post(
        f"{API}/geofence/layers/import",
        headers=world.county.headers(Role.ADMIN),
        files={"file": ("parcels.geojson", content, "application/octet-stream")},
        data={"kind": "parcels"},
    )
    _assert_problem(resp, Case("import", "POST", "", 422, "no_features", fld="file"))
    assert await _stored(session_factory, world.county.id) == before


def test_cli_import_without_features_says_so_in_one_line(
    world: World,
    services: LocalServices,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("api.cli.configure_logging", lambda *_a, **_k: None)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):  # no locale: the line is in Chinese
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", services.database_url)
    monkeypatch.setenv("S3_ENDPOINT_URL", services.object_store.endpoint_url)
    monkeypatch.setenv("S3_ACCESS_KEY_ID", services.object_store.access_key_id)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", services.object_store.secret_access_key)
    monkeypatch.setenv("PATROL_SECRET_KEY", settings.auth.secret_key)
    admin_code = world.county.county.admin_code
    for name, content in EMPTY_FILES.items():
        path = tmp_path / "nothing.geojson"
        path.write_bytes(content)
        code = main(["layers", "import", str(path), "--county", admin_code, "--kind", "parcels"])
        err = capsys.readouterr().err.strip()
        assert code == 2, (name, err)
        assert err.splitlines()[-1] == (
            "patrol: no_features: nothing.geojson 中没有带几何图形的要素"
            "（为空、全为空值或只有空白），未导入任何内容"
        ), (name, err)


def test_contract_and_parser_state_the_same_vertex_limit() -> None:
    assert MAX_GEOMETRY_VERTICES == MAX_VERTICES
