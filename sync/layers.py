"""Offline reference data for the caller's areas: GeoJSON per layer (with an ETag) and
Mapbox vector tiles made by PostGIS ``ST_AsMVT``.

Only features of the current layer version that intersect the caller's areas (the same
scope as the ``features`` pull collection) are served.

Both are bounded. A GeoJSON page is streamed in pieces of up to 4,000 features that
PostgreSQL writes as one text each (read by id from the page's ``after``, so every piece is a
short index range scan), and stops before it would pass ``max_geojson_bytes``: the
FeatureCollection then ends with ``"next"``, the ``after`` value that asks for the following
page (``null`` on the last page). Tiles simplify their geometry to a pixel of the zoom asked
for, and a tile that is still larger than ``max_tile_bytes`` is refused (``tile_too_large``:
ask a higher zoom).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.scope import Principal, Role
from patrol.policy import AREA_READ
from sync._db import driver
from sync.errors import LayerNotFoundError, PageCursorError, TileNotFoundError, TileTooLargeError

__all__ = ["LAYERS", "LayerDocument", "LayerService"]

MAX_ZOOM = 22
#: Defaults of ``PATROL_LAYER_GEOJSON_MAX_BYTES`` and ``PATROL_TILE_MAX_BYTES``.
MAX_GEOJSON_BYTES = 16 * 1024 * 1024
MAX_TILE_BYTES = 2 * 1024 * 1024
_EXTENT = 4096
_WORLD_M = 40_075_016.685578488  # the web-mercator square's side
#: features PostgreSQL joins into one piece of a page (about 1.3 MB of small parcels)
_BATCH_ROWS = 4000
_FIRST = uuid.UUID(int=0)  # ``after`` of the first page: every id is greater

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

# the caller's areas by the one area rule (patrol.policy), as the sync pull and REST read them
_AREAS = f"""
WITH my_areas AS (
    SELECT a.id, a.geom, a.xmin FROM patrol_areas a
    WHERE a.county_id = $1 AND a.active AND {AREA_READ.format(t="a", uid="$2", mgr="$3")}
),
cur AS (
    SELECT id, version_no FROM geofence_layer_versions
    WHERE county_id = $1 AND kind = $4 ORDER BY version_no DESC LIMIT 1
)"""  # noqa: S608 - only constant SQL is put together here

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
_BATCH_TEMPLATE = """,
batch AS (
    SELECT q.id, ST_AsGeoJSON(q.*, 'geom', 7) AS feature FROM ({inner}
      AND f.id > $5 ORDER BY f.id LIMIT {rows}) q
),
sized AS (
    SELECT id, feature,
           sum(octet_length(feature) + 1) OVER (ORDER BY id) <= $6
           OR ($7 AND row_number() OVER (ORDER BY id) = 1) AS fits
    FROM batch
)
SELECT convert_to(string_agg(feature, ',' ORDER BY id) FILTER (WHERE fits), 'UTF8'),
       max(id COLLATE "C") FILTER (WHERE fits), count(*) FILTER (WHERE fits), count(*)
FROM sized
"""
_TILE_TEMPLATE = """,
env AS (SELECT ST_TileEnvelope($5, $6, $7) AS box,
               ST_Transform(ST_TileEnvelope($5, $6, $7), 4326) AS box4326),
tile AS (SELECT ST_AsMVT(q.*, $4::text, 4096, 'geom') AS mvt FROM ({inner}
  AND f.geom && env.box4326) q)
