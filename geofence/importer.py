"""Import a reference layer from GeoJSON, a zipped Shapefile, a GeoPackage or a zipped File
Geodatabase (pyogrio; GDAL's OpenFileGDB driver for the last).

Every import makes a new layer version, except a dry run, which reads, checks and reports
the same counts and rejections and stores nothing. The file is read in batches (bounded
memory), its CRS is taken from ``crs=`` (override), else from the file, else guessed from the
coordinates (degrees → CGCS2000, zone-prefixed eastings → that Gauss-Krüger zone). Geometries
are transformed to EPSG:4326, repaired where possible (each repair reported) and rejected with
their feature number and reason otherwise; nothing is dropped silently.

A Shapefile's attribute text is decoded with ``encoding=``, else the ``.cpg`` file, else the
DBF header's language driver, else whatever its bytes are (UTF-8 when valid, else GB18030);
see :mod:`geofence.dbf`. Lon/lat data whose extent matches the county's (or the current
layer's) much better once shifted back from GCJ-02 or BD-09 get a warning naming the ``crs``
to use (:func:`geofence.crs.offset_hint`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio
import pyogrio.errors
import shapely
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from geofence import dbf
from geofence.crs import SourceCrs, detect_crs, local_projection, offset_hint, parse_crs, to_wgs84
from geofence.enums import ClosureMethod, LandClass, LayerKind, MineStatus, SiteKind, ZoneKind
from geofence.errors import (
    CountyNotFoundError,
    InvalidFieldMapError,
    InvalidGeometryError,
    NoFeaturesError,
    UnknownEncodingError,
    UnknownSourceLayerError,
    UnsupportedFileError,
)
from geofence.geometry import repair_polygonal
from geofence.layers import LAYER_TABLES, current_features_sql, new_layer_version, parse_kinds
from geofence.mines import write_sites
from geofence.models import LayerVersion
from geofence.store import insert_features
from infra.messages import Lang, render
from infra.scope import Principal, Role, require_role

__all__ = [
    "FIELD_DEFAULTS",
    "FIELD_PRESETS",
    "ISSUE_CODES",
    "FeatureIssue",
    "FieldPreset",
    "ImportProgress",
    "ImportSummary",
    "ImportWarning",
    "classify_land",
    "import_layer",
    "import_layer_upload",
    "parse_field_map",
]

log = structlog.get_logger(__name__)

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
        # the township's code (行政区代码 XZQDM, 乡镇代码): kept in the feature's attributes
        "township_code": ("township_code", "xzqdm", "乡镇代码", "xzdm"),
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
class FieldPreset:
    """A named field map for a known delivery: the layer kind it fills, the source layer to
    pick in a multi-layer file, the field map, and the fields the delivery always has."""

    kind: LayerKind
    layer: str
    field_map: Mapping[str, str]
    required: tuple[str, ...]


#: ``preset=`` values. ``land_survey``: the 地类图斑 layer ``DLTB`` of a land-survey
#: (国土调查) delivery, with its land code ``DLBM``, name ``DLMC`` and area ``TBMJ`` (m²; kept in
#: the feature's attributes beside the computed area).
FIELD_PRESETS: dict[str, FieldPreset] = {
    "land_survey": FieldPreset(
        kind=LayerKind.PARCELS,
        layer="DLTB",
        field_map={"source_code": "DLBM", "source_name": "DLMC"},
        required=("DLBM", "DLMC", "TBMJ"),
    ),
}


@dataclass(frozen=True, slots=True)
class FeatureIssue:
    """A repair or a rejection: 1-based feature number in the file, the reason (English),
    and its stable ``code`` (one of :data:`ISSUE_CODES`) with the facts the catalogue's text
    names (``infra.messages``), so it is shown in the reader's language."""

    feature_no: int
    reason: str
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"feature": self.feature_no, "reason": self.reason}
        if self.code:
            out |= {"code": self.code, "params": self.params}
        return out

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> FeatureIssue:
        params = item.get("params")
        return cls(
            int(item["feature"]),
            str(item["reason"]),
            str(item.get("code") or ""),
            dict(params) if isinstance(params, Mapping) else {},
        )

    def text(self, lang: Lang) -> str:
        """The reason in ``lang``."""
        return render(self.code, lang, self.params, self.reason) if self.code else self.reason


