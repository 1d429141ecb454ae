"""A satellite batch written straight into the tables, as the batch import would leave it.

The county is the shared world (:mod:`tests.worlds`, around (112.1, 28.5); area A1 over the
western half led by the inspector). Parcels: the western half is permanent basic farmland,
the eastern half other cultivated land. Change polygons are squares of about 100 m, each
centred on the meridian 112.1 (half of each class) at its own latitude, so a polygon's
overlay is known: half and half, about 15 mu in all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.satellite_models import (
    BatchKind,
    SatelliteBatch,
    SatelliteResult,
    SatelliteTask,
    TaskStatus,
)
from geofence.enums import LandClass, LayerKind
from geofence.layers import new_layer_version
from geofence.models import ChangePolygon, Parcel
from infra.ids import uuid7
from patrol.areas import AreaService
from tests import clock
from tests.worlds import World

LON, LAT = 112.1, 28.5
SIDE_M = 100.0


def square(lon: float, lat: float, side_m: float = SIDE_M) -> Polygon:
    """A square of about ``side_m`` metres centred on (lon, lat)."""
    dlat = side_m / 111_320 / 2
    dlon = side_m / (111_320 * 0.8788) / 2  # cos(28.5°)
    return box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One task to seed: who has it, where it stands, its due day (days from today)."""

    status: str = TaskStatus.ASSIGNED.value
    inspector: str | None = "inspector"  # "inspector", "inspector2" or None
    in_area: bool = True
    target: bool = False
    due_in_days: int = 10


@dataclass
class Seeded:
    batch_id: uuid.UUID
    task_ids: list[uuid.UUID] = field(default_factory=list)
    polygon_ids: list[uuid.UUID] = field(default_factory=list)
    monitoring_nos: list[str] = field(default_factory=list)


async def add_parcels(db: AsyncSession, county_id: uuid.UUID) -> None:
    version = await new_layer_version(db, county_id, LayerKind.PARCELS, source_name="test")
    halves = [
        (LandClass.PERMANENT_BASIC_FARMLAND, box(LON - 0.1, LAT - 0.1, LON, LAT + 0.1)),
        (LandClass.CULTIVATED, box(LON, LAT - 0.1, LON + 0.1, LAT + 0.1)),
    ]
    for n, (land_class, geom) in enumerate(halves, start=1):
        db.add(
            Parcel(
                county_id=county_id, layer_version_id=version.id, feature_no=n,
                land_class=land_class.value, area_m2=0.0, attrs={},
                geom=from_shape(MultiPolygon([geom]), srid=4326),
            )
        )  # fmt: skip


async def seed_batch(
    factory: async_sessionmaker[AsyncSession],
    world: World,
    specs: list[TaskSpec],
    *,
    name: str | None = None,
    today: date | None = None,
) -> Seeded:
    """Parcels (first call per county), a change-polygon layer version with one polygon per
    spec, a batch on it and a task per polygon. ``today``: the day due days count from."""
    day = today or clock.today()
    people = {"inspector": world.inspector.user_id, "inspector2": world.inspector2.user_id}
    async with factory() as db:
        existing = await db.scalar(
            Parcel.__table__.select().where(Parcel.county_id == world.county_id).limit(1)
        )
        if existing is None:
            await add_parcels(db, world.county_id)
        version = await new_layer_version(
            db, world.county_id, LayerKind.CHANGE_POLYGONS, source_name="2026年第3季度卫片"
        )
        batch = SatelliteBatch(
            county_id=world.county_id, name=name or f"2026年第3季度-{uuid7().hex[-6:]}",
            kind=BatchKind.QUARTERLY.value, year=2026, quarter=3,
            layer_version_id=version.id, verify_due_on=day + timedelta(days=30),
            report_due_on=day + timedelta(days=40), polygons=len(specs),
            created_by=world.captain.user_id,
        )  # fmt: skip
        db.add(batch)
        await db.flush()
        seeded = Seeded(batch.id)
        for n, spec in enumerate(specs, start=1):
            lat = LAT - 0.05 + n * 0.004
            poly = square(LON, lat)
            no = f"4301{n:04d}-{batch.id.hex[-4:]}"
            cp = ChangePolygon(
                county_id=world.county_id, layer_version_id=version.id, feature_no=n,
                monitoring_no=no, batch_year=2026, batch_quarter=3,
                monitored_areas={"permanent_basic_farmland": 5000.0, "cultivated": 5000.0},
                area_m2=10_000.0, attrs={}, geom=from_shape(MultiPolygon([poly]), srid=4326),
            )  # fmt: skip
            db.add(cp)
            await db.flush()
            target_id = None
            if spec.target:
                target = await AreaService(db).add_target(
                    world.captain, world.area.id, kind="change_polygon", name=no,
                    lon=LON, lat=lat, ref_id=cp.id,
                )  # fmt: skip
                target_id = target.id
            task = SatelliteTask(
                county_id=world.county_id, batch_id=batch.id, change_polygon_id=cp.id,
                monitoring_no=no, township_id=world.township.id,
                area_id=world.area.id if spec.in_area else None,
                inspector_id=None if spec.inspector is None else people[spec.inspector],
                target_id=target_id, status=spec.status,
                due_on=day + timedelta(days=spec.due_in_days),
            )  # fmt: skip
            db.add(task)
            await db.flush()
            seeded.task_ids.append(task.id)
            seeded.polygon_ids.append(cp.id)
            seeded.monitoring_nos.append(no)
        await db.commit()
    return seeded


