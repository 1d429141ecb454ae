"""Tunable numbers of field work, as one typed value passed to the services."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from infra.scope import COUNTY_TIMEZONE

__all__ = ["PatrolConfig"]


@dataclass(frozen=True, slots=True)
class PatrolConfig:
    """Defaults follow the national rules of field patrols; a county may run with other values.

    ``timezone`` decides local days, weeks (Monday first), months and night.
    Track filtering (see :func:`patrol.tracks.filter_track`): a step between two good fixes
    counts when it is at least ``min_step_m`` and longer than the sum of the two fixes'
    reported accuracies (shorter is GPS noise while standing). ``min_moving_speed_mps`` is
    the slowest walk: a counted step adds at most the time it would take at that speed to
    the moving time, so the time spent standing before it does not count as moving.
    ``sign_in_far_m``: a GPS sign-in whose nearest active target of the patrol's area is
    farther than this (in metres, to the centimetre) is flagged ``far_from_targets``.
    """

    timezone: str = COUNTY_TIMEZONE
    night_start_hour: int = 19
    night_end_hour: int = 6
    # track filtering
    max_accuracy_m: float = 50.0
    max_speed_mps: float = 40.0
    min_step_m: float = 5.0
    min_moving_speed_mps: float = 0.4
    reanchor_after: int = 3
    gap_limit_s: float = 600.0
    future_tolerance_s: float = 300.0
    max_points_per_batch: int = 20_000
    county_margin_deg: float = 0.5
    # sessions
    auto_close_idle_s: float = 6 * 3600.0
    min_counted_s: float = 600.0
    default_visit_radius_m: float = 100.0
    # a GPS sign-in farther than this from every active target of its area is flagged
    sign_in_far_m: float = 1000.0
    # default frequency rule when a county has none (≥4 a month, ≥1 a week)
    default_min_per_month: int = 4
    default_min_per_week: int = 1

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
