"""Field-work numbers at their edges, on a fixed clock.

* ``future_tolerance_s`` (300 s): a phone's time may run that far ahead of the server's,
  not a microsecond more (patrol start, track points, duty checks); track points may also
  come that far before the patrol's start;
* ``min_counted_s`` (600 s): a patrol counts in coverage from ten minutes on;
* ``night_start_hour`` / ``night_end_hour`` (19, 6): a patrol is a night patrol when its
  midpoint falls in [19:00, 06:00) local time;
* a week still running that has not met its minimum is pending (``met = None``) until its
  last local second, missed from the next Monday's midnight;
* ``auto_close_idle_s`` (6 h): a patrol idle exactly that long stays open, a microsecond
  more and the server closes it at its last point;
* a five-to-one member is overdue one second after their due time, and the overdue alert is
  raised then, not at the due instant.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.adapters import PatrolTrackContext
from evidence.service import _TRACK_WINDOW_S
from infra.ids import uuid7
from patrol.alerts import AlertService
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.coverage import CoverageService
from patrol.duty import DutyService, RosterMember, StaticDutyRoster
from patrol.errors import InvalidPatrolInputError
from patrol.field_models import PatrolSession
from patrol.plans import PlanService
from patrol.sessions import PatrolService, auto_close_stale_patrols
from patrol.tracks import PointIn, TrackService
from tests.worlds import World

TZ = ZoneInfo("Asia/Shanghai")
CFG = PatrolConfig()
NOW = datetime(2025, 6, 18, 12, 0, tzinfo=TZ)  # a Wednesday, the server's fixed "now"
US = timedelta(microseconds=1)
TOLERANCE = timedelta(seconds=CFG.future_tolerance_s)
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[110.5, 30.0], [111.0, 30.0], [111.0, 31.0], [110.5, 31.0], [110.5, 30.0]]],
}


def _clock() -> datetime:
    return NOW


def _point(t: datetime) -> PointIn:
    return PointIn(id=uuid7(), t=t, lon=110.2, lat=30.2, accuracy_m=5.0)


async def _area(world: World, db: AsyncSession) -> uuid.UUID:
    area = await AreaService(db).create_area(
        world.captain,
        code=f"E{uuid.uuid4().hex[:6]}",
        name="边界片区",
        grade=2,
        geometry=SQUARE,
        leader_id=world.inspector.user_id,
    )
    return area.id


async def test_phone_times_may_run_five_minutes_ahead_and_no_more(
    world: World, db: AsyncSession
) -> None:
    assert CFG.future_tolerance_s == 300.0
    patrols = PatrolService(db, clock=_clock)
    await patrols.start_patrol(
        world.inspector, uuid7(), area_id=world.area.id, started_at=NOW + TOLERANCE
    )
    with pytest.raises(InvalidPatrolInputError) as info:
        await patrols.start_patrol(
            world.inspector, uuid7(), area_id=world.area.id, started_at=NOW + TOLERANCE + US
        )
    assert (info.value.code, info.value.extra.get("field")) == ("invalid_time", "started_at")

    pid, started = uuid7(), NOW - timedelta(hours=1)
    await patrols.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=started)
    times = [
        NOW + TOLERANCE,
        NOW + TOLERANCE + US,
        started - TOLERANCE,
        started - TOLERANCE - US,
    ]
    points = [_point(t) for t in times]
    result = await TrackService(db, clock=_clock).append_track_points(world.inspector, pid, points)
    assert result.stored == 2
    assert [(r.id, r.reason) for r in result.rejected] == [
        (points[1].id, "future_time"),
        (points[3].id, "before_start"),
    ]

    site = uuid.uuid4()
    member = RosterMember(uuid.uuid4(), site, "village", 1, "村干部", world.inspector.user_id, "坑")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]), clock=_clock)

    async def check(at: datetime) -> datetime:
        row = await duty.record_duty_check(
            world.captain, uuid7(), site_id=site, member_id=member.member_id, checked_at=at,
            status="still_closed",
        )  # fmt: skip
        return row.checked_at

    assert await check(NOW + TOLERANCE) == NOW + TOLERANCE
    with pytest.raises(InvalidPatrolInputError):
        await check(NOW + TOLERANCE + US)
    await db.rollback()


async def test_a_patrol_counts_from_ten_minutes(world: World, db: AsyncSession) -> None:
    assert CFG.min_counted_s == 600.0
    area_id = await _area(world, db)
    patrols = PatrolService(db, clock=_clock)
    day = datetime(2025, 6, 2, 9, 0, tzinfo=TZ)
    for i, length in enumerate((timedelta(seconds=600) - US, timedelta(seconds=600))):
        pid, start = uuid7(), day + timedelta(days=i)
        await patrols.start_patrol(world.inspector, pid, area_id=area_id, started_at=start)
        await patrols.end_patrol(world.inspector, pid, ended_at=start + length)
    await db.commit()
    cov = await CoverageService(db).get_coverage(world.captain, date(2025, 6, 1), now=NOW)
    [area] = [a for a in cov.areas if a.area_id == area_id]
    assert area.patrols == 1
    assert area.hours == 0.167  # the ten-minute patrol alone, as shown (hours to 3 places)


@pytest.mark.parametrize(
    ("midpoint", "night"),
    [
        ((18, 59, 59), False),
        ((19, 0, 0), True),
        ((23, 30, 0), True),
        ((5, 59, 59), True),
        ((6, 0, 0), False),
    ],
)
async def test_night_is_from_seven_in_the_evening_to_six_in_the_morning(
    world: World, db: AsyncSession, midpoint: tuple[int, int, int], night: bool
) -> None:
    assert (CFG.night_start_hour, CFG.night_end_hour) == (19, 6)
    patrols = PatrolService(db, clock=_clock)
    mid = datetime(2025, 6, 10, *midpoint, tzinfo=TZ)
    pid = uuid7()
    await patrols.start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=mid - timedelta(minutes=45)
    )
    patrol = await patrols.end_patrol(world.inspector, pid, ended_at=mid + timedelta(minutes=45))
    await db.commit()
    assert patrol.is_night is night


@pytest.mark.parametrize(
    ("now", "met"),
    [
        (datetime(2025, 6, 22, 23, 59, 59, 999_999, tzinfo=TZ), None),  # the week's last instant
        (datetime(2025, 6, 23, 0, 0, tzinfo=TZ), False),  # the next Monday
    ],
)
async def test_a_running_week_short_of_its_minimum_is_pending_until_it_ends(
    world: World, db: AsyncSession, now: datetime, met: bool | None
) -> None:
    area_id = await _area(world, db)
    await PlanService(db).upsert_plan(
        world.captain, area_id, date(2025, 6, 1), quota=4, min_per_week=1
    )
    await db.commit()
    cov = await CoverageService(db).get_coverage(world.captain, date(2025, 6, 1), now=now)
    [area] = [a for a in cov.areas if a.area_id == area_id]
    week = next(w for w in area.weeks if w.week_start == date(2025, 6, 16))
    assert (week.patrols, week.required, week.met) == (0, 1, met)
    earlier = next(w for w in area.weeks if w.week_start == date(2025, 6, 9))
    assert earlier.met is False


async def test_a_member_is_overdue_and_alerted_one_second_after_the_due_time(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    member = RosterMember(
        uuid.uuid4(), site, "weekly", 7, "乡镇领导", world.inspector.user_id, "坑"
    )
    roster = StaticDutyRoster(world.county_id, [member])
    last = NOW - timedelta(days=7)
    duty = DutyService(db, roster, clock=_clock)
    await duty.record_duty_check(
        world.captain,
        uuid7(),
        site_id=site,
        member_id=member.member_id,
        checked_at=last,
        status="still_closed",
    )
    await db.commit()
    due = last + timedelta(days=7)
    status = await duty.get_duty_status(
        world.captain, start=last, end=due + timedelta(days=1), now=due
    )
    [m] = status[0].members
    assert (m.due_at, m.overdue, m.required_in_period, m.checks_in_period) == (due, False, 1, 1)
    status = await duty.get_duty_status(
        world.captain, start=last, end=due + timedelta(days=1), now=due + US
    )
    assert status[0].members[0].overdue is True

    assert await duty.raise_overdue_alerts(world.county_id, now=due) == 0
    assert await duty.raise_overdue_alerts(world.county_id, now=due + timedelta(seconds=1)) == 1
    await db.commit()
    alerts = await AlertService(db).list_alerts(world.captain, kinds=["duty_overdue"])
    assert [(a.member_id, a.raised_at) for a in alerts] == [
        (member.member_id, due + timedelta(seconds=1))
    ]


async def test_a_patrol_idle_six_hours_stays_open_and_a_microsecond_more_is_closed(
    world: World, db: AsyncSession
) -> None:
    assert CFG.auto_close_idle_s == 6 * 3600
    pid, started = uuid7(), NOW - timedelta(hours=8)
    await PatrolService(db, clock=_clock).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=started
    )
    last = started + timedelta(minutes=30)
    await TrackService(db, clock=_clock).append_track_points(
        world.inspector, pid, [_point(started), _point(last)]
    )
    await db.commit()
    idle = last + timedelta(hours=6)
    county = world.county_id
    assert await auto_close_stale_patrols(db, config=CFG, now=idle, county_id=county) == []
    assert await auto_close_stale_patrols(db, config=CFG, now=idle + US, county_id=county) == [pid]
    await db.commit()
    patrol = await db.get(PatrolSession, pid, populate_existing=True)
    assert patrol is not None
    assert (patrol.end_reason, patrol.ended_at) == ("auto_closed", last)


async def test_seasons_begin_and_end_on_their_days(world: World, db: AsyncSession) -> None:
    """Apr-Oct weekly patrols, Nov-Mar twice a month: both ends inclusive, the
    winter season wrapping over New Year."""
    plans = PlanService(db)
    area_id = await _area(world, db)
    await plans.set_frequency_rule(
        world.captain, name="summer", area_id=area_id, season_start=401, season_end=1031,
        min_per_month=4, min_per_week=1,
    )  # fmt: skip
    await plans.set_frequency_rule(
        world.captain, name="winter", area_id=area_id, season_start=1101, season_end=331,
        min_per_month=2, min_per_week=0,
    )  # fmt: skip
    got = {}
    for day in ("2025-03-31", "2025-04-01", "2025-10-31", "2025-11-01", "2025-12-31", "2026-01-01"):
        req = await plans.requirement_for(world.captain, area_id, date.fromisoformat(day))
        got[day] = (req.min_per_month, req.min_per_week)
    await db.rollback()
    assert got == {
        "2025-03-31": (2, 0),
        "2025-04-01": (4, 1),
        "2025-10-31": (4, 1),
        "2025-11-01": (2, 0),
        "2025-12-31": (2, 0),
        "2026-01-01": (2, 0),
    }


async def test_a_patrol_belongs_to_the_local_month_it_started_in(
    world: World, db: AsyncSession
) -> None:
    """Local midnight of the 1st (Asia/Shanghai, 16:00 UTC the day before) starts the month."""
    area_id = await _area(world, db)
    patrols = PatrolService(db, clock=_clock)
    first = datetime(2025, 6, 1, tzinfo=TZ)
    for start in (first - US, first):
        pid = uuid7()
        await patrols.start_patrol(world.inspector, pid, area_id=area_id, started_at=start)
        await patrols.end_patrol(world.inspector, pid, ended_at=start + timedelta(hours=1))
    await db.commit()
    counted = {}
    for month in (date(2025, 5, 1), date(2025, 6, 1)):
        cov = await CoverageService(db).get_coverage(world.captain, month, now=NOW)
        counted[month.month] = next(a.patrols for a in cov.areas if a.area_id == area_id)
    assert counted == {5: 1, 6: 1}


async def test_twice_a_week_is_a_three_and_a_half_day_cycle(world: World, db: AsyncSession) -> None:
    """A member who checks twice a week is due 3.5 days after a check and owes one check per
    full 3.5 days elapsed: two at exactly 7 days, still one a second before (the count
    allows a billionth of a cycle for rounding, 0.3 ms here)."""
    site = uuid.uuid4()
    member = RosterMember(
        uuid.uuid4(), site, "township", 3.5, "安监站", world.inspector.user_id, "坑"
    )
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]), clock=_clock)
    start = NOW - timedelta(days=7)
    await duty.record_duty_check(
        world.captain, uuid7(), site_id=site, member_id=member.member_id,
        checked_at=start + timedelta(days=3), status="still_closed",
    )  # fmt: skip
    await db.commit()
    seen = []
    for now in (NOW - timedelta(seconds=1), NOW):
        [site_duty] = await duty.get_duty_status(
            world.captain, start=start, end=NOW + timedelta(days=1), now=now
        )
        m = site_duty.members[0]
        seen.append((m.due_at, m.required_in_period, m.checks_in_period, m.overdue))
    due = start + timedelta(days=6, hours=12)
    assert seen == [(due, 1, 1, True), (due, 2, 1, True)]


async def test_track_points_half_a_degree_outside_the_county_are_kept(
    world: World, db: AsyncSession
) -> None:
    """``county_margin_deg`` (0.5°) around the county's bounding box (110-111°E, 30-31°N)."""
    assert CFG.county_margin_deg == 0.5
    pid, started = uuid7(), NOW - timedelta(hours=1)
    await PatrolService(db, clock=_clock).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=started
    )
    spots = [(111.5, 30.5), (111.5 + 1e-9, 30.5), (110.5, 29.5), (110.5, 29.5 - 1e-9)]
    points = [
        PointIn(uuid7(), started + timedelta(minutes=i), lon, lat, 5.0)
        for i, (lon, lat) in enumerate(spots)
    ]
    result = await TrackService(db, clock=_clock).append_track_points(world.inspector, pid, points)
    assert result.stored == 2
    assert [(r.id, r.reason) for r in result.rejected] == [
        (points[1].id, "outside_county"),
        (points[3].id, "outside_county"),
    ]
    await db.rollback()


async def test_evidence_is_compared_with_track_fixes_within_five_minutes(
    world: World, db: AsyncSession
) -> None:
    """A photo's capture time finds the patrol's nearest fix up to 300 s away
    (``evidence.service._TRACK_WINDOW_S``), not one a microsecond further; of two equally
    near, the earlier."""
    assert _TRACK_WINDOW_S == 300.0
    pid, started = uuid7(), NOW - timedelta(hours=2)
    await PatrolService(db, clock=_clock).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=started
    )
    captured = NOW - timedelta(hours=1)
    window = timedelta(seconds=300)
    tracks = TrackService(db, clock=_clock)
    await tracks.append_track_points(
        world.inspector, pid, [_point(captured - window - US), _point(captured + window + US)]
    )
    context = PatrolTrackContext()

    async def near() -> datetime | None:
        fix = await context.track_fix_near(db, world.county_id, pid, captured, window_s=300.0)
        return None if fix is None else fix.at

    assert await near() is None
    await tracks.append_track_points(world.inspector, pid, [_point(captured + window)])
    assert await near() == captured + window
    await tracks.append_track_points(world.inspector, pid, [_point(captured - window)])
    assert await near() == captured - window
    await db.rollback()
