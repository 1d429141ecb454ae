"""Five-to-one answers a captain or the worker relies on beyond ``test_duty.py`` and
``test_duty_figures.py``: a check recorded from its input keeps every field, alerts name their
check and an unnamed site by its id, figures and alerts are judged at the time asked for, an
alert ends when a member's cycle is lengthened, figures of the sites asked for, the default
period, the checks list (whose, which, how many), and the register's settled sites."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import Point
from sqlalchemy.ext.asyncio import AsyncSession

from geofence.mines import (
    RosterMemberInput,
    SiteInput,
    create_mine_site,
    retire_mine_site,
    set_roster_member,
)
from infra.ids import uuid7
from infra.scope import Role
from patrol.alerts import AlertService, raise_alert
from patrol.duty import (
    DutyCheckInput,
    DutyService,
    GeofenceDutyRoster,
    RosterMember,
    StaticDutyRoster,
)
from patrol.errors import (
    IdReusedError,
    InvalidPatrolInputError,
    NotRosterMemberError,
    SiteNotFoundError,
)
from tests import clock
from tests.clock import NOW
from tests.worlds import World

EN = {"Accept-Language": "en"}


def _pinned() -> datetime:
    return NOW


def _member(world: World, site: uuid.UUID, cycle: float, *, name: str = "") -> RosterMember:
    """A member on the world's inspector's account; ``name`` the site's (may be empty)."""
    return RosterMember(
        uuid.uuid4(), site, "village_cadre", cycle, "cadre", world.inspector.user_id, name
    )


async def _check(
    duty: DutyService, world: World, member: RosterMember, at: datetime, status: str
) -> uuid.UUID:
    check = await duty.record_duty_check(
        world.captain, uuid7(), site_id=member.site_id, member_id=member.member_id,
        checked_at=at, status=status,
    )  # fmt: skip
    return check.id


async def test_a_check_recorded_from_its_input_keeps_every_field(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    outside = RosterMember(uuid.uuid4(), site, "township_leader", 7, "Wang", None, "east pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [outside]), clock=_pinned)
    evidence = uuid7()
    # 09:00 in China: a day check unless the phone says it was at night
    item = DutyCheckInput(
        check_id=uuid7(), site_id=site, checked_at=NOW - timedelta(hours=1), status="still_closed",
        member_id=outside.member_id, is_night=True, note="gate chained", evidence_ids=(evidence,),
    )  # fmt: skip
    check = await duty.record_check(world.captain, item)
    assert (check.member_id, check.recorded_by) == (outside.member_id, world.captain.user_id)
    assert (check.is_night, check.note, list(check.evidence_ids)) == (
        True,
        "gate chained",
        [evidence],
    )
    await db.commit()


async def test_alerts_name_their_check_and_an_unnamed_site_by_its_id(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 1)
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]))
    check = await _check(duty, world, member, NOW - timedelta(days=3), "signs_of_reopening")
    assert await duty.raise_overdue_alerts(world.county_id, now=NOW) == 1
    feed = await AlertService(db).list_alerts(world.captain, site_id=site)
    by_kind = {a.kind: a for a in feed}
    assert set(by_kind) == {"site_reopening", "duty_overdue"}
    assert by_kind["site_reopening"].duty_check_id == check
    assert (by_kind["site_reopening"].severity, by_kind["duty_overdue"].severity) == (
        "high",
        "normal",
    )
    assert all(a.message.startswith(f"{site}：") for a in feed), [a.message for a in feed]
    await db.commit()


