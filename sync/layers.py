"""Offline reference data for the caller's areas: GeoJSON per layer (with an ETag) and
Mapbox vector tiles made by PostGIS ``ST_AsMVT``.

Only features of the current layer version that intersect the caller's areas (the same
scope as the ``features`` pull collection) are served.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from infra.scope import Principal, Role
from sync._db import driver
from sync.errors import LayerNotFoundError, TileNotFoundError

__all__ = ["LAYERS", "LayerDocument", "LayerService"]

MAX_ZOOM = 22

#: layer name -> (table, property columns)
LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "parcels": ("geofence_parcels", ("land_class", "source_code", "source_name", "area_m2")),
    "planning_zones": ("geofence_planning_zones", ("zone_kind", "code", "name", "area_m2")),
    "change_polygons": (
        "geofence_change_polygons",
        ("monitoring_no", "batch_year", "batch_quarter", "area_m2"),
    ),
    "mine_sites": ("geofence_mine_sites", ("code", "name", "site_kind", "status")),
}

_AREAS = """
WITH my_areas AS (
    SELECT a.id, a.geom, a.xmin FROM patrol_areas a
    WHERE a.county_id = $1 AND a.active
      AND ($3 OR a.leader_id = $2 OR EXISTS (
          SELECT 1 FROM patrol_area_members m WHERE m.area_id = a.id AND m.user_id = $2))
),
cur AS (
    SELECT id, version_no FROM geofence_layer_versions
    WHERE county_id = $1 AND kind = $4 ORDER BY version_no DESC LIMIT 1
)"""

_ETAG = "".join(
    [
        _AREAS,
        """
SELECT (SELECT id::text || ':' || version_no FROM cur),
       (SELECT string_agg(id::text || xmin::text, ',' ORDER BY id) FROM my_areas)
""",
    ]
)
_FEATURES = """
SELECT f.id::text AS id, {cols}, {geom} AS geom
FROM {table} f, cur{extra_from}
WHERE f.county_id = $1 AND f.layer_version_id = cur.id{live}
  AND EXISTS (SELECT 1 FROM my_areas a WHERE ST_Intersects(a.geom, f.geom))"""
_GEOJSON_TEMPLATE = """
SELECT json_build_object(
    'type', 'FeatureCollection', 'layer', $4::text,
    'layerVersion', (SELECT version_no FROM cur),
    'features', coalesce(json_agg(ST_AsGeoJSON(q.*, 'geom', 7)::json), '[]'::json))::text
FROM ({inner} ORDER BY f.id) q
"""
_TILE_TEMPLATE = """,
env AS (SELECT ST_TileEnvelope($5, $6, $7) AS box,
               ST_Transform(ST_TileEnvelope($5, $6, $7), 4326) AS box4326)
SELECT ST_AsMVT(q.*, $4::text, 4096, 'geom') FROM ({inner}
  AND f.geom && env.box4326) q
"""


def _features(table: str, props: tuple[str, ...], geom: str, extra_from: str = "") -> str:
    return _FEATURES.format(
        cols=", ".join(f"f.{c}" for c in props),
        geom=geom,
        table=table,
        extra_from=extra_from,
        live=" AND NOT f.retired" if table == "geofence_mine_sites" else "",
    )


def _geojson_sql(table: str, props: tuple[str, ...]) -> str:
    return _AREAS + _GEOJSON_TEMPLATE.format(inner=_features(table, props, "f.geom"))


def _tile_sql(table: str, props: tuple[str, ...]) -> str:
    geom = "ST_AsMVTGeom(ST_Transform(f.geom, 3857), env.box, 4096, 64, true)"
    return _AREAS + _TILE_TEMPLATE.format(inner=_features(table, props, geom, ", env"))


_GEOJSON = {name: _geojson_sql(t, p) for name, (t, p) in LAYERS.items()}
_TILES = {name: _tile_sql(t, p) for name, (t, p) in LAYERS.items()}


@dataclass(frozen=True, slots=True)
class LayerDocument:
    """``body`` is ``None`` when the caller's copy (``If-None-Match``) is current."""

    etag: str
    body: bytes | None


def _layer(name: str) -> str:
    if name not in LAYERS:
        allowed = ", ".join(LAYERS)
        raise LayerNotFoundError(
            f"unknown layer {name[:40]!r}; expected one of {allowed}", layer=name[:40]
        )
    return name


def _tile_number(value: str, field: str, *, high: int) -> int:
    if not value.isdigit() or len(value) > 8 or not 0 <= int(value) <= high:
        raise TileNotFoundError(f"{field} is not a valid tile coordinate", field=field)
    return int(value)


class LayerService:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    def _args(self, principal: Principal, layer: str) -> tuple[Any, ...]:
        manager = principal.role in (Role.CAPTAIN, Role.ADMIN)
        return (principal.county_id, principal.user_id, manager, layer)

    async def layer_geojson(
        self, principal: Principal, layer: str, *, if_none_match: str | None = None
    ) -> LayerDocument:
        """The layer's features in the caller's areas as a GeoJSON FeatureCollection.

        The ETag changes when the layer gets a new version or the caller's areas change.
        """
        args = self._args(principal, _layer(layer))
        conn = await driver(self.db)
        version, areas = await conn.fetchrow(_ETAG, *args)
        digest = hashlib.sha256(f"{layer}|{version}|{areas}|{args[2]}".encode()).hexdigest()
        etag = f'"{digest[:32]}"'
        if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
            return LayerDocument(etag=etag, body=None)
        text = await conn.fetchval(_GEOJSON[layer], *args)
        return LayerDocument(etag=etag, body=str(text).encode())

    async def tile(self, principal: Principal, layer: str, z: str, x: str, y: str) -> bytes:
        """One Mapbox vector tile (``y`` may end in ``.mvt``) of the layer in the caller's
        areas; empty when nothing of it lies in the tile."""
        name = _layer(layer)
        zoom = _tile_number(z, "z", high=MAX_ZOOM)
        top = 2**zoom - 1
        col = _tile_number(x, "x", high=top)
        row = _tile_number(y.removesuffix(".mvt"), "y", high=top)
        conn = await driver(self.db)
        data = await conn.fetchval(_TILES[name], *self._args(principal, name), zoom, col, row)
        return bytes(data or b"")
