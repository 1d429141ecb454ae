"""Demo field work for the demo county: areas, rules, plans, a month of patrols, duty checks.

Deterministic for a seed (positions, counts, times relative to the month; ids are UUIDv7 built
from those times and the seeded generator). Runs through the same services as the API, so
the demo also exercises them. Second calls find the areas and create nothing.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db import utcnow
from infra.messages import label
from infra.scope import Principal, Role
from patrol.accounts import hash_password
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.duty import DutyRoster, DutyService, RosterMember, StaticDutyRoster
from patrol.field_models import ContractArea, DutyCheck
from patrol.models import Township, User
from patrol.plans import PlanService
from patrol.sessions import PatrolService
from patrol.tracks import EARTH_RADIUS_M, PointIn, TrackService

__all__ = ["DemoPatrols", "DemoSite", "seed_demo_patrols"]

_AREA_NAMES = ("北片", "东片", "南片", "西片")
_GRADES = (1, 2, 2, 3)
# patrols per area in the demo month: the first two meet the quota, the last two miss it
_PATROLS = (6, 5, 3, 8)
_SITE_NAMES = ("青石岭废矿", "龙潭沟金矿点", "白沙河采砂点")


@dataclass(frozen=True, slots=True)
class DemoSite:
    site_id: uuid.UUID
    name: str
    lon: float
    lat: float


@dataclass
class DemoPatrols:
    month: date
    areas: list[ContractArea]
    patrols: int = 0
    points: int = 0
    duty_checks: int = 0
    roster: DutyRoster | None = None
    created: bool = True
    inspectors: list[uuid.UUID] = field(default_factory=list)
    #: (username, password) of the inspectors added to make up a brigade; shown once
    logins: list[tuple[str, str]] = field(default_factory=list)


def _uuid7_at(at: datetime, rnd: random.Random) -> uuid.UUID:
    ms = int(at.timestamp() * 1000) & 0xFFFF_FFFF_FFFF
    rand = rnd.getrandbits(74)
    value = ms << 80 | 0x7 << 76 | ((rand >> 62) & 0xFFF) << 64 | 0b10 << 62
    return uuid.UUID(int=value | (rand & 0x3FFF_FFFF_FFFF_FFFF))


def _inside(geom: BaseGeometry, rnd: random.Random) -> tuple[float, float]:
    x0, y0, x1, y1 = geom.bounds
    for _ in range(1000):
        x, y = rnd.uniform(x0, x1), rnd.uniform(y0, y1)
        if geom.contains(Point(x, y)):
            return x, y
    point = geom.representative_point()
    return float(point.x), float(point.y)


def _offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lon + dlon, lat + dlat


def _route(
    waypoints: list[tuple[float, float]],
    start: datetime,
    rnd: random.Random,
    *,
    every_s: float = 15.0,
    speed_mps: float = 8.0,
) -> list[PointIn]:
    """Fixes along the waypoints (by motorbike on village roads), with GPS noise, a few
    poor fixes and a rare multipath jump."""
    points: list[PointIn] = []
    t = start
    for (ax, ay), (bx, by) in itertools.pairwise(waypoints):
        lat_m = (by - ay) * EARTH_RADIUS_M * math.pi / 180
        lon_m = (bx - ax) * EARTH_RADIUS_M * math.pi / 180 * math.cos(math.radians(ay))
        steps = max(1, int(math.hypot(lat_m, lon_m) / (speed_mps * every_s)))
        for i in range(steps):
            f = i / steps
            lon, lat = ax + (bx - ax) * f, ay + (by - ay) * f
            acc = rnd.uniform(4, 15)
            roll = rnd.random()
            if roll < 0.02:
                acc = rnd.uniform(60, 200)  # a poor fix under trees
            lon, lat = _offset(lon, lat, rnd.gauss(0, acc / 3), rnd.gauss(0, acc / 3))
            if roll > 0.997:
                lon, lat = _offset(lon, lat, 3000, 2000)  # a multipath jump
            points.append(
                PointIn(
                    _uuid7_at(t, rnd),
                    t,
                    lon,
                    lat,
                    round(acc, 1),
                    round(speed_mps + rnd.uniform(-0.3, 0.3), 2),
                    round(rnd.uniform(0, 360), 1),
                )
            )
            t += timedelta(seconds=every_s)
    return points


async def _extra_inspectors(
    db: AsyncSession,
    county_id: uuid.UUID,
    users: Sequence[User],
    n: int,
    *,
    prefix: str,
    logins: list[tuple[str, str]],
) -> list[User]:
    """The demo county has one user per role; patrols need a brigade: add inspectors, each
    with a generated password that goes into ``logins`` (so every demo account can log in)."""
    have = [u for u in users if u.role == Role.INSPECTOR.value]
    out = list(have)
    for i in range(len(have), n):
        username, password = f"{prefix}-{i + 1:02d}", secrets.token_urlsafe(12)
        user = User(
            county_id=county_id,
            username=username,
            display_name=f"巡查员{i + 1:02d}",
            role=Role.INSPECTOR.value,
            password_hash=hash_password(password),
            active=True,
        )
        db.add(user)
        out.append(user)
        logins.append((username, password))
    await db.flush()
    return out


def _shape(town: Township) -> BaseGeometry:
    geom: BaseGeometry = to_shape(cast("Any", town.geom))
    return geom


def _principal(user: User, role: Role) -> Principal:
    return Principal(user_id=user.id, county_id=user.county_id, role=role, username=user.username)


async def seed_demo_patrols(
    session: AsyncSession,
    county_id: uuid.UUID,
    townships: Sequence[Township],
    users: Sequence[User],
    *,
    month: date | None = None,
    seed: int = 11,
    sites: Sequence[DemoSite] | None = None,
    roster: DutyRoster | None = None,
    config: PatrolConfig | None = None,
    username_prefix: str | None = None,
) -> DemoPatrols:
    """Seed 4 contract areas over ``townships``, rules and plans, a month of patrols with
    tracks (two areas meet their quota, two miss it), targets, findings, and five-to-one
    checks over the last 30 days (most on time, a few overdue, one rebound).

    ``month`` defaults to the last complete month. Without ``sites``/``roster`` three
    synthetic closed sites get a :class:`StaticDutyRoster`, returned in the result. The
    first inspector of ``users`` joins the first area (quota met) and the third. Inspectors
    added to make up a brigade of eight are named ``{username_prefix}-NN`` and their
    generated passwords are returned in ``logins``.
    """
    cfg = config or PatrolConfig()
    existing = (
        (
            await session.execute(
                select(ContractArea)
                .where(ContractArea.county_id == county_id, ContractArea.code.like("DEMO-%"))
                .order_by(ContractArea.code)
            )
        )
        .scalars()
        .all()
    )
    today = utcnow().astimezone(cfg.tz).date()
    month = month or (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if existing:
        return DemoPatrols(month=month, areas=list(existing), created=False, roster=roster)
    rnd = random.Random(seed)
    captain = next((u for u in users if u.role == Role.CAPTAIN.value), None)
    if captain is None:
        msg = "the demo needs a captain among the users"
        raise ValueError(msg)
    boss = _principal(captain, Role.CAPTAIN)
    logins: list[tuple[str, str]] = []
    prefix = username_prefix or f"demo-{county_id.hex[:6]}-inspector"
    brigade = await _extra_inspectors(session, county_id, users, 8, prefix=prefix, logins=logins)
    areas_svc, plans = AreaService(session, config=cfg), PlanService(session, config=cfg)
    # four areas: townships sorted north to south, west to east, in groups
    towns = sorted(townships, key=lambda t: (-_shape(t).centroid.y, _shape(t).centroid.x))
    groups = [towns[i::4] for i in range(4)] if len(towns) >= 4 else [list(towns)] * 4
    areas: list[ContractArea] = []
    team: dict[uuid.UUID, list[User]] = {}
    shapes: dict[uuid.UUID, BaseGeometry] = {}
    for i, group in enumerate(groups):
        geom = shapely.union_all([_shape(t) for t in group]).buffer(0)
        leader = captain if i == 0 else brigade[i]
        members = [brigade[(2 * i + k) % len(brigade)] for k in (4, 5)]
        if i == 0:
            members.insert(0, brigade[0])
        members = [m for m in members if m.id != leader.id]
        area = await areas_svc.create_area(
            boss,
            code=f"DEMO-A{i + 1}",
            name=_AREA_NAMES[i],
            grade=_GRADES[i],
            geometry=mapping(geom),
            leader_id=leader.id,
            member_ids=[m.id for m in members],
            township_ids=[t.id for t in group],
        )
        areas.append(area)
        team[area.id] = [leader, *members]
        shapes[area.id] = geom
    await plans.set_frequency_rule(boss, name="全县默认", min_per_month=4, min_per_week=1)
    await plans.set_frequency_rule(
        boss,
        name="废弃矿点",
        grade=3,
        min_per_month=12,
        min_per_week=3,
        min_night_per_month=4,
        min_night_per_week=1,
    )
    if sites is None:
        sites = [
            DemoSite(
                uuid.UUID(int=rnd.getrandbits(128), version=4),
                name,
                *_inside(shapes[areas[(3, 3, 1)[k]].id], rnd),
            )
            for k, name in enumerate(_SITE_NAMES)
        ]
        if roster is None:
            roster = _static_roster(county_id, sites, brigade, rnd)
    targets = await _targets(areas_svc, boss, areas, shapes, sites, rnd=rnd)
    for area in areas:
        await plans.upsert_plan(boss, area.id, month)
    result = DemoPatrols(
        month=month, areas=areas, roster=roster, inspectors=[u.id for u in brigade], logins=logins
    )
    for idx, area in enumerate(areas):
        work = _AreaWork(area, team[area.id], targets[area.id], shapes[area.id])
        await _patrol_area(
            session,
            work,
            month,
            _PATROLS[idx],
            night=_GRADES[idx] == 3,
            rnd=rnd,
            cfg=cfg,
            result=result,
        )
    if roster is not None:
        result.duty_checks = await _duty_checks(session, roster, boss, rnd, cfg)
    await session.flush()
    return result


@dataclass(frozen=True, slots=True)
class _AreaWork:
    area: ContractArea
    crew: list[User]
    targets: list[tuple[float, float]]
    shape: BaseGeometry


async def _targets(
    areas_svc: AreaService,
    boss: Principal,
    areas: list[ContractArea],
    shapes: dict[uuid.UUID, BaseGeometry],
    sites: Sequence[DemoSite],
    *,
    rnd: random.Random,
) -> dict[uuid.UUID, list[tuple[float, float]]]:
    """Closed sites (in the area that contains them) and three custom points per area."""
    targets: dict[uuid.UUID, list[tuple[float, float]]] = {a.id: [] for a in areas}
    for site in sites:
        home = next((a for a in areas if shapes[a.id].contains(Point(site.lon, site.lat))), None)
        if home is None:
            continue
        await areas_svc.add_target(
            boss,
            home.id,
            kind="mine_site",
            name=site.name,
            lon=site.lon,
            lat=site.lat,
            visit_radius_m=150,
            ref_id=site.site_id,
        )
        targets[home.id].append((site.lon, site.lat))
    for area in areas:
        for k in range(3):
            lon, lat = _inside(shapes[area.id], rnd)
            await areas_svc.add_target(
                boss,
                area.id,
                kind="custom",
                name=f"{area.name}巡查点{k + 1}",
                lon=lon,
                lat=lat,
                visit_radius_m=120,
            )
            targets[area.id].append((lon, lat))
    return targets


async def _patrol_area(
    db: AsyncSession,
    work: _AreaWork,
    month: date,
    count: int,
    *,
    night: bool,
    rnd: random.Random,
    cfg: PatrolConfig,
    result: DemoPatrols,
) -> None:
    area, crew, targets, shape = work.area, work.crew, work.targets, work.shape
    days = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - month
    # spread patrols over the month; missed areas leave whole weeks out
    spread = sorted(rnd.sample(range(days.days), k=min(count, days.days)))
    if count <= 3:
        spread = sorted(rnd.sample(range(0, 14), k=count))
    patrols, tracks = PatrolService(db, config=cfg), TrackService(db, config=cfg)
    for n, day in enumerate(spread):
        who = crew[n % len(crew)]
        me = _principal(who, Role.CAPTAIN if who.role == Role.CAPTAIN.value else Role.INSPECTOR)
        is_night = night and n % 2 == 1
        hour = rnd.choice((20, 21)) if is_night else rnd.choice((8, 9, 14))
        start = datetime.combine(
            month + timedelta(days=day), time(hour, rnd.choice((0, 30))), tzinfo=cfg.tz
        ).astimezone(UTC)
        origin = _inside(shape, rnd)
        stops = rnd.sample(targets, k=min(len(targets), rnd.randint(1, 2)))
        points = _route([origin, *stops, origin], start, rnd)
        pid = _uuid7_at(start, rnd)
        await patrols.start_patrol(me, pid, area_id=area.id, started_at=start)
        for i in range(0, len(points), 500):
            await tracks.append_track_points(me, pid, points[i : i + 500])
        if n == 1:
            lon, lat = stops[0]
            await patrols.record_finding(
                me,
                pid,
                _uuid7_at(start + timedelta(minutes=20), rnd),
                found_at=start + timedelta(minutes=20),
                project_name="未批先建厂房",
                construction_status="partly_built",
                lon=lon,
                lat=lat,
                accuracy_m=8.0,
                occupied_area_m2=round(rnd.uniform(300, 4000), 1),
                builder="某建材公司",
            )
        end = points[-1].t + timedelta(minutes=5) if points else start + timedelta(hours=2)
        await patrols.end_patrol(me, pid, ended_at=end)
        result.patrols += 1
        result.points += len(points)


def _static_roster(
    county_id: uuid.UUID,
    sites: Sequence[DemoSite],
    brigade: Sequence[User],
    rnd: random.Random,
) -> StaticDutyRoster:
    cycles = {
        "township_leader": 30.0,
        "safety_officer": 7.0,
        "village_liaison_cadre": 7.0,
        "land_resources_staff": 7.0,
        "village_cadre": 1.0,
    }
    roster = StaticDutyRoster(county_id)
    for k, site in enumerate(sites):
        for j, (role, cycle) in enumerate(cycles.items()):
            user = brigade[(k + j) % len(brigade)] if role == "land_resources_staff" else None
            roster.roster.append(
                RosterMember(
                    member_id=uuid.UUID(int=rnd.getrandbits(128), version=4),
                    site_id=site.site_id,
                    role=role,
                    cycle_days=cycle,
                    name=f"{site.name}{label('duty_role', role, 'zh')}",
                    user_id=user.id if user else None,
                    site_name=site.name,
                )
            )
    return roster


async def _duty_checks(
    db: AsyncSession,
    roster: DutyRoster,
    boss: Principal,
    rnd: random.Random,
    cfg: PatrolConfig,
) -> int:
    """Checks over the last 30 days: on time, except that a few members (every fourth of the
    first sixteen with a cycle under ten days) stopped ten days ago (overdue now); the first
    village cadre reports signs of reopening. Routine checks go in as rows (a county may have
    a hundred roster members); the rebound goes through the service, so it raises its alert."""
    duty = DutyService(db, roster, config=cfg)
    now = utcnow()
    members = list(await roster.members(db, boss.county_id))
    checks: list[DutyCheck] = []
    first = next((m for m in members if m.role == "village_cadre"), None)
    short = 0  # members whose cycle is shorter than the ten days a lapse lasts
    for m in members:
        lapsed = False
        if m.cycle_days < 10 and m is not first:
            lapsed = short % 4 == 2 and short < 16
            short += 1
        # backwards from the last check, a little more often than the cycle asks
        at = now - timedelta(days=10) if lapsed else now - timedelta(hours=2)
        while at >= now - timedelta(days=30):
            hour = at.astimezone(cfg.tz).hour
            checks.append(
                DutyCheck(
                    id=_uuid7_at(at, rnd),
                    county_id=boss.county_id,
                    site_id=m.site_id,
                    member_id=m.member_id,
                    recorded_by=m.user_id or boss.user_id,
                    checked_at=at,
                    status="still_closed",
                    note="",
                    evidence_ids=[],
                    is_night=hour >= cfg.night_start_hour or hour < cfg.night_end_hour,
                )
            )
            at -= timedelta(days=m.cycle_days, hours=-rnd.uniform(0, 3))
    db.add_all(checks)
    await db.flush()
    done = len(checks)
    if first is not None:
        at = now - timedelta(hours=1)
        await duty.record_duty_check(
            boss,
            _uuid7_at(at, rnd),
            site_id=first.site_id,
            member_id=first.member_id,
            checked_at=at,
            status="signs_of_reopening",
            note="发现新的车辙和堆土",
        )
        done += 1
    return done