#: The codes of feature repairs and rejections.
ISSUE_CODES = (
    "geometry_rejected",
    "feature_outside_county",
    "invalid_attributes",
    "degenerate_polygon",
    "dropped_z",
    "geometry_repaired",
)


@dataclass(frozen=True, slots=True)
class ImportWarning:
    """Something about the file worth a look that did not stop the import: a stable
    ``code``, a message, and the ``crs`` to try when the coordinates look offset."""

    code: str
    detail: str
    suggested_crs: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "suggested_crs": self.suggested_crs}

    def text(self, lang: Lang) -> str:
        """The message in ``lang``."""
        return render(self.code, lang, {"suggested_crs": self.suggested_crs}, self.detail)


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
    """The outcome; a dry run has no ``layer_version_id`` and ``version_no`` 0, and its
    ``stored`` counts the features an import would store."""

    layer_version_id: uuid.UUID | None
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
    dry_run: bool = False
    encoding: str | None = None
    source_layer: str | None = None
    warnings: tuple[ImportWarning, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        version = self.layer_version_id
        return {
            "layer_version_id": None if version is None else str(version),
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
            "dry_run": self.dry_run,
            "encoding": self.encoding,
            "source_layer": self.source_layer,
            "warnings": [w.to_json() for w in self.warnings],
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
_SNIFF_FEATURES = 2000  # features whose text decides a Shapefile's encoding
_READ_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, UnicodeDecodeError)


@dataclass(frozen=True, slots=True)
class _Source:
    """A file as GDAL opens it; for a Shapefile, its ``.cpg`` text and DBF header."""

    path: str
    fmt: str
    cpg: str | None = None
    dbf_header: bytes = b""


def _zip_source(path: Path) -> _Source:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            shps = [n for n in names if n.lower().endswith(".shp")]
            folders = (n[: n.lower().index(".gdb/") + 4] for n in names if ".gdb/" in n.lower())
            gdbs = sorted(set(folders))
            if len(gdbs) == 1 and not shps:
                return _Source(f"/vsizip/{path}/{gdbs[0]}", "filegdb")
            if len(shps) != 1:
                msg = (
                    "a zip must hold exactly one .shp (a Shapefile) or one .gdb folder "
                    f"(a File Geodatabase), found {len(shps)} .shp and {len(gdbs)} .gdb"
                )
                raise UnsupportedFileError(msg, field="file")
            stem = shps[0][:-4].lower()
            side = {n.lower(): n for n in names}
            cpg = side.get(f"{stem}.cpg")
            dbf_name = side.get(f"{stem}.dbf")
            cpg_text = zf.read(cpg).decode("ascii", "replace") if cpg else None
            header = b""
            if dbf_name:
                with zf.open(dbf_name) as fh:
                    header = fh.read(32)
    except zipfile.BadZipFile as exc:
        raise UnsupportedFileError("damaged zip archive", field="file") from exc
    return _Source(f"/vsizip/{path}/{shps[0]}", "shapefile", cpg_text, header)


def _open_source(path: Path) -> _Source:
    """The file as GDAL opens it, after checking the bytes really are what it claims."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise UnsupportedFileError(f"cannot read file: {exc.strerror}", field="file") from exc
    if head.startswith(b"PK\x03\x04"):
        return _zip_source(path)
    if head.startswith(b"SQLite format 3\x00") and head[68:72] in (b"GPKG", b"GP10", b"GP11"):
        return _Source(str(path), "geopackage")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped and len(head) < _HEAD_BYTES:
        raise NoFeaturesError(_NO_FEATURES, field="file")
    if stripped.startswith(b"{") and b'"type"' in head:
        return _Source(str(path), "geojson")
    msg = "not a GeoJSON file, a zipped Shapefile, a GeoPackage or a zipped File Geodatabase"
    raise UnsupportedFileError(msg, field="file")


def _read_info(
    source: str, fmt: str, layer: str | None, options: Mapping[str, str]
) -> dict[str, Any]:
    try:
        info: dict[str, Any] = pyogrio.read_info(
            source, layer=layer, force_total_bounds=True, **options
        )
    except _READ_ERRORS as exc:
        msg = f"cannot read the {fmt}: {str(exc)[:200]}"
        raise UnsupportedFileError(msg, field="file") from exc
    return info


def _choose_layer(
    source: _Source, kind: LayerKind, layer: str | int | None, preset: FieldPreset | None
) -> str | None:
    """The layer to read from a GeoPackage or File Geodatabase: the one named, else the
    preset's (or, for its kind, a land-survey delivery's ``DLTB``), else the only one (a
    GeoPackage: the first, as before)."""
    if source.fmt not in ("geopackage", "filegdb"):
        return None
    try:
        names = [str(n) for n in pyogrio.list_layers(source.path)[:, 0]]
    except _READ_ERRORS as exc:
        msg = f"cannot read the {source.fmt}: {str(exc)[:200]}"
        raise UnsupportedFileError(msg, field="file") from exc
    by_lower = {n.lower(): n for n in names}
    listed = "、".join(names[:50])
    if layer is not None and str(layer).strip():
        wanted = str(layer).strip()
        if wanted.isdigit() and wanted.lower() not in by_lower and int(wanted) < len(names):
            return names[int(wanted)]
        if wanted.lower() in by_lower:
            return by_lower[wanted.lower()]
        msg = f"文件中没有图层 {wanted[:60]!r}；可选图层：{listed}"
        raise UnknownSourceLayerError(msg, field="layer", layers=names[:50])
    hints = [preset] if preset else [p for p in FIELD_PRESETS.values() if p.kind is kind]
    for hint in hints:
        if hint.layer.lower() in by_lower:
            return by_lower[hint.layer.lower()]
    if len(names) == 1 or (names and source.fmt == "geopackage"):
        return names[0]
    if not names:
        raise NoFeaturesError(_NO_FEATURES, field="file")
    msg = f"文件有 {len(names)} 个图层，请用 layer 指定要导入的一个：{listed}"
    raise UnknownSourceLayerError(msg, field="layer", layers=names[:50])


def _text_encoding(source: _Source, layer: str | None, explicit: str | None) -> str | None:
    """The encoding of a Shapefile's attribute text (``None`` for formats that are UTF-8)."""
    chosen = _check_encoding(explicit) if explicit else None
    if source.fmt != "shapefile":
        return None
    if chosen is None and source.cpg is not None:
        chosen = dbf.encoding_from_cpg(source.cpg)
    if chosen is None:
        chosen = dbf.encoding_from_ldid(source.dbf_header)
    if chosen is None:
        try:
            meta, _f, _g, columns = pyogrio.raw.read(
                source.path, layer=layer, max_features=_SNIFF_FEATURES, read_geometry=False,
                ENCODING=dbf.RAW_BYTES,
            )  # fmt: skip
        except _READ_ERRORS as exc:
            msg = f"cannot read the shapefile: {str(exc)[:200]}"
            raise UnsupportedFileError(msg, field="file") from exc
        samples = [str(n).encode("latin-1") for n in meta["fields"]]
        for column in columns:
            samples.extend(v.encode("latin-1") for v in column if isinstance(v, str))
        chosen = dbf.detect_encoding(samples)
    return chosen


