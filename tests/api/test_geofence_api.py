"""Geofence endpoints through the real app: checks, overlay, layer uploads, mine sites."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pyproj import Geod, Transformer
from shapely.geometry import mapping

from geofence import wgs84_to_gcj02
from infra.scope import Role
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
GEOD = Geod(ellps="WGS84")
D = 0.001
X0, Y0 = 112.10, 28.50
CHECK = "/api/v1/geofence/check"
BATCH = "/api/v1/geofence/check-batch"
OVERLAY = "/api/v1/geofence/overlay"
IMPORT = "/api/v1/geofence/layers/import"
VERSIONS = "/api/v1/geofence/layers/versions"
SITES = "/api/v1/geofence/mine-sites"


def _cell(i: int, j: int) -> shapely.Polygon:
    return shapely.box(X0 + i * D, Y0 + j * D, X0 + (i + 1) * D, Y0 + (j + 1) * D)


def _grid_geojson(n: int = 4) -> bytes:
    codes = ["0101", "0103", "0301", "0702"]
    features = [
        {
            "type": "Feature",
            "properties": {"DLBM": codes[i % 4], "JBNT": "1" if i == 0 else "0"},
            "geometry": mapping(_cell(i, j)),
        }
        for i in range(n)
        for j in range(n)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _shapefile_zip(tmp: Path) -> bytes:
    to_gk = Transformer.from_crs(4326, 4525, always_xy=True)
    x, y = to_gk.transform(112.15, 28.55)
    geoms = [shapely.box(x, y, x + 100, y + 100), shapely.box(x + 200, y, x + 300, y + 100)]
    shp = tmp / "shp"
    shp.mkdir()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        pyogrio.raw.write(
            str(shp / "parcels.shp"),
            np.array(shapely.to_wkb(geoms), dtype=object),
            [np.array(["0101", "0601"], dtype=object), np.array(["0", "1"], dtype=object)],
            fields=["DLBM", "PZYD"],
            geometry_type="Polygon",
            crs="EPSG:4525",
            driver="ESRI Shapefile",
        )
    archive = tmp / "parcels.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp.iterdir():
            zf.write(part, part.name)
    return archive.read_bytes()


async def _upload(
    client: Client,
    county: CountyFixture,
    content: bytes,
    *,
    name: str = "parcels.geojson",
    kind: str = "parcels",
    role: Role = Role.ADMIN,
    **form: str,
) -> Any:
    return await client.post(
        IMPORT,
        headers=county.headers(role),
        files={"file": (name, content, "application/octet-stream")},
        data={"kind": kind, **form},
    )


def _field(resp: Any) -> list[str]:
    body = resp.json()
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return [str(e.get("field")) for e in body.get("errors") or []]


async def _county_with_grid(client: Client, make_county: Any) -> CountyFixture:
    county: CountyFixture = await make_county()
    resp = await _upload(client, county, _grid_geojson())
    assert resp.status_code == 200, resp.text
    return county


async def test_check_single_and_gcj02(client: Client, make_county: Any) -> None:
    county = await _county_with_grid(client, make_county)
    inspector = county.headers(Role.INSPECTOR)
    lon, lat = X0 + 0.5 * D, Y0 + 0.5 * D
    resp = await client.post(
        CHECK, headers=inspector, json={"lon": lon, "lat": lat, "accuracyM": 5}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    [hit] = body["features"]
    assert hit["relation"] == "inside" and hit["distanceM"] == 0
    assert hit["landClass"] == "permanent_basic_farmland" and hit["kind"] == "parcels"
    assert body["layerVersions"] == [
        {"kind": "parcels", "versionId": hit["layerVersionId"], "versionNo": 1}
    ]

    # a fix on the shared edge of two parcels with a 10 m circle touches both
    edge = await client.post(
        CHECK, headers=inspector, json={"lon": X0 + D, "lat": lat, "accuracyM": 10}
    )
    assert {h["relation"] for h in edge.json()["features"]} == {"boundary"}
    assert len(edge.json()["features"]) == 2

    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    gcj = await client.post(
        CHECK,
        headers=inspector,
        json={"lon": g_lon, "lat": g_lat, "accuracyM": 5, "crs": "gcj02", "kinds": ["parcels"]},
    )
    assert gcj.status_code == 200, gcj.text
    assert gcj.json()["lon"] == pytest.approx(lon, abs=1e-8)
    assert gcj.json()["features"][0]["featureId"] == hit["featureId"]


async def test_check_batch(client: Client, make_county: Any) -> None:
    county = await _county_with_grid(client, make_county)
    points = [
        {"lon": X0 + (i + 0.5) * D, "lat": Y0 + 0.5 * D, "accuracyM": 3} for i in range(4)
    ] + [{"lon": 100.0, "lat": 40.0, "accuracyM": 3}]
    resp = await client.post(BATCH, headers=county.headers(Role.CAPTAIN), json={"points": points})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["features"][0]["landClass"] for r in results[:4]] == [
        "permanent_basic_farmland", "cultivated", "other_farmland", "construction_unapproved",
    ]  # fmt: skip
    assert results[4]["outsideCounty"] is True and results[4]["features"] == []
    resp = await client.post(BATCH, headers=county.headers(Role.CAPTAIN), json={"points": []})
    assert resp.status_code == 200 and resp.json()["results"] == [], resp.text

    too_many = {"points": [{"lon": X0, "lat": Y0, "accuracyM": 1}] * 10_001}
    resp = await client.post(BATCH, headers=county.headers(Role.CAPTAIN), json=too_many)
    assert resp.status_code == 400 and "points" in " ".join(_field(resp))
    bad = {"points": [*points[:2], {"lon": X0, "lat": 95, "accuracyM": 1}]}
    resp = await client.post(BATCH, headers=county.headers(Role.CAPTAIN), json=bad)
    assert resp.status_code == 400
    assert any("points[2].lat" in f for f in _field(resp)), resp.text


async def test_batch_answers_equal_single_checks(client: Client, make_county: Any) -> None:
    """The batch builds its answers in bulk; each must be what CheckLocation says of the point:
    parcels inside, on an edge and near, a mine site with its roster state, misses."""
    county = await _county_with_grid(client, make_county)
    captain = county.headers(Role.CAPTAIN)
    site = _site_body(geometry=mapping(shapely.box(X0 + D, Y0 + D, X0 + 1.2 * D, Y0 + 1.2 * D)))
    assert (await client.post(SITES, headers=captain, json=site)).status_code == 201
    rng = np.random.default_rng(7)
    points = [
        {"lon": X0 + float(x) * D, "lat": Y0 + float(y) * D, "accuracyM": float(a)}
        for x, y, a in zip(
            rng.uniform(-0.5, 4.5, 60),
            rng.uniform(-0.5, 4.5, 60),
            rng.uniform(1, 60, 60),
            strict=True,
        )
    ] + [{"lon": X0 + D, "lat": Y0 + 0.5 * D, "accuracyM": 2}]  # on a shared edge
    resp = await client.post(BATCH, headers=captain, json={"points": points})
    assert resp.status_code == 200, resp.text
    batch = resp.json()["results"]
    kinds = {f["kind"] for r in batch for f in r["features"]}
    assert kinds == {"parcels", "mine_sites"}
    assert any({f["kind"] for f in r["features"]} == kinds for r in batch)  # both, in order
    assert any(f.get("site") for r in batch for f in r["features"])
    assert any(f["relation"] == "boundary" for r in batch for f in r["features"])
    for point, answer in zip(points, batch, strict=True):
        single = await client.post(CHECK, headers=captain, json=point)
        assert single.status_code == 200, single.text
        assert answer["features"] == single.json()["features"], point
        assert (answer["lon"], answer["lat"]) == (single.json()["lon"], single.json()["lat"])


@pytest.mark.parametrize("count", [6, 5, 1])  # parts of 2: the last one full, short, alone
async def test_a_large_batch_answer_is_sent_in_parts_as_the_same_json(
    client: Client, make_county: Any, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """More answers than a part holds are streamed (chunked, gzipped when accepted); the
    JSON is byte for byte the answer sent whole."""
    from api.controllers import geofence as controller  # noqa: PLC0415

    county = await _county_with_grid(client, make_county)
    captain = county.headers(Role.CAPTAIN)
    site = _site_body(geometry=mapping(shapely.box(X0 + D, Y0 + D, X0 + 1.2 * D, Y0 + 1.2 * D)))
    assert (await client.post(SITES, headers=captain, json=site)).status_code == 201
    points = [
        {"lon": X0 + (0.3 + 0.7 * i) * D, "lat": Y0 + 1.1 * D, "accuracyM": 5.0 + i}
        for i in range(count)
    ]
    whole = await client.post(BATCH, headers=captain, json={"points": points})
    assert whole.status_code == 200 and "content-length" in whole.headers
    monkeypatch.setattr(controller, "STREAM_PART_POINTS", 2)
    for encoding in ("identity", "gzip"):
        head = {**captain, "Accept-Encoding": encoding}
        parts = await client.post(BATCH, headers=head, json={"points": points})
        assert parts.status_code == 200, parts.text
        assert parts.headers["content-type"].startswith("application/json")
        if count > 2:
            assert "content-length" not in parts.headers
            assert parts.headers.get("content-encoding") == (
                None if encoding == "identity" else "gzip"
            )
        assert parts.content == whole.content
    answer = json.loads(whole.content)
    assert [r["index"] for r in answer["results"]] == list(range(count))
    assert answer["layerVersions"] and any(r["features"] for r in answer["results"])


async def test_overlay(client: Client, make_county: Any) -> None:
    county = await _county_with_grid(client, make_county)
    walked = shapely.box(X0 + 0.5 * D, Y0 + 0.5 * D, X0 + 2.5 * D, Y0 + 1.5 * D)
    resp = await client.post(
        OVERLAY, headers=county.headers(Role.INSPECTOR), json={"polygon": mapping(walked)}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    expected = abs(GEOD.geometry_area_perimeter(walked)[0])
    assert body["areaM2"] == pytest.approx(expected, rel=1e-4)
    assert body["areaMu"] == pytest.approx(expected * 0.0015, rel=1e-4)
    classes = {c["landClass"]: c for c in body["landClasses"]}
    assert set(classes) == {"permanent_basic_farmland", "cultivated", "other_farmland"}
    assert classes["cultivated"]["areaM2"] == pytest.approx(expected / 2, rel=1e-3)
    assert classes["cultivated"]["parcels"] == 2
    assert body["currentUse"]["cultivated"]["m2"] == pytest.approx(expected * 3 / 4, rel=1e-3)
    assert body["planning"]["conforming"] == {"m2": None, "mu": None}
    assert body["layerVersions"][0]["kind"] == "parcels"


async def test_import_zipped_shapefile_and_versions(
    client: Client, make_county: Any, tmp_path: Path
) -> None:
    county: CountyFixture = await make_county()
    resp = await _upload(client, county, _shapefile_zip(tmp_path), name="parcels.zip")
    assert resp.status_code == 200, resp.text
    summary = resp.json()
    assert summary["sourceFormat"] == "shapefile" and summary["sourceCrs"] == "EPSG:4525"
    assert (summary["read"], summary["stored"], summary["rejected"]) == (2, 2, 0)

    repaired = json.loads(_grid_geojson(1))
    repaired["features"].append(
        {
            "type": "Feature",
            "properties": {"DLBM": "0702"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [112.12, 28.52],
                        [112.121, 28.521],
                        [112.121, 28.52],
                        [112.12, 28.521],
                        [112.12, 28.52],
                    ]
                ],
            },
        }
    )
    repaired["features"].append(
        {"type": "Feature", "properties": {"DLBM": "0101"}, "geometry": None}
    )
    second = await _upload(client, county, json.dumps(repaired).encode())
    assert second.status_code == 200, second.text
    s2 = second.json()
    assert (s2["versionNo"], s2["read"], s2["stored"], s2["repaired"], s2["rejected"]) == (
        2, 3, 2, 1, 1,
    )  # fmt: skip
    assert s2["repairs"][0]["feature"] == 2 and "Self-intersection" in s2["repairs"][0]["reason"]
    assert s2["rejections"][0]["feature"] == 3

    admin = county.headers(Role.INSPECTOR)
    versions = (await client.get(VERSIONS, headers=admin, params={"kind": "parcels"})).json()
    assert [v["versionNo"] for v in versions] == [2, 1]
    old = versions[1]["id"]
    detail = (await client.get(f"{VERSIONS}/{old}", headers=admin)).json()
    assert detail["version"]["sourceCrs"] == "EPSG:4525" and detail["rejections"] == []
    feats = (await client.get(f"{VERSIONS}/{old}/features", headers=admin)).json()
    assert [f["properties"]["land_class"] for f in feats] == ["cultivated", "construction_approved"]
    assert feats[0]["geometry"]["type"] == "MultiPolygon"
    page = await client.get(f"{VERSIONS}/{old}/features", headers=admin, params={"limit": 5000})
    assert page.status_code == 400


async def test_only_admins_import(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    for role in (Role.INSPECTOR, Role.CAPTAIN, Role.SECURITY_SQUAD, Role.JOINT_TEAM):
        resp = await _upload(client, county, _grid_geojson(1), role=role)
        assert resp.status_code == 403 and resp.json()["code"] == "role_not_allowed"
    versions = await client.get(VERSIONS, headers=county.headers(Role.ADMIN))
    assert versions.json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lon": 112.1, "lat": 95, "accuracyM": 5}, "lat"),
        ({"lon": 200, "lat": 28.5, "accuracyM": 5}, "lon"),
        ({"lon": 112.1, "lat": "NaN", "accuracyM": 5}, "lat"),
        ({"lon": 112.1, "lat": 28.5, "accuracyM": -1}, "accuracyM"),
        ({"lon": 112.1, "lat": 28.5, "accuracyM": 10_001}, "accuracyM"),
        ({"lon": 112.1, "lat": 28.5, "accuracyM": 5, "crs": "bd09"}, "crs"),
        ({"lon": 112.1, "lat": 28.5, "accuracyM": 5, "kinds": ["roads"]}, "kinds"),
    ],
)
async def test_bad_fixes_are_refused_with_the_field(
    client: Client, make_county: Any, body: dict[str, Any], field: str
) -> None:
    county: CountyFixture = await make_county()
    resp = await client.post(CHECK, headers=county.headers(Role.INSPECTOR), json=body)
    assert resp.status_code == 400, resp.text
    assert any(field in f for f in _field(resp)), resp.text


async def test_huge_numbers_and_far_points(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    headers = {**county.headers(Role.INSPECTOR), "content-type": "application/json"}
    raw = b'{"lon": 112.1, "lat": 1e300, "accuracyM": 5}'
    resp = await client.post(CHECK, headers=headers, content=raw)
    assert resp.status_code == 400 and any("lat" in f for f in _field(resp)), resp.text
    # beyond double range the JSON parser refuses the body before fields are known
    raw = b'{"lon": 112.1, "lat": 1e999, "accuracyM": 5}'
    resp = await client.post(CHECK, headers=headers, content=raw)
    assert resp.status_code == 400 and "out of range" in resp.json()["detail"], resp.text
    far = await client.post(
        CHECK, headers=headers, json={"lon": 100.0, "lat": 40.0, "accuracyM": 5}
    )
    assert far.status_code == 422 and far.json()["code"] == "outside_county"
    assert _field(far) == ["position"]


async def test_bad_uploads_and_polygons_harm_nothing(
    client: Client, make_county: Any, tmp_path: Path
) -> None:
    county = await _county_with_grid(client, make_county)
    headers = county.headers(Role.INSPECTOR)
    probe = {"lon": X0 + 0.5 * D, "lat": Y0 + 0.5 * D, "accuracyM": 5}
    before = (await client.post(CHECK, headers=headers, json=probe)).json()

    bowtie = {
        "type": "Polygon",
        "coordinates": [[[X0, Y0], [X0 + D, Y0 + D], [X0 + D, Y0], [X0, Y0 + D], [X0, Y0]]],
    }
    resp = await client.post(OVERLAY, headers=headers, json={"polygon": bowtie})
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_geometry"
    assert _field(resp) == ["polygon"] and "Self-intersection" in resp.json()["detail"]
    empty = await client.post(
        OVERLAY, headers=headers, json={"polygon": {"type": "Polygon", "coordinates": []}}
    )
    assert empty.status_code == 422 and _field(empty) == ["polygon"]

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    resp = await _upload(client, county, png, name="parcels.geojson")
    assert resp.status_code == 422 and resp.json()["code"] == "unsupported_file"
    assert _field(resp) == ["file"]
    not_a_zip = await _upload(client, county, b"PK\x03\x04 truncated", name="p.zip")
    assert not_a_zip.status_code == 422 and _field(not_a_zip) == ["file"]
    resp = await _upload(client, county, _grid_geojson(1), crs="EPSG:999999")
    assert resp.status_code == 422 and resp.json()["code"] == "unknown_crs"
    assert _field(resp) == ["crs"]
    resp = await _upload(client, county, _grid_geojson(1), field_map="nonsense")
    assert resp.status_code == 422 and _field(resp) == ["field_map"]
    resp = await _upload(client, county, _grid_geojson(1), kind="roads")
    assert resp.status_code == 400

    versions = (await client.get(VERSIONS, headers=headers)).json()
    assert [v["versionNo"] for v in versions] == [1]
    after = (await client.post(CHECK, headers=headers, json=probe)).json()
    assert after == before


def _site_body(code: str = "KS-001", **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": "老虎冲采石场",
        "geometry": mapping(shapely.box(112.15, 28.55, 112.152, 28.552)),
        "mineral": "石料",
        "closedOn": "2025-06-30",
        **extra,
    }


async def test_mine_sites_and_rosters(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    captain = county.headers(Role.CAPTAIN)
    inspector = county.headers(Role.INSPECTOR)
    denied = await client.post(SITES, headers=inspector, json=_site_body())
    assert denied.status_code == 403
    created = await client.post(SITES, headers=captain, json=_site_body())
    assert created.status_code == 201, created.text
    site = created.json()
    assert site["rosterComplete"] is False and len(site["missingRoles"]) == 5
    dup = await client.post(SITES, headers=captain, json=_site_body())
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate_site_code"
    boat = _site_body("CB-01", siteKind="dredging_boat", closureMethod="hauled_ashore")
    assert (await client.post(SITES, headers=captain, json=boat)).status_code == 422
    boat["geometry"] = {"type": "Point", "coordinates": [112.2, 28.45]}
    assert (await client.post(SITES, headers=captain, json=boat)).status_code == 201

    url = f"{SITES}/{site['id']}"
    roles = ["township_leader", "safety_officer", "village_liaison_cadre", "land_resources_staff"]
    for role in roles:
        resp = await client.put(
            f"{url}/roster/{role}",
            headers=captain,
            json={"contactName": "王五", "contactPhone": "13900000001"},
        )
        assert resp.status_code == 200, resp.text
    cadre = await client.put(
        f"{url}/roster/village_cadre",
        headers=captain,
        json={"userId": str(county.users[Role.INSPECTOR].id), "dutyPeriod": "daily"},
    )
    assert cadre.status_code == 200 and cadre.json()["rosterComplete"] is True
    no_phone = await client.put(
        f"{url}/roster/village_cadre", headers=captain, json={"contactName": "赵六"}
    )
    assert no_phone.status_code == 422 and _field(no_phone) == ["contact_phone"]
    assert (await client.put(f"{url}/roster/boss", headers=captain, json={})).status_code == 400

    # the completeness report is the managers' (geofence.policy)
    refused = await client.get("/api/v1/geofence/roster-report", headers=inspector)
    assert refused.status_code == 403 and refused.json()["code"] == "role_not_allowed"
    report = (await client.get("/api/v1/geofence/roster-report", headers=captain)).json()
    assert (report["totalSites"], report["complete"]) == (2, 1)
    assert [s["code"] for s in report["incomplete"]] == ["CB-01"]

    removed = await client.delete(f"{url}/roster/safety_officer", headers=captain)
    assert removed.status_code == 200 and removed.json()["missingRoles"] == ["safety_officer"]
    listed = await client.get(SITES, headers=captain, params={"incomplete_only": "true"})
    assert sorted(s["code"] for s in listed.json()) == ["CB-01", "KS-001"]
    # an inspector reads the register of the sites he holds a seat at, no other
    listed = await client.get(SITES, headers=inspector, params={"incomplete_only": "true"})
    assert sorted(s["code"] for s in listed.json()) == ["KS-001"]

    assert site["statusReason"] == "" and site["statusChangedAt"] is not None
    status = await client.post(
        f"{url}/status",
        headers=captain,
        json={"status": "signs_of_reopening", "reason": " 村民反映夜间有车辆进出 "},
    )
    assert status.status_code == 200 and status.json()["status"] == "signs_of_reopening"
    assert status.json()["statusReason"] == "村民反映夜间有车辆进出"
    changed_at = status.json()["statusChangedAt"]
    assert changed_at > site["statusChangedAt"]
    # the same status with a new reason replaces the reason, not the time of the status
    again = await client.post(
        f"{url}/status",
        headers=captain,
        json={"status": "signs_of_reopening", "reason": "现场发现新鲜车辙"},
    )
    assert again.json()["statusReason"] == "现场发现新鲜车辙"
    assert again.json()["statusChangedAt"] == changed_at
    too_long = await client.post(
        f"{url}/status", headers=captain, json={"status": "closed", "reason": "x" * 2001}
    )
    assert too_long.status_code == 400, too_long.text
    assert (
        await client.post(f"{url}/status", headers=inspector, json={"status": "closed"})
    ).status_code == 403
    renamed = await client.put(
        url,
        headers=county.headers(Role.ADMIN),
        json=_site_body(name="新名", status="signs_of_reopening"),
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "新名"

    hit = await client.post(
        CHECK, headers=inspector, json={"lon": 112.151, "lat": 28.551, "accuracyM": 10}
    )
    [feature] = hit.json()["features"]
    assert feature["kind"] == "mine_sites" and feature["site"]["status"] == "signs_of_reopening"
    assert feature["site"]["missingRoles"] == ["safety_officer"]
    versions = (await client.get(VERSIONS, headers=inspector, params={"kind": "mine_sites"})).json()
    first = versions[-1]["id"]
    old = (await client.get(f"{VERSIONS}/{first}/features", headers=inspector)).json()
    assert [f["properties"]["status"] for f in old] == ["closed"]
    # each version keeps the reason of its status; an edit that keeps the status keeps it
    latest = (
        await client.get(f"{VERSIONS}/{versions[0]['id']}/features", headers=inspector)
    ).json()
    reasons = {f["properties"]["code"]: f["properties"]["status_reason"] for f in latest}
    assert reasons["KS-001"] == "现场发现新鲜车辙"
    assert [f["properties"]["status_reason"] for f in old] == [""]
    # an edit that changes the status ends the old reason
    remediated = await client.put(
        url, headers=captain, json=_site_body(name="新名", status="remediated")
    )
    assert remediated.json()["statusReason"] == ""
    assert remediated.json()["statusChangedAt"] > changed_at
