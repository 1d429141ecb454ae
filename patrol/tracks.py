"""Track points: batch ingest, jitter filtering, per-patrol summaries, GeoJSON replay.

Ingest is insert-only and idempotent on the phone's point id: a batch is copied into a
temporary table over the driver's binary ``COPY`` and moved with one ``INSERT ... SELECT``
that skips ids already stored (the patrol row is locked meanwhile, so concurrent replays
queue), so replays store nothing twice and never change a stored point. Points may
arrive in any order; each point that cannot be stored is reported with a reason
(``future_time``, ``before_start``, ``after_end``, ``patrol_ended``,
``invalid_coordinates``, ``invalid_accuracy``, ``invalid_time``, ``outside_county``) while
the rest of the batch is stored.

**A closed patrol is closed.** Once its crew has ended a patrol (``EndPatrol``), its track
takes no new points: a point timed after the end is refused as ``after_end`` (no slack: the
end and the points come from the same phone), and a point timed within the patrol that
arrives after the end is refused as ``patrol_ended``. Points already stored stay
duplicates, so replays still answer as before. Figures only ever use the points up to the
end (a point stored while the patrol was open but timed after the end the phone later gave
is kept, shown as ``after_end`` in the replay, and counted nowhere), so an ended patrol's
distance, duration and last fix never change afterwards. A patrol the server closed for
being idle (``auto_closed``) is not closed by its crew: it still takes the phone's points,
and its end moves to its last point until the phone's own end arrives.

Summaries (distance, duration, night flag, visited targets) are computed from the stored
track when a patrol ends (or an auto-closed one takes more points), so coverage reports
read one row per patrol and never scan points.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from infra import error_codes as codes
from infra.db import utcnow
from infra.scope import Principal
from patrol._access import ensure_patrol_reader, ensure_patrol_writer, load_patrol
from patrol.config import PatrolConfig
from patrol.errors import InvalidPatrolInputError
from patrol.field_models import PatrolSession, TargetVisit

__all__ = [
    "AppendResult",
    "PointIn",
    "PointLike",
    "RejectedPoint",
    "TrackPointsInput",
    "TrackService",
    "TrackStats",
    "filter_track",
    "haversine_m",
    "is_closed",
    "refresh_summary",
    "show_current_figures",
]

log = structlog.get_logger(__name__)

EARTH_RADIUS_M = 6_371_008.8
_STAGE = "_patrol_track_in"
# created once per connection, emptied before each use (a request may append twice)
_PREPARE_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS _patrol_track_in (id uuid, t timestamptz, lon float8, "
    "lat float8, accuracy_m real, speed_mps real, heading_deg real) ON COMMIT DELETE ROWS; "
    "DELETE FROM _patrol_track_in"
)
_STAGE_COLUMNS = ("id", "t", "lon", "lat", "accuracy_m", "speed_mps", "heading_deg")
# One statement: keep the points not stored yet, bump the patrol's counters. The patrol row
# is locked first (``FOR UPDATE``), so concurrent replays of a batch run one after the other
# and this anti-join is exact; it is about twice as fast as ``ON CONFLICT DO NOTHING``.
_MOVE_STAGE = """
WITH ins AS (
    INSERT INTO patrol_track_points
        (session_id, id, county_id, t, geom, accuracy_m, speed_mps, heading_deg)
    SELECT $1, s.id, $2, s.t, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326),
           s.accuracy_m, s.speed_mps, s.heading_deg
    FROM _patrol_track_in s
    WHERE NOT EXISTS (
        SELECT 1 FROM patrol_track_points p WHERE p.session_id = $1 AND p.id = s.id
    )
    RETURNING t
),
agg AS (SELECT count(*) AS n, max(t) AS last_t FROM ins)
UPDATE patrol_sessions s
SET point_count = s.point_count + agg.n,
    last_point_at = CASE WHEN agg.n = 0 THEN s.last_point_at
                         ELSE greatest(s.last_point_at, agg.last_t) END,
    summary_stale = s.summary_stale OR agg.n > 0,
    updated_at = now()
