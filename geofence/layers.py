"""Layer versions: create the next one, list them, read the current ones and old features.

A layer version is one import (or one change of the mine-site register) of one kind in one
county. The highest ``version_no`` is current; older versions stay stored and readable.

What a map shows is decided by the features' identity, not by which version wrote them
(:func:`current_features_sql`, the one rule every map path uses):

* parcels, planning zones and change polygons are imported whole: a new version replaces
  the layer, so the current map is the rows of the newest version;
* the mine-site register keeps stable site ids, and a change to one site (status, geometry,
  retirement) writes a version holding that site's revision only: the current map is every
  live site in its latest state. Version ``N`` of the register names the whole register as
  it stood after that change (:func:`register_as_of`), which is what a check that used
  version ``N`` saw.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.enums import LayerKind
from geofence.errors import LayerVersionNotFoundError, UnknownLayerKindError
from geofence.models import (
    ChangePolygon,
    LayerVersion,
    MineSite,
    MineSiteRevision,
    Parcel,
    PlanningZone,
)
from infra.scope import Principal, scoped

__all__ = [
    "LAYER_TABLES",
    "FeatureRecord",
    "LayerVersionInfo",
    "current_features_sql",
    "current_versions",
    "get_layer_version",
    "list_layer_versions",
    "mark_dirty",
    "new_layer_version",
    "parse_kinds",
    "read_layer_features",
    "register_as_of",
]

DIRTY_KEY = "geofence_dirty_counties"

#: The table holding each kind's features (for the mine sites: the register's current state).
LAYER_TABLES: dict[LayerKind, str] = {
    LayerKind.PARCELS: Parcel.__tablename__,
    LayerKind.PLANNING_ZONES: PlanningZone.__tablename__,
    LayerKind.CHANGE_POLYGONS: ChangePolygon.__tablename__,
    LayerKind.MINE_SITES: MineSite.__tablename__,
}


def current_features_sql(kind: LayerKind, *, alias: str, county: str) -> str:
    """An SQL condition true for the rows of ``LAYER_TABLES[kind]`` (named ``alias``) that
    make up the current map of the county ``county`` (an SQL expression: a parameter or a
    subquery).

    A layer imported whole is the rows of its newest version (found by the unique index on
    county, kind and version number, once per statement); the mine-site register is every
    site not retired, whichever version last changed it.
    """
    if kind is LayerKind.MINE_SITES:
        return _LIVE_SITES.format(f=alias, county=county)
    return _NEWEST_VERSION.format(f=alias, county=county, kind=kind.value)


_LIVE_SITES = "{f}.county_id = {county} AND NOT {f}.retired"
# the version id names the county already; a second condition on the county would only
# tempt the planner (with no statistics yet) to drive from the layer instead of the areas
_NEWEST_VERSION = """{f}.layer_version_id = (
    SELECT lv.id FROM geofence_layer_versions lv
    WHERE lv.county_id = {county} AND lv.kind = '{kind}' ORDER BY lv.version_no DESC LIMIT 1)"""


def parse_kinds(kinds: Sequence[str] | None, *, field: str = "kinds") -> tuple[LayerKind, ...]:
    """Validate layer kind names; ``None`` means all kinds."""
    if kinds is None:
        return tuple(LayerKind)
    out: list[LayerKind] = []
    for kind in kinds:
        try:
            out.append(LayerKind(kind))
        except ValueError as exc:
            allowed = ", ".join(k.value for k in LayerKind)
            msg = f"unknown layer kind {str(kind)[:40]!r}; expected one of {allowed}"
            raise UnknownLayerKindError(msg, field=field) from exc
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class LayerVersionInfo:
    id: uuid.UUID
    county_id: uuid.UUID
    kind: LayerKind
    version_no: int
    source_name: str
    source_format: str
    source_crs: str
    read_count: int
    stored_count: int
    repaired_count: int
    rejected_count: int
    note: str
    created_by: uuid.UUID | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: LayerVersion) -> LayerVersionInfo:
        return cls(
            id=row.id,
            county_id=row.county_id,
            kind=LayerKind(row.kind),
            version_no=row.version_no,
            source_name=row.source_name,
            source_format=row.source_format,
            source_crs=row.source_crs,
            read_count=row.read_count,
            stored_count=row.stored_count,
            repaired_count=row.repaired_count,
            rejected_count=row.rejected_count,
            note=row.note,
            created_by=row.created_by,
            created_at=row.created_at,
        )


def mark_dirty(session: AsyncSession, county_id: uuid.UUID) -> None:
    """Note on the session that this county's layers changed in its open transaction.

    Checks in the same session then read versions from the database instead of the
    process-wide cache (see :mod:`geofence.index`).
    """
    dirty: set[uuid.UUID] = session.info.setdefault(DIRTY_KEY, set())
    dirty.add(county_id)


async def new_layer_version(
    session: AsyncSession,
    county_id: uuid.UUID,
    kind: LayerKind,
    *,
    source_name: str = "",
    source_format: str = "",
    source_crs: str = "",
    created_by: uuid.UUID | None = None,
    note: str = "",
) -> LayerVersion:
    """Add the next version of ``kind`` for the county (serialised per county and kind)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"geofence:{county_id}:{kind.value}"},
    )
    last = await session.scalar(
        select(func.max(LayerVersion.version_no)).where(
            LayerVersion.county_id == county_id, LayerVersion.kind == kind.value
        )
    )
    row = LayerVersion(
        county_id=county_id,
        kind=kind.value,
        version_no=(last or 0) + 1,
        source_name=source_name[:255],
        source_format=source_format,
        source_crs=source_crs[:64],
        created_by=created_by,
        note=note,
        report={},
    )
    session.add(row)
    await session.flush()
    mark_dirty(session, county_id)
    return row


