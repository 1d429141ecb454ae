"""Layer files as deliveries really come: DBF text in UTF-8 cut mid-character or in GBK with
no ``.cpg``, GCJ-02 and BD-09 coordinates, zipped File Geodatabases, dry runs.

The Shapefiles' attribute tables are written byte by byte here (the geometry by pyogrio), so
the tests hold exactly the bytes a real delivery has; the File Geodatabase is written with
GDAL's OpenFileGDB driver (GDAL >= 3.6 writes it).
"""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.cli import main
from geofence import UnknownCrsError, bd09_to_gcj02, gcj02_to_bd09, import_layer
from geofence.crs import parse_crs
from geofence.dbf import detect_encoding, safe_decode
from geofence.gcj02 import gcj02_to_bd09_array, wgs84_to_gcj02_array
from geofence.models import LayerVersion
from infra.launchers import LocalServices
from infra.scope import Role
from infra.settings import Settings
from tests.conftest import CountyFixture
from tests.geofence.test_cli import _county
from tests.geofence.test_import_jobs import _settled, jobs_client

__all__ = ["jobs_client"]  # the fixture, shared with the job tests

IMPORT = "/api/v1/geofence/layers/import"
X0, Y0, D = 112.10, 28.50, 0.001


# -- files -------------------------------------------------------------------------------------


def _dbf(fields: list[tuple[bytes, int]], rows: list[list[bytes]], ldid: int = 0) -> bytes:
    """A dBASE III table of character fields, from raw name and value bytes."""
    header_len = 32 + 32 * len(fields) + 1
    record_len = 1 + sum(width for _, width in fields)
    head = bytearray(struct.pack("<BBBBIHH20x", 3, 125, 1, 1, len(rows), header_len, record_len))
    head[29] = ldid
    for name, width in fields:
        head += name[:11].ljust(11, b"\0") + b"C" + b"\0" * 4 + bytes([width, 0]) + b"\0" * 14
    head += b"\r"
    for row in rows:
        head += b" " + b"".join(v[:w].ljust(w, b" ") for v, (_, w) in zip(row, fields, strict=True))
    return bytes(head) + b"\x1a"


def _shapefile(
    tmp: Path, name: str, geoms: list[shapely.Geometry], dbf: bytes, cpg: str | None
) -> Path:
    """A zipped Shapefile: geometry by pyogrio, the attribute table as given."""
    base = tmp / name
    pyogrio.raw.write(
        str(base.with_suffix(".shp")), np.array(shapely.to_wkb(geoms), dtype=object),
        [np.arange(len(geoms))], fields=["N"], geometry_type="Polygon", crs="EPSG:4490",
    )  # fmt: skip
    out = base.with_suffix(".zip")
    with zipfile.ZipFile(out, "w") as zf:
        for ext in (".shp", ".shx", ".prj"):
            zf.write(base.with_suffix(ext), f"{name}{ext}")
        zf.writestr(f"{name}.dbf", dbf)
        if cpg is not None:
            zf.writestr(f"{name}.cpg", cpg)
    return out


def _cells(n: int) -> list[shapely.Geometry]:
    return [shapely.box(X0 + i * D, Y0, X0 + (i + 1) * D, Y0 + D) for i in range(n)]


def _utf8_cut(tmp: Path) -> Path:
    """UTF-8 with a .cpg; 地类编码/地类名称 are 12 bytes each, cut to 10 mid-character."""
    fields = [("地类编码".encode()[:10], 8), ("地类名称".encode()[:10], 30)]
    rows = [[b"0101", "水田".encode()], [b"0601", "工业用地".encode()]]
    return _shapefile(tmp, "utf8cut", _cells(2), _dbf(fields, rows), "UTF-8")


