"""Five-to-one duty checks: who may check, overdue members, rebound alerts in the feed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from shapely.geometry import Point
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.mines import (
    RosterMemberInput,
    SiteInput,
    create_mine_site,
    get_mine_site,
    set_roster_member,
)
from infra.errors import PermissionDeniedError
from infra.ids import uuid7
from patrol.alerts import AlertService
from patrol.duty import DutyService, GeofenceDutyRoster, RosterMember, StaticDutyRoster
from patrol.errors import (
    IdReusedError,
    InvalidPatrolInputError,
    NotRosterMemberError,
    SiteNotFoundError,
)
from tests import clock
from tests.clock import ago
from tests.worlds import World


def roster_for(world: World, site_id: uuid.UUID) -> StaticDutyRoster:
    return StaticDutyRoster(
        world.county_id,
        [
            RosterMember(
                uuid.uuid4(),
                site_id,
                "village_cadre",
                1,
                "cadre",
                world.inspector.user_id,
                "north adit",
            ),
            RosterMember(
                uuid.uuid4(),
                site_id,
                "township_leader",
                30,
                "leader",
                world.inspector2.user_id,
                "north adit",
            ),
            RosterMember(
                uuid.uuid4(),
                site_id,
                "land_resources_staff",
                7,
                "outside contact",
                None,
                "north adit",
            ),
        ],
    )


async def test_overdue_members_and_overdue_alerts(world: World, db: AsyncSession) -> None:
    site = uuid.uuid4()
    roster = roster_for(world, site)
    duty = DutyService(db, roster)
    await duty.record_duty_check(
        world.inspector, uuid7(), site_id=site, checked_at=ago(days=2), status="still_closed"
    )
    await duty.record_duty_check(
        world.inspector2,
        uuid7(),
        site_id=site,
        checked_at=ago(days=3),
        status="still_closed",
        note="quiet",
    )
    status = await duty.get_duty_status(world.captain, start=ago(days=7), end=clock.now())
    assert len(status) == 1 and status[0].last_status == "still_closed"
    by_role = {m.member.role: m for m in status[0].members}
    assert by_role["village_cadre"].overdue
    assert by_role["village_cadre"].required_in_period == 7
    assert by_role["village_cadre"].checks_in_period == 1
    assert not by_role["township_leader"].overdue
    land = by_role["land_resources_staff"]
    assert land.overdue and land.due_at is None
    assert status[0].overdue_count == 2
    assert await duty.raise_overdue_alerts(world.county_id) == 2
    assert await duty.raise_overdue_alerts(world.county_id) == 0  # idempotent
    feed = await AlertService(db).list_alerts(world.captain, kinds=["duty_overdue"])
    assert len(feed) == 2
    with pytest.raises(PermissionDeniedError):
        await duty.get_duty_status(world.inspector, start=ago(days=7), end=clock.now())
    await db.commit()


async def test_signs_of_reopening_raise_one_alert_and_mark_the_site(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    roster = roster_for(world, site)
    duty = DutyService(db, roster)
    outside = roster.roster[2]
    check_id = uuid7()
    # the outside contact has no account: a captain records the check for them
    check = await duty.record_duty_check(
        world.captain,
        check_id,
        site_id=site,
        member_id=outside.member_id,
        checked_at=ago(hours=1),
        status="signs_of_reopening",
        note="fresh tyre tracks",
    )
    assert check.member_id == outside.member_id and check.recorded_by == world.captain.user_id
    again = await duty.record_duty_check(
        world.captain,
        check_id,
        site_id=site,
        member_id=outside.member_id,
        checked_at=ago(hours=1),
        status="signs_of_reopening",
    )
    assert again.id == check_id
    assert roster.flagged == {site: "signs_of_reopening"}
    alerts = AlertService(db)
    feed = await alerts.list_alerts(world.captain, site_id=site)
    assert [a.kind for a in feed] == ["site_reopening"]
    assert feed[0].severity == "high" and "north adit" in feed[0].message
    await duty.record_duty_check(
        world.inspector, uuid7(), site_id=site, checked_at=ago(minutes=10), status="active_mining"
    )
    kinds = [a.kind for a in await alerts.list_alerts(world.captain, site_id=site)]
    assert kinds == ["site_active_mining", "site_reopening"]
    acked = await alerts.acknowledge_alert(world.captain, feed[0].id)
    assert acked.acknowledged_by == world.captain.user_id
    open_ = await alerts.list_alerts(world.captain, site_id=site, unacknowledged_only=True)
    assert [a.kind for a in open_] == ["site_active_mining"]
    with pytest.raises(PermissionDeniedError):
        await alerts.list_alerts(world.inspector)
    await db.commit()


async def test_checks_are_for_roster_members_of_known_sites(world: World, db: AsyncSession) -> None:
    site = uuid.uuid4()
    duty = DutyService(db, roster_for(world, site))
    with pytest.raises(NotRosterMemberError):
        await duty.record_duty_check(
            world.admin, uuid7(), site_id=site, checked_at=ago(hours=1), status="still_closed"
        )
    with pytest.raises(SiteNotFoundError):
        await duty.record_duty_check(
            world.inspector,
            uuid7(),
            site_id=uuid.uuid4(),
            checked_at=ago(hours=1),
            status="still_closed",
        )
    with pytest.raises(InvalidPatrolInputError) as err:
        await duty.record_duty_check(
            world.inspector, uuid7(), site_id=site, checked_at=ago(hours=1), status="fine"
        )
    assert err.value.code == "invalid_status"
    with pytest.raises(InvalidPatrolInputError):
        await duty.record_duty_check(
            world.inspector,
            uuid7(),
            site_id=site,
            checked_at=clock.now() + timedelta(hours=1),
            status="still_closed",
        )
    check_id = uuid7()
    await duty.record_duty_check(
        world.inspector, check_id, site_id=site, checked_at=ago(hours=1), status="still_closed"
    )
    with pytest.raises(IdReusedError):
        await duty.record_duty_check(
            world.inspector,
            check_id,
            site_id=uuid.uuid4(),
            checked_at=ago(hours=1),
            status="still_closed",
        )
    # another county's roster does not answer for this county
    stranger = StaticDutyRoster(uuid.uuid4(), roster_for(world, site).roster)
    with pytest.raises(SiteNotFoundError):
        await DutyService(db, stranger).record_duty_check(
            world.inspector,
            uuid7(),
            site_id=site,
            checked_at=ago(hours=1),
            status="still_closed",
        )


async def test_the_geofence_roster_feeds_checks_and_takes_rebounds(
    world: World, db: AsyncSession
) -> None:
    site = await create_mine_site(
        db,
        world.admin,
        SiteInput(
            code=f"M-{uuid.uuid4().hex[:6]}",
            name="south adit",
            geometry=Point(110.3, 30.3),
        ),
    )
    await set_roster_member(
        db,
        world.admin,
        site.id,
        RosterMemberInput(role="village_cadre", user_id=world.inspector.user_id),
    )
    await set_roster_member(
        db,
        world.admin,
        site.id,
        RosterMemberInput(role="township_leader", contact_name="Wang", contact_phone="13800000000"),
    )
    roster = GeofenceDutyRoster()
    members = await roster.members(db, world.county_id, site_ids={site.id})
    assert {(m.role, m.cycle_days) for m in members} == {
        ("village_cadre", 1.0),
        ("township_leader", 30.0),
    }
    assert await roster.members(db, uuid.uuid4()) == []
    duty = DutyService(db, roster)
    await duty.record_duty_check(
        world.inspector, uuid7(), site_id=site.id, checked_at=ago(hours=2), status="active_mining"
    )
    assert str((await get_mine_site(db, world.captain, site.id)).status) == "reopened"
    # a later, milder report does not lower the register status
    await duty.record_duty_check(
        world.inspector,
        uuid7(),
        site_id=site.id,
        checked_at=ago(hours=1),
        status="signs_of_reopening",
    )
    assert str((await get_mine_site(db, world.captain, site.id)).status) == "reopened"
    feed = await AlertService(db).list_alerts(world.captain, site_id=site.id)
    assert [a.kind for a in feed] == ["site_reopening", "site_active_mining"]
    await db.commit()
