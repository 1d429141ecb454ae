"""What a captain reads from coverage: the month's figures, the live board, the exports.

Every figure is asserted exactly on a small known June 2026 (Monday the 1st; weeks of
the 1st, 8th, 15th and 22nd) with a fixed clock, so a quota met exactly at the quota, a
patrol starting exactly at local midnight and a patrol exactly as long as the minimum all
count, and a week still running is ``met = None`` until it is met.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.errors import PermissionDeniedError
from infra.ids import uuid7
from infra.messages import label
from infra.scope import Principal, Role
from patrol.areas import AreaService
from patrol.coverage import COVERAGE_CSV_COLUMNS, CoverageService, WeekCoverage, month_weeks
from patrol.duty import DutyService, RosterMember, StaticDutyRoster
from patrol.errors import InvalidPatrolInputError
from patrol.field_models import ContractArea, PatrolSession
from patrol.models import County, User
from patrol.plans import PlanService
from patrol.sessions import PatrolService
from patrol.tracks import TrackService
from tests.patrol.conftest import World
from tests.patrol.helpers import walk

TZ = ZoneInfo("Asia/Shanghai")
JUNE = date(2026, 6, 1)
EAST = {
    "type": "Polygon",
    "coordinates": [[[110.5, 30.0], [111.0, 30.0], [111.0, 31.0], [110.5, 31.0], [110.5, 30.0]]],
}


async def make_user(
    db: AsyncSession, county: County, role: Role, name: str, *, user_id: uuid.UUID | None = None
) -> Principal:
    """A user whose display name is exactly ``name`` (the board sorts people by name)."""
    user = User(
        **({"id": user_id} if user_id is not None else {}),
        county_id=county.id,
        username=f"{name}-{uuid.uuid4().hex[:10]}",
        display_name=name,
        role=role.value,
        password_hash="x",
        active=True,
    )
    db.add(user)
    await db.flush()
    return Principal(user_id=user.id, county_id=county.id, role=role, username=user.username)


def local(day: int, hour: int = 0, minute: int = 0, *, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


async def patrol(
    db: AsyncSession,
    who: Principal,
    area_id: uuid.UUID,
    start: datetime,
    seconds: float | None,
    *,
    steps: int = 0,
    step_m: float = 33.37,
    lon: float = 110.2,
    lat: float = 30.2,
    companions: tuple[uuid.UUID, ...] = (),
) -> uuid.UUID:
    """A patrol of ``seconds`` (``None``: still running) walking ``steps`` steps north."""
    pid = uuid7()
    svc = PatrolService(db)
    await svc.start_patrol(who, pid, area_id=area_id, started_at=start, companion_ids=companions)
    if steps:
        points = walk(start, n=steps + 1, lon=lon, lat=lat, step_m=step_m)
        await TrackService(db).append_track_points(who, pid, points)
    if seconds is not None:
        await svc.end_patrol(who, pid, ended_at=start + timedelta(seconds=seconds))
    return pid


async def stored(db: AsyncSession, pid: uuid.UUID) -> PatrolSession:
    row = await db.get(PatrolSession, pid, populate_existing=True)
    assert row is not None
    return row


async def _named(db: AsyncSession, world: World) -> tuple[Principal, Principal, uuid.UUID]:
    """The world's two inspectors, named as the board and the exports will show them."""
    for principal, name in ((world.inspector, "inspector-a"), (world.inspector2, "inspector-b")):
        await db.execute(update(User).where(User.id == principal.user_id).values(display_name=name))
    await db.flush()
    return world.inspector, world.inspector2, world.area.id


def test_a_week_belongs_to_the_month_of_its_thursday() -> None:
    # May 2026 starts on a Friday: the week of April 27 is April's (its Thursday is the 30th)
    assert month_weeks(date(2026, 5, 1))[0] == date(2026, 5, 4)
    assert month_weeks(date(2026, 4, 1))[-1] == date(2026, 4, 27)
    assert month_weeks(JUNE) == [date(2026, 6, d) for d in (1, 8, 15, 22)]


