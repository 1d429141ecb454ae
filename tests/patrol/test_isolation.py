"""County isolation: another county's areas, patrols, tracks, plans and alerts do not exist."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from patrol.alerts import AlertService
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.coverage import CoverageService
from patrol.duty import DutyService, RosterMember, StaticDutyRoster
from patrol.errors import (
    AlertNotFoundError,
    AreaNotFoundError,
    PatrolNotFoundError,
    TargetNotFoundError,
)
from patrol.plans import PlanService
from patrol.sessions import PatrolService
from patrol.tracks import TrackService
from tests.clock import ago
from tests.patrol.helpers import walk
from tests.worlds import World


def _this_month() -> date:
    return ago(minutes=0).astimezone(PatrolConfig().tz).date()


async def test_nothing_crosses_county_lines(
    world: World, db: AsyncSession, other_world: Callable[[], Awaitable[World]]
) -> None:
    them = await other_world()
    pid = uuid7()
    started = ago(hours=2)
    await PatrolService(db).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=started
    )
    await TrackService(db).append_track_points(world.inspector, pid, walk(started, n=5))
    await PatrolService(db).end_patrol(world.inspector, pid, ended_at=ago(hours=1))
    target = await AreaService(db).add_target(
        world.captain, world.area.id, kind="custom", name="well", lon=110.2, lat=30.2
    )
    site = uuid.uuid4()
    roster = StaticDutyRoster(
        world.county_id,
        [RosterMember(uuid.uuid4(), site, "village_cadre", 1, "c", world.inspector.user_id)],
    )
    await DutyService(db, roster).record_duty_check(
        world.inspector, uuid7(), site_id=site, checked_at=ago(minutes=5), status="active_mining"
    )
    await db.commit()
    boss = them.captain
    with pytest.raises(PatrolNotFoundError):
        await TrackService(db).get_track(boss, pid)
    with pytest.raises(AreaNotFoundError):
        await PlanService(db).get_plan(boss, world.area.id, _this_month())
    with pytest.raises(AreaNotFoundError):
        await AreaService(db).update_area(boss, world.area.id, name="mine now")
    with pytest.raises(TargetNotFoundError):
        await AreaService(db).deactivate_target(boss, target.id)
    assert [a.id for a in await AreaService(db).list_areas(boss)] == [them.area.id]
    assert await AlertService(db).list_alerts(boss) == []
    mine = await AlertService(db).list_alerts(world.captain)
    with pytest.raises(AlertNotFoundError):
        await AlertService(db).acknowledge_alert(boss, mine[0].id)
    cov = await CoverageService(db).get_coverage(boss, _this_month())
    assert cov.patrols == 0 and [a.area_id for a in cov.areas] == [them.area.id]
    live = await CoverageService(db).get_live_status(boss)
    assert world.inspector.user_id not in {x.user_id for x in live}
    assert await PatrolService(db).list_patrols(boss) == []


async def test_evidence_positions_count_as_visits(world: World, db: AsyncSession) -> None:
    target = await AreaService(db).add_target(
        world.captain,
        world.area.id,
        kind="tip_off",
        name="tip",
        lon=110.3,
        lat=30.3,
        visit_radius_m=50,
    )
    pid = uuid7()
    svc = PatrolService(db)
    await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=ago(hours=1))
    assert await svc.record_location_visit(
        world.inspector, pid, lon=110.3003, lat=30.3, at=ago(minutes=30)
    ) == [target.id]
    assert (
        await svc.record_location_visit(
            world.inspector, pid, lon=110.31, lat=30.3, at=ago(minutes=20)
        )
        == []
    )
    await svc.end_patrol(world.inspector, pid, ended_at=ago(minutes=1))
    await db.commit()
    month = ago(hours=1).astimezone(PatrolConfig().tz).date()
    cov = await CoverageService(db).get_coverage(world.captain, month)
    assert cov.patrols == 1
    assert cov.areas[0].targets_visited == [target.id]