def _check_encoding(name: str) -> str:
    codec = dbf.normalise_encoding(name)
    if codec is None:
        msg = f"无法识别的字符编码 {name[:40]!r}；常用：utf-8、gbk、gb18030"
        raise UnknownEncodingError(msg, field="encoding", value=name[:40])
    return codec


def _decoded_names(raw: list[str], encoding: str | None) -> list[str]:
    """Field names decoded (a name cut mid-character keeps its valid prefix), made unique."""
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(raw):
        text = (dbf.recover(name, encoding) if encoding else name).strip() or f"field_{i + 1}"
        unique, n = text, 1
        while unique.lower() in seen:
            n += 1
            unique = f"{text}_{n}"
        seen.add(unique.lower())
        out.append(unique)
    return out


def _preset(name: str | None, kind: LayerKind) -> FieldPreset | None:
    if not name:
        return None
    preset = FIELD_PRESETS.get(name.strip().lower().replace("-", "_"))
    if preset is None:
        msg = f"没有字段映射预设 {name[:40]!r}；可用：{'、'.join(FIELD_PRESETS)}"
        raise InvalidFieldMapError(msg, field="preset")
    if preset.kind is not kind:
        msg = f"预设 {name!r} 用于 {preset.kind.value} 图层，不能用于 {kind.value}"
        raise InvalidFieldMapError(msg, field="preset")
    return preset