async def test_the_month_a_captain_reads(world: World, db: AsyncSession) -> None:
    """Quota met exactly at the quota, weeks met / not met / still running, nights,
    distance and hours to the metre and the second, targets visited in the plan, people."""
    areas, plans = AreaService(db), PlanService(db)
    me, other, a1 = await _named(db, world)
    # created after A1 but coded before it: areas come in code order
    twin = await make_user(db, world.county, Role.INSPECTOR, "inspector-b")
    east = await areas.create_area(
        world.captain,
        code="A0",
        name="east",
        grade=2,
        geometry=EAST,
        leader_id=other.user_id,
        member_ids=[twin.user_id],
    )
    # a seasonal rule for the east area starting on the 8th: the month (the 1st) is out of
    # season, the weeks of the 8th on are in it; each week is judged by its own Monday
    await plans.set_frequency_rule(
        world.captain,
        name="east summer",
        area_id=east.id,
        season_start=608,
        season_end=1231,
        min_per_month=9,
        min_per_week=2,
        min_night_per_week=1,
    )
    # targets named against their creation order: lists follow the names
    t_far = await areas.add_target(
        world.captain, a1, kind="custom", name="b far hill", lon=110.4, lat=30.8
    )
    t_pit = await areas.add_target(
        world.captain, a1, kind="custom", name="a old pit", lon=110.2, lat=30.2, visit_radius_m=50
    )
    t_unplanned = await areas.add_target(
        world.captain, a1, kind="custom", name="c ridge", lon=110.3, lat=30.3
    )
    e_far = await areas.add_target(
        world.captain, east.id, kind="custom", name="z east far", lon=110.9, lat=30.9
    )
    e_near = await areas.add_target(
        world.captain, east.id, kind="custom", name="y east near", lon=110.8, lat=30.8
    )
    # a second "z east far" with a smaller id, stored after the first: by name, then id (the
    # id just below the first's, so the test runs again on a database that keeps its rows)
    e_far_twin = await areas.add_target(
        world.captain,
        east.id,
        kind="custom",
        name="z east far",
        lon=110.9,
        lat=30.9,
        target_id=uuid.UUID(int=e_far.id.int - 1),
    )
    await plans.upsert_plan(
        world.captain,
        a1,
        JUNE,
        quota=3,
        min_per_week=1,
        min_night=2,
        min_night_per_week=1,
        target_ids=[t_far.id, t_pit.id],
    )
    await db.commit()

    # the east area: the other inspector's namesake on the 1st at noon with the other
    # inspector along (inserted before the first patrol of the month, which starts earlier)
    p_east = await patrol(db, twin, east.id, local(1, 12), 3600, companions=(other.user_id,))
    # A1, week of the 1st: one night patrol starting exactly at local midnight of the 1st,
    # 2002 m walked past the old pit; its summary is stale and has to be refreshed
    p1 = await patrol(db, me, a1, local(1), 3600, steps=60)
    await db.execute(
        update(PatrolSession)
        .where(PatrolSession.id == p1)
        .values(summary_stale=True, distance_m=0.0, companion_ids=[me.user_id])
    )
    await db.commit()
    # week of the 8th: one day patrol exactly as long as the minimum (600 s): counted,
    # but the week wants a night patrol
    await patrol(db, me, a1, local(9, 10), 600, companions=(other.user_id,))
    # one second short of the minimum: not counted anywhere
    await patrol(db, me, a1, local(9, 14), 599)
    # week of the 15th, still running at the clock: a night patrol that meets it already
    await patrol(db, me, a1, local(15, 1), 1800)
    # the next month's first day: not June
    await patrol(db, me, a1, local(1, 9, month=7), 3600)
    await db.commit()

    # 07:00 on Monday the 15th in Shanghai is still Sunday the 14th in UTC
    now = local(15, 7)
    svc = CoverageService(db)
    cov = await svc.get_coverage(world.captain, date(2026, 6, 17), now=now)

    assert cov.county_id == world.county_id
    assert cov.month == JUNE
    assert cov.duty is None
    assert [a.code for a in cov.areas] == ["A0", "A1"]
    a0, a = cov.areas

    assert a.area_id == a1
    assert (a.name, a.grade) == ("west area", 1)
    assert a.requirement.min_per_month == 3
    assert a.requirement.min_night_per_week == 1
    assert a.patrols == 3
    assert a.quota_met is True
    assert a.night_patrols == 2
    assert a.night_met is True
    p1_row = await stored(db, p1)
    assert p1_row.summary_stale is False
    assert p1_row.distance_m == pytest.approx(2002.2, abs=0.5)
    assert a.distance_km == round(p1_row.distance_m / 1000, 3)
    assert a.distance_km == 2.002
    assert a.hours == 1.667  # 3600 + 600 + 1800 s
    assert a.weeks == [
        WeekCoverage(date(2026, 6, 1), 1, 1, 1, 1, True),
        WeekCoverage(date(2026, 6, 8), 1, 0, 1, 1, False),
        WeekCoverage(date(2026, 6, 15), 1, 1, 1, 1, True),
        WeekCoverage(date(2026, 6, 22), 0, 0, 1, 1, None),
    ]
    assert a.weeks[3].met is None
    assert (a.weeks_met, a.weeks_total) == (2, 4)
    assert a.targets_visited == [t_pit.id]
    assert a.targets_not_visited == [t_far.id]
    assert t_unplanned.id not in a.targets_visited + a.targets_not_visited
    assert a.inspector_ids == sorted([me.user_id, other.user_id])

    assert a0.area_id == east.id
    assert (a0.requirement.min_per_month, a0.requirement.min_per_week) == (4, 1)
    assert (a0.patrols, a0.quota_met, a0.night_patrols, a0.night_met) == (1, False, 0, True)
    assert (a0.distance_km, a0.hours) == (0.0, 1.0)
    assert a0.weeks == [
        WeekCoverage(date(2026, 6, 1), 1, 0, 1, 0, True),
        WeekCoverage(date(2026, 6, 8), 0, 0, 2, 1, False),
        WeekCoverage(date(2026, 6, 15), 0, 0, 2, 1, None),
        WeekCoverage(date(2026, 6, 22), 0, 0, 2, 1, None),
    ]
    assert a0.weeks[2].met is None
    assert a0.targets_visited == []
    assert a0.targets_not_visited == [e_near.id, e_far_twin.id, e_far.id]

    assert (cov.patrols, cov.distance_km, cov.hours) == (4, 2.002, 2.667)

    # people by name, then id: the two "inspector-b" by id
    twins = sorted([other.user_id, twin.user_id], key=str)
    assert [(p.user_id, p.name) for p in cov.inspectors] == [
        (me.user_id, "inspector-a"),
        (twins[0], "inspector-b"),
        (twins[1], "inspector-b"),
    ]
    mine, *_ = cov.inspectors
    assert (mine.patrols, mine.night_patrols, mine.distance_km, mine.hours) == (
        3,
        2,
        2.002,
        1.667,
    )
    assert mine.area_ids == [a1]
    by_id = {p.user_id: p for p in cov.inspectors}
    theirs = by_id[other.user_id]
    assert (theirs.patrols, theirs.night_patrols, theirs.distance_km, theirs.hours) == (
        2,
        0,
        0.0,
        1.167,
    )
    assert theirs.area_ids == sorted([a1, east.id])
    assert (by_id[twin.user_id].patrols, by_id[twin.user_id].area_ids) == (1, [east.id])
    assert p_east in {r.id for r in [await stored(db, p_east)]}

    # the CSV of the same month (no clock: June has ended): areas, then people
    text = await svc.export_coverage_csv(world.captain, JUNE, lang="en")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(COVERAGE_CSV_COLUMNS)
    assert rows[1] == [
        "area", str(east.id), "A0", "east", "1", "4", "0", "0", "0", "1", "4",
        "0.0", "1.0", "0", "3", "",
    ]  # fmt: skip
    assert rows[2] == [
        "area", str(a1), "A1", "west area", "3", "3", "1", "2", "2", "2", "4",
        "2.002", "1.667", "1", "2", "",
    ]  # fmt: skip
    assert rows[3] == [
        "inspector", str(me.user_id), "", "inspector-a", "3", "", "", "2", "", "", "",
        "2.002", "1.667", "", "", "",
    ]  # fmt: skip
    assert rows[4][:5] == [
        "inspector",
        str(twins[0]),
        "",
        "inspector-b",
        str(by_id[twins[0]].patrols),
    ]
    assert len(rows) == 6
    zh = await svc.export_coverage_csv(world.captain, JUNE)
    assert zh.splitlines()[0] == ",".join(
        label("coverage_csv", column, "zh") for column in COVERAGE_CSV_COLUMNS
    )
    assert zh.splitlines()[1:] == text.splitlines()[1:]