SELECT octet_length(mvt), CASE WHEN octet_length(mvt) <= $9 THEN mvt END FROM tile
"""


def _features(table: str, props: tuple[str, ...], geom: str, extra_from: str = "") -> str:
    return _FEATURES.format(
        cols=", ".join(f"f.{c}" for c in props),
        geom=geom,
        table=table,
        extra_from=extra_from,
        live=" AND NOT f.retired" if table == "geofence_mine_sites" else "",
    )


def _batch_sql(table: str, props: tuple[str, ...]) -> str:
    inner = _features(table, props, "f.geom")
    return _AREAS + _BATCH_TEMPLATE.format(inner=inner, rows=_BATCH_ROWS)


def _tile_sql(table: str, props: tuple[str, ...]) -> str:
    # $8: a pixel of this zoom in metres; detail below it cannot show on the tile
    geom = (
        "ST_AsMVTGeom(ST_SimplifyPreserveTopology(ST_Transform(f.geom, 3857), $8), "
        "env.box, 4096, 64, true)"
    )
    return _AREAS + _TILE_TEMPLATE.format(inner=_features(table, props, geom, ", env"))


_BATCHES = {name: _batch_sql(t, p) for name, (t, p) in LAYERS.items()}
_TILES = {name: _tile_sql(t, p) for name, (t, p) in LAYERS.items()}


@dataclass(frozen=True, slots=True)
class LayerDocument:
    """``chunks`` (the GeoJSON, streamed) is ``None`` when the caller's copy
    (``If-None-Match``) is current."""

    etag: str
    chunks: AsyncIterator[bytes] | None


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


def _after(value: str | None) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        msg = "after must be the 'next' value of the previous page"
        raise PageCursorError(msg, field="after") from exc


def _pixel_m(zoom: int) -> float:
    return _WORLD_M / float(2**zoom) / _EXTENT


class LayerService:
    """``sessions`` opens the connection a streamed GeoJSON page reads from (the request's
    own transaction has ended by the time the body is sent)."""

    def __init__(
        self,
        db: AsyncSession,
        *,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        max_geojson_bytes: int = MAX_GEOJSON_BYTES,
        max_tile_bytes: int = MAX_TILE_BYTES,
    ) -> None:
        self.db = db
        self.sessions = sessions
        self.max_geojson_bytes = max_geojson_bytes
        self.max_tile_bytes = max_tile_bytes

    def _args(self, principal: Principal, layer: str) -> tuple[Any, ...]:
        manager = principal.role in (Role.CAPTAIN, Role.ADMIN)
        return (principal.county_id, principal.user_id, manager, layer)

    async def layer_geojson(
        self,
        principal: Principal,
        layer: str,
        *,
        if_none_match: str | None = None,
        after: str | None = None,
    ) -> LayerDocument:
        """A page of the layer's features in the caller's areas as a GeoJSON
        FeatureCollection, at most ``max_geojson_bytes`` long (a single larger feature
        still makes a page of its own), ending with ``"next"``: the ``after`` of the
        following page, or ``null``.

        The ETag changes when the layer gets a new version or the caller's areas change.
        """
        args = self._args(principal, _layer(layer))
        start = _after(after)
        conn = await driver(self.db)
        version, areas = await conn.fetchrow(_ETAG, *args)
        key = f"{layer}|{version}|{areas}|{args[2]}" + (f"|{start}" if start else "")
        etag = f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'
        if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
            return LayerDocument(etag=etag, chunks=None)
        version_no = int(str(version).rsplit(":", 1)[1]) if version else None
        return LayerDocument(etag=etag, chunks=self._page(args, start, version_no))

    async def _page(
        self, args: tuple[Any, ...], after: uuid.UUID | None, version_no: int | None
    ) -> AsyncIterator[bytes]:
        if self.sessions is None:  # pragma: no cover - wired by the app
            msg = "LayerService needs sessions to stream GeoJSON"
            raise RuntimeError(msg)
        head = (
            json.dumps(
                {"type": "FeatureCollection", "layer": args[3], "layerVersion": version_no}
            ).encode()[:-1]
            + b', "features": ['
        )
        budget = self.max_geojson_bytes - len(head) - len(b'], "next": ""}') - 36
        sent, cursor = 0, after or _FIRST
        async with self.sessions() as session:
            conn = await driver(session)
            # one snapshot for the whole page, however many pieces it is read in
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                yield head
                while True:
                    text, last, fits, rows = await conn.fetchrow(
                        _BATCHES[args[3]], *args, cursor, budget, sent == 0
                    )
                    if fits:
                        yield b"," + text if sent else text
                        budget -= len(text) + 1
                        sent, cursor = sent + fits, uuid.UUID(last)
                    if fits < rows or rows < _BATCH_ROWS:
                        break
        more = fits < rows
        yield b'], "next": ' + json.dumps(str(cursor) if more else None).encode() + b"}"

    async def tile(self, principal: Principal, layer: str, z: str, x: str, y: str) -> bytes:
        """One Mapbox vector tile (``y`` may end in ``.mvt``) of the layer in the caller's
        areas; empty when nothing of it lies in the tile. Geometry is simplified to a pixel
        of the zoom; a tile still larger than ``max_tile_bytes`` raises
        :class:`TileTooLargeError`."""
        name = _layer(layer)
        zoom = _tile_number(z, "z", high=MAX_ZOOM)
        top = 2**zoom - 1
        col = _tile_number(x, "x", high=top)
        row = _tile_number(y.removesuffix(".mvt"), "y", high=top)
        conn = await driver(self.db)
        size, data = await conn.fetchrow(
            _TILES[name], *self._args(principal, name), zoom, col, row, _pixel_m(zoom),
            self.max_tile_bytes,
        )  # fmt: skip
        if size is not None and data is None:
            msg = (
                f"the tile would be {size:,} bytes, more than the {self.max_tile_bytes:,} "
                "allowed; ask for a higher zoom"
            )
            raise TileTooLargeError(msg, limit=self.max_tile_bytes, size=size, zoom=zoom)
        return bytes(data or b"")
