"""Builders for track points used by the field-work tests (times come from tests.clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

from infra.ids import uuid7
from patrol.tracks import PointIn

M_PER_DEG_LAT = 6_371_008.8 * 3.141592653589793 / 180  # 111195.08 m


def walk(
    start: datetime,
    *,
    lon: float = 110.2,
    lat: float = 30.2,
    n: int = 10,
    step_m: float = 15.0,
    every_s: float = 10.0,
    accuracy_m: float = 5.0,
) -> list[PointIn]:
    """``n`` fixes walking due north ``step_m`` metres every ``every_s`` seconds."""
    return [
        PointIn(
            id=uuid7(),
            t=start + timedelta(seconds=i * every_s),
            lon=lon,
            lat=lat + i * step_m / M_PER_DEG_LAT,
            accuracy_m=accuracy_m,
            speed_mps=1.5,
            heading_deg=0.0,
        )
        for i in range(n)
    ]