async def test_the_tracks_a_captain_exports(world: World, db: AsyncSession) -> None:
    """One feature per patrol started in the local days asked, in start order, with its
    summary; the period boundaries are local midnights; area and inspector filters."""
    me, other, a1 = await _named(db, world)
    east = await AreaService(db).create_area(
        world.captain, code="A0", name="east", grade=2, geometry=EAST, leader_id=other.user_id
    )
    await db.commit()
    p_other = await patrol(db, other, east.id, local(1, 12), 3600)
    p_first = await patrol(db, me, a1, local(1), 3600, steps=3, step_m=20.0)
    p_next_day = await patrol(db, me, a1, local(2), 1800)
    p_open = await patrol(db, me, a1, local(2, 9), None)
    await db.commit()
    svc = CoverageService(db)

    first = await stored(db, p_first)
    out = await svc.export_tracks_geojson(world.captain, start=JUNE, end=date(2026, 6, 2))
    assert out["type"] == "FeatureCollection"
    assert set(out) == {"type", "features"}
    assert [f["properties"]["patrol_id"] for f in out["features"]] == [str(p_first), str(p_other)]
    feature = out["features"][0]
    assert feature["type"] == "Feature"
    assert set(feature) == {"type", "geometry", "properties"}
    assert feature["properties"] == {
        "patrol_id": str(p_first),
        "area_id": str(a1),
        "inspector_id": str(me.user_id),
        "started_at": first.started_at.isoformat(),
        "ended_at": (first.started_at + timedelta(hours=1)).isoformat(),
        "distance_m": first.distance_m,
        "duration_s": 3600.0,
        "is_night": True,
        "has_violation": False,
    }
    assert first.started_at == local(1).astimezone(UTC)
    geometry = feature["geometry"]
    assert geometry["type"] == "LineString"
    assert len(geometry["coordinates"]) == 4
    assert geometry["coordinates"][0] == [110.2, 30.2]
    assert out["features"][1]["geometry"] is None  # no points
    assert out["features"][1]["properties"]["is_night"] is False

    # the day before ends exactly where the 1st starts
    before = await svc.export_tracks_geojson(world.captain, start=date(2026, 5, 31), end=JUNE)
    assert before["features"] == []

    two_days = await svc.export_tracks_geojson(world.captain, start=JUNE, end=date(2026, 6, 3))
    ids = [f["properties"]["patrol_id"] for f in two_days["features"]]
    assert ids == [str(p_first), str(p_other), str(p_next_day), str(p_open)]
    assert two_days["features"][3]["properties"]["ended_at"] is None

    mine = await svc.export_tracks_geojson(
        world.captain, start=JUNE, end=date(2026, 6, 3), inspector_id=me.user_id
    )
    assert [f["properties"]["patrol_id"] for f in mine["features"]] == ids[:1] + ids[2:]
    theirs = await svc.export_tracks_geojson(
        world.captain, start=JUNE, end=date(2026, 6, 3), inspector_id=other.user_id
    )
    assert [f["properties"]["patrol_id"] for f in theirs["features"]] == [str(p_other)]
    assert theirs["features"][0]["properties"]["area_id"] == str(east.id)
    in_east = await svc.export_tracks_geojson(
        world.captain, start=JUNE, end=date(2026, 6, 3), area_id=east.id
    )
    assert [f["properties"]["patrol_id"] for f in in_east["features"]] == [str(p_other)]

    # 31 days at most, at least one
    month = await svc.export_tracks_geojson(world.captain, start=JUNE, end=date(2026, 7, 2))
    assert len(month["features"]) == 4
    for start, end in ((JUNE, JUNE), (JUNE, date(2026, 7, 3))):
        with pytest.raises(InvalidPatrolInputError) as caught:
            await svc.export_tracks_geojson(world.captain, start=start, end=end)
        assert caught.value.code == "invalid_period"
        assert caught.value.detail == "the export covers 1 to 31 days"
        assert caught.value.extra == {"field": "end"}