FROM agg
WHERE s.id = $1
RETURNING agg.n, s.point_count, s.last_point_at, s.summary_stale
"""
_TRACK_SQL = (
    "SELECT id, t, ST_X(geom) AS lon, ST_Y(geom) AS lat, accuracy_m, speed_mps, heading_deg "
    "FROM patrol_track_points WHERE session_id = $1 ORDER BY t, id"
)
_STORED_SQL = "SELECT id FROM patrol_track_points WHERE session_id = $1 AND id = ANY($2::uuid[])"
_TARGETS_SQL = (
    "SELECT id, ST_X(geom), ST_Y(geom), visit_radius_m FROM patrol_targets "
    "WHERE area_id = $1 AND active"
)
_BBOX_SQL = (
    "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
    "FROM (SELECT boundary::box2d AS b FROM counties WHERE id = $1) q"
)
_BBOX_TTL_S = 300.0
_bbox_cache: dict[uuid.UUID, tuple[float, tuple[float, float, float, float] | None]] = {}


class PointLike(Protocol):
    """What a track point must offer; contract Structs with these fields pass as they are."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def t(self) -> datetime: ...
    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def accuracy_m(self) -> float: ...
    @property
    def speed_mps(self) -> float | None: ...
    @property
    def heading_deg(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class PointIn:
    """A GPS fix from the phone: WGS84, horizontal accuracy in metres, aware time."""

    id: uuid.UUID
    t: datetime
    lon: float
    lat: float
    accuracy_m: float
    speed_mps: float | None = None
    heading_deg: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackPointsInput:
    """A batch of track points of one patrol (:meth:`TrackService.append`); contract
    Structs pass as points as they are (:class:`PointLike`)."""

    patrol_id: uuid.UUID
    points: Sequence[PointLike]


@dataclass(frozen=True, slots=True)
class RejectedPoint:
    id: uuid.UUID
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class AppendResult:
    """``stored`` new points, ``duplicates`` already stored (or repeated in the batch)."""

    patrol_id: uuid.UUID
    received: int
    stored: int
    duplicates: int
    rejected: list[RejectedPoint]
    point_count: int


@dataclass(slots=True)
class TrackStats:
    """The outcome of :func:`filter_track` over a time-ordered track."""

    distance_m: float = 0.0
    moving_s: float = 0.0
    used: int = 0
    poor_accuracy: int = 0
    speed_flagged: int = 0
    first_fix: float | None = None
    last_fix: float | None = None
    statuses: list[str] = field(default_factory=list)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def filter_track(
    ts: Sequence[float],
    lons: Sequence[float],
    lats: Sequence[float],
    accs: Sequence[float],
    config: PatrolConfig,
) -> TrackStats:
    """Distance and moving time of a time-ordered track, with jitter filtering.

    Each point gets a status: ``poor_accuracy`` (accuracy worse than ``max_accuracy_m``:
    ignored), ``speed_flagged`` (reaching it from the last good point needs more than
    ``max_speed_mps``: ignored and counted), ``still`` (within the noise of the last good
    point, the anchor: no distance) or ``used``. After ``reanchor_after`` flagged points in a
    row the track restarts at the last of them (the earlier anchor was the outlier, or the
    phone really jumped); the jump itself adds no distance.

    **A step counts only when it is longer than the noise the two fixes report**: at least
    ``min_step_m`` and more than the sum of the anchor's and the fix's reported accuracy. Two
    fixes of one spot, each within its accuracy of it, can lie as far apart as that sum, so
    standing still with jitter up to the reported accuracy adds no distance, however long.
    The anchor stays where the inspector stopped, and a slow walk still adds up: the anchor
    waits until the walk has left the noise, then the whole way from it counts, so a walk's
    figure is its length less the last stretch shorter than the noise (the fixes' lateral
    scatter lengthens it a little, as any polyline through noisy fixes).

    **Moving time is the time of counted steps, at no less than** ``min_moving_speed_mps``: a
    step counts the time it took, but at most the time it would take at that speed. A step
    is timed from its anchor, so the step that ends a stop spans the stop; capping it at the
    slowest walk leaves the standing time out (about ``noise / min_moving_speed_mps`` of it
    remains), while a walk at or above that speed counts all its time. Steps across a gap
    longer than ``gap_limit_s`` add distance but no moving time.
    """
    stats = TrackStats()
    anchor: int | None = None
    flagged_run = 0
    for i in range(len(ts)):
        if not accs[i] <= config.max_accuracy_m:
            stats.statuses.append("poor_accuracy")
            stats.poor_accuracy += 1
            continue
        if anchor is None:
            anchor = i
            stats.first_fix = ts[i]
            stats.last_fix = ts[i]
            stats.used += 1
            stats.statuses.append("used")
            continue
        dt = ts[i] - ts[anchor]
        step = haversine_m(lons[anchor], lats[anchor], lons[i], lats[i])
        if step > config.max_speed_mps * max(dt, 1.0):
            stats.speed_flagged += 1
            flagged_run += 1
            stats.statuses.append("speed_flagged")
            if flagged_run >= config.reanchor_after:
                anchor, flagged_run = i, 0
            continue
        flagged_run = 0
        stats.last_fix = ts[i]
        stats.used += 1
        if step < config.min_step_m or step <= accs[anchor] + accs[i]:
            stats.statuses.append("still")
            continue
        stats.statuses.append("used")
        stats.distance_m += step
        if dt <= config.gap_limit_s:
            stats.moving_s += min(dt, step / config.min_moving_speed_mps)
        anchor = i
    return stats


def _nearest_visits(
    ts: np.ndarray[Any, Any],
    lons: np.ndarray[Any, Any],
    lats: np.ndarray[Any, Any],
    targets: Iterable[tuple[uuid.UUID, float, float, float]],
) -> list[tuple[uuid.UUID, float, float]]:
    """For each target reached: ``(target id, first time within radius, closest distance)``."""
    out: list[tuple[uuid.UUID, float, float]] = []
    if lons.size == 0:
        return out
    plat, plon = np.radians(lats), np.radians(lons)
    cos_plat = np.cos(plat)
    for target_id, tlon, tlat, radius in targets:
        tl, tn = math.radians(tlat), math.radians(tlon)
        a = np.sin((plat - tl) / 2) ** 2 + cos_plat * math.cos(tl) * np.sin((plon - tn) / 2) ** 2
        dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
        inside = dist <= radius
        if bool(inside.any()):
            first = int(np.argmax(inside))
            out.append((target_id, float(ts[first]), float(dist.min())))
    return out


async def _driver(db: AsyncSession) -> Any:
    """The asyncpg connection under ``db``, inside the request's transaction."""
    conn = await db.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def _is_night(start: datetime, end: datetime, config: PatrolConfig) -> bool:
    mid = (start + (end - start) / 2).astimezone(config.tz)
    hour = mid.hour + mid.minute / 60
    if config.night_start_hour > config.night_end_hour:
        return hour >= config.night_start_hour or hour < config.night_end_hour
    return config.night_start_hour <= hour < config.night_end_hour


def is_closed(patrol: PatrolSession) -> bool:
    """Whether the patrol's crew ended it: its track and figures are final."""
    return patrol.ended_at is not None and patrol.end_reason != "auto_closed"


def _until_end(rows: Sequence[Any], patrol: PatrolSession) -> Sequence[Any]:
    """The time-ordered ``rows`` that count for the patrol: those up to its end."""
    end = patrol.ended_at
    return rows if end is None else [r for r in rows if r["t"] <= end]


async def _track_stats(
    db: AsyncSession, patrol: PatrolSession, config: PatrolConfig
) -> tuple[list[float], list[float], list[float], TrackStats]:
    """The patrol's points up to its end (times, longitudes, latitudes) and their filtering."""
    await db.flush()
    driver = await _driver(db)
    rows = _until_end(await driver.fetch(_TRACK_SQL, patrol.id), patrol)
    ts = [r["t"].timestamp() for r in rows]
    lons = [r["lon"] for r in rows]
    lats = [r["lat"] for r in rows]
    accs = [r["accuracy_m"] for r in rows]
    return ts, lons, lats, filter_track(ts, lons, lats, accs, config)


def _figures(patrol: PatrolSession, stats: TrackStats, config: PatrolConfig) -> dict[str, Any]:
    """The summary columns of a patrol whose points filtered to ``stats``."""
    end = patrol.ended_at or patrol.last_point_at or patrol.started_at
    return {
        "duration_s": max(0.0, (end - patrol.started_at).total_seconds()),
        "is_night": _is_night(patrol.started_at, max(end, patrol.started_at), config),
        "distance_m": round(stats.distance_m, 2),
        "moving_s": stats.moving_s,
        "used_point_count": stats.used,
        "poor_accuracy_count": stats.poor_accuracy,
        "speed_flagged_count": stats.speed_flagged,
        "first_fix_at": _from_epoch(stats.first_fix),
        "last_fix_at": _from_epoch(stats.last_fix),
    }


async def show_current_figures(
    db: AsyncSession, patrol: PatrolSession, config: PatrolConfig
) -> None:
    """Bring a stale patrol's figures up to date on the object only, written nowhere: the
    object then reads as if loaded so (its summary still marked stale), and nothing is
    flushed. Lists, the live board and the track export show patrols in progress this way,
    so a captain sees how far an inspector has walked without locking the patrol against
    the points its phone sends."""
    if not patrol.summary_stale:
        return
    _, _, _, stats = await _track_stats(db, patrol, config)
    for key, value in _figures(patrol, stats, config).items():
        set_committed_value(patrol, key, value)


async def refresh_summary(
    db: AsyncSession, patrol: PatrolSession, config: PatrolConfig
) -> TrackStats:
    """Recompute a patrol's distance, duration, night flag and track visits from its points
    up to its end (points timed after the end count nowhere)."""
    ts, lons, lats, stats = await _track_stats(db, patrol, config)
    for key, value in _figures(patrol, stats, config).items():
        setattr(patrol, key, value)
    patrol.summary_stale = False
    ok = np.array([s in ("used", "still") for s in stats.statuses], dtype=bool)
    driver = await _driver(db)
    targets = [(r[0], r[1], r[2], r[3]) for r in await driver.fetch(_TARGETS_SQL, patrol.area_id)]
    visits = (
        _nearest_visits(np.asarray(ts)[ok], np.asarray(lons)[ok], np.asarray(lats)[ok], targets)
        if targets and ts
        else []
    )
    await db.execute(
        delete(TargetVisit).where(
            TargetVisit.session_id == patrol.id, TargetVisit.source == "track"
        )
    )
    for target_id, first_at, dist in visits:
        db.add(
            TargetVisit(
                county_id=patrol.county_id,
                session_id=patrol.id,
                target_id=target_id,
                source="track",
                first_at=_from_epoch(first_at),
                min_distance_m=round(dist, 2),
            )
        )
    await db.flush()
    return stats


def _from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


async def _county_bbox(
    db: AsyncSession, county_id: uuid.UUID
) -> tuple[float, float, float, float] | None:
    now = time.monotonic()
    hit = _bbox_cache.get(county_id)
    if hit is not None and now - hit[0] < _BBOX_TTL_S:
        return hit[1]
    driver = await _driver(db)
    row = await driver.fetchrow(_BBOX_SQL, county_id)
    bbox = None if row is None or row[0] is None else (row[0], row[1], row[2], row[3])
    _bbox_cache[county_id] = (now, bbox)
    return bbox


_ENDED = ("patrol_ended", "the patrol has ended; its track takes no more points")


@dataclass(slots=True)
class _Checker:
    """Per-point validation for one batch."""

    latest: datetime
    earliest: datetime
    ended: datetime | None
    bbox: tuple[float, float, float, float] | None
    tolerance: timedelta

    def reason(self, p: PointLike) -> tuple[str, str] | None:  # noqa: PLR0911 - one per rule
        lon, lat, acc, t = p.lon, p.lat, p.accuracy_m, p.t
        if not (math.isfinite(lon) and math.isfinite(lat)) or not (
            -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0
        ):
            return "invalid_coordinates", "longitude/latitude missing or out of range"
        if not (math.isfinite(acc) and 0.0 <= acc <= 10_000.0):
            return "invalid_accuracy", "accuracy must be between 0 and 10000 m"
        if t.tzinfo is None or t.utcoffset() is None:
            return "invalid_time", "time must carry a time zone offset"
        if t > self.latest:
            return "future_time", "time is more than 5 minutes in the future"
        if t < self.earliest:
            return "before_start", "time is before the patrol started"
        if self.ended is not None and t > self.ended:
            return "after_end", "time is after the patrol ended"
        if self.bbox is not None:
            x0, y0, x1, y1 = self.bbox
            if not (x0 <= lon <= x1 and y0 <= lat <= y1):
                return "outside_county", "position is far outside the county"
        return None


class TrackService:
    """Track ingest and replay for one request (``db`` is the request's session)."""

    def __init__(
        self,
        db: AsyncSession,
        *,
        config: PatrolConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``clock``: the server's time, which points may run ahead of by at most
        ``future_tolerance_s`` (tests fix it)."""
        self.db = db
        self.config = config or PatrolConfig()
        self.clock = clock

    async def append(self, principal: Principal, batch: TrackPointsInput) -> AppendResult:
        """:meth:`append_track_points` of one :class:`TrackPointsInput` (REST and sync)."""
        return await self.append_track_points(principal, batch.patrol_id, batch.points)

    async def append_track_points(
        self, principal: Principal, patrol_id: uuid.UUID, points: Sequence[PointLike]
    ) -> AppendResult:
        """Store a batch of track points of the caller's patrol (``AppendTrackPoints``).

        Idempotent by point id; points already stored are counted as duplicates and left as
        they are. Out-of-order points are fine. Invalid points are listed in ``rejected`` (in
        the order of ``points``) and the rest is stored. A patrol its crew ended takes no new
        points (``after_end``, ``patrol_ended``: see the module docstring); an auto-closed
        one takes them, ends at its last point and gets its summary refreshed.
        """
        cfg = self.config
        if len(points) > cfg.max_points_per_batch:
            raise InvalidPatrolInputError(
                f"at most {cfg.max_points_per_batch} points per batch",
                code=codes.TOO_MANY_POINTS,
                limit=cfg.max_points_per_batch,
            )
        patrol = await load_patrol(self.db, principal, patrol_id, for_update=True)
        ensure_patrol_writer(principal, patrol)
        tolerance = timedelta(seconds=cfg.future_tolerance_s)
        margin = cfg.county_margin_deg
        bbox = await _county_bbox(self.db, patrol.county_id)
        closed = is_closed(patrol)
        checker = _Checker(
            latest=self.clock() + tolerance,
            earliest=patrol.started_at - tolerance,
            ended=patrol.ended_at if closed else None,
            bbox=None
            if bbox is None
            else (bbox[0] - margin, bbox[1] - margin, bbox[2] + margin, bbox[3] + margin),
            tolerance=tolerance,
        )
        problems = [checker.reason(p) for p in points]
        if closed:  # only replays of stored points pass; every new point is refused
            ids = list({p.id for p, problem in zip(points, problems, strict=True) if not problem})
            known = await self._stored_ids(patrol, ids) if ids else set()
            problems = [
                problem or (None if p.id in known else _ENDED)
                for p, problem in zip(points, problems, strict=True)
            ]
        rejected: list[RejectedPoint] = []
        records: list[tuple[Any, ...]] = []
        seen: set[uuid.UUID] = set()
        for p, problem in zip(points, problems, strict=True):
            if problem is not None:
                rejected.append(RejectedPoint(p.id, problem[0], problem[1]))
                continue
            if p.id in seen or closed:
                continue
            seen.add(p.id)
            records.append((p.id, p.t, p.lon, p.lat, p.accuracy_m, p.speed_mps, p.heading_deg))
        stored, total = 0, patrol.point_count
        if records:
            stored, total = await self._store(patrol, records)
        if stored and patrol.ended_at is not None:  # auto-closed: it ends at its last point
            if patrol.last_point_at is not None and patrol.last_point_at > patrol.ended_at:
                patrol.ended_at = patrol.last_point_at
            await refresh_summary(self.db, patrol, cfg)
        log.info(
            "patrol.points_appended",
            patrol_id=str(patrol.id),
            county=str(patrol.county_id),
            received=len(points),
            stored=stored,
            rejected=len(rejected),
        )
        return AppendResult(
            patrol_id=patrol.id,
            received=len(points),
            stored=stored,
            duplicates=len(points) - len(rejected) - stored,
            rejected=rejected,
            point_count=total,
        )

    async def _stored_ids(self, patrol: PatrolSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        driver = await _driver(self.db)
        return {r[0] for r in await driver.fetch(_STORED_SQL, patrol.id, ids)}

    async def _store(
        self, patrol: PatrolSession, records: list[tuple[Any, ...]]
    ) -> tuple[int, int]:
        await self.db.flush()
        driver = await _driver(self.db)
        await driver.execute(_PREPARE_STAGE)
        await driver.copy_records_to_table(_STAGE, records=records, columns=_STAGE_COLUMNS)
        row = await driver.fetchrow(_MOVE_STAGE, patrol.id, patrol.county_id)
        stored, total = int(row[0]), int(row[1])
        # the row changed underneath the ORM: tell it the stored values
        set_committed_value(patrol, "point_count", total)
        set_committed_value(patrol, "last_point_at", row[2])
        set_committed_value(patrol, "summary_stale", row[3])
        return stored, total

    async def get_track(
        self, principal: Principal, patrol_id: uuid.UUID, *, include_points: bool = False
    ) -> dict[str, Any]:
        """A patrol's track as a GeoJSON FeatureCollection for replay (``GetTrack``).

        The first feature is the filtered route (a LineString of the points kept by the jitter
        filter up to the patrol's end, with their times in ``properties.times``). With
        ``include_points`` every stored point follows as a Point feature with its filter
        ``status`` (``after_end`` for a point timed after the end: shown, never counted).
        """
        patrol = await load_patrol(self.db, principal, patrol_id)
        await ensure_patrol_reader(self.db, principal, patrol)
        driver = await _driver(self.db)
        rows = await driver.fetch(_TRACK_SQL, patrol.id)
        counted = _until_end(rows, patrol)
        stats = filter_track(
            [r["t"].timestamp() for r in counted],
            [r["lon"] for r in counted],
            [r["lat"] for r in counted],
            [r["accuracy_m"] for r in counted],
            self.config,
        )
        statuses = [*stats.statuses, *["after_end"] * (len(rows) - len(counted))]
        kept = [r for r, s in zip(rows, statuses, strict=True) if s in ("used", "still")]
        route: dict[str, Any] = {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [[r["lon"], r["lat"]] for r in kept],
            },
            "properties": {
                "kind": "route",
                "patrol_id": str(patrol.id),
                "inspector_id": str(patrol.inspector_id),
                "area_id": str(patrol.area_id),
                "started_at": patrol.started_at.isoformat(),
                "ended_at": patrol.ended_at.isoformat() if patrol.ended_at else None,
                "distance_m": round(stats.distance_m, 2),
                "times": [r["t"].isoformat() for r in kept],
            },
        }
        features = [route]
        if include_points:
            features.extend(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                    "properties": {
                        "kind": "point",
                        "id": str(r["id"]),
                        "t": r["t"].isoformat(),
                        "accuracy_m": r["accuracy_m"],
                        "speed_mps": r["speed_mps"],
                        "heading_deg": r["heading_deg"],
                        "status": status,
                    },
                }
                for r, status in zip(rows, statuses, strict=True)
            )
        return {"type": "FeatureCollection", "features": features}