def _gbk(tmp: Path) -> Path:
    """GBK, no .cpg, no language driver; one name cut in the middle of a GBK character and a
    value cut at its field width the same way."""
    fields = [
        ("地类编码".encode("gbk"), 8),
        ("地类名称".encode("gbk"), 12),
        ("X坐落单位名称".encode("gbk")[:10], 7),
    ]
    rows = [
        [b"0101", "水田".encode("gbk"), "白沙村".encode("gbk")[:5]],
        [b"0601", "工业用地".encode("gbk"), "黄泥村".encode("gbk")],
    ]
    return _shapefile(tmp, "gbk", _cells(2), _dbf(fields, rows), None)


def _geojson(tmp: Path, name: str, geoms: list[shapely.Geometry]) -> Path:
    features = [
        {"type": "Feature", "properties": {"DLBM": "0101"}, "geometry": mapping(g)} for g in geoms
    ]
    path = tmp / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _shift(geom: shapely.Geometry, fn: Any) -> shapely.Geometry:
    def apply(coords: np.ndarray) -> np.ndarray:
        lon, lat = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    shifted: shapely.Geometry = shapely.transform(geom, apply)
    return shifted


def _to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_bd09_array(*wgs84_to_gcj02_array(lon, lat))


def _filegdb(tmp: Path) -> Path:
    """A zipped File Geodatabase with a land-survey DLTB layer and an XZQ (district) layer."""
    gdb = tmp / "survey.gdb"
    wkb = np.array(shapely.to_wkb(_cells(3)), dtype=object)
    dltb = [
        np.array(["0101", "0601", "1201"], dtype=object),
        np.array(["水田", "工业用地", "空闲地"], dtype=object),
        np.array([97.6, 97.6, 97.6]),
    ]
    pyogrio.raw.write(
        str(gdb), wkb, dltb, fields=["DLBM", "DLMC", "TBMJ"], geometry_type="Polygon",
        crs="EPSG:4490", driver="OpenFileGDB", layer="DLTB",
    )  # fmt: skip
    xzq = [np.array(["0101", "0101", "0101"], dtype=object)]
    pyogrio.raw.write(
        str(gdb), wkb[:2], [xzq[0][:2]], fields=["DM"], geometry_type="Polygon",
        crs="EPSG:4490", driver="OpenFileGDB", layer="XZQ",
    )  # fmt: skip
    out = tmp / "survey.gdb.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for item in sorted(gdb.rglob("*")):
            zf.write(item, f"survey.gdb/{item.relative_to(gdb)}")
    return out


# -- API helpers -------------------------------------------------------------------------------


async def _upload(
    http: AsyncTestClient[Litestar], county: CountyFixture, path: Path, **form: str
) -> Any:
    return await http.post(
        IMPORT,
        headers=county.headers(Role.ADMIN),
        files={
            "file": (
                path.name,
                await asyncio.to_thread(path.read_bytes),
                "application/octet-stream",
            )
        },
        data={"kind": "parcels", **form},
    )


async def _features(
    http: AsyncTestClient[Litestar], county: CountyFixture, version: str
) -> list[dict[str, Any]]:
    resp = await http.get(
        f"/api/v1/geofence/layers/versions/{version}/features", headers=county.headers(Role.ADMIN)
    )
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()
    return [f["properties"] for f in items]


async def _version_count(session: AsyncSession, county_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(LayerVersion).where(LayerVersion.county_id == county_id)
    )
    return int(count or 0)


# -- encodings ---------------------------------------------------------------------------------


def test_dbf_text_is_decoded_safely() -> None:
    assert safe_decode("地类编码".encode()[:10], "utf-8") == "地类编"
    assert safe_decode("坐落单位".encode("gbk")[:7], "gb18030") == "坐落单"
    assert safe_decode(b"ab\xffcd", "utf-8") == "ab\ufffdcd"
    assert detect_encoding(["地类".encode("gbk"), b"DLBM"]) == "gb18030"
    assert detect_encoding(["地类编码".encode()[:10], b"DLBM"]) == "utf-8"


