"""GCJ-02 conversion against the published eviltransform test vectors."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from geofence import gcj02_to_wgs84, wgs84_to_gcj02
from geofence.gcj02 import gcj02_to_wgs84_array, out_of_china, wgs84_to_gcj02_array

GEOD = Geod(ellps="WGS84")

# (wgs lat, wgs lng, gcj lat, gcj lng): googollee/eviltransform python/test.py
VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("w_lat", "w_lon", "g_lat", "g_lon"), VECTORS)
def test_forward_matches_published_vectors(
    w_lat: float, w_lon: float, g_lat: float, g_lon: float
) -> None:
    lon, lat = wgs84_to_gcj02(w_lon, w_lat)
    assert lon == pytest.approx(g_lon, abs=1e-9)
    assert lat == pytest.approx(g_lat, abs=1e-9)


@pytest.mark.parametrize(("w_lat", "w_lon", "g_lat", "g_lon"), VECTORS)
def test_inverse_is_exact_to_a_millimetre(
    w_lat: float, w_lon: float, g_lat: float, g_lon: float
) -> None:
    lon, lat = gcj02_to_wgs84(g_lon, g_lat)
    assert GEOD.inv(lon, lat, w_lon, w_lat)[2] < 0.001
    # the offset itself is hundreds of metres, as the datum is meant to be
    assert 100 < GEOD.inv(g_lon, g_lat, w_lon, w_lat)[2] < 700


def test_tiananmen_round_trip_and_arrays() -> None:
    lon, lat = 116.397428, 39.90923  # the usual AMap demo centre
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert back == pytest.approx((lon, lat), abs=1e-9)
    lons = np.array([v[1] for v in VECTORS])
    lats = np.array([v[0] for v in VECTORS])
    g_lon, g_lat = wgs84_to_gcj02_array(lons, lats)
    assert g_lon == pytest.approx([v[3] for v in VECTORS], abs=1e-9)
    assert g_lat == pytest.approx([v[2] for v in VECTORS], abs=1e-9)
    w_lon, w_lat = gcj02_to_wgs84_array(g_lon, g_lat)
    assert w_lon == pytest.approx(lons, abs=1e-9) and w_lat == pytest.approx(lats, abs=1e-9)


def test_outside_china_is_not_offset() -> None:
    assert out_of_china(2.35, 48.85)
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)