def _resolve_fields(
    kind: LayerKind,
    available: list[str],
    field_map: Mapping[str, str] | None,
    preset: FieldPreset | None = None,
) -> dict[str, str]:
    defaults = FIELD_DEFAULTS[kind]
    lower = {name.lower(): name for name in available}
    if preset is not None:
        missing = [f for f in preset.required if f.lower() not in lower]
        if missing:
            msg = f"预设要求的字段缺失：{'、'.join(missing)}（文件字段：{'、'.join(available)}）"
            raise InvalidFieldMapError(msg, field="preset", missing=missing)
        field_map = {**preset.field_map, **(field_map or {})}
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

    def reject(self, number: int, reason: str, code: str, **params: Any) -> None:
        self.rejections.append(FeatureIssue(number, reason, code, params))


def _repair(number: int, what: str) -> FeatureIssue:
    """A repair of :func:`~geofence.geometry.repair_polygonal`, with its code."""
    if what == "dropped Z coordinates":
        return FeatureIssue(number, what, "dropped_z")
    return FeatureIssue(number, what, "geometry_repaired", {"why": what.removeprefix("repaired: ")})


def _prepare_geometry(
    run: _Run, number: int, geom: shapely.Geometry | None, *, had_z: bool = False
) -> shapely.Geometry | None:
    """A storable geometry, or ``None`` after recording the rejection.

    ``had_z``: the feature as read carried Z coordinates (reprojection keeps only X and Y),
    reported as the ``dropped_z`` repair.
    """
    point_ok = run.kind is LayerKind.MINE_SITES and isinstance(geom, shapely.Point)
    try:
        if point_ok and geom is not None:
            if geom.is_empty or not np.isfinite(shapely.get_coordinates(geom)).all():
                raise InvalidGeometryError("empty point", field="geometry", reason="empty")
            out: shapely.Geometry = shapely.force_2d(geom)
            repairs = ["dropped Z coordinates"] if had_z or shapely.has_z(geom) else []
        else:
            outcome = repair_polygonal(geom)
            repairs = list(outcome.repairs)
            if had_z and "dropped Z coordinates" not in repairs:
                repairs.insert(0, "dropped Z coordinates")
            out = outcome.geom
    except InvalidGeometryError as exc:
        why = str(exc.extra.get("reason") or "invalid")
        run.reject(number, exc.detail, "geometry_rejected", why=why)
        return None
    run.repairs.extend(_repair(number, what) for what in repairs)
    if not run.county_box.intersects(out):
        msg = "lies outside the county (wrong coordinate system?)"
        run.reject(number, msg, "feature_outside_county")
        return None
    return out


