"""Importing layers from files: formats, CRS, repairs, rejections, versions."""

from __future__ import annotations

import json
import threading
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy.ext.asyncio import AsyncSession

from geofence import (
    ImportProgress,
    InvalidFieldMapError,
    UnknownCrsError,
    UnsupportedFileError,
    import_layer,
    importer,
    list_layer_versions,
    read_layer_features,
)
from infra.scope import Principal
from tests.conftest import record_threads


def _square(lon: float, lat: float, d: float = 0.001) -> shapely.Polygon:
    return shapely.box(lon, lat, lon + d, lat + d)


def _write_geojson(
    path: Path,
    features: list[tuple[dict[str, object], dict[str, object] | None]],
    crs: str | None = None,
) -> Path:
    doc: dict[str, object] = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features],
    }
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc))
    return path


def _write_ogr(
    path: Path,
    geoms: list[shapely.Geometry],
    fields: dict[str, list[object]],
    driver: str,
    crs: str | None,
) -> Path:
    arrays = [np.array(v, dtype=object if isinstance(v[0], str) else None) for v in fields.values()]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        _raw_write(path, geoms, arrays, list(fields), driver, crs)
    return path


def _raw_write(
    path: Path,
    geoms: list[shapely.Geometry],
    arrays: list[np.ndarray],
    names: list[str],
    driver: str,
    crs: str | None,
) -> None:
    pyogrio.raw.write(
        str(path),
        np.array(shapely.to_wkb(geoms), dtype=object),
        arrays,
        fields=names,
        geometry_type="Polygon",
        crs=crs,
        driver=driver,
    )


