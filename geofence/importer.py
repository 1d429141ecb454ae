"""Import a reference layer from GeoJSON, a zipped Shapefile or a GeoPackage (pyogrio).

Every import makes a new layer version. The file is read in batches (bounded memory), its
CRS is taken from ``crs=`` (override), else from the file, else guessed from the coordinates
(degrees → CGCS2000, zone-prefixed eastings → that Gauss-Krüger zone). Geometries are
transformed to EPSG:4326, repaired where possible (each repair reported) and rejected with
their feature number and reason otherwise; nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio
import pyogrio.errors
import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.crs import SourceCrs, detect_crs, local_projection, parse_crs, to_wgs84
from geofence.enums import ClosureMethod, LandClass, LayerKind, MineStatus, SiteKind, ZoneKind
from geofence.errors import (
    CountyNotFoundError,
    InvalidFieldMapError,
    InvalidGeometryError,
    NoFeaturesError,
    UnsupportedFileError,
)
from geofence.geometry import repair_polygonal
from geofence.layers import new_layer_version, parse_kinds
from geofence.mines import write_sites
from geofence.models import LayerVersion
from geofence.store import insert_features
from infra.scope import Principal, Role, require_role

__all__ = [
    "FIELD_DEFAULTS",
    "FeatureIssue",
    "ImportProgress",
    "ImportSummary",
    "classify_land",
    "import_layer",
    "import_layer_upload",
    "parse_field_map",
]

BATCH_SIZE = 5000
_REPORT_CAP = 1000
_OUTSIDE_MARGIN_DEG = 0.1
_MIN_AREA_M2 = 0.01
_MIN_WIDTH_M = 0.01  # slivers thinner than 1 cm on average are digitising errors

#: Target attribute → source field names tried in order (case-insensitive); ``field_map``
#: overrides them. Parcel codes follow GB/T 21010 (DLBM/DLMC of the land survey).
FIELD_DEFAULTS: dict[LayerKind, dict[str, tuple[str, ...]]] = {
    LayerKind.PARCELS: {
        "land_class": ("land_class",),
        "source_code": ("dlbm", "source_code", "code", "land_code"),
        "source_name": ("dlmc", "source_name", "name", "land_name"),
        "basic_farmland": ("jbnt", "basic_farmland", "is_basic_farmland"),
        "approved": ("pzyd", "approved", "is_approved"),
    },
    LayerKind.PLANNING_ZONES: {
        "zone_kind": ("zone_kind", "gkfq", "kind", "type"),
        "code": ("code", "bsm", "id"),
        "name": ("name", "mc"),
    },
    LayerKind.CHANGE_POLYGONS: {
        "monitoring_no": ("monitoring_no", "jcbh"),
        "batch_year": ("batch_year", "year", "pcnf"),
        "batch_quarter": ("batch_quarter", "quarter", "jd"),
    },
    LayerKind.MINE_SITES: {
        "code": ("code", "bh"),
        "name": ("name", "mc"),
        "site_kind": ("site_kind", "kind"),
        "mineral": ("mineral", "kz"),
        "closed_on": ("closed_on", "gbrq"),
        "closure_method": ("closure_method",),
        "status": ("status", "zt"),
        "signboard": ("signboard",),
        "signboard_text": ("signboard_text",),
    },
}
_REQUIRED = {
    LayerKind.CHANGE_POLYGONS: ("monitoring_no", "batch_year", "batch_quarter"),
    LayerKind.MINE_SITES: ("code", "name"),
}
_MONITORED_AREA_FIELDS = {
    "jbntmj": LandClass.PERMANENT_BASIC_FARMLAND.value,
    "gdmj": LandClass.CULTIVATED.value,
    "nydmj": LandClass.OTHER_FARMLAND.value,
    "jsydmj": LandClass.CONSTRUCTION_UNAPPROVED.value,
    "wlydmj": LandClass.UNUSED.value,
}
_CHINESE_CLASSES = {
    "永久基本农田": LandClass.PERMANENT_BASIC_FARMLAND,
    "耕地": LandClass.CULTIVATED,
    "农用地": LandClass.OTHER_FARMLAND,
    "批准用地": LandClass.CONSTRUCTION_APPROVED,
    "建设用地": LandClass.CONSTRUCTION_UNAPPROVED,
    "未利用地": LandClass.UNUSED,
}
_CHINESE_ZONES = {
    "永久基本农田": ZoneKind.BASIC_FARMLAND,
    "永久基本农田保护红线": ZoneKind.BASIC_FARMLAND,
    "生态保护红线": ZoneKind.ECOLOGICAL_REDLINE,
    "城镇开发边界": ZoneKind.URBAN_DEVELOPMENT,
    "村庄建设边界": ZoneKind.VILLAGE_CONSTRUCTION,
}
_TRUE = {"1", "true", "yes", "y", "t", "是"}


@dataclass(frozen=True, slots=True)
class FeatureIssue:
    """A repair or a rejection: 1-based feature number in the file and the reason."""

    feature_no: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"feature": self.feature_no, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Counts so far; ``total`` is the feature count the file declares (may be ``None``);
    ``rejections`` the first rejections so far (at most 1,000)."""

    read: int
    stored: int
    repaired: int
    rejected: int
    total: int | None
    rejections: tuple[FeatureIssue, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportSummary:
    layer_version_id: uuid.UUID
    kind: LayerKind
    version_no: int
    source_format: str
    source_crs: str
    read: int
    stored: int
    repaired: int
    rejected: int
    repairs: tuple[FeatureIssue, ...] = field(default=())
    rejections: tuple[FeatureIssue, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "layer_version_id": str(self.layer_version_id),
            "kind": self.kind.value,
            "version_no": self.version_no,
            "source_format": self.source_format,
            "source_crs": self.source_crs,
            "read": self.read,
            "stored": self.stored,
            "repaired": self.repaired,
            "rejected": self.rejected,
            "repairs": [i.to_json() for i in self.repairs],
            "rejections": [i.to_json() for i in self.rejections],
        }


_FARMLAND_CODES = ("02", "03", "04", "1104", "1107", "1202", "1203")
_CONSTRUCTION_CODES = ("05", "06", "07", "08", "09", "10")
_UNUSED_CODES = ("1201", "1204", "1205", "1206", "1207")


def classify_land(
    code: str, name: str = "", *, basic: bool = False, approved: bool | None = None
) -> LandClass:
    """Land class from a GB/T 21010 code (DLBM), with the basic-farmland and approval flags.

    01xx cultivated (permanent basic farmland when flagged); 02-04xx, 1104, 1107, 1202, 1203
    other farmland; 05-10xx construction (approved only when the approval flag says so);
    1201 and 1204-1207 unused; anything else other. A known class value or Chinese class
    name is used as is.
    """
    value = (code or "").strip()
    if value in LandClass.__members__.values():
        return LandClass(value)
    known = _CHINESE_CLASSES.get((name or "").strip())
    if known is None:
        if value.startswith("01"):
            known = LandClass.PERMANENT_BASIC_FARMLAND if basic else LandClass.CULTIVATED
        elif value.startswith(_FARMLAND_CODES):
            known = LandClass.OTHER_FARMLAND
        elif value.startswith(_CONSTRUCTION_CODES):
            approved_class = LandClass.CONSTRUCTION_APPROVED
            known = approved_class if approved else LandClass.CONSTRUCTION_UNAPPROVED
        elif value.startswith(_UNUSED_CODES):
            known = LandClass.UNUSED
    return known or LandClass.OTHER


# -- source file ---------------------------------------------------------------------------


_HEAD_BYTES = 4096
_NO_FEATURES = "the file has no feature with a geometry (empty, all null or only whitespace)"


def _open_source(path: Path) -> tuple[str, str]:
    """``(gdal path, format)`` after checking the bytes really are what the file claims."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise UnsupportedFileError(f"cannot read file: {exc.strerror}", field="file") from exc
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                shps = [n for n in zf.namelist() if n.lower().endswith(".shp")]
        except zipfile.BadZipFile as exc:
            raise UnsupportedFileError("damaged zip archive", field="file") from exc
        if len(shps) != 1:
            msg = f"a zipped Shapefile must hold exactly one .shp, found {len(shps)}"
            raise UnsupportedFileError(msg, field="file")
        return f"/vsizip/{path}/{shps[0]}", "shapefile"
    if head.startswith(b"SQLite format 3\x00") and head[68:72] in (b"GPKG", b"GP10", b"GP11"):
        return str(path), "geopackage"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped and len(head) < _HEAD_BYTES:
        raise NoFeaturesError(_NO_FEATURES, field="file")
    if stripped.startswith(b"{") and b'"type"' in head:
        return str(path), "geojson"
    msg = "not a GeoJSON file, a zipped Shapefile or a GeoPackage"
    raise UnsupportedFileError(msg, field="file")


def _read_info(source: str, fmt: str) -> dict[str, Any]:
    try:
        info: dict[str, Any] = pyogrio.read_info(source, force_total_bounds=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        msg = f"cannot read the {fmt}: {str(exc)[:200]}"
        raise UnsupportedFileError(msg, field="file") from exc
    return info


def _resolve_fields(
    kind: LayerKind, available: list[str], field_map: Mapping[str, str] | None
) -> dict[str, str]:
    defaults = FIELD_DEFAULTS[kind]
    lower = {name.lower(): name for name in available}
    chosen: dict[str, str] = {}
    for target, candidates in defaults.items():
        for cand in candidates:
            if cand in lower:
                chosen[target] = lower[cand]
                break
    for target, source in (field_map or {}).items():
        if target not in defaults:
            msg = f"unknown target field {target!r} for {kind.value}; known: {', '.join(defaults)}"
            raise InvalidFieldMapError(msg, field="field_map")
        if source.lower() not in lower:
            msg = f"the file has no field {source!r} (fields: {', '.join(available)})"
            raise InvalidFieldMapError(msg, field="field_map")
        chosen[target] = lower[source.lower()]
    for target in _REQUIRED.get(kind, ()):
        if target not in chosen:
            msg = f"{kind.value} need a {target!r} field; map one with field_map"
            raise InvalidFieldMapError(msg, field="field_map")
    return chosen


# -- per-kind attribute extraction ------------------------------------------------------------


def _s(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return str(value).strip()


def _flag(value: Any) -> bool:
    return _s(value).lower() in _TRUE


def _parcel(props: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    code = _s(props.get(fields.get("source_code", "")))
    name = _s(props.get(fields.get("source_name", "")))
    given = _s(props.get(fields.get("land_class", "")))
    approved = _flag(props.get(fields["approved"])) if "approved" in fields else None
    basic = _flag(props.get(fields["basic_farmland"])) if "basic_farmland" in fields else False
    land = classify_land(given, given, basic=basic, approved=approved) if given else None
    if land is None or land is LandClass.OTHER:
        land = classify_land(code, name, basic=basic, approved=approved)
    return {"land_class": land.value, "source_code": code[:32], "source_name": name[:100]}


def _zone(props: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    raw = _s(props.get(fields.get("zone_kind", "")))
    kind = _CHINESE_ZONES.get(raw)
    if kind is None:
        kind = ZoneKind(raw) if raw in ZoneKind.__members__.values() else ZoneKind.OTHER
    code = _s(props.get(fields.get("code", "")))[:64]
    name = _s(props.get(fields.get("name", "")))[:100]
    return {"zone_kind": kind.value, "code": code, "name": name}


def _int(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = int(float(_s(value)))
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {_s(value)[:20]!r}") from exc
    if not low <= number <= high:
        raise ValueError(f"{name} must be within [{low}, {high}], got {number}")
    return number


def _change(props: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    number = _s(props.get(fields["monitoring_no"]))
    if not number:
        raise ValueError("monitoring number is empty")
    areas: dict[str, float] = {}
    for key, value in props.items():
        low = key.lower()
        target = _MONITORED_AREA_FIELDS.get(low) or (low[5:] if low.startswith("area_") else None)
        if target is not None and target in LandClass.__members__.values() and _s(value):
            areas[target] = areas.get(target, 0.0) + float(value)
    return {
        "monitoring_no": number[:64],
        "batch_year": _int(props.get(fields["batch_year"]), "batch year", 2000, 2100),
        "batch_quarter": _int(props.get(fields["batch_quarter"]), "batch quarter", 1, 4),
        "monitored_areas": areas,
    }


def _site(props: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    def get(name: str, default: str = "") -> str:
        return _s(props.get(fields.get(name, ""))) or default

    code, name = get("code")[:64], get("name")[:100]
    if not code or not name:
        raise ValueError("site code and name are required")
    closed = get("closed_on")
    return {
        "code": code,
        "name": name,
        "site_kind": SiteKind(get("site_kind", SiteKind.MINE.value)).value,
        "mineral": get("mineral")[:50],
        "closed_on": date.fromisoformat(closed[:10]) if closed else None,
        "closure_method": ClosureMethod(get("closure_method", ClosureMethod.SEALED.value)).value,
        "status": MineStatus(get("status", MineStatus.CLOSED.value)).value,
        "signboard": _flag(get("signboard")),
        "signboard_text": get("signboard_text"),
    }


_EXTRACT: dict[LayerKind, Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]] = {
    LayerKind.PARCELS: _parcel,
    LayerKind.PLANNING_ZONES: _zone,
    LayerKind.CHANGE_POLYGONS: _change,
    LayerKind.MINE_SITES: _site,
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# -- the import ----------------------------------------------------------------------------


@dataclass
class _Run:
    kind: LayerKind
    fields: dict[str, str]
    county_box: shapely.Geometry
    read: int = 0
    stored: int = 0
    repairs: list[FeatureIssue] = field(default_factory=list)
    rejections: list[FeatureIssue] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, number: int, reason: str) -> None:
        self.rejections.append(FeatureIssue(number, reason))


def _prepare_geometry(
    run: _Run, number: int, geom: shapely.Geometry | None
) -> shapely.Geometry | None:
    """A storable geometry, or ``None`` after recording the rejection."""
    point_ok = run.kind is LayerKind.MINE_SITES and isinstance(geom, shapely.Point)
    try:
        if point_ok and geom is not None:
            if geom.is_empty or not np.isfinite(shapely.get_coordinates(geom)).all():
                raise InvalidGeometryError("empty point", field="geometry", reason="empty")
            out: shapely.Geometry = shapely.force_2d(geom)
        else:
            outcome = repair_polygonal(geom)
            for what in outcome.repairs:
                run.repairs.append(FeatureIssue(number, what))
            out = outcome.geom
    except InvalidGeometryError as exc:
        run.reject(number, exc.detail)
        return None
    if not run.county_box.intersects(out):
        run.reject(number, "lies outside the county (wrong coordinate system?)")
        return None
    return out


def _batch_rows(
    run: _Run, start: int, geoms: npt.NDArray[np.object_], props: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    extract = _EXTRACT[run.kind]
    kept: list[shapely.Geometry] = []
    for i, (geom, attrs) in enumerate(zip(geoms, props, strict=True)):
        number = start + i + 1
        try:
            values = extract(attrs, run.fields)
        except ValueError as exc:
            run.reject(number, f"attributes: {exc}")
            continue
        good = _prepare_geometry(run, number, geom)
        if good is None:
            continue
        values["feature_no"] = number
        values["attrs"] = {k: _jsonable(v) for k, v in attrs.items()}
        values["geometry"] = good
        rows.append(values)
        kept.append(good)
    if not rows or run.kind is LayerKind.MINE_SITES:
        return rows
    center = shapely.centroid(run.county_box)
    laea = local_projection(center.x, center.y)
    projected = laea.project_geoms(np.array(kept, dtype=object))
    areas = shapely.area(projected)
    widths = 2.0 * areas / np.maximum(shapely.length(projected), 1e-9)
    out: list[dict[str, Any]] = []
    for row, area, width, geom in zip(rows, areas, widths, kept, strict=True):
        if not (area >= _MIN_AREA_M2 and width >= _MIN_WIDTH_M):
            msg = f"degenerate polygon: area {area:.3g} m², mean width {width:.3g} m"
            run.reject(row["feature_no"], msg)
            continue
        row["area_m2"] = float(area)
        row["wkb"] = shapely.to_wkb(geom)
        del row["geometry"]
        out.append(row)
    return out


@dataclass(frozen=True, slots=True)
class _Inspected:
    source: str
    fmt: str
    crs: SourceCrs
    total: int
    fields: dict[str, str]


def _inspect(
    path: Path,
    kind: LayerKind,
    crs: str | None,
    field_map: Mapping[str, str] | None,
    layer: str | int | None,
) -> _Inspected:
    """The file's GDAL path, format, CRS, declared feature count and the fields to use."""
    source, fmt = _open_source(path)
    source_crs = parse_crs(crs) if crs else None
    info = (
        _read_info(source, fmt)
        if layer is None
        else pyogrio.read_info(source, layer=layer, force_total_bounds=True)
    )
    if int(info.get("features", -1)) == 0 or info.get("total_bounds") is None:
        raise NoFeaturesError(_NO_FEATURES, field="file")  # nothing to read, no bounds to go by
    if source_crs is None:
        declared = info.get("crs")
        bounds = tuple(float(v) for v in info.get("total_bounds", (np.nan,) * 4))
        source_crs = parse_crs(declared) if declared else detect_crs(bounds)  # type: ignore[arg-type]
    total = int(info.get("features", -1))
    fields = _resolve_fields(kind, list(info["fields"]), field_map)
    return _Inspected(source, fmt, source_crs, total, fields)


def _prepare_batch(
    run: _Run, source: str, layer: str | int | None, *, size: int, fmt: str, crs: SourceCrs
) -> tuple[list[dict[str, Any]], int] | None:
    """Read the next batch after ``run.read`` features and make its rows: ``(rows, read)``.

    Records the batch's repairs and rejections on ``run``; ``None`` when the file is done.
    Blocking work, meant for a worker thread (one batch at a time per run).
    """
    batch = _read_batch(source, layer, run.read, size, fmt)
    if batch is None:
        return None
    geoms, props = batch
    return _batch_rows(run, run.read, _to_wgs84(geoms, crs), props), len(props)


async def _county_box(session: AsyncSession, county_id: uuid.UUID) -> shapely.Geometry:
    wkb = await session.scalar(
        text("SELECT ST_AsBinary(ST_Envelope(boundary)) FROM counties WHERE id = :id"),
        {"id": county_id},
    )
    if wkb is None:
        raise CountyNotFoundError("county not found", id=str(county_id))
    return shapely.from_wkb(bytes(wkb)).buffer(_OUTSIDE_MARGIN_DEG)


async def import_layer(
    session: AsyncSession,
    county_id: uuid.UUID,
    path: Path,
    kind: str,
    *,
    crs: str | None = None,
    field_map: Mapping[str, str] | None = None,
    layer: str | int | None = None,
    created_by: uuid.UUID | None = None,
    source_name: str | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Import ``path`` as a new version of layer ``kind`` for the county.

    ``crs`` overrides the file's CRS (``EPSG:4490``, ``4527``, ``gcj02``...); ``field_map``
    maps target attributes (see :data:`FIELD_DEFAULTS`) to the file's field names; ``layer``
    picks a layer of a multi-layer GeoPackage. ``progress`` is called after every batch.
    Mine-site imports upsert the register by site code. The caller commits.

    Raises :class:`UnsupportedFileError`, :class:`UnknownCrsError`,
    :class:`InvalidFieldMapError`, :class:`UnknownLayerKindError`, or
    :class:`InvalidGeometryError` when no feature at all could be stored.
    """
    layer_kind = parse_kinds([kind], field="kind")[0]
    # Reading and inspecting the file (and every batch below) is CPU and disk work: it runs on
    # a worker thread so the event loop keeps serving requests during a large import.
    found = await asyncio.to_thread(_inspect, Path(path), layer_kind, crs, field_map, layer)
    source, fmt, source_crs, total = found.source, found.fmt, found.crs, found.total
    run = _Run(layer_kind, found.fields, await _county_box(session, county_id))
    version = None
    if layer_kind is not LayerKind.MINE_SITES:
        version = await new_layer_version(
            session, county_id, layer_kind, source_name=source_name or Path(path).name,
            source_format=fmt, source_crs=source_crs.name, created_by=created_by,
        )  # fmt: skip
    while True:
        batch = await asyncio.to_thread(
            _prepare_batch, run, source, layer, size=batch_size, fmt=fmt, crs=source_crs
        )
        if batch is None:
            break
        rows, count = batch
        run.read += count
        if version is not None:
            run.stored += await insert_features(session, layer_kind, county_id, version.id, rows)
        else:
            for row in rows:
                row.pop("feature_no"), row.pop("attrs")
            run.sites.extend(rows)
            run.stored += len(rows)
        if progress is not None:
            repaired = len({i.feature_no for i in run.repairs})
            known = total if total >= 0 else None
            so_far = tuple(run.rejections[:_REPORT_CAP])
            progress(
                ImportProgress(run.read, run.stored, repaired, len(run.rejections), known, so_far)
            )
        if count < batch_size:
            break
    if run.stored == 0:
        msg = f"no feature could be stored ({run.read} read, {len(run.rejections)} rejected)"
        first = [i.to_json() for i in run.rejections[:20]]
        raise InvalidGeometryError(msg, field="file", reason="nothing_stored", rejections=first)
    if version is None:
        version_id, _ = await write_sites(
            session, county_id, run.sites, source_name=source_name or Path(path).name,
            source_format=fmt, source_crs=source_crs.name, created_by=created_by,
        )  # fmt: skip
        version = await session.get_one(LayerVersion, version_id)
    return await _finish(session, version, run, fmt, source_crs)


async def import_layer_upload(
    session: AsyncSession,
    principal: Principal,
    path: Path,
    kind: str,
    *,
    source_name: str,
    crs: str | None = None,
    field_map: Mapping[str, str] | None = None,
) -> ImportSummary:
    """An admin imports an uploaded file (already on local disk) into their county."""
    require_role(principal, Role.ADMIN, action="import reference layers")
    return await import_layer(
        session, principal.county_id, path, kind, crs=crs, field_map=field_map,
        created_by=principal.user_id, source_name=source_name,
    )  # fmt: skip


def parse_field_map(value: str | None, *, field: str = "field_map") -> dict[str, str]:
    """Parse ``target=source,target=source`` (e.g. ``source_code=DLBM,source_name=DLMC``)."""
    out: dict[str, str] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            msg = f"field map entries are target=source, got {item.strip()[:40]!r}"
            raise InvalidFieldMapError(msg, field=field)
        out[target.strip()] = source.strip()
    return out


async def _finish(
    session: AsyncSession, version: LayerVersion, run: _Run, fmt: str, source_crs: SourceCrs
) -> ImportSummary:
    repaired = len({i.feature_no for i in run.repairs})
    version.read_count = run.read
    version.stored_count = run.stored
    version.repaired_count = repaired
    version.rejected_count = len(run.rejections)
    version.report = {
        "repairs": [i.to_json() for i in run.repairs[:_REPORT_CAP]],
        "rejections": [i.to_json() for i in run.rejections[:_REPORT_CAP]],
        "truncated": len(run.repairs) > _REPORT_CAP or len(run.rejections) > _REPORT_CAP,
        "fields": run.fields,
    }
    await session.flush()
    return ImportSummary(
        layer_version_id=version.id, kind=run.kind, version_no=version.version_no,
        source_format=fmt, source_crs=source_crs.name, read=run.read, stored=run.stored,
        repaired=repaired, rejected=len(run.rejections), repairs=tuple(run.repairs),
        rejections=tuple(run.rejections),
    )  # fmt: skip


def _to_wgs84(geoms: npt.NDArray[np.object_], source: SourceCrs) -> npt.NDArray[np.object_]:
    try:
        return to_wgs84(geoms, source)
    except Exception:
        return np.array([_one_to_wgs84(g, source) for g in geoms], dtype=object)


def _one_to_wgs84(geom: shapely.Geometry | None, source: SourceCrs) -> shapely.Geometry | None:
    if geom is None:
        return None
    try:
        return to_wgs84(np.array([geom], dtype=object), source)[0]
    except Exception:
        return None


def _read_batch(
    source: str, layer: str | int | None, skip: int, size: int, fmt: str
) -> tuple[npt.NDArray[np.object_], list[dict[str, Any]]] | None:
    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(
            source, layer=layer, skip_features=skip, max_features=size
        )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        msg = f"cannot read the {fmt}: {str(exc)[:200]}"
        raise UnsupportedFileError(msg, field="file") from exc
    if wkb is None or len(wkb) == 0:
        return None
    names = list(meta["fields"])
    columns = [list(col) for col in field_data]
    if not names:
        return _geoms(wkb), [{} for _ in wkb]
    props = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    return _geoms(wkb), props


def _geoms(wkb: Any) -> npt.NDArray[np.object_]:
    return np.array([None if w is None else _from_wkb(w) for w in wkb], dtype=object)


def _from_wkb(data: bytes) -> shapely.Geometry | None:
    try:
        return shapely.from_wkb(data)
    except shapely.errors.GEOSException:
        return None


def dumps_report(summary: ImportSummary) -> str:
    """The summary as JSON text (for the CLI's ``--json``)."""
    return json.dumps(summary.to_json(), ensure_ascii=False)
