"""Offline reference data for the caller's areas: GeoJSON per layer (with an ETag) and
Mapbox vector tiles made by PostGIS ``ST_AsMVT``.

Only features of the current map (:func:`geofence.layers.current_features_sql`: the newest
version of a layer imported whole, every live site of the mine-site register) that
intersect the caller's areas (the same scope as the ``features`` pull collection) are
served. A document names the layer's current version (``layerVersion``), which for the
mine sites is the whole register as of its latest change.

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

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence.enums import LayerKind
from geofence.layers import LAYER_TABLES, current_features_sql
from geofence.policy import is_manager
from infra.scope import Principal
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

#: layer name -> property columns
LAYERS: dict[str, tuple[str, ...]] = {
    LayerKind.PARCELS.value: ("land_class", "source_code", "source_name", "area_m2"),
    LayerKind.PLANNING_ZONES.value: ("zone_kind", "code", "name", "area_m2"),
    LayerKind.CHANGE_POLYGONS.value: ("monitoring_no", "batch_year", "batch_quarter", "area_m2"),
    LayerKind.MINE_SITES.value: ("code", "name", "site_kind", "status"),
}

# the caller's areas by the one area rule (patrol.policy), as the sync pull and REST read them
_AREAS = f"""
WITH my_areas AS (
    SELECT a.id, a.geom, a.xmin FROM patrol_areas a
    WHERE a.county_id = $1 AND a.active AND {AREA_READ.format(t="a", uid="$2", mgr="$3")}
)"""  # noqa: S608 - only constant SQL is put together here
# Every change to a layer (a whole import, one mine site's status) makes a new version, so
# the current one keys the ETag, with the caller's areas as they are now.
_ETAG = f"""{_AREAS}
SELECT (SELECT id::text || ':' || version_no FROM geofence_layer_versions
        WHERE county_id = $1 AND kind = $4 ORDER BY version_no DESC LIMIT 1),
       (SELECT string_agg(id::text || xmin::text, ',' ORDER BY id) FROM my_areas)
"""  # noqa: S608
# the version a page is read at, in the page's own snapshot
_VERSION_NO = """
SELECT max(version_no) FROM geofence_layer_versions WHERE county_id = $1 AND kind = $2"""
_FEATURES = """
SELECT f.id::text AS id, {cols}, {geom} AS geom
FROM {table} f{extra_from}
WHERE {current}
  AND EXISTS (SELECT 1 FROM my_areas a WHERE ST_Intersects(a.geom, f.geom))"""
_BATCH_TEMPLATE = """,
batch AS (
    SELECT q.id, ST_AsGeoJSON(q.*, 'geom', 7) AS feature FROM ({inner}
      AND f.id > $4 ORDER BY f.id LIMIT {rows}) q
),
sized AS (
    SELECT id, feature,
           sum(octet_length(feature) + 1) OVER (ORDER BY id) <= $5
           OR ($6 AND row_number() OVER (ORDER BY id) = 1) AS fits
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


def _features(kind: LayerKind, geom: str, extra_from: str = "") -> str:
    return _FEATURES.format(
        cols=", ".join(f"f.{c}" for c in LAYERS[kind.value]),
        geom=geom,
        table=LAYER_TABLES[kind],
        extra_from=extra_from,
        current=current_features_sql(kind, alias="f", county="$1"),
    )


# The queries are put together when asked for (microseconds; the driver caches the prepared
# statement by its text), not once at import, so that `make mutate` tests how they are built.
def _batch_sql(kind: LayerKind) -> str:
    inner = _features(kind, "f.geom")
    return _AREAS + _BATCH_TEMPLATE.format(inner=inner, rows=_BATCH_ROWS)


def _tile_sql(kind: LayerKind) -> str:
    # $8: a pixel of this zoom in metres; detail below it cannot show on the tile
    geom = (
        "ST_AsMVTGeom(ST_SimplifyPreserveTopology(ST_Transform(f.geom, 3857), $8), "
        "env.box, 4096, 64, true)"
    )
    return _AREAS + _TILE_TEMPLATE.format(inner=_features(kind, geom, ", env"))


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

    def _who(self, principal: Principal) -> tuple[uuid.UUID, uuid.UUID, bool]:
        """``$1``-``$3`` of every query: county, caller, whether the caller manages it."""
        return (principal.county_id, principal.user_id, is_manager(principal))

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

        ``layerVersion`` is the version the page was read at. The ETag changes when the
        layer gets a new version (any change to any of its features) or the caller's areas
        change.
        """
        who = self._who(principal)
        name = _layer(layer)
        start = _after(after)
        conn = await driver(self.db)
        version, areas = await conn.fetchrow(_ETAG, *who, name)
        key = f"{name}|{version}|{areas}|{who[2]}" + (f"|{start}" if start else "")
        etag = f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'
        if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
            return LayerDocument(etag=etag, chunks=None)
        return LayerDocument(etag=etag, chunks=self._page(who, name, start))

    async def _page(
        self, who: tuple[uuid.UUID, uuid.UUID, bool], layer: str, after: uuid.UUID | None
    ) -> AsyncIterator[bytes]:
        if self.sessions is None:  # pragma: no cover - wired by the app
            msg = "LayerService needs sessions to stream GeoJSON"
            raise RuntimeError(msg)
        sent, cursor = 0, after or _FIRST
        async with self.sessions() as session:
            conn = await driver(session)
            # one snapshot for the whole page, however many pieces it is read in, and for
            # the version it names
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                batch_sql = _batch_sql(LayerKind(layer))
                version_no = await conn.fetchval(_VERSION_NO, who[0], layer)
                head = (
                    json.dumps(
                        {"type": "FeatureCollection", "layer": layer, "layerVersion": version_no}
                    ).encode()[:-1]
                    + b', "features": ['
                )
                budget = self.max_geojson_bytes - len(head) - len(b'], "next": ""}') - 36
                yield head
                while True:
                    text, last, fits, rows = await conn.fetchrow(
                        batch_sql, *who, cursor, budget, sent == 0
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
            _tile_sql(LayerKind(name)), *self._who(principal), name, zoom, col, row,
            _pixel_m(zoom), self.max_tile_bytes,
        )  # fmt: skip
        if size is not None and data is None:
            msg = (
                f"the tile would be {size:,} bytes, more than the {self.max_tile_bytes:,} "
                "allowed; ask for a higher zoom"
            )
            raise TileTooLargeError(msg, limit=self.max_tile_bytes, size=size, zoom=zoom)
        return bytes(data or b"")