async def current_versions(
    session: AsyncSession, county_id: uuid.UUID
) -> dict[LayerKind, tuple[uuid.UUID, int]]:
    """``{kind: (version id, version number)}`` of the current version of each layer."""
    rows = await session.execute(
        select(LayerVersion.kind, LayerVersion.id, LayerVersion.version_no)
        .where(LayerVersion.county_id == county_id)
        .ext(distinct_on(LayerVersion.kind))
        .order_by(LayerVersion.kind, LayerVersion.version_no.desc())
    )
    return {LayerKind(kind): (vid, no) for kind, vid, no in rows}


async def list_layer_versions(
    session: AsyncSession, principal: Principal, *, kind: str | None = None
) -> list[LayerVersionInfo]:
    """All versions in the caller's county, newest first, optionally of one kind."""
    base: Any = select(LayerVersion)  # scoped() is typed for row tuples
    stmt = scoped(base, LayerVersion, principal)
    if kind is not None:
        stmt = stmt.where(LayerVersion.kind == parse_kinds([kind], field="kind")[0].value)
    stmt = stmt.order_by(LayerVersion.kind, LayerVersion.version_no.desc())
    return [LayerVersionInfo.from_row(r) for r in (await session.scalars(stmt)).all()]


async def get_layer_version(
    session: AsyncSession, principal: Principal, version_id: uuid.UUID
) -> tuple[LayerVersionInfo, dict[str, Any]]:
    """One version and its import report; another county's version is not found."""
    base: Any = select(LayerVersion)
    stmt = scoped(base, LayerVersion, principal).where(LayerVersion.id == version_id)
    row = await session.scalar(stmt)
    if row is None:
        msg = "layer version not found"
        raise LayerVersionNotFoundError(msg, id=str(version_id))
    return LayerVersionInfo.from_row(row), dict(row.report or {})


@dataclass(frozen=True, slots=True)
class FeatureRecord:
    """One stored feature of some version: its id, number, attributes and WGS84 geometry."""

    id: uuid.UUID
    feature_no: int
    properties: dict[str, Any]
    geometry: shapely.Geometry


_FEATURE_COLUMNS: dict[LayerKind, tuple[Any, tuple[str, ...]]] = {
    LayerKind.PARCELS: (Parcel, ("land_class", "source_code", "source_name", "area_m2", "attrs")),
    LayerKind.PLANNING_ZONES: (PlanningZone, ("zone_kind", "code", "name", "area_m2", "attrs")),
    LayerKind.CHANGE_POLYGONS: (
        ChangePolygon,
        ("monitoring_no", "batch_year", "batch_quarter", "monitored_areas", "area_m2", "attrs"),
    ),
}


async def read_layer_features(
    session: AsyncSession,
    principal: Principal,
    version_id: uuid.UUID,
    *,
    limit: int = 1000,
    offset: int = 0,
) -> list[FeatureRecord]:
    """Features of any version, current or old, in feature order (paged).

    For ``mine_sites`` the register as it stood at that version is rebuilt from revisions
    (``id`` is then the stable site id; retired sites are left out).
    """
    info, _ = await get_layer_version(session, principal, version_id)
    if info.kind is LayerKind.MINE_SITES:
        return await _mine_snapshot(session, info, limit=limit, offset=offset)
    model, columns = _FEATURE_COLUMNS[info.kind]
    stmt = (
        select(
            model.id,
            model.feature_no,
            func.ST_AsBinary(model.geom),
            *(getattr(model, c) for c in columns),
        )
        .where(model.layer_version_id == version_id, model.county_id == principal.county_id)
        .order_by(model.feature_no)
        .limit(limit)
        .offset(offset)
    )
    out: list[FeatureRecord] = []
    for row in await session.execute(stmt):
        props = dict(zip(columns, row[3:], strict=True))
        out.append(FeatureRecord(row[0], row[1], props, shapely.from_wkb(bytes(row[2]))))
    return out


def register_as_of(county_id: uuid.UUID, version_no: int) -> Any:
    """A condition on :class:`MineSiteRevision` rows: the live sites of the county's register
    as it stood at ``mine_sites`` version ``version_no`` (each site's latest revision up to
    that version, retired sites left out)."""
    rev = MineSiteRevision
    latest = (
        select(rev.id)
        .join(LayerVersion, LayerVersion.id == rev.layer_version_id)
        .where(rev.county_id == county_id, LayerVersion.version_no <= version_no)
        .ext(distinct_on(rev.site_id))
        .order_by(rev.site_id, LayerVersion.version_no.desc())
    )
    return rev.id.in_(latest) & rev.retired.is_(False)


async def _mine_snapshot(
    session: AsyncSession, info: LayerVersionInfo, *, limit: int, offset: int
) -> list[FeatureRecord]:
    rev = MineSiteRevision
    stmt = (
        select(rev, func.ST_AsBinary(rev.geom))
        .where(register_as_of(info.county_id, info.version_no))
        .order_by(rev.code)
        .limit(limit)
        .offset(offset)
    )
    out: list[FeatureRecord] = []
    for i, (r, wkb) in enumerate(await session.execute(stmt), start=offset + 1):
        props = {
            "code": r.code,
            "site_kind": r.site_kind,
            "name": r.name,
            "mineral": r.mineral,
            "closed_on": r.closed_on.isoformat() if r.closed_on else None,
            "closure_method": r.closure_method,
            "status": r.status,
            "status_reason": r.status_reason,
            "signboard": r.signboard,
        }
        out.append(FeatureRecord(r.site_id, i, props, shapely.from_wkb(bytes(wkb))))
    return out