@pytest.mark.parametrize(
    ("call", "action"),
    [
        ("coverage", "review coverage"),
        ("live", "see live patrol status"),
        ("tracks", "export tracks"),
    ],
)
async def test_an_inspector_is_told_what_only_managers_may_do(
    world: World, db: AsyncSession, call: str, action: str
) -> None:
    svc = CoverageService(db)
    with pytest.raises(PermissionDeniedError) as caught:
        if call == "coverage":
            await svc.get_coverage(world.inspector, JUNE, now=local(15))
        elif call == "live":
            await svc.get_live_status(world.inspector, now=local(15))
        else:
            await svc.export_tracks_geojson(world.inspector, start=JUNE, end=date(2026, 6, 2))
    assert caught.value.detail.endswith(f" may {action}")


async def test_the_live_board_at_a_fixed_clock(world: World, db: AsyncSession) -> None:
    """Who is patrolling now (with the last fix), who patrolled today, who has not; the
    people listed and their order."""
    me, other, a1 = await _named(db, world)
    county = world.county
    early = await make_user(db, county, Role.INSPECTOR, "aaa-late-inspector")
    companion = await make_user(db, county, Role.JOINT_TEAM, "companion-c")
    twin_a = await make_user(db, county, Role.INSPECTOR, "twin")
    twin_b = await make_user(db, county, Role.INSPECTOR, "twin")
    gone = await make_user(db, county, Role.INSPECTOR, "gone")
    leader = await make_user(db, county, Role.JOINT_TEAM, "leader-j")
    member = await make_user(db, county, Role.JOINT_TEAM, "member-j")
    old_leader = await make_user(db, county, Role.JOINT_TEAM, "old-leader-j")
    old_member = await make_user(db, county, Role.JOINT_TEAM, "old-member-j")
    yesterday_mate = await make_user(db, county, Role.JOINT_TEAM, "mate-j")
    tomorrow_mate = await make_user(db, county, Role.JOINT_TEAM, "tomorrow-mate-j")
    areas = AreaService(db)
    await areas.create_area(
        world.captain,
        code="A0",
        name="east",
        grade=2,
        geometry=EAST,
        leader_id=leader.user_id,
        member_ids=[member.user_id],
    )
    west2 = await areas.create_area(
        world.captain,
        code="A5",
        name="hills",
        grade=2,
        geometry=EAST,
        leader_id=other.user_id,
        member_ids=[twin_a.user_id],
    )
    old = await areas.create_area(
        world.captain,
        code="A9",
        name="closed",
        grade=2,
        geometry=EAST,
        leader_id=old_leader.user_id,
        member_ids=[old_member.user_id],
    )
    await db.execute(update(ContractArea).where(ContractArea.id == old.id).values(active=False))
    await db.execute(update(User).where(User.id == gone.user_id).values(active=False))
    await db.commit()

    # mine: a patrol started yesterday evening still running, and one this morning
    running = await patrol(db, me, a1, local(19, 22), None, steps=4, step_m=13.337)
    morning = await patrol(db, me, a1, local(20, 8), 3600, steps=10, step_m=13.337)
    # the other inspector: two patrols today, the later one stored first; the first starts
    # exactly at local midnight; one starts exactly at tomorrow's midnight
    a5 = west2.id
    later = await patrol(
        db, other, a5, local(20, 11), 1800, steps=7, step_m=13.337, companions=(companion.user_id,)
    )
    midnight = await patrol(db, other, a5, local(20), 1800, steps=5, step_m=13.337)
    await patrol(db, other, a5, local(21), 1800, companions=(tomorrow_mate.user_id,))
    # started exactly at tomorrow's midnight and still running: patrolling, none today
    tomorrow = await patrol(db, twin_a, a5, local(21), None)
    # yesterday, with a companion who has no other reason to be on today's board
    await patrol(db, other, a5, local(19, 9), 1800, companions=(yesterday_mate.user_id,))
    await db.commit()

    now = local(20, 15)
    svc = CoverageService(db)
    board = await svc.get_live_status(world.captain, now=now)
    twins = sorted([twin_a.user_id, twin_b.user_id], key=str)
    assert [(p.name, p.user_id) for p in board] == [
        ("aaa-late-inspector", early.user_id),
        ("companion-c", companion.user_id),
        ("inspector-a", me.user_id),
        ("inspector-b", other.user_id),
        ("leader-j", leader.user_id),
        ("member-j", member.user_id),
        ("twin", twins[0]),
        ("twin", twins[1]),
    ]
    by_id = {p.user_id: p for p in board}

    run_row, morning_row = await stored(db, running), await stored(db, morning)
    mine = by_id[me.user_id]
    assert mine.status == "patrolling"
    assert (mine.patrol_id, mine.area_id) == (running, a1)
    assert run_row.last_point_at is not None and run_row.last_point_at != run_row.started_at
    assert mine.last_seen_at == run_row.last_point_at
    last = walk(local(19, 22), n=5, step_m=13.337)[-1]
    assert mine.lon == pytest.approx(last.lon)
    assert mine.lat == pytest.approx(last.lat)
    assert mine.patrols_today == 1
    assert mine.distance_today_m == round(morning_row.distance_m, 2)

    theirs = by_id[other.user_id]
    later_row, midnight_row = await stored(db, later), await stored(db, midnight)
    assert theirs.status == "patrolled_today"
    assert (theirs.patrol_id, theirs.area_id) == (later, a5)
    assert theirs.last_seen_at == later_row.last_point_at
    assert (theirs.lon, theirs.lat) == (None, None)
    assert theirs.patrols_today == 2
    total = later_row.distance_m + midnight_row.distance_m
    assert theirs.distance_today_m == round(total, 2)
    assert theirs.distance_today_m != round(total)

    mate = by_id[companion.user_id]
    assert (mate.status, mate.patrol_id, mate.patrols_today) == ("patrolled_today", later, 1)

    starter = by_id[twin_a.user_id]
    assert (starter.status, starter.patrol_id, starter.patrols_today) == ("patrolling", tomorrow, 0)
    assert starter.last_seen_at == local(21).astimezone(UTC)

    for idle in (early.user_id, leader.user_id, member.user_id, twin_b.user_id):
        person = by_id[idle]
        assert person.status == "not_today"
        assert (person.patrol_id, person.area_id, person.last_seen_at) == (None, None, None)
        assert (person.lon, person.lat, person.patrols_today, person.distance_today_m) == (
            None,
            None,
            0,
            0,
        )

    # the running patrol ends: no one is patrolling; this morning's patrol is shown
    await PatrolService(db).end_patrol(me, running, ended_at=local(20, 9, 30))
    await db.commit()
    board = await svc.get_live_status(world.captain, now=now)
    mine = next(p for p in board if p.user_id == me.user_id)
    assert (mine.status, mine.patrol_id, mine.patrols_today) == ("patrolled_today", morning, 1)
    assert mine.last_seen_at == morning_row.last_point_at
    assert (mine.lon, mine.lat) == (None, None)
    # a patrol without points is last seen when it started
    quiet = await patrol(db, me, a1, local(20, 12), 600)
    await db.commit()
    board = await svc.get_live_status(world.captain, now=now)
    mine = next(p for p in board if p.user_id == me.user_id)
    assert (mine.patrol_id, mine.last_seen_at) == (quiet, local(20, 12).astimezone(UTC))


