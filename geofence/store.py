"""Bulk writes of layer features (shared by the importer and the demo generator)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert
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


async def insert_features(
    session: AsyncSession,
    kind: LayerKind,
    county_id: uuid.UUID,
    layer_version_id: uuid.UUID,
    rows: Sequence[dict[str, Any]],
) -> int:
    """Insert immutable features of one version; each row carries ``wkb`` (EPSG:4326 WKB).

    Uses one multi-row ``INSERT`` per few hundred rows (SQLAlchemy's insertmanyvalues).
    """
    if not rows:
        return 0
    model = FEATURE_MODELS[kind]
    stmt = insert(model).values(geom=func.ST_GeomFromWKB(bindparam("wkb"), 4326))
    params = [
        {**row, "id": uuid7(), "county_id": county_id, "layer_version_id": layer_version_id}
        for row in rows
    ]
    await session.execute(stmt, params)
    return len(params)
