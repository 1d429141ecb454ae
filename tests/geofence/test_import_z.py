"""A layer drawn in 3D (survey and CAD exports carry heights) is stored flat, and the import
says so per feature: the ``dropped_z`` repair, whatever the file's coordinate system."""

from __future__ import annotations

import json
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from pyproj import Transformer

from infra.scope import Role

IMPORT = "/api/v1/geofence/layers/import"
FEATURES = "/api/v1/geofence/layers/{version_id}/features"


def _ring(lon: float, lat: float, d: float, z: float | None) -> list[list[float]]:
    corners = [(lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d), (lon, lat)]
    return [[x, y] if z is None else [x, y, z] for x, y in corners]


def _doc(features: list[dict[str, Any]], crs: str | None = None) -> bytes:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(doc).encode()


def _feature(ring: list[list[float]], dlbm: str = "0101") -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"DLBM": dlbm},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


async def _upload(client: AsyncTestClient[Litestar], county: Any, content: bytes) -> Any:
    resp = await client.post(
        IMPORT,
        headers=county.headers(Role.ADMIN),
        files={"file": ("heights.geojson", content, "application/octet-stream")},
        data={"kind": "parcels"},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_heights_are_dropped_and_reported_per_feature(
    client: AsyncTestClient[Litestar], make_county: Any
) -> None:
    county = await make_county()
    content = _doc(
        [
            _feature(_ring(112.10, 28.50, 0.001, None)),  # flat: nothing to say
            _feature(_ring(112.11, 28.50, 0.001, 57.3)),
            _feature(_ring(112.12, 28.50, 0.001, 0.0)),  # a zero height is still a height
        ]
    )
    summary = await _upload(client, county, content)
    assert (summary["read"], summary["stored"], summary["rejected"]) == (3, 3, 0)
    assert [(r["feature"], r["code"]) for r in summary["repairs"]] == [
        (2, "dropped_z"),
        (3, "dropped_z"),
    ]
    assert summary["repaired"] == 2


async def test_heights_in_a_projected_file_are_reported_too(
    client: AsyncTestClient[Litestar], make_county: Any
) -> None:
    county = await make_county()
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4526", always_xy=True)  # CGCS2000 GK 3° z38
    ring = [[*to_gk.transform(x, y), 120.0] for x, y in _ring(112.10, 28.50, 0.001, None)]
    summary = await _upload(client, county, _doc([_feature(ring)], crs="EPSG:4526"))
    assert (summary["stored"], summary["rejected"]) == (1, 0)
    assert [(r["feature"], r["code"]) for r in summary["repairs"]] == [(1, "dropped_z")]
