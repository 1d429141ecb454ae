"""Coordinate reference systems: parsing, detection, transforms, local metric projections.

Stored geometries are EPSG:4326. Official survey data arrive in CGCS2000 (EPSG:4490) or one of
its Gauss-Krüger projections (3° zones EPSG:4513-4533 and 6° zones EPSG:4491-4501 with the
zone number as the false-easting prefix; 4534-4554 and 4502-4512 without it). ``gcj02``
(AutoNavi/Amap, Tencent, Aliyun DataV) and ``bd09`` (Baidu) are accepted as pseudo-CRSs for
data digitised on Chinese web maps.

:func:`offset_hint` tells when data that claim WGS84/CGCS2000 sit where GCJ-02 or BD-09 data
would: their extent, shifted back, matches a reference extent (the county, a known layer)
much better than as it is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geofence.errors import UnknownCrsError
from geofence.gcj02 import bd09_to_wgs84_array, gcj02_to_wgs84_array

__all__ = [
    "ACCEPTED_CRS",
    "BD09",
    "GCJ02",
    "WGS84",
    "SourceCrs",
    "detect_crs",
    "gauss_kruger_epsg",
    "local_projection",
    "offset_hint",
    "parse_crs",
    "to_wgs84",
]

WGS84 = "EPSG:4326"
GCJ02 = "gcj02"
BD09 = "bd09"
#: What ``crs`` accepts, as told to a user who gave something else.
ACCEPTED_CRS = (
    "EPSG:4326 (wgs84)",
    "EPSG:4490 (cgcs2000)",
    "EPSG:4491-4554 (CGCS2000 高斯-克吕格投影)",
    "其他 EPSG 编号或 WKT",
    "gcj02 (高德、腾讯、DataV)",
    "bd09 (百度)",
)
_OFFSETS = {GCJ02: GCJ02, "gcj-02": GCJ02, "gcj_02": GCJ02, BD09: BD09, "bd-09": BD09,
            "bd_09": BD09, "baidu": BD09}  # fmt: skip
FloatArray = npt.NDArray[np.float64]

_ALIASES = {
    "wgs84": "EPSG:4326",
    "wgs-84": "EPSG:4326",
    "epsg:4326": "EPSG:4326",
    "cgcs2000": "EPSG:4490",
    "crs84": "OGC:CRS84",
}


@dataclass(frozen=True, slots=True)
class SourceCrs:
    """A parsed source CRS: a pyproj CRS, or GCJ-02 / BD-09 (``crs is None``, ``name``
    says which)."""

    name: str
    crs: CRS | None

    @property
    def is_gcj02(self) -> bool:
        return self.name == GCJ02

    @property
    def is_offset(self) -> bool:
        """GCJ-02 or BD-09: a web-map offset of WGS84 rather than a pyproj CRS."""
        return self.crs is None

    @property
    def is_geographic(self) -> bool:
        return self.crs is None or bool(self.crs.is_geographic)


def parse_crs(value: str | int, *, field: str = "crs") -> SourceCrs:
    """Parse ``EPSG:NNNN``, a bare EPSG number, ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``
    or WKT.

    Raises :class:`UnknownCrsError` naming ``field`` (its ``accepted`` lists
    :data:`ACCEPTED_CRS`) when pyproj does not know it, or when it cannot be transformed to
    WGS84 (e.g. an engineering CRS).
    """
    text = str(value).strip()
    key = text.lower()
    if key in _OFFSETS:
        return SourceCrs(_OFFSETS[key], None)
    if key.isdigit():
        text = f"EPSG:{text}"
    text = _ALIASES.get(key, text)
    accepted = "、".join(ACCEPTED_CRS)
    try:
        crs = CRS.from_user_input(text)
    except CRSError as exc:
        msg = f"无法识别的坐标系 {str(value)[:80]!r}；可用：{accepted}"
        raise UnknownCrsError(
            msg, field=field, value=str(value)[:80], accepted=list(ACCEPTED_CRS)
        ) from exc
    if not (crs.is_geographic or crs.is_projected):
        msg = f"坐标系 {crs.name!r} 既非地理坐标系也非投影坐标系；可用：{accepted}"
        raise UnknownCrsError(msg, field=field, value=str(value)[:80], accepted=list(ACCEPTED_CRS))
    epsg = crs.to_epsg(min_confidence=90)
    return SourceCrs(f"EPSG:{epsg}" if epsg else crs.name, crs)


def gauss_kruger_epsg(easting: float) -> int | None:
    """The CGCS2000 Gauss-Krüger EPSG code for an easting that carries its zone prefix.

    3° zones 25-45 are EPSG:4513-4533, 6° zones 13-23 are EPSG:4491-4501. Returns ``None``
    when the easting has no zone prefix.
    """
    zone = int(easting // 1_000_000)
    if 25 <= zone <= 45:
        return 4513 + zone - 25
    if 13 <= zone <= 23:
        return 4491 + zone - 13
    return None


def detect_crs(bounds: tuple[float, float, float, float], *, field: str = "crs") -> SourceCrs:
    """Guess the CRS of data that declare none, from their bounds ``(minx, miny, maxx, maxy)``.

    Degrees are taken as CGCS2000 (within centimetres of WGS84); eastings with a Gauss-Krüger
    zone prefix give their zone. Anything else needs an explicit ``crs``.
    """
    minx, miny, maxx, maxy = bounds
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return parse_crs("EPSG:4490", field=field)
    if 0 <= miny <= maxy <= 10_000_000:
        zone_lo, zone_hi = gauss_kruger_epsg(minx), gauss_kruger_epsg(maxx)
        if zone_lo is not None and zone_lo == zone_hi:
            return parse_crs(zone_lo, field=field)
    msg = "the data declare no coordinate system and it cannot be told from the coordinates"
    raise UnknownCrsError(msg, field=field, bounds=list(bounds))


_HINT_MIN_GAIN_M = 150.0  # the shift must bring the extents this much closer ...
_HINT_MAX_RATIO = 0.5  # ... and at least halve their mismatch
_HINT_EXTENT_RATIO = 3.0  # only extents of comparable size are compared
_M_PER_DEG = 111_320.0

Bounds = tuple[float, float, float, float]


def _mismatch_m(a: Bounds, b: Bounds) -> float:
    """The largest distance between corresponding edges of two extents, in metres."""
    scale_x = _M_PER_DEG * math.cos(math.radians((a[1] + a[3]) / 2))
    dx = max(abs(a[0] - b[0]), abs(a[2] - b[2])) * scale_x
    dy = max(abs(a[1] - b[1]), abs(a[3] - b[3])) * _M_PER_DEG
    return max(dx, dy)


def _shifted_back(bounds: Bounds, name: str) -> Bounds:
    back = bd09_to_wgs84_array if name == BD09 else gcj02_to_wgs84_array
    lon, lat = back(np.array([bounds[0], bounds[2]]), np.array([bounds[1], bounds[3]]))
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def _comparable(a: Bounds, b: Bounds) -> bool:
    def size(x: Bounds) -> float:
        return max(x[2] - x[0], 1e-9) * max(x[3] - x[1], 1e-9)

    ratio = size(a) / size(b)
    return 1 / _HINT_EXTENT_RATIO <= ratio <= _HINT_EXTENT_RATIO


def offset_hint(bounds: Bounds, references: list[Bounds]) -> tuple[str, float, float] | None:
    """Do lon/lat ``bounds`` look like GCJ-02 or BD-09 data read as WGS84?

    Each reference extent of comparable size (the county boundary, the current version of the
    layer) is compared with the data's extent as it is and shifted back from GCJ-02 and
    BD-09. Returns ``(crs, mismatch as is, mismatch shifted back)`` in metres for the best
    shift when it brings the extents at least 150 m closer and halves their mismatch, else
    ``None``.
    """
    best: tuple[str, float, float] | None = None
    for ref in references:
        if not _comparable(bounds, ref):
            continue
        as_is = _mismatch_m(bounds, ref)
        for name in (GCJ02, BD09):
            shifted = _mismatch_m(_shifted_back(bounds, name), ref)
            good = as_is - shifted >= _HINT_MIN_GAIN_M and shifted <= _HINT_MAX_RATIO * as_is
            if good and (best is None or shifted < best[2]):
                best = (name, as_is, shifted)
    return best


@functools.lru_cache(maxsize=64)
def _transformer(src: CRS, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def _apply(
    geoms: npt.NDArray[np.object_], fn: Callable[[FloatArray], FloatArray]
) -> npt.NDArray[np.object_]:
    result: npt.NDArray[np.object_] = shapely.transform(geoms, fn)
    return result


def to_wgs84(geoms: npt.NDArray[np.object_], source: SourceCrs) -> npt.NDArray[np.object_]:
    """Transform an array of Shapely geometries from ``source`` to EPSG:4326 (lon, lat)."""
    if source.crs is None:
        back = bd09_to_wgs84_array if source.name == BD09 else gcj02_to_wgs84_array

        def unshift(coords: FloatArray) -> FloatArray:
            lon, lat = back(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        return _apply(geoms, unshift)
    if source.crs.equals(CRS.from_epsg(4326)) or source.name == "OGC:CRS84":
        return geoms
    transformer = _transformer(source.crs, WGS84)

    def project(coords: FloatArray) -> FloatArray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return _apply(geoms, project)


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """A transverse Mercator on WGS84 centred on a county, for metric work in process.

    Its scale factor is 1 on the central meridian and grows as ``1 + x²/2R²`` away from it
    (3e-5 at 50 km); :meth:`scale_at` gives it so distances can be corrected to the ellipsoid.
    """

    lon0: float
    lat0: float
    forward: Transformer
    inverse: Transformer
    radius_m: float

    def project(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        x, y = self.forward.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def project_geoms(self, geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
        def fn(coords: FloatArray) -> FloatArray:
            x, y = self.forward.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        return _apply(geoms, fn)

    def unproject_geoms(self, geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
        def fn(coords: FloatArray) -> FloatArray:
            x, y = self.inverse.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        return _apply(geoms, fn)

    def scale_at(self, x: FloatArray) -> FloatArray:
        """Point scale factor at projected easting ``x`` (metres from the central meridian)."""
        ratio = x / self.radius_m
        result: FloatArray = 1.0 + ratio * ratio / 2.0 + ratio**4 / 24.0
        return result

    def project_one(self, lon: float, lat: float) -> tuple[float, float, float]:
        """:meth:`project` and :meth:`scale_at` of one position, in plain floats (the same
        numbers to the last bit: one PROJ call, the same arithmetic): ``x, y, scale``."""
        x, y = self.forward.transform(lon, lat)
        ratio = x / self.radius_m
        return x, y, 1.0 + ratio * ratio / 2.0 + ratio**4 / 24.0


@functools.lru_cache(maxsize=256)
def local_projection(lon0: float, lat0: float) -> LocalProjection:
    """The local transverse Mercator centred on ``(lon0, lat0)`` (rounded to 0.01°)."""
    lon0, lat0 = round(lon0, 2), round(lat0, 2)
    proj = f"+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m"
    local = CRS.from_proj4(proj)
    # Gaussian mean radius of the ellipsoid at the centre latitude: sqrt(M * N).
    a, e2 = 6378137.0, 0.00669437999014
    s = math.sin(math.radians(lat0)) ** 2
    radius = a * math.sqrt(1 - e2) / (1 - e2 * s)
    return LocalProjection(
        lon0=lon0,
        lat0=lat0,
        forward=Transformer.from_crs(WGS84, local, always_xy=True),
        inverse=Transformer.from_crs(local, WGS84, always_xy=True),
        radius_m=radius,
    )
