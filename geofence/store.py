"""Bulk writes of layer features (shared by the importer and the demo generator).

Rows are streamed with PostgreSQL's binary ``COPY`` into a temporary staging table on the
session's own connection (so inside its transaction), then moved into the layer table with
one ``INSERT ... SELECT`` that builds the geometry from WKB. That is several times faster
than multi-row ``INSERT`` statements, which spend most of their time binding parameters.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, Integer, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.enums import LayerKind
from geofence.models import ChangePolygon, Parcel, PlanningZone
from infra.ids import uuid7

__all__ = ["FEATURE_MODELS", "insert_features"]

FEATURE_MODELS: dict[LayerKind, Any] = {
    LayerKind.PARCELS: Parcel,
    LayerKind.PLANNING_ZONES: PlanningZone,
    LayerKind.CHANGE_POLYGONS: ChangePolygon,
}
_FIXED = ("id", "county_id", "layer_version_id")


def _stage_type(column: Any) -> str:
    if isinstance(column.type, JSONB):
        return "text"  # cast to jsonb when moved; avoids depending on the driver's codec
    if isinstance(column.type, Integer):
        return "integer"
    if isinstance(column.type, Float):
        return "double precision"
    return "text"


def _value(stage: str, value: Any) -> Any:
    if stage == "text" and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


async def insert_features(
    session: AsyncSession,
    kind: LayerKind,
    county_id: uuid.UUID,
    layer_version_id: uuid.UUID,
    rows: Sequence[dict[str, Any]],
) -> int:
    """Insert immutable features of one version; each row carries ``wkb`` (EPSG:4326 WKB).

    Every row has the same keys: the layer table's attribute columns plus ``wkb``. The
    geometries must already be valid (the importer and the demo generator make sure).
    """
    if not rows:
        return 0
    model = FEATURE_MODELS[kind]
    table = model.__table__
    keys = [k for k in rows[0] if k != "wkb"]
    stages = {k: _stage_type(table.c[k]) for k in keys}
    stage = f"geofence_stage_{kind.value}_{zlib.crc32(','.join(sorted(keys)).encode()):08x}"
    # names below come from the model and fixed strings, never from input
    columns = ", ".join(f"{k} {stages[k]}" for k in keys)
    await session.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (id uuid, county_id uuid, "
            f"layer_version_id uuid, {columns}, wkb bytea) ON COMMIT DROP"
        )
    )
    await session.execute(text(f"TRUNCATE {stage}"))
    records = [
        (uuid7(), county_id, layer_version_id, *(_value(stages[k], r[k]) for k in keys), r["wkb"])
        for r in rows
    ]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(stage, records=records, columns=[*_FIXED, *keys, "wkb"])
    targets = ", ".join([*_FIXED, *keys])
    values = ", ".join(
        [*_FIXED, *(f"{k}::jsonb" if isinstance(table.c[k].type, JSONB) else k for k in keys)]
    )
    await session.execute(
        text(
            f"INSERT INTO {table.name} ({targets}, geom) "  # noqa: S608
            f"SELECT {values}, ST_GeomFromWKB(wkb, 4326) FROM {stage}"
        )
    )
    return len(records)
