"""Five-to-one figures that do not flatter: a member overdue now is not compliant, however
many checks they did earlier; overdue alerts resolve when the member checks in, and the
other alert kinds when their cause ends, keeping their history. One fixed clock throughout."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import Point
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.mines import (
    RosterMemberInput,
    SiteInput,
    create_mine_site,
    retire_mine_site,
    set_roster_member,
    set_site_status,
)
from infra.ids import uuid7
from infra.scope import Role
from patrol import run_patrol_jobs
from patrol.alerts import AlertService, raise_alert
from patrol.areas import AreaService
from patrol.coverage import CoverageService
from patrol.duty import DutyService, GeofenceDutyRoster, RosterMember, StaticDutyRoster
from tests import clock
from tests.conftest import CountyFixture
from tests.worlds import World

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 1, tzinfo=TZ)  # the month's first local midnight
END = datetime(2026, 7, 1, tzinfo=TZ)
NOW = START + timedelta(days=14, hours=12)  # 15 June, noon: 14.5 days into the month


def _roster(world: World, site: uuid.UUID) -> StaticDutyRoster:
    who = world.inspector.user_id
    return StaticDutyRoster(
        world.county_id,
        [RosterMember(uuid.uuid4(), site, role, cycle, role, who, "old pit")
         for role, cycle in (("weekly", 7), ("daily", 1), ("two_day", 2), ("three_day", 3),
                             ("monthly", 30))],
    )  # fmt: skip


async def _checks(duty: DutyService, world: World, member: RosterMember, days: list[float]) -> None:
    for d in days:
        await duty.record_duty_check(
            world.captain,
            uuid7(),
            site_id=member.site_id,
            member_id=member.member_id,
            checked_at=START + timedelta(days=d),
            status="still_closed",
        )


async def test_members_overdue_now_are_not_compliant(world: World, db: AsyncSession) -> None:
    site = uuid.uuid4()
    roster = _roster(world, site)
    weekly, daily, two_day, three_day, _monthly = roster.roster
    duty = DutyService(db, roster)
    await _checks(duty, world, weekly, [1, 8])  # 2 of 2; due on day 15: on time
    await _checks(duty, world, daily, [k + 0.5 for k in range(14)])  # 14 of 14; due right now
    await _checks(duty, world, two_day, [1, 3, 5, 7])  # 4 of 7, overdue since day 9
    await _checks(duty, world, three_day, [0.5, 1, 2, 3, 4])  # 5 of 4, but overdue since day 7
    # the monthly member never checked: none required yet in 14.5 days, yet overdue
    figures = await duty.compliance(world.county_id, START, END, now=NOW)
    assert (figures.sites, figures.members, figures.members_compliant) == (1, 5, 2)
    assert (figures.members_overdue, figures.ratio) == (3, 0.4)
    status = await duty.get_duty_status(world.captain, start=START, end=END, now=NOW)
    by_role = {m.member.role: m for m in status[0].members}
    assert {r for r, m in by_role.items() if m.overdue} == {"two_day", "three_day", "monthly"}
    assert by_role["daily"].due_at == NOW  # due at this instant: not yet overdue
    assert (by_role["three_day"].checks_in_period, by_role["three_day"].required_in_period) == (
        5,
        4,
    )
    assert (by_role["monthly"].required_in_period, by_role["monthly"].last_check_at) == (0, None)
    # a second later the daily member is overdue too
    later = await duty.compliance(world.county_id, START, END, now=NOW + timedelta(seconds=1))
    assert (later.members_compliant, later.members_overdue, later.ratio) == (1, 4, 0.2)
    # a past month is judged at its end: everyone lapsed by then
    june = await duty.compliance(world.county_id, START, END, now=END + timedelta(days=30))
    assert (june.members_compliant, june.members_overdue) == (0, 5)

    # coverage shows the same figures, for the county and for the area whose target the site is
    await AreaService(db).add_target(
        world.captain, world.area.id, kind="mine_site", name="old pit", lon=110.2, lat=30.2,
        ref_id=site,
    )  # fmt: skip
    cov = await CoverageService(db, roster=roster).get_coverage(
        world.captain, date(2026, 6, 1), now=NOW
    )
    assert cov.duty == figures
    [area] = [a for a in cov.areas if a.area_id == world.area.id]
    assert area.duty == figures


async def test_an_overdue_alert_resolves_when_the_member_checks_in(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    roster = _roster(world, site)
    weekly, daily = roster.roster[0], roster.roster[1]
    roster.roster[2:] = []
    duty = DutyService(db, roster)
    alerts = AlertService(db)
    await _checks(duty, world, weekly, [10])
    await _checks(duty, world, daily, [10])  # due on day 11: overdue at NOW
    assert await duty.raise_overdue_alerts(world.county_id, now=NOW) == 1
    [alert] = await alerts.list_alerts(world.captain, kinds=["duty_overdue"])
    assert (alert.member_id, alert.raised_at, alert.resolved_at) == (daily.member_id, NOW, None)
    await alerts.acknowledge_alert(world.captain, alert.id)  # a person saw it: still open
    assert [a.id for a in await alerts.list_alerts(world.captain)] == [alert.id]
    # a check from before the last known one arrives late: the member is still overdue
    await _checks(duty, world, daily, [9])
    assert [a.id for a in await alerts.list_alerts(world.captain)] == [alert.id]
    # the member checks in: the alert is resolved, not deleted
    checked_at = NOW + timedelta(hours=2)
    await _checks(duty, world, daily, [(checked_at - START) / timedelta(days=1)])
    assert await alerts.list_alerts(world.captain) == []
    [done] = await alerts.list_alerts(world.captain, state="resolved")
    assert done.id == alert.id
    assert (done.resolution, done.resolved_at) == ("member_checked_in", checked_at)
    assert (done.raised_at, done.acknowledged_by) == (NOW, world.captain.user_id)
    assert [a.id for a in await alerts.list_alerts(world.captain, state="all")] == [alert.id]
    # the worker sees nothing more to do; lapsing again is a new alert, the old one stays
    assert await duty.resolve_ended_alerts(world.county_id, now=checked_at) == 0
    assert await duty.raise_overdue_alerts(world.county_id, now=checked_at) == 0
    lapse = checked_at + timedelta(days=2)
    assert await duty.raise_overdue_alerts(world.county_id, now=lapse) == 1
    assert [
        a.resolved_at is None for a in await alerts.list_alerts(world.captain, state="all")
    ] == [
        True,
        False,
    ]
    # taken off the roster: the worker resolves their alert
    roster.roster.remove(daily)
    assert await duty.resolve_ended_alerts(world.county_id, now=lapse) == 1
    [off] = [a for a in await alerts.list_alerts(world.captain, state="resolved")
             if a.id != alert.id]  # fmt: skip
    assert (off.resolution, off.resolved_at) == ("member_off_roster", lapse)


async def test_rebound_alerts_resolve_when_the_site_is_cleared_or_checked(
    world: World, db: AsyncSession
) -> None:
    site = await create_mine_site(
        db, world.admin, SiteInput(code=f"M-{uuid.uuid4().hex[:6]}", name="south adit",
                                   geometry=Point(110.3, 30.3)),
    )  # fmt: skip
    await set_roster_member(
        db, world.admin, site.id,
        RosterMemberInput(role="village_cadre", user_id=world.inspector.user_id),
    )  # fmt: skip
    duty = DutyService(db, GeofenceDutyRoster())
    alerts = AlertService(db)
    # evidence taken at the site asks for a review (raised by the evidence listener)
    await raise_alert(
        db, county_id=world.county_id, kind="site_rebound_review", severity="medium",
        dedupe_key=f"evidence:{uuid7()}:{site.id}", message="review", site_id=site.id,
        raised_at=NOW,
    )  # fmt: skip
    reported = NOW + timedelta(hours=1)
    await duty.record_duty_check(
        world.inspector, uuid7(), site_id=site.id, checked_at=reported, status="active_mining"
    )
    # the check answered the review; the rebound it reports is open
    [open_] = await alerts.list_alerts(world.captain, site_id=site.id)
    assert open_.kind == "site_active_mining"
    [review] = await alerts.list_alerts(world.captain, site_id=site.id, state="resolved")
    assert (review.kind, review.resolution, review.resolved_at) == (
        "site_rebound_review",
        "site_checked",
        reported,
    )
    # still reopened on the register: nothing to resolve
    assert await duty.resolve_ended_alerts(world.county_id, now=reported) == 0
    # a captain clears the site after a visit: the next worker run resolves the rebound
    await set_site_status(db, world.captain, site.id, "closed")
    cleared = reported + timedelta(days=1)
    assert await duty.resolve_ended_alerts(world.county_id, now=cleared) == 1
    assert await alerts.list_alerts(world.captain, site_id=site.id) == []
    resolved = await alerts.list_alerts(world.captain, site_id=site.id, state="resolved")
    assert [(a.kind, a.resolution) for a in resolved] == [
        ("site_active_mining", "site_cleared"),
        ("site_rebound_review", "site_checked"),
    ]
    # a retired site takes its open review with it
    await raise_alert(
        db, county_id=world.county_id, kind="site_rebound_review", severity="medium",
        dedupe_key=f"evidence:{uuid7()}:{site.id}", message="review", site_id=site.id,
        raised_at=cleared,
    )  # fmt: skip
    await retire_mine_site(db, world.admin, site.id)
    assert await duty.resolve_ended_alerts(world.county_id, now=cleared) == 1
    last = (await alerts.list_alerts(world.captain, site_id=site.id, state="resolved"))[0]
    assert (last.kind, last.resolution) == ("site_rebound_review", "site_retired")


async def test_a_rebound_on_a_static_roster_resolves_when_its_flag_is_cleared(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    roster = _roster(world, site)
    duty = DutyService(db, roster)
    await _checks(duty, world, roster.roster[0], [1])
    await duty.record_duty_check(
        world.inspector, uuid7(), site_id=site, checked_at=NOW, status="signs_of_reopening"
    )
    alerts = AlertService(db)
    assert [a.kind for a in await alerts.list_alerts(world.captain, site_id=site)] == [
        "site_reopening"
    ]
    assert await duty.resolve_ended_alerts(world.county_id, now=NOW) == 0
    roster.clear(site)
    # unknown sites are not this roster's: left alone
    assert (
        await DutyService(db, StaticDutyRoster(world.county_id)).resolve_ended_alerts(
            world.county_id, now=NOW
        )
        == 0
    )
    assert await duty.resolve_ended_alerts(world.county_id, now=NOW) == 1
    [done] = await alerts.list_alerts(world.captain, site_id=site, state="resolved")
    assert (done.kind, done.resolution, done.resolved_at) == ("site_reopening", "site_cleared", NOW)


async def test_the_alerts_feed_over_http_shows_open_alerts_and_keeps_resolved_ones(
    client: Any, make_county: Any, session_factory: Any
) -> None:
    """The worker raises an overdue alert for a member who never checked; their check-in
    resolves it: ``ListAlerts`` no longer shows it, ``state=resolved`` does, with why."""
    county: CountyFixture = await make_county()
    cap, me = county.headers(Role.CAPTAIN), county.headers(Role.INSPECTOR)
    site = await client.post(
        "/api/v1/geofence/mine-sites",
        json={"code": "M1", "name": "吴家冲采石场",
              "geometry": {"type": "Point", "coordinates": [112.1, 28.5]}},
        headers=cap,
    )  # fmt: skip
    assert site.status_code == 201, site.text
    site_id = site.json()["id"]
    member = await client.put(
        f"/api/v1/geofence/mine-sites/{site_id}/roster/village_cadre",
        json={"userId": str(county.users[Role.INSPECTOR].id)},
        headers=cap,
    )
    assert member.status_code == 200, member.text
    assert (await run_patrol_jobs(session_factory))["failed"] == 0
    feed = await client.get("/api/v1/alerts", params={"site_id": site_id}, headers=cap)
    [alert] = feed.json()
    assert (alert["kind"], alert["resolvedAt"], alert["resolution"]) == ("duty_overdue", None, None)
    # the message in the reader's language: Chinese by default, English when asked
    name = county.users[Role.INSPECTOR].display_name
    assert alert["message"] == f"吴家冲采石场：村干部{name}逾期未巡查（每 1 天一次）"
    english = await client.get(
        "/api/v1/alerts", params={"site_id": site_id}, headers={**cap, "Accept-Language": "en"}
    )
    [alert_en] = english.json()
    assert alert_en["id"] == alert["id"]
    assert alert_en["message"] == f"吴家冲采石场: village cadre {name} is overdue (every 1 days)"
    check = await client.put(
        f"/api/v1/duty-checks/{uuid7()}",
        json={"siteId": site_id, "checkedAt": clock.now().isoformat(),
              "status": "still_closed"},
        headers=me,
    )  # fmt: skip
    assert check.status_code == 200, check.text
    params = {"site_id": site_id}
    assert (await client.get("/api/v1/alerts", params=params, headers=cap)).json() == []
    resolved = await client.get(
        "/api/v1/alerts", params={**params, "state": "resolved"}, headers=cap
    )
    [done] = resolved.json()
    assert (done["id"], done["resolution"]) == (alert["id"], "member_checked_in")
    assert done["resolvedAt"] is not None and done["acknowledgedAt"] is None
    every = await client.get("/api/v1/alerts", params={**params, "state": "all"}, headers=cap)
    assert [a["id"] for a in every.json()] == [alert["id"]]
    bad = await client.get("/api/v1/alerts", params={"state": "closed"}, headers=cap)
    assert bad.status_code == 400
