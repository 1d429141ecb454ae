"""Starting and ending patrols, sign-ins and findings: idempotent, scoped, checked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from patrol.errors import (
    AreaNotFoundError,
    IdReusedError,
    InvalidPatrolInputError,
    NotAreaMemberError,
    NotPatrolOwnerError,
    PatrolAlreadyEndedError,
    PatrolNotFoundError,
)
from patrol.field_models import PatrolSession
from patrol.sessions import PatrolService
from patrol.tracks import TrackService
from tests.clock import ago
from tests.patrol.helpers import walk
from tests.worlds import World


async def test_start_is_idempotent_and_end_twice_conflicts(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    pid, started = uuid7(), ago(hours=2)
    first = await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=started)
    again = await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=started)
    assert again.id == first.id
    await TrackService(db).append_track_points(world.inspector, pid, walk(started, n=5))
    ended_at = started + timedelta(hours=1)
    done = await svc.end_patrol(world.inspector, pid, ended_at=ended_at)
    assert done.end_reason == "ended"
    assert done.duration_s == 3600
    assert done.distance_m == pytest.approx(60.0, abs=0.01)
    replay = await svc.end_patrol(world.inspector, pid, ended_at=ended_at)
    assert replay.ended_at == ended_at
    with pytest.raises(PatrolAlreadyEndedError) as err:
        await svc.end_patrol(world.inspector, pid, ended_at=ended_at + timedelta(minutes=5))
    assert err.value.code == "patrol_already_ended"
    await db.commit()
    # nothing stored was lost by the replays
    stored = await db.get(PatrolSession, pid)
    assert stored is not None and stored.point_count == 5 and stored.ended_at == ended_at


async def test_same_id_for_another_area_is_rejected(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    pid = uuid7()
    await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=ago(hours=1))
    with pytest.raises(IdReusedError):
        await svc.start_patrol(
            world.inspector2, pid, area_id=world.area.id, started_at=ago(hours=1)
        )


async def test_someone_elses_area_and_patrol(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    with pytest.raises(NotAreaMemberError) as err:
        await svc.start_patrol(
            world.inspector2, uuid7(), area_id=world.area.id, started_at=ago(hours=1)
        )
    assert err.value.code == "not_area_member"
    pid = uuid7()
    await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=ago(hours=1))
    with pytest.raises(NotPatrolOwnerError):
        await TrackService(db).append_track_points(world.inspector2, pid, walk(ago(hours=1)))
    with pytest.raises(NotPatrolOwnerError):
        await svc.end_patrol(world.inspector2, pid, ended_at=ago(minutes=1))
    # a captain may patrol any area of the county
    await svc.start_patrol(world.captain, uuid7(), area_id=world.area.id, started_at=ago(hours=1))


async def test_another_county_is_not_found(
    world: World, db: AsyncSession, other_world: Callable[[], Awaitable[World]]
) -> None:
    stranger = await other_world()
    svc = PatrolService(db)
    pid = uuid7()
    await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=ago(hours=1))
    await db.commit()
    with pytest.raises(PatrolNotFoundError):
        await svc.get_patrol(stranger.captain, pid)
    with pytest.raises(PatrolNotFoundError):
        await TrackService(db).append_track_points(stranger.inspector, pid, walk(ago(hours=1)))
    with pytest.raises(AreaNotFoundError):
        await svc.start_patrol(
            stranger.captain, uuid7(), area_id=world.area.id, started_at=ago(hours=1)
        )
    # the stranger cannot take over the id either
    with pytest.raises(IdReusedError):
        await svc.start_patrol(
            stranger.captain, pid, area_id=stranger.area.id, started_at=ago(hours=1)
        )


async def test_future_start_and_naive_times_are_rejected(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.start_patrol(
            world.inspector, uuid7(), area_id=world.area.id, started_at=ago(minutes=-10)
        )
    assert err.value.code == "invalid_time"
    with pytest.raises(InvalidPatrolInputError):
        await svc.start_patrol(
            world.inspector,
            uuid7(),
            area_id=world.area.id,
            started_at=ago(hours=1).replace(tzinfo=None),
        )


async def test_sign_in_gps_and_manual(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    pid = uuid7()
    await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=ago(hours=1))
    sid = uuid7()
    gps = await svc.sign_in(
        world.inspector, pid, sid, at=ago(minutes=50), lon=110.15, lat=30.15, accuracy_m=8
    )
    assert gps.method == "gps"
    assert (
        await svc.sign_in(
            world.inspector, pid, sid, at=ago(minutes=50), lon=110.15, lat=30.15, accuracy_m=8
        )
    ).id == sid
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.sign_in(
            world.inspector,
            pid,
            uuid7(),
            at=ago(minutes=40),
            method="manual",
            village_id=world.village.id,
        )
    assert err.value.code == "manual_sign_in_needs_reason"
    manual = await svc.sign_in(
        world.inspector,
        pid,
        uuid7(),
        at=ago(minutes=40),
        method="manual",
        reason_code="no_gps_fix",
        village_id=world.village.id,
        address="river village, east end",
    )
    assert manual.reason_code == "no_gps_fix" and manual.accuracy_m is None
    await db.commit()


async def test_finding_marks_patrol_and_fills_places(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    pid = uuid7()
    await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=ago(hours=1))
    fid = uuid7()
    finding = await svc.record_finding(
        world.inspector,
        pid,
        fid,
        found_at=ago(minutes=30),
        project_name="warehouse",
        construction_status="partly_built",
        lon=110.15,
        lat=30.15,
        accuracy_m=6,
        occupied_area_m2=1200.0,
        builder="someone",
    )
    assert finding.village_id == world.village.id
    assert finding.township_id == world.township.id
    patrol = await svc.get_patrol(world.inspector, pid)
    assert patrol.has_violation
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.record_finding(
            world.inspector,
            pid,
            uuid7(),
            found_at=ago(minutes=30),
            project_name="x",
            construction_status="demolished",
            lon=110.15,
            lat=30.15,
        )
    assert err.value.code == "invalid_status"
    await svc.end_patrol(world.inspector, pid, ended_at=ago(minutes=20))
    with pytest.raises(PatrolAlreadyEndedError):
        await svc.record_finding(
            world.inspector,
            pid,
            uuid7(),
            found_at=ago(minutes=1),
            project_name="late",
            construction_status="levelled",
            lon=110.15,
            lat=30.15,
        )
    # a finding made before the end but uploaded later is still accepted
    late = await svc.record_finding(
        world.inspector,
        pid,
        uuid7(),
        found_at=ago(minutes=25),
        project_name="offline",
        construction_status="levelled",
        lon=110.15,
        lat=30.15,
    )
    assert late.session_id == pid
    await db.commit()


async def test_list_patrols_is_scoped(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    await svc.start_patrol(world.inspector, uuid7(), area_id=world.area.id, started_at=ago(hours=1))
    await svc.start_patrol(world.captain, uuid7(), area_id=world.area.id, started_at=ago(hours=1))
    # the inspector leads the area: he reads its patrols (patrol.policy.PATROL_READ)
    led = await svc.list_patrols(world.inspector)
    assert {p.inspector_id for p in led} == {world.inspector.user_id, world.captain.user_id}
    assert await svc.list_patrols(world.inspector2) == []
    assert await svc.list_patrols(world.squad) == []
    everyone = await svc.list_patrols(world.captain)
    assert len(everyone) == 2
    stmt = select(PatrolSession).where(PatrolSession.county_id == world.county_id)
    assert len((await db.execute(stmt)).scalars().all()) == 2