async def test_duty_figures_follow_the_mine_sites_of_each_area(
    world: World, db: AsyncSession
) -> None:
    """An area's five-to-one figures cover the mine sites among its targets only; a custom
    target that happens to carry a reference is not a mine site; the CSV shows the ratio."""
    me, other, a1 = await _named(db, world)
    areas = AreaService(db)
    east = await areas.create_area(
        world.captain, code="A0", name="east", grade=2, geometry=EAST, leader_id=other.user_id
    )
    pit, elsewhere = uuid.uuid4(), uuid.uuid4()
    await areas.add_target(
        world.captain, a1, kind="mine_site", name="old pit", lon=110.2, lat=30.2, ref_id=pit
    )
    await areas.add_target(
        world.captain, east.id, kind="custom", name="hut", lon=110.8, lat=30.8, ref_id=elsewhere
    )
    roster = StaticDutyRoster(
        world.county_id,
        [
            RosterMember(uuid.uuid4(), pit, "village_cadre", 7, "cadre", me.user_id, "old pit"),
            RosterMember(uuid.uuid4(), pit, "township_leader", 30, "leader", other.user_id),
            RosterMember(uuid.uuid4(), elsewhere, "village_cadre", 7, "far cadre"),
        ],
    )
    duty = DutyService(db, roster)
    for day in (2, 9, 16, 23, 30):
        await duty.record_duty_check(
            me, uuid7(), site_id=pit, checked_at=local(day, 10), status="still_closed"
        )
    await db.commit()

    svc = CoverageService(db, roster=roster)
    cov = await svc.get_coverage(world.captain, JUNE, now=local(5, 12, month=7))
    a0, a = cov.areas
    assert a0.duty is None
    assert a.duty is not None
    assert (a.duty.sites, a.duty.members, a.duty.members_compliant) == (1, 2, 1)
    assert a.duty.ratio == 0.5
    assert cov.duty is not None
    assert (cov.duty.members, cov.duty.members_compliant) == (3, 1)

    rows = list(csv.reader(io.StringIO(await svc.export_coverage_csv(world.captain, JUNE))))
    assert [r[2] for r in rows[1:3]] == ["A0", "A1"]
    assert (rows[1][-1], rows[2][-1]) == ("", "0.5")