async def test_alerts_are_judged_at_the_time_the_worker_is_given(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 1, name="north adit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]))
    await _check(duty, world, member, clock.ago(hours=12), "still_closed")
    # due in twelve hours: overdue as of tomorrow, not yet now
    tomorrow = clock.now() + timedelta(days=1)
    assert await duty.raise_overdue_alerts(world.county_id, now=tomorrow) == 1
    assert await duty.resolve_ended_alerts(world.county_id, now=tomorrow) == 0
    [alert] = await AlertService(db).list_alerts(world.captain, site_id=site)
    assert (alert.kind, alert.resolved_at) == ("duty_overdue", None)
    await db.commit()


async def test_overdue_alerts_end_when_a_cycle_is_lengthened_or_a_member_leaves(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    daily, other, gone = (_member(world, site, 1, name="old pit") for _ in range(3))
    roster = StaticDutyRoster(world.county_id, [daily, other, gone])
    duty = DutyService(db, roster)
    for m in (daily, other, gone):
        await _check(duty, world, m, NOW - timedelta(days=3), "still_closed")
    assert await duty.raise_overdue_alerts(world.county_id, now=NOW) == 3
    # the captain makes the first member's duty monthly (checked three days ago: on time)
    # and takes the third off the roster; one worker run ends both their alerts
    roster.roster[0] = RosterMember(
        daily.member_id, site, daily.role, 30, daily.name, daily.user_id, daily.site_name
    )
    roster.roster.remove(gone)
    assert await duty.resolve_ended_alerts(world.county_id, now=NOW) == 2
    alerts = AlertService(db)
    done = await alerts.list_alerts(world.captain, site_id=site, state="resolved")
    assert {(a.member_id, a.resolution, a.resolved_at) for a in done} == {
        (daily.member_id, "no_longer_overdue", NOW),
        (gone.member_id, "member_off_roster", NOW),
    }
    [still] = await alerts.list_alerts(world.captain, site_id=site)
    assert still.member_id == other.member_id
    await db.commit()


async def test_a_cleared_flag_ends_its_sites_rebound_alerts_only(
    world: World, db: AsyncSession
) -> None:
    sites = [uuid.uuid4() for _ in range(3)]
    members = [_member(world, s, 7, name=f"pit {i}") for i, s in enumerate(sites)]
    roster = StaticDutyRoster(world.county_id, members)
    duty = DutyService(db, roster)
    for m in members:
        await _check(duty, world, m, NOW - timedelta(hours=2), "signs_of_reopening")
    # evidence at the first site asks for a review after the check
    await raise_alert(
        db, county_id=world.county_id, kind="site_rebound_review", severity="medium",
        dedupe_key=f"evidence:{uuid7()}:{sites[0]}", message="review", site_id=sites[0],
        raised_at=NOW - timedelta(hours=1),
    )  # fmt: skip
    roster.clear(sites[0])
    roster.clear(sites[1])
    assert await duty.resolve_ended_alerts(world.county_id, now=NOW) == 2
    alerts = AlertService(db)
    resolved = await alerts.list_alerts(world.captain, state="resolved")
    assert {(a.site_id, a.kind, a.resolution) for a in resolved} == {
        (sites[0], "site_reopening", "site_cleared"),
        (sites[1], "site_reopening", "site_cleared"),
    }
    # a cleared flag does not answer the review; the third site is still flagged
    assert {(a.site_id, a.kind) for a in await alerts.list_alerts(world.captain)} == {
        (sites[0], "site_rebound_review"),
        (sites[2], "site_reopening"),
    }
    await db.commit()


async def test_a_check_answers_a_review_raised_at_its_very_instant(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 7, name="old pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]))
    at = NOW - timedelta(hours=1)
    for when in (at, at + timedelta(microseconds=1)):
        await raise_alert(
            db, county_id=world.county_id, kind="site_rebound_review", severity="medium",
            dedupe_key=f"evidence:{uuid7()}:{site}", message="review", site_id=site,
            raised_at=when,
        )  # fmt: skip
    await _check(duty, world, member, at, "still_closed")
    alerts = AlertService(db)
    [done] = await alerts.list_alerts(world.captain, site_id=site, state="resolved")
    assert (done.raised_at, done.resolution) == (at, "site_checked")
    [left] = await alerts.list_alerts(world.captain, site_id=site)
    assert left.raised_at == at + timedelta(microseconds=1)
    await db.commit()


async def test_a_check_is_at_night_from_seven_in_the_evening_to_six_in_the_morning(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 1, name="old pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]), clock=_pinned)
    evening = datetime(2026, 11, 17, 19, tzinfo=clock.CHINA)
    morning = datetime(2026, 11, 18, 6, tzinfo=clock.CHINA)
    night = {}
    for at in (evening - timedelta(seconds=1), evening, morning - timedelta(seconds=1), morning):
        check = await duty.record_duty_check(
            world.inspector, uuid7(), site_id=site, checked_at=at, status="still_closed"
        )
        night[at.strftime("%H:%M:%S")] = check.is_night
    assert night == {"18:59:59": False, "19:00:00": True, "05:59:59": True, "06:00:00": False}
    await db.commit()


async def test_refusals_name_the_site_or_the_check(world: World, db: AsyncSession) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 1, name="old pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]))
    at = NOW - timedelta(hours=1)
    nowhere = uuid.uuid4()
    with pytest.raises(SiteNotFoundError) as missing:
        await duty.record_duty_check(
            world.inspector, uuid7(), site_id=nowhere, checked_at=at, status="still_closed"
        )
    assert (missing.value.detail, missing.value.extra) == (
        "no roster for this site",
        {"site_id": str(nowhere)},
    )
    with pytest.raises(NotRosterMemberError) as stranger:
        await duty.record_duty_check(
            world.inspector2, uuid7(), site_id=site, checked_at=at, status="still_closed"
        )
    assert (stranger.value.detail, stranger.value.extra) == (
        "you are not on this site's five-to-one roster",
        {"site_id": str(site)},
    )
    check_id = await _check(duty, world, member, at, "still_closed")
    with pytest.raises(IdReusedError) as reused:
        await duty.record_duty_check(
            world.inspector, check_id, site_id=nowhere, checked_at=at, status="still_closed"
        )
    assert (reused.value.detail, reused.value.extra) == (
        "this check id is already used",
        {"check_id": str(check_id)},
    )
    await db.commit()


async def test_figures_and_status_are_of_the_sites_asked_for(
    world: World, db: AsyncSession
) -> None:
    flagged, quiet = uuid.uuid4(), uuid.uuid4()
    a, b = _member(world, flagged, 7, name="a pit"), _member(world, quiet, 7, name="b pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [a, b]))
    await _check(duty, world, a, NOW - timedelta(days=2), "signs_of_reopening")
    await _check(duty, world, b, NOW - timedelta(days=2), "still_closed")
    start, end = NOW - timedelta(days=7), NOW
    both = await duty.compliance(world.county_id, start, end, now=NOW)
    assert (both.sites, both.members, both.sites_flagged) == (2, 2, 1)
    one = await duty.compliance(world.county_id, start, end, {quiet}, now=NOW)
    assert (one.sites, one.members, one.sites_flagged) == (1, 1, 0)
    status = await duty.get_duty_status(world.captain, start=start, end=end, site_ids={flagged})
    assert [(s.site_id, s.last_status) for s in status] == [(flagged, "signs_of_reopening")]
    await db.commit()


async def test_status_covers_the_last_thirty_days_by_default(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 1, name="old pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]), clock=_pinned)
    for days in (10, 40):
        await _check(duty, world, member, NOW - timedelta(days=days), "still_closed")
    [site_duty] = await duty.get_duty_status(world.captain, now=NOW)
    [m] = site_duty.members
    assert (m.checks_in_period, m.required_in_period) == (1, 30)
    assert m.last_check_at == NOW - timedelta(days=10)
    await db.commit()


async def test_naive_period_bounds_are_refused_by_their_name(
    world: World, db: AsyncSession
) -> None:
    duty = DutyService(db, StaticDutyRoster(world.county_id))
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(InvalidPatrolInputError) as err:
        await duty.get_duty_status(world.captain, start=naive)
    assert (err.value.code, err.value.extra["field"]) == ("invalid_time", "start")
    with pytest.raises(InvalidPatrolInputError) as err:
        await duty.get_duty_status(world.captain, end=naive)
    assert (err.value.code, err.value.extra["field"]) == ("invalid_time", "end")
    with pytest.raises(InvalidPatrolInputError) as err:
        await duty.list_checks(world.captain, since=naive)
    assert (err.value.code, err.value.extra["field"]) == ("invalid_time", "since")


async def test_an_inspector_is_told_who_may_review_duty(
    world: World, client: AsyncTestClient[Litestar]
) -> None:
    resp = await client.get("/api/v1/duty-status", headers={**world.headers(Role.INSPECTOR), **EN})
    assert resp.status_code == 403
    body = resp.json()
    assert (body["code"], body["detail"]) == (
        "role_not_allowed",
        "only captain, admin may review five-to-one duty",
    )


async def test_the_checks_list_shows_whose_which_and_how_many(
    world: World, db: AsyncSession
) -> None:
    site, other_site = uuid.uuid4(), uuid.uuid4()
    mine = _member(world, site, 7, name="a pit")
    theirs = RosterMember(uuid.uuid4(), site, "safety_officer", 7, "Li", world.inspector2.user_id)
    elsewhere = _member(world, other_site, 7, name="b pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [mine, theirs, elsewhere]))
    at = {name: NOW - timedelta(hours=h) for name, h in (("old", 30), ("far", 25), ("mid", 20),
                                                        ("new", 10))}  # fmt: skip
    own_old = (
        await duty.record_duty_check(
            world.inspector, uuid7(), site_id=site, checked_at=at["old"], status="still_closed"
        )
    ).id
    own_new = (
        await duty.record_duty_check(
            world.inspector, uuid7(), site_id=site, checked_at=at["new"], status="still_closed"
        )
    ).id
    their = (
        await duty.record_duty_check(
            world.inspector2, uuid7(), site_id=site, checked_at=at["mid"], status="still_closed"
        )
    ).id
    far = await _check(duty, world, elsewhere, at["far"], "still_closed")
    listed = [c.id for c in await duty.list_checks(world.captain)]
    assert listed == [own_new, their, far, own_old]
    # an inspector lists the checks he recorded
    assert [c.id for c in await duty.list_checks(world.inspector)] == [own_new, own_old]
    assert [c.id for c in await duty.list_checks(world.captain, site_id=site)] == [
        own_new,
        their,
        own_old,
    ]
    # since: from that instant on
    since = [c.id for c in await duty.list_checks(world.captain, since=at["mid"])]
    assert since == [own_new, their]
    assert [c.id for c in await duty.list_checks(world.captain, site_id=site, limit=2)] == [
        own_new,
        their,
    ]
    assert [c.id for c in await duty.list_checks(world.captain, site_id=site, limit=0)] == [own_new]
    await db.commit()


async def test_the_register_settles_its_own_sites_only(world: World, db: AsyncSession) -> None:
    site = await create_mine_site(
        db, world.admin, SiteInput(code=f"M-{uuid.uuid4().hex[:6]}", name="west adit",
                                   geometry=Point(110.3, 30.3)),
    )  # fmt: skip
    await retire_mine_site(db, world.admin, site.id)
    roster = GeofenceDutyRoster()
    # an id the register does not hold, placed first in the set the register walks
    unknown = next(u for u in iter(uuid.uuid4, None) if next(iter({u, site.id})) == u)
    assert await roster.settled_sites(db, world.county_id, [unknown, site.id]) == {
        site.id: "site_retired"
    }
    assert await roster.settled_sites(db, uuid.uuid4(), [site.id]) == {}
    await db.commit()


def test_clearing_a_site_never_flagged_changes_nothing() -> None:
    roster = StaticDutyRoster(uuid.uuid4())
    roster.clear(uuid.uuid4())
    assert roster.flagged == {}


async def test_the_member_who_checks_in_ends_their_own_overdue_alert_only(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    a, b = _member(world, site, 1, name="old pit"), _member(world, site, 1, name="old pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [a, b]))
    last = NOW - timedelta(days=3)
    await _check(duty, world, a, last, "still_closed")
    await _check(duty, world, b, NOW - timedelta(days=2), "still_closed")
    assert await duty.raise_overdue_alerts(world.county_id, now=NOW) == 2
    alerts = AlertService(db)
    # a second check timed like the member's last known one is not newer: still overdue
    await _check(duty, world, a, last, "still_closed")
    assert len(await alerts.list_alerts(world.captain, site_id=site)) == 2
    # a check newer than the member's own last (older than the other member's) ends theirs
    await _check(duty, world, a, last + timedelta(hours=12), "still_closed")
    [left] = await alerts.list_alerts(world.captain, site_id=site)
    assert left.member_id == b.member_id
    [done] = await alerts.list_alerts(world.captain, site_id=site, state="resolved")
    assert (done.member_id, done.resolution) == (a.member_id, "member_checked_in")
    await db.commit()


async def test_a_period_is_judged_by_the_checks_inside_it(world: World, db: AsyncSession) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 1, name="old pit")
    never = _member(world, site, 1, name="old pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member, never]))
    end = NOW - timedelta(days=10)
    start = end - timedelta(days=7)
    for at, status in (
        (start - timedelta(seconds=1), "still_closed"),
        (end - timedelta(days=3), "signs_of_reopening"),
        (end, "still_closed"),  # the next period's
        (end + timedelta(days=1), "active_mining"),
    ):
        await _check(duty, world, member, at, status)
    [site_duty] = await duty.get_duty_status(world.captain, start=start, end=end, now=NOW)
    by_id = {m.member.member_id: m for m in site_duty.members}
    m = by_id[member.member_id]
    assert (m.last_check_at, m.due_at, m.overdue) == (
        end - timedelta(days=3),
        end - timedelta(days=2),
        True,
    )
    assert (m.checks_in_period, m.required_in_period) == (1, 7)
    assert (by_id[never.member_id].checks_in_period, by_id[never.member_id].last_check_at) == (
        0,
        None,
    )
    # the site's last reported status is its latest check's, whatever the period
    assert (site_duty.last_status, site_duty.last_status_at) == (
        "active_mining",
        end + timedelta(days=1),
    )
    # less than a day into a period: nothing owed yet by a daily member
    [short] = await duty.get_duty_status(
        world.captain, start=end - timedelta(hours=12), end=end, now=NOW
    )
    assert [x.required_in_period for x in short.members] == [0, 0]
    await db.commit()


async def test_a_member_without_a_cycle_owes_no_checks(world: World, db: AsyncSession) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 0, name="old pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]))
    [site_duty] = await duty.get_duty_status(
        world.captain, start=NOW - timedelta(days=7), end=NOW, now=NOW
    )
    assert site_duty.members[0].required_in_period == 0


async def test_sites_are_listed_by_name_then_id(world: World, db: AsyncSession) -> None:
    ids = sorted(uuid.uuid4() for _ in range(3))
    # roster order, member ids and site ids all disagree with the order by name, then id
    plan = [(ids[2], "a pit"), (ids[0], "b pit"), (ids[1], "a pit")]
    member_ids = sorted(uuid.uuid4() for _ in plan)
    roster = StaticDutyRoster(
        world.county_id,
        [
            RosterMember(mid, site, "village_cadre", 7, "cadre", world.inspector.user_id, name)
            for mid, (site, name) in zip(member_ids, plan, strict=True)
        ],
    )
    duty = DutyService(db, roster)
    status = await duty.get_duty_status(world.captain, start=NOW - timedelta(days=7), end=NOW)
    assert [(s.site_name, s.site_id) for s in status] == [
        ("a pit", ids[1]),
        ("a pit", ids[2]),
        ("b pit", ids[0]),
    ]


async def test_a_check_is_refused_with_the_field_and_the_reason(
    world: World, db: AsyncSession
) -> None:
    site = uuid.uuid4()
    member = _member(world, site, 1, name="old pit")
    duty = DutyService(db, StaticDutyRoster(world.county_id, [member]), clock=_pinned)
    refusals = {
        "checked_at": (NOW + timedelta(minutes=5, microseconds=1), "still_closed"),
        "status": (NOW, "open"),
        "naive": (NOW.replace(tzinfo=None), "still_closed"),
    }
    answers = {}
    for key, (at, status) in refusals.items():
        with pytest.raises(InvalidPatrolInputError) as err:
            await duty.record_duty_check(
                world.inspector, uuid7(), site_id=site, checked_at=at, status=status
            )
        answers[key] = (err.value.code, err.value.extra.get("field"), err.value.detail)
    assert answers == {
        "checked_at": ("invalid_time", "checked_at", "checked_at is in the future"),
        "status": (
            "invalid_status",
            "status",
            "status must be one of still_closed, signs_of_reopening, active_mining",
        ),
        "naive": ("invalid_time", "checked_at", "checked_at must carry a time zone offset"),
    }
    check = await duty.record_duty_check(
        world.inspector, uuid7(), site_id=site, checked_at=NOW, status="still_closed"
    )
    assert (check.note, check.evidence_ids) == ("", [])
    await db.commit()


async def test_the_register_lists_members_of_active_sites_by_name_site_and_role(
    world: World, db: AsyncSession
) -> None:
    sites = {}
    for key, name in (("beta", "beta adit"), ("alpha1", "alpha adit"), ("alpha2", "alpha adit")):
        sites[key] = await create_mine_site(
            db, world.admin, SiteInput(code=f"M-{uuid.uuid4().hex[:6]}", name=name,
                                       geometry=Point(110.3, 30.3)),
        )  # fmt: skip
        for role in ("village_cadre", "land_resources_staff"):
            await set_roster_member(
                db, world.admin, sites[key].id,
                RosterMemberInput(role=role, contact_name=f"{key} {role}",
                                  contact_phone="13800000000", duty_period="weekly",
                                  duty_checks=2),
            )  # fmt: skip
    roster = GeofenceDutyRoster()
    members = await roster.members(db, world.county_id)
    alphas = sorted((sites["alpha1"].id, sites["alpha2"].id), key=lambda i: i.bytes)
    order = [*alphas, sites["beta"].id]
    assert [(m.site_id, m.role) for m in members] == [
        (site, role) for site in order for role in ("land_resources_staff", "village_cadre")
    ]
    assert {m.cycle_days for m in members} == {3.5}
    await retire_mine_site(db, world.admin, sites["beta"].id)
    assert {m.site_id for m in await roster.members(db, world.county_id)} == set(alphas)
    await db.commit()
