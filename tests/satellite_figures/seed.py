"""Rows of a satellite batch written straight into the tables (the import and the field
flow are other modules' work): townships, change polygons, the batch, tasks and results."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.satellite_models import (
    SatelliteBatch,
    SatelliteResult,
    SatelliteTask,
)
from geofence.enums import LayerKind
from geofence.layers import new_layer_version
from geofence.models import ChangePolygon
from infra.ids import uuid7
from patrol.models import Township
from tests import clock


@dataclass
class Batch:
    """What was seeded: the batch and its tasks by monitoring number."""

    county_id: uuid.UUID
    batch: SatelliteBatch
    version_id: uuid.UUID
    tasks: dict[str, SatelliteTask] = field(default_factory=dict)
    n: int = 0


async def township(
    session: AsyncSession, county_id: uuid.UUID, code: str, name: str, lon: float, lat: float
) -> Township:
    town = Township(
        county_id=county_id, code=code, name=name, kind="town",
        geom=from_shape(MultiPolygon([box(lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02)]), 4326),
    )  # fmt: skip
    session.add(town)
    await session.flush()
    return town


async def batch(
    session: AsyncSession,
    county_id: uuid.UUID,
    created_by: uuid.UUID,
    *,
    name: str = "2026年第3季度卫片",
) -> Batch:
    version = await new_layer_version(
        session, county_id, LayerKind.CHANGE_POLYGONS, source_name=name, created_by=created_by
    )
    row = SatelliteBatch(
        id=uuid7(), county_id=county_id, name=name, kind="quarterly", year=2026, quarter=3,
        layer_version_id=version.id, verify_due_on=clock.TODAY, report_due_on=clock.TODAY
        + timedelta(days=10), polygons=0, created_by=created_by,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return Batch(county_id, row, version.id)


async def task(
    session: AsyncSession,
    b: Batch,
    monitoring_no: str,
    *,
    status: str,
    due_on: date = clock.TODAY,
    township_id: uuid.UUID | None = None,
    polygon_m2: float = 1000.0,
    monitored: dict[str, float] | None = None,
    lon: float = 112.1,
    lat: float = 28.5,
    **columns: Any,
) -> SatelliteTask:
    b.n += 1
    shape = box(lon, lat, lon + 0.0005, lat + 0.0004)
    cp = ChangePolygon(
        id=uuid7(), county_id=b.county_id, layer_version_id=b.version_id, feature_no=b.n,
        monitoring_no=monitoring_no, batch_year=2026, batch_quarter=3,
        monitored_areas=monitored or {"cultivated": polygon_m2}, area_m2=polygon_m2,
        attrs={"JCBH": monitoring_no}, geom=from_shape(shapely.multipolygons([shape]), 4326),
    )  # fmt: skip
    session.add(cp)
    await session.flush()
    row = SatelliteTask(
        id=uuid7(), county_id=b.county_id, batch_id=b.batch.id, change_polygon_id=cp.id,
        monitoring_no=monitoring_no, township_id=township_id, status=status, due_on=due_on,
        review_note=columns.pop("review_note", ""), **columns,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    b.tasks[monitoring_no] = row
    return row


async def result(
    session: AsyncSession,
    t: SatelliteTask,
    verified_by: uuid.UUID,
    outcome: str,
    *,
    areas: dict[str, float],
    total_m2: float | None = None,
    verified_at: datetime = clock.NOW - timedelta(days=3),
    **columns: Any,
) -> SatelliteResult:
    """A result, made the task's current one."""
    row = SatelliteResult(
        id=uuid7(), county_id=t.county_id, task_id=t.id, verified_by=verified_by,
        verified_at=verified_at, outcome=outcome, overlay_areas=areas,
        overlay_area_m2=sum(areas.values()) if total_m2 is None else total_m2, **columns,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    t.result_id = row.id
    t.outcome = outcome
    await session.flush()
    return row
