"""Coverage numbers on a small known month, live status and exports."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from infra.errors import PermissionDeniedError
from infra.ids import uuid7
from infra.scope import Principal
from patrol.areas import AreaService
from patrol.coverage import CoverageService, month_weeks
from patrol.duty import DutyService, RosterMember, StaticDutyRoster
from patrol.plans import PlanService
from patrol.sessions import PatrolService
from patrol.tracks import TrackService
from tests.clock import NOW, ago
from tests.patrol.helpers import walk
from tests.worlds import World

TZ = ZoneInfo("Asia/Shanghai")
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[110.5, 30.0], [111.0, 30.0], [111.0, 31.0], [110.5, 31.0], [110.5, 30.0]]],
}


def local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


async def patrol(
    db: AsyncSession,
    who: Principal,
    area_id: uuid.UUID,
    start: datetime,
    hours: float,
    *,
    steps: int = 0,
    lon: float = 110.2,
    lat: float = 30.2,
    companions: tuple[uuid.UUID, ...] = (),
) -> uuid.UUID:
    pid = uuid7()
    svc = PatrolService(db)
    await svc.start_patrol(who, pid, area_id=area_id, started_at=start, companion_ids=companions)
    if steps:
        await TrackService(db).append_track_points(
            who, pid, walk(start, n=steps + 1, lon=lon, lat=lat)
        )
    await svc.end_patrol(who, pid, ended_at=start + timedelta(hours=hours))
    return pid


def test_weeks_of_a_month_follow_their_thursday() -> None:
    assert month_weeks(date(2026, 10, 1)) == [
        date(2026, 9, 28),
        date(2026, 10, 5),
        date(2026, 10, 12),
        date(2026, 10, 19),
        date(2026, 10, 26),
    ]
    assert month_weeks(date(2026, 11, 1))[0] == date(2026, 11, 2)


async def test_coverage_of_a_known_month(world: World, db: AsyncSession) -> None:
    areas, plans = AreaService(db), PlanService(db)
    east = await AreaService(db).create_area(
        world.captain,
        code="A2",
        name="east mines",
        grade=3,
        geometry=SQUARE,
        leader_id=world.inspector2.user_id,
    )
    await plans.set_frequency_rule(
        world.captain,
        name="mines summer",
        grade=3,
        season_start=401,
        season_end=1031,
        min_per_month=3,
        min_per_week=1,
        min_night_per_month=1,
    )
    site_id = uuid.uuid4()
    t1 = await areas.add_target(
        world.captain,
        world.area.id,
        kind="mine_site",
        name="old pit",
        lon=110.2,
        lat=30.2,
        visit_radius_m=100,
        ref_id=site_id,
    )
    t2 = await areas.add_target(
        world.captain,
        world.area.id,
        kind="custom",
        name="far hill",
        lon=110.4,
        lat=30.8,
        visit_radius_m=50,
    )
    await plans.upsert_plan(world.captain, world.area.id, date(2026, 10, 1), quota=5)
    me, other, a1 = world.inspector, world.inspector2, world.area.id
    oct_ = date(2026, 10, 1)
    await patrol(db, me, a1, local(date(2026, 9, 29), 9), 1)  # week of Sep 28, not the month
    await patrol(db, me, a1, local(oct_.replace(day=5), 9), 1, steps=10)  # 150 m, visits t1
    await patrol(db, me, a1, local(oct_.replace(day=6), 10), 2, companions=(other.user_id,))
    await patrol(db, me, a1, local(oct_.replace(day=14), 21), 1, steps=9, lon=110.3, lat=30.3)
    await patrol(db, me, a1, local(oct_.replace(day=30), 9), 1)
    await patrol(db, me, a1, local(oct_.replace(day=30), 14), 0.05)  # 3 minutes: not counted
    await patrol(db, me, a1, local(date(2026, 11, 1), 9), 1)  # week of Oct 26, not the month
    await patrol(db, other, east.id, local(oct_.replace(day=20), 9), 1)
    roster = StaticDutyRoster(
        world.county_id,
        [
            RosterMember(uuid.uuid4(), site_id, "village_cadre", 7, "cadre", me.user_id, "old pit"),
            RosterMember(uuid.uuid4(), site_id, "township_leader", 30, "leader", other.user_id),
        ],
    )
    duty = DutyService(db, roster)
    # weekly checks through the month: the cadre is not overdue when October ends
    for day in (2, 9, 16, 23, 30):
        await duty.record_duty_check(
            me,
            uuid7(),
            site_id=site_id,
            checked_at=local(oct_.replace(day=day), 10),
            status="still_closed",
        )
    await db.commit()

    cov = await CoverageService(db, roster=roster).get_coverage(world.captain, oct_, now=NOW)
    assert (cov.patrols, cov.distance_km, cov.hours) == (5, 0.285, 6.0)
    west, far = cov.areas
    assert (west.code, west.requirement.min_per_month, west.requirement.source) == ("A1", 5, "plan")
    assert (west.patrols, west.quota_met, west.night_patrols) == (4, False, 1)
    assert [w.patrols for w in west.weeks] == [1, 2, 1, 0, 2]
    assert [w.met for w in west.weeks] == [True, True, True, False, True]
    assert (west.weeks_met, west.weeks_total) == (4, 5)
    # the month's calendar: counted patrols by local day (not Sep 29 or Nov 1 of the weeks,
    # not the 3-minute patrol of the 30th), the 21:00 patrol of the 14th a night patrol
    assert [(d.day.day, d.patrols, d.night_patrols) for d in west.days] == [
        (5, 1, 0),
        (6, 1, 0),
        (14, 1, 1),
        (30, 1, 0),
    ]
    assert sum(d.patrols for d in west.days) == west.patrols
    assert (west.distance_km, west.hours) == (0.285, 5.0)
    assert west.targets_visited == [t1.id] and west.targets_not_visited == [t2.id]
    assert west.inspector_ids == sorted([me.user_id, other.user_id])
    assert west.duty is not None
    assert (west.duty.members, west.duty.members_compliant) == (2, 1)
    assert (far.patrols, far.quota_met, far.night_met, far.requirement.source) == (
        1,
        False,
        False,
        "rule",
    )
    assert [w.met for w in far.weeks] == [False, False, False, True, False]
    assert [(d.day, d.patrols) for d in far.days] == [(date(2026, 10, 20), 1)]
    people = {p.user_id: p for p in cov.inspectors}
    assert (people[me.user_id].patrols, people[me.user_id].hours) == (4, 5.0)
    assert people[me.user_id].distance_km == 0.285
    assert (people[other.user_id].patrols, people[other.user_id].hours) == (2, 3.0)
    assert people[other.user_id].area_ids == sorted([a1, east.id])
    assert cov.duty is not None and cov.duty.ratio == 0.5

    csv_text = await CoverageService(db).export_coverage_csv(world.captain, oct_)
    lines = csv_text.splitlines()
    assert lines[0].startswith("类型,编号,代码,名称,巡查次数,月度要求次数")
    english = await CoverageService(db).export_coverage_csv(world.captain, oct_, lang="en")
    assert english.splitlines()[0].startswith("kind,id,code,name,patrols,quota")
    assert english.splitlines()[1:] == lines[1:]
    assert lines[1].split(",")[2:7] == ["A1", "west area", "4", "5", "0"]
    geo = await CoverageService(db).export_tracks_geojson(
        world.captain, start=date(2026, 10, 1), end=date(2026, 11, 1), area_id=a1
    )
    assert len(geo["features"]) == 5
    lines_with_track = [f for f in geo["features"] if f["geometry"] is not None]
    assert len(lines_with_track) == 2
    with pytest.raises(PermissionDeniedError):
        await CoverageService(db).get_coverage(me, oct_)


async def test_live_status(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    running = uuid7()
    await svc.start_patrol(
        world.inspector, running, area_id=world.area.id, started_at=ago(minutes=30)
    )
    await TrackService(db).append_track_points(world.inspector, running, walk(ago(minutes=30), n=3))
    helper = await AreaService(db).update_area(
        world.captain, world.area.id, member_ids=[world.inspector2.user_id]
    )
    assert helper.id == world.area.id
    await db.commit()
    live = {x.user_id: x for x in await CoverageService(db).get_live_status(world.captain)}
    me = live[world.inspector.user_id]
    assert me.status == "patrolling" and me.patrol_id == running
    assert me.lat is not None and me.lat > 30.2
    assert live[world.inspector2.user_id].status == "not_today"
    assert world.squad.user_id not in live


async def test_quota_night_and_week_rules_count_at_below_and_above(
    world: World, db: AsyncSession
) -> None:
    """Each rule is met exactly at its number, missed one below and met one above."""
    month = date(2025, 3, 1)  # long past: no week is still running
    monday = date(2025, 3, 10)
    areas, plans = AreaService(db), PlanService(db)
    me = world.inspector
    got = {}
    for code, days, nights in (("Q2", 2, 0), ("Q3", 2, 1), ("Q4", 2, 2)):
        area = await areas.create_area(
            world.captain, code=code, name=code, grade=3, geometry=SQUARE, leader_id=me.user_id
        )
        await plans.upsert_plan(
            world.captain,
            area.id,
            month,
            quota=3,
            min_per_week=3,
            min_night=1,
            min_night_per_week=0,
        )
        for i in range(days):
            await patrol(db, me, area.id, local(monday + timedelta(days=i), 9), 1)
        for i in range(nights):
            await patrol(db, me, area.id, local(monday + timedelta(days=3 + i), 21), 1)
        got[code] = area.id
    await db.commit()

    cov = await CoverageService(db).get_coverage(world.captain, month, now=NOW)
    by_id = {a.area_id: a for a in cov.areas}
    seen = {}
    for code, area_id in got.items():
        a = by_id[area_id]
        week = next(w for w in a.weeks if w.week_start == monday)
        seen[code] = (a.requirement.min_per_month, a.patrols, a.quota_met)
        seen[code] += (a.night_patrols, a.night_met, week.patrols, week.met)
    assert seen == {
        "Q2": (3, 2, False, 0, False, 2, False),
        "Q3": (3, 3, True, 1, True, 3, True),
        "Q4": (3, 4, True, 2, True, 4, True),
    }