async def test_a_utf8_shapefile_with_names_cut_mid_character_imports(
    client: AsyncTestClient[Litestar], make_county: Any, tmp_path: Path
) -> None:
    county = await make_county()
    path = _utf8_cut(tmp_path)
    resp = await _upload(client, county, path, field_map="source_code=地类编,source_name=地类名")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["stored"], body["rejected"], body["encoding"]) == (2, 0, "utf-8")
    props = await _features(client, county, body["layerVersionId"])
    assert [(p["source_code"], p["source_name"]) for p in props] == [
        ("0101", "水田"),
        ("0601", "工业用地"),
    ]
    assert [p["land_class"] for p in props] == ["cultivated", "construction_unapproved"]


async def test_a_gbk_shapefile_without_cpg_is_detected_and_encoding_can_be_forced(
    client: AsyncTestClient[Litestar], make_county: Any, tmp_path: Path
) -> None:
    county = await make_county()
    path = _gbk(tmp_path)
    resp = await _upload(
        client, county, path, field_map="source_code=地类编码,source_name=地类名称"
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["stored"], body["encoding"]) == (2, "gb18030")
    props = await _features(client, county, body["layerVersionId"])
    assert [p["source_name"] for p in props] == ["水田", "工业用地"]
    forced = await _upload(client, county, path, encoding="gbk", field_map="source_name=地类名称")
    assert forced.status_code == 200, forced.text
    assert forced.json()["encoding"] == "gb18030"
    wrong = await _upload(client, county, path, encoding="klingon")
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["code"] == "unknown_encoding"
    # read as UTF-8 on purpose: garbled, never a 500
    garbled = await _upload(client, county, path, encoding="utf-8")
    assert garbled.status_code == 200, garbled.text


async def test_gbk_values_and_names_cut_mid_character(
    session: AsyncSession, county_id: uuid.UUID, tmp_path: Path
) -> None:
    summary = await import_layer(
        session, county_id, _gbk(tmp_path), "parcels", field_map={"source_name": "地类名称"}
    )
    assert summary.layer_version_id is not None
    row = await session.scalar(
        select(LayerVersion.report).where(LayerVersion.id == summary.layer_version_id)
    )
    assert row is not None and row["encoding"] == "gb18030"
    from geofence import read_layer_features  # noqa: PLC0415
    from infra.scope import Principal  # noqa: PLC0415

    admin = Principal(user_id=uuid.uuid4(), county_id=county_id, role=Role.ADMIN, username="a")
    features = await read_layer_features(session, admin, summary.layer_version_id)
    attrs = features[0].properties["attrs"]
    assert attrs["X坐落单位"] == "白沙"  # the name's and the value's cut characters dropped
    assert features[1].properties["attrs"]["X坐落单位"] == "黄泥村"
    await session.rollback()


def _cli_env(monkeypatch: pytest.MonkeyPatch, services: LocalServices, settings: Settings) -> None:
    monkeypatch.setattr("api.cli.configure_logging", lambda *_a, **_k: None)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):  # no locale: reports are in Chinese
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", services.database_url)
    monkeypatch.setenv("S3_ENDPOINT_URL", services.object_store.endpoint_url)
    monkeypatch.setenv("S3_ACCESS_KEY_ID", services.object_store.access_key_id)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", services.object_store.secret_access_key)
    monkeypatch.setenv("PATROL_SECRET_KEY", settings.auth.secret_key)