async def test_the_live_board_counts_the_local_day_of_its_clock(
    world: World, db: AsyncSession
) -> None:
    """At 5 am local time the UTC date is still yesterday's: the board counts the local day
    of the clock it is given, shows that clock, and counts each status."""
    me, other, a1 = await _named(db, world)
    idle = await make_user(db, world.county, Role.INSPECTOR, "idle")
    east = await AreaService(db).create_area(
        world.captain, code="A0", name="east", grade=2, geometry=EAST, leader_id=other.user_id
    )
    await db.commit()
    running = await patrol(db, me, a1, local(20, 1), None)
    done = await patrol(db, other, east.id, local(20, 2), 1800)
    await patrol(db, other, east.id, local(19, 20), 1800)  # yesterday evening, local time
    await db.commit()
    now = local(20, 5)
    assert now.astimezone(UTC).date() == date(2026, 6, 19)
    svc = CoverageService(db)

    board = await svc.get_live_board(world.captain, now=now)
    assert board.as_of == now
    assert board.inspectors == await svc.get_live_status(world.captain, now=now)
    by_id = {p.user_id: p for p in board.inspectors}
    mine, theirs = by_id[me.user_id], by_id[other.user_id]
    assert (mine.status, mine.patrol_id, mine.patrols_today) == ("patrolling", running, 1)
    assert (theirs.status, theirs.patrol_id, theirs.patrols_today) == ("patrolled_today", done, 1)
    assert by_id[idle.user_id].status == "not_today"
    listed = len(board.inspectors)
    assert listed >= 3
    assert (board.patrolling, board.patrolled_today, board.not_today) == (1, 1, listed - 2)