def _batch_rows(
    run: _Run,
    start: int,
    geoms: npt.NDArray[np.object_],
    props: list[dict[str, Any]],
    had_z: npt.NDArray[np.bool_] | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    extract = _EXTRACT[run.kind]
    kept: list[shapely.Geometry] = []
    for i, (geom, attrs) in enumerate(zip(geoms, props, strict=True)):
        number = start + i + 1
        try:
            values = extract(attrs, run.fields)
        except ValueError as exc:
            run.reject(number, f"attributes: {exc}", "invalid_attributes", problem=str(exc))
            continue
        good = _prepare_geometry(run, number, geom, had_z=bool(had_z is not None and had_z[i]))
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
            run.reject(
                row["feature_no"], msg, "degenerate_polygon",
                area_m2=f"{area:.3g}", width_m=f"{width:.3g}",
            )  # fmt: skip
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
    layer: str | None
    encoding: str | None
    names: list[str]
    bounds: tuple[float, float, float, float]

    @property
    def options(self) -> dict[str, str]:
        """GDAL open options: a Shapefile's bytes come through as they are (decoded here)."""
        return {"ENCODING": dbf.RAW_BYTES} if self.encoding else {}


def _inspect(
    path: Path,
    kind: LayerKind,
    crs: str | None,
    field_map: Mapping[str, str] | None,
    layer: str | int | None,
    *,
    encoding: str | None = None,
    preset: str | None = None,
) -> _Inspected:
    """The file's GDAL path, format, CRS, declared feature count and the fields to use."""
    chosen_preset = _preset(preset, kind)
    found = _open_source(path)
    source_crs = parse_crs(crs) if crs else None
    source_layer = _choose_layer(found, kind, layer, chosen_preset)
    text = _text_encoding(found, source_layer, encoding)
    options = {"ENCODING": dbf.RAW_BYTES} if text else {}
    info = _read_info(found.path, found.fmt, source_layer, options)
    if int(info.get("features", -1)) == 0 or info.get("total_bounds") is None:
        raise NoFeaturesError(_NO_FEATURES, field="file")  # nothing to read, no bounds to go by
    bounds = tuple(float(v) for v in info.get("total_bounds", (np.nan,) * 4))
    if source_crs is None:
        declared = info.get("crs")
        source_crs = parse_crs(declared) if declared else detect_crs(bounds)  # type: ignore[arg-type]
    total = int(info.get("features", -1))
    names = _decoded_names([str(n) for n in info["fields"]], text)
    fields = _resolve_fields(kind, names, field_map, chosen_preset)
    return _Inspected(
        found.path, found.fmt, source_crs, total, fields, source_layer, text, names,
        bounds,  # type: ignore[arg-type]
    )  # fmt: skip


def _prepare_batch(
    run: _Run, found: _Inspected, *, size: int
) -> tuple[list[dict[str, Any]], int] | None:
    """Read the next batch after ``run.read`` features and make its rows: ``(rows, read)``.

    Records the batch's repairs and rejections on ``run``; ``None`` when the file is done.
    Blocking work, meant for a worker thread (one batch at a time per run).
    """
    batch = _read_batch(found, run.read, size)
    if batch is None:
        return None
    geoms, props = batch
    had_z = shapely.has_z(geoms)
    rows = _batch_rows(run, run.read, _to_wgs84(geoms, found.crs), props, had_z)
    return rows, len(props)


async def _county_envelope(session: AsyncSession, county_id: uuid.UUID) -> shapely.Geometry:
    wkb = await session.scalar(
        text("SELECT ST_AsBinary(ST_Envelope(boundary)) FROM counties WHERE id = :id"),
        {"id": county_id},
    )
    if wkb is None:
        raise CountyNotFoundError("county not found", id=str(county_id))
    return shapely.from_wkb(bytes(wkb))


_OFFSET_NAMES = {"gcj02": "GCJ-02（高德、腾讯、DataV 等）", "bd09": "BD-09（百度）"}


async def _offset_warnings(
    session: AsyncSession,
    county_id: uuid.UUID,
    kind: LayerKind,
    found: _Inspected,
    county: shapely.Geometry,
) -> list[ImportWarning]:
    """A warning when lon/lat data look like GCJ-02 or BD-09 read as WGS84 (see
    :func:`geofence.crs.offset_hint`): compared with the county and the current layer."""
    if not found.crs.is_geographic or found.crs.is_offset:
        return []
    references = [tuple(float(v) for v in county.bounds)]
    table = LAYER_TABLES[kind]
    condition = current_features_sql(kind, alias="f", county=":county")
    extent = await session.scalar(
        text(f"SELECT ST_AsBinary(ST_Extent(f.geom)::geometry) FROM {table} f WHERE {condition}"),  # noqa: S608
        {"county": county_id},
    )
    if extent is not None:
        references.append(tuple(float(v) for v in shapely.from_wkb(bytes(extent)).bounds))
    hint = offset_hint(found.bounds, references)  # type: ignore[arg-type]
    if hint is None:
        return []
    crs, as_is, shifted = hint
    detail = (
        f"坐标疑似为 {_OFFSET_NAMES[crs]} 坐标而非 WGS84/CGCS2000：数据范围与本县（或现有图层）"
        f"相差约 {as_is:.0f} 米，按 {crs} 纠偏后相差约 {shifted:.0f} 米。"
        f"如确是，请指定 crs={crs} 重新导入"
    )
    return [ImportWarning("crs_offset_suspected", detail, crs)]


async def import_layer(
    session: AsyncSession,
    county_id: uuid.UUID,
    path: Path,
    kind: str,
    *,
    crs: str | None = None,
    field_map: Mapping[str, str] | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    preset: str | None = None,
    dry_run: bool = False,
    created_by: uuid.UUID | None = None,
    source_name: str | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Import ``path`` as a new version of layer ``kind`` for the county.

    ``crs`` overrides the file's CRS (``EPSG:4490``, ``4527``, ``gcj02``, ``bd09``...);
    ``field_map`` maps target attributes (see :data:`FIELD_DEFAULTS`) to the file's field
    names, over a ``preset`` (see :data:`FIELD_PRESETS`); ``layer`` picks a layer of a
    GeoPackage or File Geodatabase; ``encoding`` overrides a Shapefile's text encoding.
    ``dry_run`` reads and checks everything and stores nothing. ``progress`` is called after
    every batch, and once before the first (nothing read yet, the file's declared total).
    Mine-site imports upsert the register by site code. The caller commits.

    Raises :class:`UnsupportedFileError`, :class:`UnknownCrsError`,
    :class:`UnknownEncodingError`, :class:`UnknownSourceLayerError`,
    :class:`InvalidFieldMapError`, :class:`UnknownLayerKindError`, or (not in a dry run)
    :class:`InvalidGeometryError` when no feature at all could be stored.
    """
    layer_kind = parse_kinds([kind], field="kind")[0]
    # Reading and inspecting the file (and every batch below) is CPU and disk work: it runs on
    # a worker thread so the event loop keeps serving requests during a large import.
    found = await asyncio.to_thread(
        _inspect, Path(path), layer_kind, crs, field_map, layer, encoding=encoding, preset=preset
    )
    county = await _county_envelope(session, county_id)
    warnings = await _offset_warnings(session, county_id, layer_kind, found, county)
    for warning in warnings:
        log.info("geofence.import.offset_suspected", county=str(county_id),
                 kind=layer_kind.value, suggested_crs=warning.suggested_crs)  # fmt: skip
    run = _Run(layer_kind, found.fields, county.buffer(_OUTSIDE_MARGIN_DEG))
    fmt, source_crs, total = found.fmt, found.crs, found.total
    version = None
    if layer_kind is not LayerKind.MINE_SITES and not dry_run:
        version = await new_layer_version(
            session, county_id, layer_kind, source_name=source_name or Path(path).name,
            source_format=fmt, source_crs=source_crs.name, created_by=created_by,
        )  # fmt: skip
    report = progress if progress is not None else _unreported
    report(_progress(run, total))  # the declared total, known before the first feature is read
    while True:
        batch = await asyncio.to_thread(_prepare_batch, run, found, size=batch_size)
        if batch is None:
            break
        rows, count = batch
        run.read += count
        if version is not None:
            run.stored += await insert_features(session, layer_kind, county_id, version.id, rows)
        else:  # mine sites are written as a whole at the end; a dry run only counts
            for row in rows:
                row.pop("feature_no"), row.pop("attrs")
            run.sites.extend([] if dry_run else rows)
            run.stored += len(rows)
        report(_progress(run, total))
        if count < batch_size:
            break
    summary = ImportSummary(
        layer_version_id=None, kind=layer_kind, version_no=0, source_format=fmt,
        source_crs=source_crs.name, read=run.read, stored=run.stored,
        repaired=len({i.feature_no for i in run.repairs}), rejected=len(run.rejections),
        repairs=tuple(run.repairs), rejections=tuple(run.rejections), dry_run=dry_run,
        encoding=found.encoding, source_layer=found.layer, warnings=tuple(warnings),
    )  # fmt: skip
    if dry_run:
        return summary
    if run.stored == 0:
        msg = f"no feature could be stored ({run.read} read, {len(run.rejections)} rejected)"
        first = [i.to_json() for i in run.rejections[:20]]
        raise InvalidGeometryError(
            msg, field="file", reason="nothing_stored", rejections=first,
            warnings=[w.to_json() for w in warnings],
        )  # fmt: skip
    if version is None:
        version_id, _ = await write_sites(
            session, county_id, run.sites, source_name=source_name or Path(path).name,
            source_format=fmt, source_crs=source_crs.name, created_by=created_by,
        )  # fmt: skip
        version = await session.get_one(LayerVersion, version_id)
    return await _finish(session, version, run, summary)


def _unreported(_: ImportProgress) -> None:
    """Where the progress of an import nobody follows goes."""


def _progress(run: _Run, total: int) -> ImportProgress:
    repaired = len({i.feature_no for i in run.repairs})
    known = total if total >= 0 else None
    so_far = tuple(run.rejections[:_REPORT_CAP])
    return ImportProgress(run.read, run.stored, repaired, len(run.rejections), known, so_far)


async def import_layer_upload(
    session: AsyncSession,
    principal: Principal,
    path: Path,
    kind: str,
    *,
    source_name: str,
    crs: str | None = None,
    field_map: Mapping[str, str] | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    preset: str | None = None,
    dry_run: bool = False,
) -> ImportSummary:
    """An admin imports (or dry-runs) an uploaded file (already on local disk) into their
    county."""
    require_role(principal, Role.ADMIN, action="import reference layers")
    return await import_layer(
        session, principal.county_id, path, kind, crs=crs, field_map=field_map, layer=layer,
        encoding=encoding, preset=preset, dry_run=dry_run, created_by=principal.user_id,
        source_name=source_name,
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
    session: AsyncSession, version: LayerVersion, run: _Run, summary: ImportSummary
) -> ImportSummary:
    version.read_count = run.read
    version.stored_count = run.stored
    version.repaired_count = summary.repaired
    version.rejected_count = len(run.rejections)
    version.report = {
        "repairs": [i.to_json() for i in run.repairs[:_REPORT_CAP]],
        "rejections": [i.to_json() for i in run.rejections[:_REPORT_CAP]],
        "truncated": len(run.repairs) > _REPORT_CAP or len(run.rejections) > _REPORT_CAP,
        "fields": run.fields,
        "encoding": summary.encoding,
        "source_layer": summary.source_layer,
        "warnings": [w.to_json() for w in summary.warnings],
    }
    await session.flush()
    return replace(summary, layer_version_id=version.id, version_no=version.version_no)


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
    found: _Inspected, skip: int, size: int
) -> tuple[npt.NDArray[np.object_], list[dict[str, Any]]] | None:
    try:
        _meta, _fids, wkb, field_data = pyogrio.raw.read(
            found.source, layer=found.layer, skip_features=skip, max_features=size,
            **found.options,
        )  # fmt: skip
    except _READ_ERRORS as exc:
        msg = f"cannot read the {found.fmt}: {str(exc)[:200]}"
        raise UnsupportedFileError(msg, field="file") from exc
    if wkb is None or len(wkb) == 0:
        return None
    names = found.names
    enc = found.encoding
    columns = [
        [dbf.recover(v, enc) if enc and isinstance(v, str) else v for v in col]
        for col in field_data
    ]
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
