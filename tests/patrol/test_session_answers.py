"""Patrol answers a phone or a captain relies on beyond ``test_sessions.py``: every refusal's
code, detail and fields, the phone's clock at its edge on a pinned server clock, every field of
a started patrol, a sign-in and a finding as stored, the filters of the patrol list, the
visits sign-ins, findings and evidence count, the worker's closing of idle patrols (beside a
request that holds one), two ends at once, the findings' screening and edits, and the log
events operators read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import structlog
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.errors import DomainError
from infra.ids import uuid7
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.errors import (
    IdReusedError,
    InvalidPatrolInputError,
    NotPatrolOwnerError,
    PatrolAlreadyEndedError,
    VillageNotFoundError,
)
from patrol.field_models import Finding, PatrolSession, TargetVisit
from patrol.findings import FindingChanges, FindingEdit
from patrol.models import Township, Village
from patrol.plans import PlanService
from patrol.sessions import (
    EndPatrolInput,
    FindingInput,
    PatrolService,
    SignInInput,
    StartPatrolInput,
    auto_close_stale_patrols,
)
from patrol.tracks import PointIn, TrackService
from tests.clock import CHINA, NOW
from tests.patrol.helpers import M_PER_DEG_LAT, polygon_box, walk
from tests.worlds import World

CFG = PatrolConfig()
US = timedelta(microseconds=1)
AHEAD = timedelta(seconds=CFG.future_tolerance_s)  # 300 s
REASONS = "no_gps_fix, device_fault, indoor, signal_blocked, other"
LON, LAT = 110.3, 30.3  # inside area A1 (the county's western half), outside the village


def _pinned() -> datetime:
    return NOW


def _service(db: AsyncSession, **kw: Any) -> PatrolService:
    return PatrolService(db, clock=_pinned, **kw)


def _said(err: pytest.ExceptionInfo[DomainError]) -> tuple[str, str, dict[str, Any]]:
    return err.value.code, err.value.detail, err.value.extra


async def _started(
    world: World, db: AsyncSession, at: datetime = NOW - timedelta(hours=2), **kw: Any
) -> uuid.UUID:
    pid = uuid7()
    await _service(db).start_patrol(world.inspector, pid, area_id=world.area.id, started_at=at,
                                    **kw)  # fmt: skip
    return pid


def _north(metres: float, lon: float = LON, lat: float = LAT) -> tuple[float, float]:
    return lon, lat + metres / M_PER_DEG_LAT


def _gps(
    pid: uuid.UUID, at: datetime, lon: float = LON, lat: float = LAT, **kw: Any
) -> SignInInput:
    return SignInInput(patrol_id=pid, sign_in_id=uuid7(), at=at, lon=lon, lat=lat, **kw)


def _finding(pid: uuid.UUID, at: datetime, **kw: Any) -> FindingInput:
    fields: dict[str, Any] = {"project_name": "warehouse", "construction_status": "partly_built",
                              "lon": LON, "lat": LAT} | kw  # fmt: skip
    return FindingInput(patrol_id=pid, finding_id=uuid7(), found_at=at, **fields)


# -- the phone's clock -------------------------------------------------------------------------
async def test_every_phone_time_may_run_five_minutes_ahead_and_not_a_microsecond_more(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    edge = NOW + AHEAD

    def late(field: str) -> tuple[str, str, dict[str, Any]]:
        return "invalid_time", f"{field} is more than 5 minutes in the future", {"field": field}

    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.start(world.inspector, StartPatrolInput(
            patrol_id=uuid7(), area_id=world.area.id, started_at=edge + US))  # fmt: skip
    assert _said(err) == late("started_at")
    pid = uuid7()
    patrol = await svc.start(world.inspector, StartPatrolInput(
        patrol_id=pid, area_id=world.area.id, started_at=edge))  # fmt: skip
    assert patrol.started_at == edge
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.sign_in_many(world.inspector, [_gps(pid, edge + US)])
    assert _said(err) == late("at")
    [(sign_in, replayed)] = await svc.sign_in_many(world.inspector, [_gps(pid, edge)])
    assert (sign_in.at, replayed) == (edge, False)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_findings(world.inspector, [_finding(pid, edge + US)])
    assert _said(err) == late("found_at")
    [(finding, replayed)] = await svc.record_findings(world.inspector, [_finding(pid, edge)])
    assert (finding.found_at, replayed) == (edge, False)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.end(world.inspector, EndPatrolInput(patrol_id=pid, ended_at=edge + US))
    assert _said(err) == late("ended_at")
    ended = await svc.end(world.inspector, EndPatrolInput(patrol_id=pid, ended_at=edge))
    assert (ended.ended_at, ended.end_reason) == (edge, "ended")
    # a county may allow its phones another margin
    loose = _service(db, config=replace(CFG, future_tolerance_s=600.0))
    later = await loose.start_patrol(world.inspector, uuid7(), area_id=world.area.id,
                                     started_at=NOW + 2 * AHEAD)  # fmt: skip
    assert later.started_at == NOW + 2 * AHEAD
    # an offset other than UTC is the same instant, stored in UTC
    china = (NOW + AHEAD).astimezone(CHINA)
    in_china = await svc.start_patrol(world.inspector, uuid7(), area_id=world.area.id,
                                      started_at=china)  # fmt: skip
    assert in_china.started_at == NOW + AHEAD and in_china.started_at.tzinfo == UTC


async def test_times_without_an_offset_are_refused_by_name(world: World, db: AsyncSession) -> None:
    svc = _service(db)
    naive = (NOW - timedelta(hours=1)).replace(tzinfo=None)

    def naive_said(field: str) -> tuple[str, str, dict[str, Any]]:
        return "invalid_time", f"{field} must carry a time zone offset", {"field": field}

    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.start_patrol(world.inspector, uuid7(), area_id=world.area.id, started_at=naive)
    assert _said(err) == naive_said("started_at")
    pid = await _started(world, db)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.sign_in(world.inspector, pid, uuid7(), at=naive, lon=LON, lat=LAT)
    assert _said(err) == naive_said("at")
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_findings(world.inspector, [_finding(pid, naive)])
    assert _said(err) == naive_said("found_at")
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.end_patrol(world.inspector, pid, ended_at=naive)
    assert _said(err) == naive_said("ended_at")
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.list_patrols(world.captain, since=naive)
    assert _said(err) == naive_said("since")
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.list_patrols(world.captain, until=naive)
    assert _said(err) == naive_said("until")
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_location_visit(world.inspector, pid, lon=LON, lat=LAT, at=naive)
    assert _said(err) == naive_said("at")


# -- start ---------------------------------------------------------------------------------------
async def _second_area(world: World, db: AsyncSession, **kw: Any) -> uuid.UUID:
    area = await AreaService(db).create_area(
        world.captain, code="A2", name="east area", grade=2,
        geometry=polygon_box(110.5, 30.0, 111.0, 31.0), leader_id=world.inspector.user_id, **kw,
    )  # fmt: skip
    return area.id


async def test_a_started_patrol_keeps_every_field_and_its_local_month_plan(
    world: World, db: AsyncSession
) -> None:
    plans = PlanService(db)
    october = await plans.upsert_plan(world.captain, world.area.id, date(2026, 10, 1))
    november = await plans.upsert_plan(world.captain, world.area.id, date(2026, 11, 1))
    assert october.plan_id != november.plan_id
    # 16:30 UTC on 31 October is half past midnight on 1 November in China
    started = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    me, mate, squad = world.inspector.user_id, world.inspector2.user_id, world.squad2.user_id
    pid = uuid7()
    patrol = await _service(db).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=started,
        companion_ids=[mate, me, squad, mate], note="river bank",
    )  # fmt: skip
    await db.commit()
    stored = await db.get(PatrolSession, pid, populate_existing=True)
    assert stored is not None
    for row in (patrol, stored):
        assert (row.id, row.county_id, row.area_id, row.inspector_id) == (
            pid, world.county_id, world.area.id, me,
        )  # fmt: skip
        assert row.companion_ids == [mate, squad]  # once each, in order, without the inspector
        assert (row.plan_id, row.started_at, row.note) == (november.plan_id, started, "river bank")
        assert (row.ended_at, row.end_reason, row.last_point_at) == (None, None, None)
        assert (row.has_violation, row.summary_stale, row.is_night) == (False, False, False)
        assert (row.point_count, row.used_point_count, row.poor_accuracy_count,
                row.speed_flagged_count) == (0, 0, 0, 0)  # fmt: skip
        assert (row.distance_m, row.duration_s, row.moving_s) == (0.0, 0.0, 0.0)
    # 15:59 UTC on 31 October is still October in China; a month without a plan has none
    october_patrol = await _service(db).start_patrol(
        world.inspector, uuid7(), area_id=world.area.id,
        started_at=datetime(2026, 10, 31, 15, 59, tzinfo=UTC),
    )  # fmt: skip
    assert october_patrol.plan_id == october.plan_id
    assert october_patrol.companion_ids == [] and october_patrol.note == ""
    alone = await _service(db).start_patrol(
        world.inspector, uuid7(), area_id=world.area.id, companion_ids=[me],
        started_at=datetime(2026, 9, 30, 16, 0, tzinfo=UTC),
    )  # fmt: skip
    assert (alone.plan_id, alone.companion_ids) == (october.plan_id, [])
    september = await _service(db).start_patrol(
        world.inspector, uuid7(), area_id=world.area.id,
        started_at=datetime(2026, 9, 30, 15, 59, tzinfo=UTC),
    )  # fmt: skip
    assert september.plan_id is None


async def test_a_start_replayed_returns_the_patrol_and_another_use_of_its_id_is_refused(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    other_area = await _second_area(world, db)
    started = NOW - timedelta(hours=1)
    pid = await _started(world, db, started, note="first")
    # the replay returns what is stored, whatever else it says
    again = await svc.start(world.inspector, StartPatrolInput(
        patrol_id=pid, area_id=world.area.id, started_at=started - timedelta(minutes=5),
        note="second"))  # fmt: skip
    assert (again.id, again.started_at, again.note) == (pid, started, "first")
    reused = ("id_reused", "this patrol id is already used", {"patrol_id": str(pid)})
    with pytest.raises(IdReusedError) as err:  # the same inspector, another area
        await svc.start_patrol(world.inspector, pid, area_id=other_area, started_at=started)
    assert _said(err) == reused
    with pytest.raises(IdReusedError) as err:  # another inspector, the same area
        await svc.start_patrol(world.captain, pid, area_id=world.area.id, started_at=started)
    assert _said(err) == reused


async def test_an_inactive_area_and_unknown_companions_are_refused(
    world: World, db: AsyncSession, other_world: Any
) -> None:
    svc = _service(db)
    stranger: World = await other_world()
    at = NOW - timedelta(hours=1)
    mates = [world.inspector2.user_id, stranger.inspector.user_id]
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.start_patrol(world.inspector, uuid7(), area_id=world.area.id, started_at=at,
                               companion_ids=mates)  # fmt: skip
    assert _said(err) == (
        "unknown_user",
        "unknown companions for this county",
        {"field": "companion_ids"},
    )
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.start_patrol(world.inspector, uuid7(), area_id=world.area.id, started_at=at,
                               companion_ids=[uuid.uuid4()])  # fmt: skip
    assert err.value.code == "unknown_user"
    pid = uuid7()
    await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=at)
    await AreaService(db).update_area(world.captain, world.area.id, active=False)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.start_patrol(world.inspector, uuid7(), area_id=world.area.id, started_at=at)
    assert _said(err) == (
        "area_inactive",
        "this contract area is no longer active",
        {"area_id": str(world.area.id)},
    )
    # a patrol started before the area was retired is still its patrol
    assert (await svc.start_patrol(world.inspector, pid, area_id=world.area.id,
                                   started_at=at)).id == pid  # fmt: skip


# -- end -----------------------------------------------------------------------------------------
async def test_an_end_at_the_start_is_taken_and_a_microsecond_before_refused(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    started = NOW - timedelta(hours=1)
    pid = await _started(world, db, started, note="from the gate")
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.end_patrol(world.inspector, pid, ended_at=started - US)
    assert _said(err) == ("invalid_time", "ended_at is before started_at", {"field": "ended_at"})
    ended = await svc.end_patrol(world.inspector, pid, ended_at=started)
    assert (ended.ended_at, ended.end_reason, ended.duration_s) == (started, "ended", 0.0)
    assert ended.note == "from the gate"  # no note: the start's stays
    # the same end again is the stored patrol; another end is refused with the stored one
    assert (await svc.end_patrol(world.inspector, pid, ended_at=started)).ended_at == started
    with pytest.raises(PatrolAlreadyEndedError) as err:
        await svc.end_patrol(world.inspector, pid, ended_at=started + US)
    assert _said(err) == ("patrol_already_ended", "this patrol has already ended",
                          {"patrol_id": str(pid), "ended_at": started.isoformat()})  # fmt: skip


async def test_an_end_takes_its_note_and_figures_and_only_the_crew_may_end(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    started = NOW - timedelta(hours=2)
    pid = await _started(world, db, started, note="from the gate",
                         companion_ids=[world.inspector2.user_id])  # fmt: skip
    await TrackService(db).append_track_points(world.inspector, pid, walk(started, n=5))
    with pytest.raises(NotPatrolOwnerError):
        await svc.end_patrol(world.captain, pid, ended_at=started + timedelta(hours=1))
    # a companion ends it with a note of its own
    ended = await svc.end(world.inspector2, EndPatrolInput(
        patrol_id=pid, ended_at=started + timedelta(minutes=90), note=""))  # fmt: skip
    assert (ended.note, ended.end_reason, ended.duration_s) == ("", "ended", 5400.0)
    assert ended.distance_m == pytest.approx(60.0, abs=0.01) and ended.point_count == 5
    await db.commit()
    stored = await db.get(PatrolSession, pid, populate_existing=True)
    assert stored is not None
    assert (stored.note, stored.ended_at, stored.end_reason) == (
        "",
        started + timedelta(minutes=90),
        "ended",
    )


async def test_an_auto_closed_patrol_takes_the_phones_end_even_at_the_same_time(
    world: World, db: AsyncSession
) -> None:
    started = NOW - timedelta(hours=10)
    pid = await _started(world, db, started)
    points = walk(started, n=5)
    await TrackService(db).append_track_points(world.inspector, pid, points)
    await db.commit()
    assert await auto_close_stale_patrols(db, now=NOW, county_id=world.county_id) == [pid]
    closed = await db.get(PatrolSession, pid)
    assert closed is not None
    assert (closed.ended_at, closed.end_reason) == (points[-1].t, "auto_closed")
    # the phone says it ended at the last point too: now it is ended by the phone
    ended = await _service(db).end_patrol(world.inspector, pid, ended_at=points[-1].t,
                                          note="back")  # fmt: skip
    assert (ended.ended_at, ended.end_reason, ended.note) == (points[-1].t, "ended", "back")
    # and from then on another end is refused
    with pytest.raises(PatrolAlreadyEndedError):
        await _service(db).end_patrol(world.inspector, pid, ended_at=NOW)


# -- reads ---------------------------------------------------------------------------------------
async def test_reading_a_patrol_with_new_points_computes_its_figures_afresh(
    world: World, db: AsyncSession
) -> None:
    started = NOW - timedelta(hours=2)
    pid = await _started(world, db, started)
    await TrackService(db).append_track_points(world.inspector, pid, walk(started, n=5))
    before = await db.get(PatrolSession, pid)
    assert before is not None and before.summary_stale
    patrol = await _service(db).get_patrol(world.captain, pid)
    assert patrol.distance_m == pytest.approx(60.0, abs=0.01)
    assert (patrol.summary_stale, patrol.used_point_count) == (False, 5)
    with pytest.raises(NotPatrolOwnerError):
        await _service(db).get_patrol(world.inspector2, pid)


async def test_the_patrol_list_filters_by_time_area_inspector_and_status(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    other_area = await _second_area(world, db, member_ids=[world.inspector2.user_id])
    t0 = NOW - timedelta(hours=5)
    first = await _started(world, db, t0)
    second = await _started(world, db, t0 + timedelta(hours=1))
    third = uuid7()
    await svc.start_patrol(world.inspector2, third, area_id=other_area,
                           started_at=t0 + timedelta(hours=2))  # fmt: skip
    fourth = uuid7()
    await svc.start_patrol(world.captain, fourth, area_id=world.area.id,
                           started_at=t0 + timedelta(hours=3))  # fmt: skip
    await svc.end_patrol(world.inspector, second, ended_at=t0 + timedelta(hours=1, minutes=30))

    async def ids(**kw: Any) -> list[uuid.UUID]:
        return [p.id for p in await svc.list_patrols(world.captain, **kw)]

    assert await ids() == [fourth, third, second, first]  # newest first
    hour = timedelta(hours=1)
    assert await ids(since=t0 + hour) == [fourth, third, second]  # from that time on
    assert await ids(since=t0 + hour + US) == [fourth, third]
    assert await ids(until=t0 + hour) == [first]  # before that time
    assert await ids(until=t0 + hour + US) == [second, first]
    assert await ids(since=t0 + hour, until=t0 + 3 * hour) == [third, second]
    assert await ids(area_id=other_area) == [third]
    assert await ids(area_id=world.area.id) == [fourth, second, first]
    assert await ids(inspector_id=world.inspector.user_id) == [second, first]
    assert await ids(inspector_id=world.inspector2.user_id, area_id=world.area.id) == []
    assert await ids(status="ended") == [second]
    assert await ids(status="ongoing") == [fourth, third, first]
    assert await ids(status="ongoing", inspector_id=world.inspector.user_id) == [first]
    # at least one, at most what was asked for
    assert await ids(limit=2) == [fourth, third]
    assert await ids(limit=1) == [fourth]
    assert await ids(limit=0) == [fourth]
    assert await ids(limit=-3) == [fourth]
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.list_patrols(world.captain, status="closed")
    assert _said(err) == (
        "invalid_status",
        "status must be one of ongoing, ended",
        {"field": "status"},
    )
    # the second inspector reads the patrol he made; an officer of the squad reads none
    assert [p.id for p in await svc.list_patrols(world.inspector2)] == [third]
    assert await svc.list_patrols(world.squad) == []


async def test_the_patrol_list_holds_at_most_a_thousand(world: World, db: AsyncSession) -> None:
    t0 = NOW - timedelta(days=30)
    base = {"county_id": world.county_id, "area_id": world.area.id,
            "inspector_id": world.inspector.user_id}  # fmt: skip
    # ended, so that no run of the worker has to close them
    db.add_all(
        PatrolSession(id=uuid7(), started_at=t0 + timedelta(minutes=i),
                      ended_at=t0 + timedelta(minutes=i + 1), end_reason="ended", **base)
        for i in range(1001)
    )  # fmt: skip
    await db.flush()
    svc = _service(db)
    assert len(await svc.list_patrols(world.captain, limit=5000)) == 1000
    assert len(await svc.list_patrols(world.captain, limit=1000)) == 1000
    assert len(await svc.list_patrols(world.captain, limit=999)) == 999
    assert len(await svc.list_patrols(world.captain)) == 200


# -- sign-ins ------------------------------------------------------------------------------------
async def test_sign_in_refusals_say_what_and_which_field(world: World, db: AsyncSession) -> None:
    svc = _service(db)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    manual = {"method": "manual", "reason_code": "indoor", "village_id": world.village.id}
    needs = ("manual_sign_in_needs_reason",
             f"a manual sign-in needs a reason code ({REASONS}) and a village",
             {"field": "reason_code"})  # fmt: skip
    no_fix = ("invalid_coordinates", "a GPS position (lon, lat) is required", {"field": "lon"})
    accuracy = ("invalid_accuracy", "accuracy must be between 0 and 10000 m",
                {"field": "accuracy_m"})  # fmt: skip
    cases: list[tuple[dict[str, Any], tuple[str, str, dict[str, Any]]]] = [
        ({"method": "walk"}, ("invalid_patrol_input", "method must be gps or manual",
                              {"field": "method"})),
        ({"method": "GPS"}, ("invalid_patrol_input", "method must be gps or manual",
                             {"field": "method"})),
        (manual | {"reason_code": None}, needs),
        (manual | {"reason_code": ""}, needs),
        (manual | {"reason_code": "tired"}, needs),
        (manual | {"village_id": None}, needs),
        ({"lon": None}, no_fix),
        ({"lat": None}, no_fix),
        ({"lon": None, "lat": None}, no_fix),
        ({"accuracy_m": -0.01}, accuracy),
        ({"accuracy_m": 10_000.01}, accuracy),
        ({"accuracy_m": float("nan")}, accuracy),
        ({"accuracy_m": float("inf")}, accuracy),
    ]  # fmt: skip
    for fields, said in cases:
        item = SignInInput(**({"patrol_id": pid, "sign_in_id": uuid7(), "at": at,
                               "lon": LON, "lat": LAT} | fields))  # fmt: skip
        with pytest.raises(InvalidPatrolInputError) as err:
            await svc.sign_in_many(world.inspector, [item])
        assert _said(err) == said, fields
    with pytest.raises(DomainError) as err:
        await svc.sign_in(world.inspector, pid, uuid7(), at=at, lon=180.5, lat=LAT)
    assert err.value.code == "invalid_coordinates"
    # a batch is of one patrol, each sign-in once
    other = await _started(world, db)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.sign_in_many(world.inspector, [_gps(pid, at), _gps(other, at)])
    assert _said(err) == (
        "invalid_patrol_input",
        "a batch is of one patrol",
        {"field": "patrol_id"},
    )
    one = _gps(pid, at)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.sign_in_many(world.inspector, [one, replace(one, at=at + US)])
    assert _said(err) == (
        "invalid_patrol_input",
        "the same sign_in_id twice in one batch",
        {"field": "sign_in_id"},
    )
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.sign_in_many(world.inspector, [])
    assert _said(err)[2] == {"field": "patrol_id"}
    # an unknown village, and a village of another county, are not found
    stray = uuid.uuid4()
    with pytest.raises(VillageNotFoundError) as err:
        await svc.sign_in_many(world.inspector, [_gps(pid, at, **manual | {"village_id": stray})])
    assert _said(err) == ("village_not_found", "village not found", {"village_id": str(stray)})
    # nothing of the refused batches was stored
    assert await svc.list_sign_ins(world.inspector, pid) == []


async def test_a_sign_in_keeps_every_field(world: World, db: AsyncSession) -> None:
    svc = _service(db)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    gps, manual, edge, exact = uuid7(), uuid7(), uuid7(), uuid7()
    rows = await svc.sign_in_many(world.inspector, [
        # a reason code with a GPS fix is not kept; its village and address are
        SignInInput(patrol_id=pid, sign_in_id=gps, at=at, lon=LON, lat=LAT, accuracy_m=7.5,
                    reason_code="indoor", village_id=world.village.id, address="dam"),
        # an accuracy with a manual sign-in is not kept either
        SignInInput(patrol_id=pid, sign_in_id=manual, at=at + US, method="manual",
                    reason_code="signal_blocked", village_id=world.village.id, accuracy_m=3.0,
                    address="village hall"),
        SignInInput(patrol_id=pid, sign_in_id=edge, at=at, lon=-180.0, lat=-90.0,
                    accuracy_m=10_000.0),
        SignInInput(patrol_id=pid, sign_in_id=exact, at=at, lon=180.0, lat=90.0, accuracy_m=0.0),
    ])  # fmt: skip
    assert [(r.id, replayed) for r, replayed in rows] == [
        (gps, False), (manual, False), (edge, False), (exact, False)
    ]  # fmt: skip
    await db.commit()
    stored = {s.id: s for s in await svc.list_sign_ins(world.captain, pid)}
    for returned, _ in rows:
        row = stored[returned.id]
        assert (row.county_id, row.session_id, row.user_id) == (
            world.county_id,
            pid,
            world.inspector.user_id,
        )
    g, m = stored[gps], stored[manual]
    assert (g.at, g.method, g.accuracy_m, g.reason_code, g.village_id, g.address) == (
        at,
        "gps",
        7.5,
        None,
        world.village.id,
        "dam",
    )
    assert to_shape(g.geom).coords[0] == (LON, LAT)
    srid = text("SELECT ST_SRID(geom) FROM patrol_sign_ins WHERE id = :i")
    assert (await db.scalar(srid, {"i": gps}), await db.scalar(srid, {"i": manual})) == (4326, 4326)
    assert (m.at, m.method, m.accuracy_m, m.reason_code, m.village_id, m.address) == (
        at + US,
        "manual",
        None,
        "signal_blocked",
        world.village.id,
        "village hall",
    )
    # a manual sign-in stands inside its village (110.1-110.2 E, 30.1-30.2 N)
    assert box(110.1, 30.1, 110.2, 30.2).contains(to_shape(m.geom))
    assert (stored[edge].accuracy_m, stored[exact].accuracy_m) == (10_000.0, 0.0)
    assert to_shape(stored[edge].geom).coords[0] == (-180.0, -90.0)
    # the list is in time order, then by id
    listed = [s.id for s in await svc.list_sign_ins(world.inspector, pid)]
    assert listed == [*sorted([gps, edge, exact]), manual]
    with pytest.raises(NotPatrolOwnerError):
        await svc.list_sign_ins(world.squad, pid)


async def test_sign_ins_replayed_in_a_batch_are_marked_and_kept_as_stored(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    first = _gps(pid, at, accuracy_m=4.0)
    await svc.sign_in_many(world.inspector, [first])
    again = replace(first, lon=LON + 0.1, accuracy_m=40.0)
    new = _gps(pid, at + timedelta(minutes=1))
    rows = await svc.sign_in_many(world.inspector, [again, new])
    assert [(r.id, r.accuracy_m, replayed) for r, replayed in rows] == [
        (first.sign_in_id, 4.0, True), (new.sign_in_id, None, False)
    ]  # fmt: skip
    # a replay alone needs no targets and no village
    manual = SignInInput(patrol_id=pid, sign_in_id=uuid7(), at=at, method="manual",
                         reason_code="other", village_id=world.village.id)  # fmt: skip
    await svc.sign_in_many(world.inspector, [manual])
    [(row, replayed)] = await svc.sign_in_many(world.inspector, [manual])
    assert (row.id, row.reason_code, replayed) == (manual.sign_in_id, "other", True)
    # an id already used on another patrol is refused
    other = await _started(world, db)
    with pytest.raises(IdReusedError) as err:
        await svc.sign_in_many(world.inspector, [replace(first, patrol_id=other)])
    assert _said(err) == ("id_reused", "this id is already used", {"id": str(first.sign_in_id)})
    # only the crew signs in
    with pytest.raises(NotPatrolOwnerError):
        await svc.sign_in_many(world.captain, [_gps(pid, at)])


async def test_after_the_end_sign_ins_and_findings_are_taken_up_to_five_minutes_later(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    started = NOW - timedelta(hours=2)
    pid = await _started(world, db, started)
    end = started + timedelta(hours=1)
    await svc.end_patrol(world.inspector, pid, ended_at=end)
    late = ("patrol_already_ended", "this patrol ended before that time",
            {"patrol_id": str(pid), "ended_at": end.isoformat()})  # fmt: skip
    with pytest.raises(PatrolAlreadyEndedError) as err:
        await svc.sign_in_many(world.inspector, [_gps(pid, end + AHEAD + US)])
    assert _said(err) == late
    with pytest.raises(PatrolAlreadyEndedError) as err:
        await svc.record_findings(world.inspector, [_finding(pid, end + AHEAD + US)])
    assert _said(err) == late
    [(row, _)] = await svc.sign_in_many(world.inspector, [_gps(pid, end + AHEAD)])
    assert row.at == end + AHEAD
    [(finding, _)] = await svc.record_findings(world.inspector, [_finding(pid, end + AHEAD)])
    assert finding.found_at == end + AHEAD
    # a sign-in stored before the end is replayed whatever its time
    [(_, replayed)] = await svc.sign_in_many(world.inspector, [replace(
        _gps(pid, end + 2 * AHEAD), sign_in_id=row.id)])  # fmt: skip
    assert replayed
    [(_, replayed)] = await svc.record_findings(world.inspector, [replace(
        _finding(pid, end + 2 * AHEAD), finding_id=finding.id)])  # fmt: skip
    assert replayed
    # ... but a new one behind a replay in one batch is still checked
    with pytest.raises(PatrolAlreadyEndedError) as err:
        await svc.sign_in_many(world.inspector, [replace(_gps(pid, end), sign_in_id=row.id),
                                                 _gps(pid, end + AHEAD + US)])  # fmt: skip
    assert _said(err) == late


# -- findings ------------------------------------------------------------------------------------
async def _east_town_with_a_village_in_the_west(
    world: World, db: AsyncSession
) -> tuple[uuid.UUID, uuid.UUID]:
    """A township over the county's eastern half, and a village of it that lies (by an old
    boundary) in the western one, at 110.3-110.4 E, 30.6-30.7 N."""
    town = Township(
        county_id=world.county_id,
        code="east",
        name="east town",
        geom=from_shape(MultiPolygon([box(110.5, 30.0, 111.0, 31.0)]), srid=4326),
    )
    db.add(town)
    await db.flush()
    village = Village(county_id=world.county_id, township_id=town.id, code="enclave",
                      name="enclave", geom=from_shape(MultiPolygon([box(110.3, 30.6, 110.4, 30.7)]),
                                                      srid=4326))  # fmt: skip
    db.add(village)
    await db.flush()
    return town.id, village.id


async def test_a_finding_takes_its_places_from_its_position_when_not_given(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    east, enclave = await _east_town_with_a_village_in_the_west(world, db)
    west, river = world.township.id, world.village.id
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    # each at a position of its own (places are looked up once per position)
    cases = [
        ({"lon": 110.15, "lat": 30.15}, (west, river)),  # in the river village
        ({"lon": 110.35, "lat": 30.65}, (east, enclave)),  # the village's own township
        ({"lon": LON, "lat": LAT}, (west, None)),  # in the west, in no village
        ({"lon": 110.7, "lat": 30.5}, (east, None)),
        ({"lon": 110.16, "lat": 30.16, "township_id": east}, (east, river)),
        ({"lon": 110.36, "lat": 30.66, "village_id": river}, (west, river)),
        ({"lon": 110.31, "lat": 30.31, "village_id": enclave}, (west, enclave)),
        ({"lon": 110.17, "lat": 30.17, "township_id": east, "village_id": enclave},
         (east, enclave)),
        ({"lon": 110.71, "lat": 30.51, "township_id": west, "village_id": river}, (west, river)),
        ({"lon": 110.72, "lat": 30.52, "township_id": west}, (west, None)),
    ]  # fmt: skip
    items = [_finding(pid, at, **fields) for fields, _ in cases]
    rows = await svc.record_findings(world.inspector, items)
    assert [(r.township_id, r.village_id) for r, _ in rows] == [want for _, want in cases]
    # two unknown villages: the smaller id is named
    strays = sorted([uuid.uuid4(), uuid.uuid4()])
    with pytest.raises(VillageNotFoundError) as err:
        await svc.record_findings(world.inspector, [
            _finding(pid, at, village_id=strays[1]), _finding(pid, at, village_id=river),
            _finding(pid, at, village_id=strays[0])])  # fmt: skip
    assert _said(err) == ("village_not_found", "village not found",
                          {"village_id": str(strays[0])})  # fmt: skip


async def test_a_finding_keeps_every_field_and_marks_its_patrol(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    pid = await _started(world, db)
    fid = uuid7()
    at = NOW - timedelta(hours=1)
    outline = polygon_box(110.149, 30.149, 110.151, 30.151)
    [(row, replayed)] = await svc.record_findings(world.inspector, [
        FindingInput(patrol_id=pid, finding_id=fid, found_at=at, project_name="warehouse",
                     construction_status="levelled", lon=110.15, lat=30.15, accuracy_m=6.5,
                     builder="Li", construction_started_on=date(2026, 9, 1),
                     occupied_area_m2=1200.0, note="fenced", outline=outline),
    ])  # fmt: skip
    assert not replayed
    await db.commit()
    stored = await db.get(Finding, fid, populate_existing=True)
    assert stored is not None
    for r in (row, stored):
        assert (r.id, r.county_id, r.session_id, r.reported_by, r.found_at) == (
            fid,
            world.county_id,
            pid,
            world.inspector.user_id,
            at,
        )
        assert (r.project_name, r.builder, r.construction_started_on, r.construction_status) == (
            "warehouse",
            "Li",
            date(2026, 9, 1),
            "levelled",
        )
        assert (r.occupied_area_m2, r.accuracy_m, r.note) == (1200.0, 6.5, "fenced")
        assert (r.township_id, r.village_id) == (world.township.id, world.village.id)
    # what the reference layers said of its place, and its walked outline
    check = stored.location_check
    assert (check["lon"], check["lat"], check["accuracy_m"]) == (110.15, 30.15, 6.5)
    assert stored.areas_source["basis"] == "outline"
    assert to_shape(stored.geom).coords[0] == (110.15, 30.15)
    assert to_shape(stored.outline).equals(box(110.149, 30.149, 110.151, 30.151))
    srids = text("SELECT ST_SRID(geom), ST_SRID(outline) FROM patrol_findings WHERE id = :i")
    assert tuple((await db.execute(srids, {"i": fid})).one()) == (4326, 4326)
    patrol = await db.get(PatrolSession, pid, populate_existing=True)
    assert patrol is not None and patrol.has_violation
    # without an outline none is stored; without an accuracy none either
    [(bare, _)] = await svc.record_findings(world.inspector, [_finding(pid, at)])
    await db.commit()
    bare = await db.get(Finding, bare.id, populate_existing=True)
    assert bare is not None
    assert (bare.outline, bare.accuracy_m, bare.builder, bare.note) == (None, None, "", "")
    assert (bare.location_check["accuracy_m"], bare.areas_source["basis"]) == (0.0, "none")


async def test_findings_replayed_are_marked_and_refusals_name_their_field(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    first = _finding(pid, at, project_name="first")
    await svc.record_findings(world.inspector, [first])
    new = _finding(pid, at, project_name="second")
    rows = await svc.record_findings(world.inspector, [replace(first, project_name="again"), new])
    assert [(r.id, r.project_name, replayed) for r, replayed in rows] == [
        (first.finding_id, "first", True), (new.finding_id, "second", False)
    ]  # fmt: skip
    [(only, replayed)] = await svc.record_findings(world.inspector, [first])
    assert (only.id, replayed) == (first.finding_id, True)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_findings(world.inspector, [first, replace(first, project_name="x")])
    assert _said(err) == ("invalid_patrol_input", "the same finding_id twice in one batch",
                          {"field": "finding_id"})  # fmt: skip
    other = await _started(world, db)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_findings(world.inspector, [_finding(pid, at), _finding(other, at)])
    assert _said(err)[2] == {"field": "patrol_id"}
    with pytest.raises(IdReusedError) as err:
        await svc.record_findings(world.inspector, [replace(first, patrol_id=other)])
    assert _said(err) == ("id_reused", "this id is already used", {"id": str(first.finding_id)})
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_findings(world.inspector, [_finding(pid, at, accuracy_m=10_000.5)])
    assert _said(err)[0] == "invalid_accuracy"
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_findings(world.inspector, [_finding(pid, at, occupied_area_m2=-1.0)])
    assert _said(err)[2] == {"field": "occupied_area_m2"}
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_findings(world.inspector, [_finding(pid, at, construction_status="gone")])
    assert _said(err)[2] == {"field": "construction_status"}
    # a name of spaces only is no name, on record as on edit; 200 characters are taken,
    # spaces counted as the column counts them
    for name in ("   ", "名" * 201, " " + "名" * 200):
        with pytest.raises(InvalidPatrolInputError) as err:
            await svc.record_findings(world.inspector, [_finding(pid, at, project_name=name)])
        assert _said(err) == ("invalid_patrol_input", "project name must be 1-200 characters",
                              {"field": "project_name"})  # fmt: skip
    [(longest, _)] = await svc.record_findings(
        world.inspector, [_finding(pid, at, project_name=" " + "名" * 199)]
    )
    assert longest.project_name == " " + "名" * 199
    # the versions of the county's findings, by id
    versions = await svc.finding_versions(world.inspector, [first.finding_id, new.finding_id,
                                                            uuid.uuid4()])  # fmt: skip
    assert set(versions) == {first.finding_id, new.finding_id}
    assert all(isinstance(v, int) and v > 0 for v in versions.values())


async def test_the_findings_of_a_patrol_in_time_order_for_its_readers(
    world: World, db: AsyncSession, other_world: Any
) -> None:
    svc = _service(db)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    later, earlier = _finding(pid, at + timedelta(minutes=5)), _finding(pid, at)
    await svc.record_findings(world.inspector, [later, earlier])
    listed = await svc.list_findings(world.captain, pid)
    assert [f.id for f in listed] == [earlier.finding_id, later.finding_id]
    empty = await _started(world, db)
    assert await svc.list_findings(world.inspector, empty) == []
    with pytest.raises(NotPatrolOwnerError):
        await svc.list_findings(world.inspector2, empty)
    # the squad reads neither the patrol nor its findings
    with pytest.raises(NotPatrolOwnerError):
        await svc.list_findings(world.squad, pid)
    stranger: World = await other_world()
    versions = await svc.finding_versions(stranger.inspector, [later.finding_id])
    assert versions == {}


# -- visits --------------------------------------------------------------------------------------
async def _target(world: World, db: AsyncSession, name: str, lon: float = LON, lat: float = LAT,
                  radius: float = 100.0) -> uuid.UUID:  # fmt: skip
    target = await AreaService(db).add_target(
        world.captain, world.area.id, kind="custom", name=name, lon=lon, lat=lat,
        visit_radius_m=radius,
    )  # fmt: skip
    return target.id


async def _visits(db: AsyncSession, pid: uuid.UUID) -> list[tuple[uuid.UUID, str, datetime, float]]:
    stmt = select(TargetVisit).where(TargetVisit.session_id == pid)
    rows = (await db.execute(stmt.execution_options(populate_existing=True))).scalars()
    return sorted((v.target_id, v.source, v.first_at, v.min_distance_m) for v in rows)


async def test_visits_keep_the_earliest_time_and_the_nearest_distance_of_each_source(
    world: World, db: AsyncSession
) -> None:
    gate = await _target(world, db, "gate")
    far_post = await _target(world, db, "post", *_north(5000.0))
    svc = _service(db)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    # a later sign-in nearer, an earlier one farther, in one batch; then an earlier still
    await svc.sign_in_many(world.inspector, [
        _gps(pid, at + timedelta(minutes=10), *_north(12.3456)),
        _gps(pid, at + timedelta(minutes=5), *_north(80.0)),
        _gps(pid, at + timedelta(minutes=20), *_north(300.0)),
    ])  # fmt: skip
    assert await _visits(db, pid) == [(gate, "sign_in", at + timedelta(minutes=5), 12.35)]
    await svc.sign_in_many(world.inspector, [_gps(pid, at, *_north(50.0))])
    assert await _visits(db, pid) == [(gate, "sign_in", at, 12.35)]
    await svc.sign_in_many(world.inspector, [_gps(pid, at + timedelta(hours=1), *_north(3.0))])
    assert await _visits(db, pid) == [(gate, "sign_in", at, 3.0)]
    # findings count apart, and so does evidence
    await svc.record_findings(world.inspector, [
        _finding(pid, at + timedelta(minutes=30), lon=LON, lat=_north(40.0)[1]),
        _finding(pid, at + timedelta(minutes=40), lon=LON, lat=_north(20.0)[1]),
    ])  # fmt: skip
    reached = await svc.record_location_visit(world.inspector, pid, lon=LON,
                                              lat=_north(99.0)[1], at=at)  # fmt: skip
    assert reached == [gate]
    visits = await _visits(db, pid)
    assert sorted(visits) == sorted([
        (gate, "sign_in", at, 3.0),
        (gate, "finding", at + timedelta(minutes=30), 20.0),
        (gate, "evidence", at, 99.0),
    ])  # fmt: skip
    assert far_post not in {v[0] for v in visits}


async def test_a_location_visit_is_checked_and_counts_for_any_reader(
    world: World, db: AsyncSession
) -> None:
    gate = await _target(world, db, "gate")
    near = await _target(world, db, "near", *_north(30.0), radius=50.0)
    svc = _service(db)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_location_visit(world.inspector, pid, lon=LON, lat=LAT, at=at,
                                        source="finding")  # fmt: skip
    assert _said(err) == (
        "invalid_patrol_input",
        "source must be evidence or sign_in",
        {"field": "source"},
    )
    with pytest.raises(DomainError) as err:
        await svc.record_location_visit(world.inspector, pid, lon=LON, lat=90.5, at=at)
    assert err.value.code == "invalid_coordinates"
    # the captain is no crew but reads the patrol: his evidence counts
    reached = await svc.record_location_visit(world.captain, pid, lon=LON, lat=_north(20.0)[1],
                                              at=at, source="sign_in")  # fmt: skip
    assert reached == [near, gate]  # nearest first
    assert await _visits(db, pid) == sorted([
        (gate, "sign_in", at, 20.0), (near, "sign_in", at, 10.0)
    ])  # fmt: skip
    assert await svc.record_location_visit(world.inspector, pid, lon=110.9, lat=30.9, at=at) == []


async def test_a_sign_in_reaches_only_the_active_targets_of_its_area_to_the_centimetre(
    world: World, db: AsyncSession
) -> None:
    gate = await _target(world, db, "gate")
    twin = await _target(world, db, "twin")  # at the same place: the older id first
    gone = await _target(world, db, "gone", *_north(10.0))
    await AreaService(db).deactivate_target(world.captain, gone)
    other_area = await _second_area(world, db)
    await AreaService(db).add_target(world.captain, other_area, kind="custom", name="elsewhere",
                                     lon=LON, lat=_north(5.0)[1], visit_radius_m=100)  # fmt: skip
    svc = _service(db)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    [(row, _)] = await svc.sign_in_many(world.inspector, [_gps(pid, at, *_north(42.424242))])
    assert row.reached_target_ids == sorted([gate, twin])
    assert (row.nearest_target_id, row.nearest_target_m, row.far_from_targets) == (
        min(gate, twin),
        42.42,
        False,
    )
    # a target is reached within its radius, whatever the fix's accuracy
    [(wide, _)] = await svc.sign_in_many(world.inspector, [
        _gps(pid, at, *_north(150.0), accuracy_m=500.0)])  # fmt: skip
    assert (wide.reached_target_ids, wide.nearest_target_m) == ([], 150.0)


# -- closing idle patrols ------------------------------------------------------------------------
async def test_the_worker_closes_the_oldest_idle_patrols_of_a_county_first(
    world: World, db: AsyncSession, other_world: Any
) -> None:
    stranger: World = await other_world()
    idle = timedelta(seconds=CFG.auto_close_idle_s)
    old = await _started(world, db, NOW - 3 * idle)
    older = await _started(world, db, NOW - 4 * idle)
    walked = await _started(world, db, NOW - 2 * idle)
    points = walk(NOW - 2 * idle, n=3)
    await TrackService(db).append_track_points(world.inspector, walked, points)
    edge = await _started(world, db, NOW - idle)
    theirs = uuid7()
    await _service(db).start_patrol(stranger.inspector, theirs, area_id=stranger.area.id,
                                    started_at=NOW - 5 * idle)  # fmt: skip
    ended = await _started(world, db, NOW - 5 * idle)
    await _service(db).end_patrol(world.inspector, ended, ended_at=NOW - 5 * idle)
    await db.commit()
    county = world.county_id
    # the oldest first, as many as asked for
    assert await auto_close_stale_patrols(db, now=NOW, limit=1, county_id=county) == [older]
    assert await auto_close_stale_patrols(db, now=NOW, limit=2, county_id=county) == [
        old, walked
    ]  # fmt: skip
    # idle exactly six hours is not yet idle too long
    assert await auto_close_stale_patrols(db, now=NOW, county_id=county) == []
    closed = {pid: await db.get(PatrolSession, pid) for pid in (old, older, walked, edge)}
    assert {pid: (p.ended_at, p.end_reason) for pid, p in closed.items() if p} == {
        old: (NOW - 3 * idle, "auto_closed"),  # at its start: no point
        older: (NOW - 4 * idle, "auto_closed"),
        walked: (points[-1].t, "auto_closed"),  # at its last point
        edge: (None, None),
    }
    assert closed[walked] is not None and closed[walked].distance_m == pytest.approx(30.0, 0.01)
    # a county's setting shortens the wait; the other county's patrol waits for its own run
    quick = replace(CFG, auto_close_idle_s=CFG.auto_close_idle_s - 1)
    assert await auto_close_stale_patrols(db, config=quick, now=NOW, county_id=county) == [edge]
    assert theirs not in await auto_close_stale_patrols(db, now=NOW, county_id=county)
    assert await auto_close_stale_patrols(db, now=NOW, county_id=stranger.county_id) == [theirs]


# -- the keyword forms ---------------------------------------------------------------------------
async def test_the_keyword_forms_keep_every_field(world: World, db: AsyncSession) -> None:
    """``start_patrol``, ``sign_in``, ``record_finding`` and ``end_patrol`` (the demo, scripts
    and tests) pass every field to the action."""
    svc = _service(db)
    pid = uuid7()
    started = NOW - timedelta(hours=2)
    patrol = await svc.start_patrol(world.inspector, pid, area_id=world.area.id,
                                    started_at=started, companion_ids=[world.inspector2.user_id],
                                    note="north loop")  # fmt: skip
    assert (patrol.id, patrol.area_id, patrol.started_at, patrol.note) == (
        pid, world.area.id, started, "north loop",
    )  # fmt: skip
    assert patrol.companion_ids == [world.inspector2.user_id]
    sid, mid = uuid7(), uuid7()
    at = started + timedelta(minutes=5)
    gps = await svc.sign_in(world.inspector, pid, sid, at=at, lon=LON, lat=LAT, accuracy_m=9.5,
                            address="gate")  # fmt: skip
    assert (gps.id, gps.session_id, gps.at, gps.method, gps.accuracy_m, gps.address) == (
        sid, pid, at, "gps", 9.5, "gate",
    )  # fmt: skip
    assert to_shape(gps.geom).coords[0] == (LON, LAT)
    manual = await svc.sign_in(world.inspector2, pid, mid, at=at, method="manual",
                               reason_code="device_fault", village_id=world.village.id)  # fmt: skip
    assert (manual.method, manual.reason_code, manual.village_id, manual.address) == (
        "manual", "device_fault", world.village.id, "",
    )  # fmt: skip
    assert manual.user_id == world.inspector2.user_id
    fid = uuid7()
    east, enclave = await _east_town_with_a_village_in_the_west(world, db)
    finding = await svc.record_finding(
        world.inspector, pid, fid, found_at=at, project_name="depot",
        construction_status="fully_built", lon=110.15, lat=30.15, accuracy_m=4.5, builder="Wu",
        construction_started_on=date(2026, 8, 1), occupied_area_m2=300.0, township_id=east,
        village_id=enclave, note="night works",
        outline=polygon_box(110.1499, 30.1499, 110.1501, 30.1501),
    )  # fmt: skip
    await db.commit()
    stored = await db.get(Finding, fid, populate_existing=True)
    assert stored is not None
    for r in (finding, stored):
        assert (r.id, r.session_id, r.found_at, r.project_name, r.construction_status) == (
            fid, pid, at, "depot", "fully_built",
        )  # fmt: skip
        assert (r.accuracy_m, r.builder, r.construction_started_on, r.occupied_area_m2) == (
            4.5, "Wu", date(2026, 8, 1), 300.0,
        )  # fmt: skip
        assert (r.township_id, r.village_id, r.note) == (east, enclave, "night works")
    assert to_shape(stored.geom).coords[0] == (110.15, 30.15)
    assert to_shape(stored.outline).equals(box(110.1499, 30.1499, 110.1501, 30.1501))
    plain = await svc.record_finding(world.inspector, pid, uuid7(), found_at=at,
                                     project_name="shed", construction_status="levelled",
                                     lon=LON, lat=LAT)  # fmt: skip
    assert (plain.builder, plain.note, plain.accuracy_m, plain.occupied_area_m2) == (
        "", "", None, None,
    )  # fmt: skip
    assert (plain.construction_started_on, plain.outline) == (None, None)
    assert (plain.township_id, plain.village_id) == (world.township.id, None)
    ended = await svc.end_patrol(world.inspector, pid, ended_at=at, note="done")
    assert (ended.ended_at, ended.note) == (at, "done")
    kept = await _service(db).end_patrol(world.inspector, await _started(world, db, note="a"),
                                         ended_at=at)  # fmt: skip
    assert kept.note == "a"


async def test_a_patrol_is_idle_from_its_last_point_and_closes_no_earlier_than_its_start(
    world: World, db: AsyncSession
) -> None:
    idle = timedelta(seconds=CFG.auto_close_idle_s)
    started = NOW - 2 * idle
    recent = await _started(world, db, started)
    tracks = TrackService(db)
    await tracks.append_track_points(world.inspector, recent, walk(NOW - idle + US, n=1))
    # a first fix a minute before the start (the phone's clock): the patrol ends at its start
    early = await _started(world, db, started)
    fix = PointIn(uuid7(), started - timedelta(minutes=1), LON, LAT, 5.0)
    assert (await tracks.append_track_points(world.inspector, early, [fix])).stored == 1
    await db.commit()
    assert await auto_close_stale_patrols(db, now=NOW, county_id=world.county_id) == [early]
    closed = await db.get(PatrolSession, early)
    assert closed is not None and (closed.ended_at, closed.last_point_at) == (started, fix.t)


async def test_the_worker_closes_five_hundred_at_a_time(world: World, db: AsyncSession) -> None:
    base = {"county_id": world.county_id, "area_id": world.area.id,
            "inspector_id": world.inspector.user_id}  # fmt: skip
    db.add_all(PatrolSession(id=uuid7(), started_at=NOW - timedelta(days=1, minutes=i), **base)
               for i in range(501))  # fmt: skip
    await db.commit()
    assert len(await auto_close_stale_patrols(db, now=NOW, county_id=world.county_id)) == 500
    assert len(await auto_close_stale_patrols(db, now=NOW, county_id=world.county_id)) == 1


async def test_the_worker_passes_over_a_patrol_being_written(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as db:
        busy = await _started(world, db, NOW - timedelta(days=1))
        idle = await _started(world, db, NOW - timedelta(days=1, minutes=1))
        await db.commit()
    async with session_factory() as phone, session_factory() as worker:
        stmt = select(PatrolSession).where(PatrolSession.id == busy).with_for_update()
        await phone.execute(stmt)  # the phone's request holds the patrol
        await worker.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert await auto_close_stale_patrols(worker, now=NOW, county_id=world.county_id) == [
            idle
        ]  # fmt: skip
        await worker.commit()
        await phone.rollback()


async def test_two_ends_at_once_the_second_waits_and_finds_the_first(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    started = NOW - timedelta(hours=2)
    async with session_factory() as db:
        pid = await _started(world, db, started)
        await db.commit()
    async with session_factory() as first, session_factory() as second:
        await _service(first).end_patrol(
            world.inspector, pid, ended_at=started + timedelta(hours=1)
        )
        other = asyncio.create_task(
            _service(second).end_patrol(world.inspector, pid, ended_at=NOW - timedelta(minutes=1))
        )
        async with session_factory() as watch:
            for _ in range(500):
                waiting = await watch.scalar(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                )
                if waiting or other.done():
                    break
                await asyncio.sleep(0.01)
        await first.commit()
        with pytest.raises(PatrolAlreadyEndedError):
            await other
        await second.rollback()
    async with session_factory() as db:
        stored = await db.get(PatrolSession, pid)
        assert stored is not None and stored.ended_at == started + timedelta(hours=1)


class _BigOnes:
    """A screener that suggests a referral for findings of 1,000 m² or more, and notes what
    it was asked to screen."""

    def __init__(self) -> None:
        self.asked: list[list[uuid.UUID]] = []

    async def screen_findings(
        self, db: AsyncSession, findings: Sequence[Finding]
    ) -> dict[uuid.UUID, list[dict[str, Any]]]:
        del db
        self.asked.append([f.id for f in findings])
        return {f.id: [{"rule": "big"}] for f in findings if (f.occupied_area_m2 or 0) >= 1000}


async def test_new_findings_are_screened_once_and_replays_are_not(
    world: World, db: AsyncSession
) -> None:
    screener = _BigOnes()
    svc = _service(db, screener=screener)
    pid = await _started(world, db)
    at = NOW - timedelta(hours=1)
    big, small = _finding(pid, at, occupied_area_m2=1000.0), _finding(pid, at, occupied_area_m2=5.0)
    rows = await svc.record_findings(world.inspector, [big, small])
    assert screener.asked == [[big.finding_id, small.finding_id]]
    assert rows[0][0].screening["suggestions"] == [{"rule": "big"}]
    assert rows[1][0].screening == {}
    again = _finding(pid, at, occupied_area_m2=2000.0)
    await svc.record_findings(world.inspector, [big, again])
    assert screener.asked[1:] == [[again.finding_id]]
    await db.commit()
    stored = await db.get(Finding, again.finding_id, populate_existing=True)
    assert stored is not None and stored.screening["suggestions"] == [{"rule": "big"}]


async def test_the_log_tells_operators_what_happened_to_each_patrol(
    world: World, db: AsyncSession
) -> None:
    await _target(world, db, "gate")
    svc = _service(db)
    started = NOW - timedelta(hours=8)
    county = str(world.county_id)
    pid = uuid7()
    with structlog.testing.capture_logs() as logs:
        await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=started)
        far = _gps(pid, started + timedelta(minutes=1), *_north(1000.01))
        await svc.sign_in_many(world.inspector, [far, _gps(pid, started, *_north(1000.0))])
        await TrackService(db).append_track_points(world.inspector, pid, walk(started, n=5))
        await svc.end_patrol(world.inspector, pid, ended_at=started + timedelta(hours=1))
        await svc.sign_in_many(world.inspector, [far])  # a replay logs nothing
        idle = await _started(world, db, started)
        await auto_close_stale_patrols(db, now=NOW, county_id=world.county_id)
    wanted = {"patrol.started", "patrol.sign_in_far", "patrol.ended", "patrol.auto_closed"}
    events = [{k: v for k, v in e.items() if k != "log_level"} for e in logs
              if e["event"] in wanted]  # fmt: skip
    assert events == [
        {"event": "patrol.started", "patrol_id": str(pid), "county": county,
         "area_id": str(world.area.id)},
        {"event": "patrol.sign_in_far", "patrol_id": str(pid), "county": county,
         "nearest_target_m": 1000.01},
        {"event": "patrol.ended", "patrol_id": str(pid), "county": county,
         "distance_m": pytest.approx(60.0, abs=0.01)},
        {"event": "patrol.started", "patrol_id": str(idle), "county": county,
         "area_id": str(world.area.id)},
        {"event": "patrol.auto_closed", "patrol_id": str(idle), "county": county},
    ]  # fmt: skip
    assert all(e["log_level"] == "info" for e in logs if e["event"] in wanted)


async def test_targets_at_the_same_distance_are_listed_in_the_order_of_their_ids(
    world: World, db: AsyncSession
) -> None:
    """Sixty targets, alternately 5 m and 1 m north of where the inspector signs in: the
    nearer ones first, each group in the order of the targets' ids (as the area lists them)."""
    areas = AreaService(db)
    ids = [
        (await areas.add_target(world.captain, world.area.id, kind="custom", name=f"t{i}",
                                lon=LON, lat=_north(5.0 if i % 2 == 0 else 1.0)[1],
                                visit_radius_m=100)).id
        for i in range(60)
    ]  # fmt: skip
    svc = _service(db)
    pid = await _started(world, db)
    [(row, _)] = await svc.sign_in_many(world.inspector, [_gps(pid, NOW - timedelta(hours=1))])
    near, far = sorted(ids[1::2]), sorted(ids[0::2])
    assert row.reached_target_ids == [*near, *far]
    assert (row.nearest_target_id, row.nearest_target_m) == (near[0], 1.0)