async def seed_task(
    factory: async_sessionmaker[AsyncSession],
    county_id: uuid.UUID,
    *,
    lon: float,
    lat: float,
    captain_id: uuid.UUID,
    inspector_id: uuid.UUID | None,
    area_id: uuid.UUID | None,
    status: str = TaskStatus.ASSIGNED.value,
    outcome: str | None = None,
) -> dict[str, str]:
    """One task of a fresh batch at (lon, lat) (the role matrix and the isolation walk), in
    ``status``; with ``outcome`` it has that current result, recorded by the inspector.
    Returns the ids by path parameter name: ``task_id`` and ``result_id``."""
    async with factory() as db:
        version = await new_layer_version(db, county_id, LayerKind.CHANGE_POLYGONS)
        batch = SatelliteBatch(
            county_id=county_id, name=f"批次-{uuid7().hex[-8:]}", kind=BatchKind.SPECIAL.value,
            year=2026, layer_version_id=version.id, verify_due_on=clock.today(),
            report_due_on=clock.today(), polygons=1, created_by=captain_id,
        )  # fmt: skip
        no = f"T{uuid7().hex[-8:]}"
        cp = ChangePolygon(
            county_id=county_id, layer_version_id=version.id, feature_no=1, monitoring_no=no,
            batch_year=2026, batch_quarter=3, monitored_areas={}, area_m2=10_000.0, attrs={},
            geom=from_shape(MultiPolygon([square(lon, lat)]), srid=4326),
        )  # fmt: skip
        db.add_all([batch, cp])
        await db.flush()
        task = SatelliteTask(
            county_id=county_id, batch_id=batch.id, change_polygon_id=cp.id, monitoring_no=no,
            area_id=area_id, inspector_id=inspector_id, status=status,
            due_on=clock.today() + timedelta(days=10),
        )  # fmt: skip
        db.add(task)
        await db.flush()
        result_id = uuid7()
        if outcome is not None:
            illegal = outcome == "illegal"
            db.add(
                SatelliteResult(
                    id=result_id, county_id=county_id, task_id=task.id,
                    verified_by=inspector_id or captain_id, verified_at=clock.ago(hours=1),
                    outcome=outcome, violator="某人" if illegal else "",
                    violator_type="person" if illegal else None,
                    land_use="housing" if illegal else None,
                    construction_status="fully_built" if illegal else None,
                    not_new_kind="no_change" if outcome == "not_new" else None,
                    overlay_areas={}, overlay_area_m2=10_000.0, evidence_ids=[],
                )
            )  # fmt: skip
            await db.flush()
            task.result_id, task.outcome = result_id, outcome
        await db.commit()
    return {"task_id": str(task.id), "result_id": str(result_id)}