async def test_a_running_patrol_counts_nowhere_even_once_its_summary_is_read(
    world: World, db: AsyncSession
) -> None:
    """Reading a running patrol brings its duration up to date (past the minimum a patrol
    needs to count); the month still counts only patrols that have ended."""
    me, _, a1 = await _named(db, world)
    await db.commit()
    pid = await patrol(db, me, a1, local(3, 8), None, steps=70, step_m=13.337)
    await db.commit()
    read = await PatrolService(db).get_patrol(me, pid)
    assert read.ended_at is None
    assert read.duration_s == 700.0
    await db.commit()

    cov = await CoverageService(db).get_coverage(world.captain, JUNE, now=local(3, 9))
    assert (cov.patrols, cov.distance_km, cov.hours) == (0, 0.0, 0.0)
    assert all(i.patrols == 0 for i in cov.inspectors)


async def test_the_orders_hold_whatever_plan_the_database_picks(
    world: World, db: AsyncSession
) -> None:
    """With index scans off, rows come back in the order they were stored: the export's start
    order, the board's latest patrol of the day and its name-then-id order still hold."""
    me, _, a1 = await _named(db, world)
    twin_a = await make_user(db, world.county, Role.INSPECTOR, "twin")
    twin_b = await make_user(
        db, world.county, Role.INSPECTOR, "twin", user_id=uuid.UUID(int=twin_a.user_id.int - 1)
    )
    await db.commit()
    later = await patrol(db, me, a1, local(20, 10), 900)
    earlier = await patrol(db, me, a1, local(20, 8), 900)
    # the twin listed second is met first (named first among the companions)
    await patrol(db, me, a1, local(21, 8), 900, companions=(twin_a.user_id, twin_b.user_id))
    await db.commit()
    for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
        await db.execute(text(f"SET LOCAL {setting} = off"))
    svc = CoverageService(db)

    out = await svc.export_tracks_geojson(
        world.captain, start=date(2026, 6, 20), end=date(2026, 6, 21)
    )
    assert [f["properties"]["patrol_id"] for f in out["features"]] == [str(earlier), str(later)]

    board = await svc.get_live_status(world.captain, now=local(20, 12))
    mine = next(p for p in board if p.user_id == me.user_id)
    assert (mine.status, mine.patrol_id, mine.patrols_today) == ("patrolled_today", later, 2)
    twins = [p.user_id for p in board if p.name == "twin"]
    assert twins == [twin_b.user_id, twin_a.user_id]

    month = await svc.get_coverage(world.captain, JUNE, now=local(30, 12))
    twins = [p.user_id for p in month.inspectors if p.name == "twin"]
    assert twins == [twin_b.user_id, twin_a.user_id]