def test_the_cli_imports_cut_utf8_and_gbk_shapefiles_and_dry_runs(
    engine: AsyncEngine,  # the schema is migrated
    services: LocalServices,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin_code, _county_id = asyncio.run(_county(services.database_url))
    _cli_env(monkeypatch, services, settings)
    base = ["--county", admin_code, "--kind", "parcels"]
    code = main(["layers", "import", str(_utf8_cut(tmp_path)), *base,
                 "--field-map", "source_code=地类编"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "地类图斑 第 1 版" in out and "编码 utf-8" in out
    gbk = _gbk(tmp_path)
    code = main(["layers", "import", str(gbk), *base, "--encoding", "gbk", "--dry-run",
                 "--field-map", "source_code=地类编码"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "试导入，未存储" in out and "编码 gb18030" in out
    far = _geojson(tmp_path, "far.geojson", [shapely.box(80, 40, 80.001, 40.001)])
    code = main(["layers", "import", str(far), *base])
    err = capsys.readouterr().err
    assert code == 2
    assert "patrol: invalid_geometry:" in err and "拒收要素 1：位于本县范围之外" in err


# -- coordinate systems ------------------------------------------------------------------------


def test_bd09_matches_published_vectors() -> None:
    # wandergis/coordtransform (and hutool's tests of it) at (116.404, 39.915)
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx((116.41036949371029, 39.92133699351021))
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx((116.39762729119315, 39.90865673957631))
    # Beijing railway station: GCJ-02 (116.42703, 39.90245), BD-09 (116.43351, 39.90851)
    bd = gcj02_to_bd09(116.42703, 39.90245)
    assert bd == pytest.approx((116.43351, 39.90851), abs=1e-5)
    back = bd09_to_gcj02(*bd)
    assert back == pytest.approx((116.42703, 39.90245), abs=1e-6)


def test_an_unknown_crs_lists_the_accepted_systems() -> None:
    with pytest.raises(UnknownCrsError) as err:
        parse_crs("EPSG:999999")
    assert "gcj02" in err.value.detail and "bd09" in err.value.detail
    assert "EPSG:4490 (cgcs2000)" in err.value.extra["accepted"]
    assert parse_crs("BD-09").name == "bd09" and parse_crs("baidu").is_offset


async def test_bd09_data_land_where_they_belong(
    session: AsyncSession, county_id: uuid.UUID, tmp_path: Path
) -> None:
    truth = shapely.box(112.10, 28.50, 112.101, 28.501)
    path = _geojson(tmp_path, "baidu.geojson", [_shift(truth, _to_bd09)])
    summary = await import_layer(session, county_id, path, "parcels", crs="bd09")
    assert summary.source_crs == "bd09" and summary.stored == 1
    from geofence import read_layer_features  # noqa: PLC0415
    from infra.scope import Principal  # noqa: PLC0415

    admin = Principal(user_id=uuid.uuid4(), county_id=county_id, role=Role.ADMIN, username="a")
    assert summary.layer_version_id is not None
    (feature,) = await read_layer_features(session, admin, summary.layer_version_id)
    # within 1e-5 degrees (about 1 m): the BD-09 -> GCJ-02 inverse is the published one
    assert feature.geometry.hausdorff_distance(truth) < 1e-5
    await session.rollback()


async def test_gcj02_shifted_data_get_a_hint_and_a_dry_run_stores_nothing(
    client: AsyncTestClient[Litestar],
    make_county: Any,
    tmp_path: Path,
    session: AsyncSession,
) -> None:
    county = await make_county()  # the county is box(112.0, 28.4, 112.2, 28.6)
    outline = shapely.box(112.0, 28.4, 112.2, 28.6).segmentize(0.01)
    # a DataV-style boundary file: the county's own outline, in GCJ-02
    path = _geojson(tmp_path, "datav.geojson", [_shift(outline, wgs84_to_gcj02_array)])
    resp = await _upload(client, county, path, dry_run="true")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["dryRun"] is True and body["versionNo"] == 0
    assert body["layerVersionId"] == str(uuid.UUID(int=0))
    assert body["stored"] == 1
    (warning,) = body["warnings"]
    assert warning["code"] == "crs_offset_suspected" and warning["suggestedCrs"] == "gcj02"
    assert "crs=gcj02" in warning["detail"]
    assert await _version_count(session, county.county.id) == 0
    fixed = await _upload(client, county, path, crs="gcj02")
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["warnings"] == [] and fixed.json()["versionNo"] == 1
    assert await _version_count(session, county.county.id) == 1
    # the same outline in WGS84 is fine as it is
    plain = await _upload(client, county, _geojson(tmp_path, "wgs.geojson", [outline]))
    assert plain.json()["warnings"] == []
    bd = _geojson(tmp_path, "bd.geojson", [_shift(outline, _to_bd09)])
    hinted = await _upload(client, county, bd, dry_run="true")
    assert [w["suggestedCrs"] for w in hinted.json()["warnings"]] == ["bd09"]


async def test_a_dry_run_reports_rejections_with_reasons(
    client: AsyncTestClient[Litestar], make_county: Any, tmp_path: Path, session: AsyncSession
) -> None:
    county = await make_county()
    geoms = [*_cells(2), shapely.box(80, 40, 80.001, 40.001)]
    resp = await _upload(client, county, _geojson(tmp_path, "p.geojson", geoms), dry_run="true")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["read"], body["stored"], body["rejected"]) == (3, 2, 1)
    assert body["rejections"][0]["feature"] == 3
    assert (body["rejections"][0]["code"], body["rejections"][0]["reason"]) == (
        "feature_outside_county",
        "位于本县范围之外（坐标系是否有误？）",
    )
    nothing = _geojson(tmp_path, "far.geojson", geoms[2:])
    resp = await _upload(client, county, nothing, dry_run="true")
    assert resp.status_code == 200 and resp.json()["stored"] == 0  # a dry run reports, not fails
    assert await _version_count(session, county.county.id) == 0


# -- File Geodatabase --------------------------------------------------------------------------


async def test_a_zipped_file_geodatabase_with_layer_choice_and_land_survey_preset(
    client: AsyncTestClient[Litestar], make_county: Any, tmp_path: Path
) -> None:
    county = await make_county()
    path = _filegdb(tmp_path)
    resp = await _upload(client, county, path, preset="land_survey")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["sourceFormat"], body["sourceLayer"], body["stored"]) == ("filegdb", "DLTB", 3)
    props = await _features(client, county, body["layerVersionId"])
    assert [(p["source_code"], p["source_name"], p["land_class"]) for p in props] == [
        ("0101", "水田", "cultivated"),
        ("0601", "工业用地", "construction_unapproved"),
        ("1201", "空闲地", "unused"),
    ]
    assert props[0]["attrs"]["TBMJ"] == pytest.approx(97.6)
    # DLTB is picked for parcels without a preset too; another layer by name
    assert (await _upload(client, county, path)).json()["sourceLayer"] == "DLTB"
    xzq = await _upload(client, county, path, layer="xzq")
    assert xzq.status_code == 200, xzq.text
    assert (xzq.json()["sourceLayer"], xzq.json()["stored"]) == ("XZQ", 2)
    missing = await _upload(client, county, path, layer="JBNTBHTB")
    assert missing.status_code == 422
    problem = missing.json()
    assert problem["code"] == "unknown_source_layer" and "DLTB" in problem["detail"]
    wrong = await _upload(client, county, path, layer="XZQ", preset="land_survey")
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_field_map"


async def test_a_background_dry_run_reports_without_a_version(
    jobs_client: AsyncTestClient[Litestar], make_county: Any, tmp_path: Path, session: AsyncSession
) -> None:
    county = await make_county()
    path = _geojson(tmp_path, "many.geojson", [*_cells(40), shapely.box(80, 40, 80.001, 40.001)])
    resp = await _upload(jobs_client, county, path, dry_run="true")
    assert resp.status_code == 202, resp.text
    job = await _settled(jobs_client, county, resp.headers["location"])
    assert job["state"] == "done", job
    result = job["result"]
    assert result["dryRun"] is True and (result["stored"], result["rejected"]) == (40, 1)
    assert (job["rejections"][0]["code"], job["rejections"][0]["reason"]) == (
        "feature_outside_county",
        "位于本县范围之外（坐标系是否有误？）",
    )
    assert await _version_count(session, county.county.id) == 0
