"""Batch files for the satellite tests: GeoJSON, GeoPackage and zipped Shapefile of squares."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely

Spot = tuple[float, float, dict[str, Any]]  # lon, lat, properties


def square(lon: float, lat: float, half: float = 0.0005) -> shapely.Polygon:
    return shapely.box(lon - half, lat - half, lon + half, lat + half)


def geojson(spots: Sequence[Spot], half: float = 0.0005) -> bytes:
    features = [
        {
            "type": "Feature",
            "properties": props,
            "geometry": shapely.geometry.mapping(square(lon, lat, half)),
        }
        for lon, lat, props in spots
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _write(path: Path, spots: Sequence[Spot], driver: str, crs: str) -> None:
    names = list(spots[0][2])
    columns = [np.array([str(p[n]) for *_, p in spots], dtype=object) for n in names]
    geoms = np.array(
        [shapely.to_wkb(shapely.multipolygons([square(x, y)])) for x, y, _ in spots],
        dtype=object,
    )
    pyogrio.raw.write(
        str(path), geoms, columns, fields=names, crs=crs, geometry_type="MultiPolygon",
        driver=driver, encoding="UTF-8" if driver == "ESRI Shapefile" else None,
    )  # fmt: skip


def geopackage(spots: Sequence[Spot]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.gpkg"
        _write(path, spots, "GPKG", "EPSG:4490")
        return path.read_bytes()


def zipped_shapefile(spots: Sequence[Spot]) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp) / "batch.shp", spots, "ESRI Shapefile", "EPSG:4490")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)
        return out.getvalue()