async def test_geojson_import_repairs_and_rejects(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    bowtie: dict[str, object] = {
        "type": "Polygon",
        "coordinates": [
            [[112.1, 28.5], [112.101, 28.501], [112.101, 28.5], [112.1, 28.501], [112.1, 28.5]]
        ],
    }
    line: dict[str, object] = {
        "type": "Polygon",
        "coordinates": [[[112.1, 28.5], [112.101, 28.501], [112.102, 28.502], [112.1, 28.5]]],
    }
    good = shapely.geometry.mapping(_square(112.11, 28.51))
    far = shapely.geometry.mapping(_square(100.0, 40.0))
    path = _write_geojson(
        tmp_path / "p.geojson",
        [
            ({"DLBM": "0101", "DLMC": "水田", "JBNT": "1"}, good),
            ({"DLBM": "0702", "DLMC": "农村宅基地"}, bowtie),
            ({"DLBM": "0301", "DLMC": "乔木林地"}, line),
            ({"DLBM": "0103", "DLMC": "旱地"}, None),
            ({"DLBM": "1206", "DLMC": "裸土地"}, far),
        ],
    )
    seen: list[ImportProgress] = []
    summary = await import_layer(session, county_id, path, "parcels", progress=seen.append)
    await session.commit()
    assert (summary.read, summary.stored, summary.repaired, summary.rejected) == (5, 2, 1, 3)
    assert summary.source_crs == "EPSG:4326"  # RFC 7946: GeoJSON is WGS84
    assert [i.feature_no for i in summary.repairs] == [2]
    assert "Self-intersection" in summary.repairs[0].reason
    assert {i.feature_no for i in summary.rejections} == {3, 4, 5}
    assert seen and seen[-1].read == 5
    features = await read_layer_features(session, principal, summary.layer_version_id)
    assert [f.properties["land_class"] for f in features] == [
        "permanent_basic_farmland",
        "construction_unapproved",
    ]
    assert features[0].properties["area_m2"] == pytest.approx(97.9 * 111.2 * 1.0, rel=0.05)
    assert all(f.geometry.is_valid for f in features)


async def test_progress_names_the_total_before_the_first_feature_and_after_each_batch(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    features = [
        ({"DLBM": "0103"}, shapely.geometry.mapping(_square(112.1 + i * 0.002, 28.5)))
        for i in range(25)
    ]
    path = _write_geojson(tmp_path / "many.geojson", features)
    seen: list[ImportProgress] = []
    await import_layer(
        session, county_id, path, "parcels", progress=seen.append, batch_size=10, dry_run=True
    )
    # what a progress bar draws: the file's 25 features, read in batches of 10
    assert [(p.read, p.total) for p in seen] == [(0, 25), (10, 25), (20, 25), (25, 25)]
    assert [p.stored for p in seen] == [0, 10, 20, 25]


async def test_shapefile_zip_gauss_kruger_and_versions(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, principal: Principal
) -> None:
    to_gk = Transformer.from_crs(4326, 4525, always_xy=True)
    x, y = to_gk.transform(112.1, 28.5)
    geoms = [shapely.box(x, y, x + 100, y + 100), shapely.box(x + 200, y, x + 300, y + 100)]
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    _write_ogr(
        shp_dir / "parcels.shp",
        geoms,
        {"DLBM": ["0101", "0601"], "PZYD": ["0", "1"]},
        "ESRI Shapefile",
        None,
    )  # no .prj: the zone is read from the easting prefix
    archive = tmp_path / "parcels.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp_dir.iterdir():
            zf.write(part, f"data/{part.name}")
    first = await import_layer(session, county_id, archive, "parcels")
    assert first.source_crs == "EPSG:4525" and first.stored == 2 and first.version_no == 1
    feats = await read_layer_features(session, principal, first.layer_version_id)
    assert feats[0].geometry.bounds[0] == pytest.approx(112.1, abs=1e-6)
    assert feats[1].properties["land_class"] == "construction_approved"
    assert feats[0].properties["area_m2"] == pytest.approx(10_000, rel=1e-3)

    # The same numbers declared as a 6° zone are nowhere near the county: an explicit override
    # to the right CRS fixes it, and the override wins over detection.
    second = await import_layer(session, county_id, archive, "parcels", crs="EPSG:4525")
    assert second.version_no == 2
    await session.commit()
    versions = await list_layer_versions(session, principal, kind="parcels")
    assert [v.version_no for v in versions] == [2, 1]
    assert len(await read_layer_features(session, principal, first.layer_version_id)) == 2


async def test_geopackage_with_crs_and_field_map(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    to_cgcs = Transformer.from_crs(4326, 4490, always_xy=True)
    lon, lat = to_cgcs.transform(112.1, 28.5)
    path = _write_ogr(
        tmp_path / "zones.gpkg",
        [_square(lon, lat, 0.01)],
        {"GNFQ": ["城镇开发边界"], "MC": ["城区"]},
        "GPKG",
        "EPSG:4490",
    )
    with pytest.raises(InvalidFieldMapError) as err:
        await import_layer(session, county_id, path, "planning_zones", field_map={"zone": "GNFQ"})
    assert err.value.field == "field_map"
    summary = await import_layer(
        session, county_id, path, "planning_zones", field_map={"zone_kind": "GNFQ"}
    )
    assert summary.source_format == "geopackage" and summary.stored == 1


async def test_bad_files_and_crs(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID
) -> None:
    png = tmp_path / "layer.geojson"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(UnsupportedFileError) as err:
        await import_layer(session, county_id, png, "parcels")
    assert err.value.code == "unsupported_file" and err.value.field == "file"
    fake_zip = tmp_path / "x.zip"
    with zipfile.ZipFile(fake_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedFileError):
        await import_layer(session, county_id, fake_zip, "parcels")
    good = _write_geojson(
        tmp_path / "g.geojson", [({"DLBM": "0101"}, shapely.geometry.mapping(_square(112.1, 28.5)))]
    )
    with pytest.raises(UnknownCrsError) as crs_err:
        await import_layer(session, county_id, good, "parcels", crs="EPSG:999999")
    assert crs_err.value.code == "unknown_crs" and crs_err.value.field == "crs"
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(UnsupportedFileError):
        await import_layer(session, county_id, broken, "parcels")
    await session.rollback()


async def test_large_import_prepares_its_batches_on_a_worker_thread(
    tmp_path: Path, session: AsyncSession, county_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading, transforming and checking a batch runs on a worker thread, so the event loop
    # keeps serving requests; what stays on the loop is the insert of a batch's rows. (How long
    # the loop waits is measured by the benchmarks, not asserted here.)
    side = 100
    cells = [(112.0 + 0.0015 * i, 28.45 + 0.0015 * j) for i in range(side) for j in range(side)]
    polygons = [shapely.Point(lon, lat).buffer(0.0005, quad_segs=16) for lon, lat in cells]
    codes = ["0101", "0201", "0702", "1206"]
    path = _write_ogr(
        tmp_path / "many.gpkg",
        polygons,
        {
            "DLBM": [codes[n % len(codes)] for n in range(len(polygons))],
            "DLMC": [f"图斑{n}" for n in range(len(polygons))],
        },
        "GPKG",
        "EPSG:4490",
    )
    calls = record_threads(monkeypatch, importer, "_inspect", "_prepare_batch")
    summary = await import_layer(session, county_id, path, "parcels", batch_size=2500)
    await session.rollback()
    assert summary.stored == side * side and summary.rejected == 0
    # the file read once, four batches of 2500 and the call that finds no more
    assert [name for name, _ in calls] == ["_inspect"] + ["_prepare_batch"] * 5
    loop_thread = threading.get_ident()
    assert all(thread != loop_thread for _, thread in calls), calls