async def test_a_month_review_leaves_patrols_in_progress_unlocked(
    world: World, db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A captain reading the month while an inspector walks: the review writes nothing to the
    patrol in progress, so the phone's next points are not held up behind the captain's
    transaction (a patrol row the review updated would stay locked until it commits)."""
    me, _, a1 = await _named(db, world)
    await db.commit()
    pid = await patrol(db, me, a1, local(3, 8), None, steps=70, step_m=13.337)
    await db.commit()
    assert (await stored(db, pid)).summary_stale
    await db.commit()

    async with session_factory() as review, session_factory() as phone:
        cov = await CoverageService(review).get_coverage(world.captain, JUNE, now=local(3, 9))
        assert cov.patrols == 0
        # the review's transaction is still open: the phone's lock on its patrol must not wait
        locked = await phone.execute(
            text("SELECT id FROM patrol_sessions WHERE id = :id FOR UPDATE NOWAIT"), {"id": pid}
        )
        assert locked.scalar_one() == pid
        await phone.rollback()
        await review.rollback()
    assert (await stored(db, pid)).summary_stale


async def test_the_board_and_the_export_show_a_patrol_in_progress_as_far_as_it_has_walked(
    world: World, db: AsyncSession
) -> None:
    """A captain watching an inspector walk sees the distance so far on the live board and in
    the track export, the same figures the patrol itself shows once opened; reading them
    writes nothing to the patrol in progress."""
    me, other, a1 = await _named(db, world)
    east = await AreaService(db).create_area(
        world.captain, code="A0", name="east", grade=2, geometry=EAST, leader_id=other.user_id
    )
    await db.commit()
    morning = await patrol(db, me, a1, local(3, 6), 1800, steps=10, step_m=13.337)
    # 70 steps of 13.3371 m: 933.597 m, shown to the centimetre
    walking = await patrol(db, me, a1, local(3, 8), None, steps=70, step_m=13.3371)
    # just set off: one fix, at the very start
    starting = await patrol(db, other, east.id, local(3, 8, 30), None)
    await TrackService(db).append_track_points(other, starting, walk(local(3, 8, 30), n=1))
    await db.commit()
    assert (await stored(db, walking)).summary_stale
    assert (await stored(db, starting)).summary_stale
    await db.commit()

    svc = CoverageService(db)
    board = await svc.get_live_status(world.captain, now=local(3, 9))
    out = await svc.export_tracks_geojson(
        world.captain, start=date(2026, 6, 3), end=date(2026, 6, 4)
    )
    figures = {
        f["properties"]["patrol_id"]: (f["properties"]["distance_m"], f["properties"]["duration_s"])
        for f in out["features"]
    }
    # nothing was written: both patrols in progress are as their phones left them
    assert (await stored(db, walking)).summary_stale
    assert (await stored(db, starting)).summary_stale
    await db.commit()

    opened = await PatrolService(db).get_patrol(me, walking)
    assert (opened.distance_m, opened.duration_s) == (933.6, 700.0)
    assert figures[str(walking)] == (opened.distance_m, opened.duration_s)
    first = await stored(db, morning)
    assert figures[str(morning)] == (first.distance_m, 1800.0)
    assert figures[str(starting)] == (0.0, 0.0)
    mine = next(p for p in board if p.user_id == me.user_id)
    assert (mine.status, mine.patrol_id, mine.patrols_today) == ("patrolling", walking, 2)
    assert mine.distance_today_m == round(first.distance_m + opened.distance_m, 2)
    theirs = next(p for p in board if p.user_id == other.user_id)
    assert (theirs.status, theirs.patrol_id, theirs.distance_today_m) == (
        "patrolling",
        starting,
        0.0,
    )
