"""GCJ-02 (the offset datum of Chinese map SDKs) <-> WGS84, and BD-09 (Baidu) <-> GCJ-02.

The forward transform is the published algorithm (Krasovsky-1940 constants, as in
googollee/eviltransform); the inverse is solved by fixed-point iteration to better than
1e-9 degrees (about 0.1 mm), which the closed-form approximation used by many libraries
(1-2 m error) is not. Points outside the rough mainland box are not offset, like the
reference implementations. Scalar functions take and return ``(lon, lat)``; the ``*_array``
variants work on numpy arrays for whole tracks.

BD-09 is Baidu's further offset of GCJ-02 (the published ``x_pi = pi * 3000 / 180``
rotation and shift); BD-09 -> WGS84 goes through GCJ-02.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_gcj02_array",
    "bd09_to_wgs84_array",
    "gcj02_to_bd09",
    "gcj02_to_bd09_array",
    "gcj02_to_wgs84",
    "gcj02_to_wgs84_array",
    "out_of_china",
    "wgs84_to_gcj02",
    "wgs84_to_gcj02_array",
]

FloatArray = npt.NDArray[np.float64]

_A = 6378245.0
_EE = 0.00669342162296594323
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 30


def out_of_china(lon: float, lat: float) -> bool:
    """True outside the box where the GCJ-02 offset applies (reference heuristic)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    d_lat += (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * math.pi) + 320 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    d_lon += (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * math.pi)
    return d_lon, d_lat


def _inside_mask(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def wgs84_to_gcj02_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vectorised WGS84 -> GCJ-02; points outside China are returned unchanged."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    d_lon, d_lat = _delta_array(lon, lat)
    inside = _inside_mask(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def gcj02_to_wgs84_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vectorised GCJ-02 -> WGS84 (iterative inverse, error below 1e-9 degrees)."""
    g_lon = np.asarray(lon, dtype=np.float64)
    g_lat = np.asarray(lat, dtype=np.float64)
    w_lon = g_lon.copy()
    w_lat = g_lat.copy()
    for _ in range(_MAX_ITERATIONS):
        f_lon, f_lat = wgs84_to_gcj02_array(w_lon, w_lat)
        e_lon = f_lon - g_lon
        e_lat = f_lat - g_lat
        w_lon -= e_lon
        w_lat -= e_lat
        if not len(w_lon) or float(np.max(np.abs(e_lon) + np.abs(e_lat))) < _TOLERANCE_DEG:
            break
    inside = _inside_mask(g_lon, g_lat)
    return np.where(inside, w_lon, g_lon), np.where(inside, w_lat, g_lat)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 -> GCJ-02 for one point, ``(lon, lat)`` in and out."""
    out_lon, out_lat = wgs84_to_gcj02_array(np.array([lon]), np.array([lat]))
    return float(out_lon[0]), float(out_lat[0])


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> WGS84 for one point, ``(lon, lat)`` in and out."""
    out_lon, out_lat = gcj02_to_wgs84_array(np.array([lon]), np.array([lat]))
    return float(out_lon[0]), float(out_lat[0])


_X_PI = math.pi * 3000.0 / 180.0


def bd09_to_gcj02_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vectorised BD-09 -> GCJ-02 (the published inverse; about 1e-6 degrees, 0.1 m)."""
    x = np.asarray(lon, dtype=np.float64) - 0.0065
    y = np.asarray(lat, dtype=np.float64) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vectorised GCJ-02 -> BD-09."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_wgs84_array(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vectorised BD-09 -> GCJ-02 -> WGS84."""
    return gcj02_to_wgs84_array(*bd09_to_gcj02_array(lon, lat))


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 -> GCJ-02 for one point, ``(lon, lat)`` in and out."""
    out_lon, out_lat = bd09_to_gcj02_array(np.array([lon]), np.array([lat]))
    return float(out_lon[0]), float(out_lat[0])


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> BD-09 for one point, ``(lon, lat)`` in and out."""
    out_lon, out_lat = gcj02_to_bd09_array(np.array([lon]), np.array([lat]))
    return float(out_lon[0]), float(out_lat[0])