async def test_a_finding_is_edited_at_the_version_its_editor_saw(
    world: World, db: AsyncSession
) -> None:
    svc = _service(db)
    pid = await _started(world, db)
    fid = uuid7()
    await svc.record_findings(world.inspector, [
        replace(_finding(pid, NOW - timedelta(hours=1)), finding_id=fid)])  # fmt: skip
    await db.commit()
    [v0] = (await svc.finding_versions(world.captain, [fid])).values()
    edited = await svc.update_finding(world.captain, FindingEdit(
        finding_id=fid, base_version=v0, changes=FindingChanges(project_name="depot")))  # fmt: skip
    await db.commit()
    assert (edited.finding_id, edited.status) == (fid, "applied")
    assert edited.version == (await svc.finding_versions(world.captain, [fid]))[fid] != v0
    stored = await db.get(Finding, fid, populate_existing=True)
    assert stored is not None and stored.project_name == "depot"
    with pytest.raises(NotPatrolOwnerError) as err:
        await svc.update_finding(world.squad, FindingEdit(
            finding_id=fid, base_version=edited.version,
            changes=FindingChanges(project_name="x")))  # fmt: skip
    assert err.value.code == "not_finding_editor"


async def test_the_patrol_list_shows_a_patrol_in_progress_as_far_as_it_has_walked(
    world: World, db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The list shows a running patrol's figures as its points stand (the same ones the patrol
    shows once opened) and writes nothing: the patrol stays free for its phone's points."""
    started = NOW - timedelta(hours=1)
    pid = await _started(world, db, started)
    # 20 fixes 10 s apart walking 15.0001 m north: 285.0019 m, shown to the centimetre
    await TrackService(db).append_track_points(
        world.inspector, pid, walk(started, lon=LON, lat=LAT, n=20, step_m=15.0001)
    )
    await db.commit()

    async with session_factory() as reader, session_factory() as phone:
        listed = await _service(reader).list_patrols(world.captain, status="ongoing")
        shown = next(p for p in listed if p.id == pid)
        figures = (shown.distance_m, shown.duration_s, shown.moving_s, shown.used_point_count,
                   shown.first_fix_at, shown.last_fix_at)  # fmt: skip
        assert figures == (285.0, 190.0, 190.0, 20, started, started + timedelta(seconds=190))
        flags = (shown.poor_accuracy_count, shown.speed_flagged_count, shown.is_night)
        assert flags == (0, 0, False)
        locked = await phone.execute(
            text("SELECT id FROM patrol_sessions WHERE id = :id FOR UPDATE NOWAIT"), {"id": pid}
        )
        assert locked.scalar_one() == pid
        await phone.rollback()
        await reader.commit()  # nothing to write

    row = await db.get(PatrolSession, pid, populate_existing=True)
    assert row is not None
    assert (row.summary_stale, row.distance_m, row.used_point_count) == (True, 0.0, 0)
    await db.commit()
    opened = await _service(db).get_patrol(world.captain, pid)
    assert (opened.distance_m, opened.duration_s, opened.moving_s, opened.used_point_count,
            opened.first_fix_at, opened.last_fix_at) == figures  # fmt: skip
