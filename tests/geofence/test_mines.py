"""Mine-site register and five-to-one rosters: roles, completeness, versions, isolation."""

from __future__ import annotations

import uuid

import pytest
import shapely
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geofence import (
    DuplicateSiteCodeError,
    InvalidGeometryError,
    InvalidRosterError,
    LayerVersionNotFoundError,
    MineSiteNotFoundError,
    RosterMemberInput,
    SiteInput,
    change_site_status,
    create_mine_site,
    get_layer_version,
    get_mine_site,
    list_layer_versions,
    list_mine_sites,
    read_layer_features,
    remove_roster_member,
    roster_report,
    set_roster_member,
    update_mine_site,
)
from infra.errors import PermissionDeniedError
from infra.scope import Principal, Role
from patrol.site_review import mark_site_for_review
from tests.conftest import add_county, add_user

PIT = shapely.box(112.15, 28.55, 112.152, 28.552)


def _contact(role: str, phone: str = "13800000000") -> RosterMemberInput:
    return RosterMemberInput(role=role, contact_name="王五", contact_phone=phone)


async def _other(session: AsyncSession, role: Role, county_id: uuid.UUID) -> Principal:
    user_id = (await add_user(session, county_id, role)).id
    return Principal(user_id=user_id, county_id=county_id, role=role, username="x")


async def test_roster_completeness_and_duty_defaults(
    session: AsyncSession, principal: Principal, county_id: uuid.UUID
) -> None:
    site = await create_mine_site(
        session, principal, SiteInput(code="KS-1", name="石场", geometry=PIT)
    )
    assert site.missing_roles and not site.roster_complete
    for role in ("township_leader", "safety_officer", "village_liaison_cadre"):
        site = await set_roster_member(session, principal, site.id, _contact(role))
    staff = (await add_user(session, county_id, Role.INSPECTOR)).id
    site = await set_roster_member(
        session, principal, site.id, RosterMemberInput(role="land_resources_staff", user_id=staff)
    )
    assert [r.value for r in site.missing_roles] == ["village_cadre"]
    site = await set_roster_member(session, principal, site.id, _contact("village_cadre"))
    assert site.roster_complete
    by_role = {m.role.value: m for m in site.roster}
    assert by_role["village_cadre"].duty_period == "daily"
    assert by_role["township_leader"].duty_period == "monthly"
    assert by_role["land_resources_staff"].user_id == staff

    # reassigning a role replaces the holder; vacating it makes the roster incomplete again
    new_cadre = RosterMemberInput(
        role="village_cadre",
        contact_name="赵六",
        contact_phone="+86 139-0000-0002",
        duty_period="weekly",
        duty_checks=3,
    )
    site = await set_roster_member(session, principal, site.id, new_cadre)
    cadre = next(m for m in site.roster if m.role == "village_cadre")
    assert (cadre.contact_name, cadre.duty_period, cadre.duty_checks) == ("赵六", "weekly", 3)
    site = await remove_roster_member(session, principal, site.id, "safety_officer")
    assert [r.value for r in site.missing_roles] == ["safety_officer"]
    await create_mine_site(
        session, principal,
        SiteInput(code="CB-1", name="采金船", site_kind="dredging_boat",
                  closure_method="hauled_ashore", geometry=shapely.Point(112.2, 28.45)),
    )  # fmt: skip
    report = await roster_report(session, principal)
    assert (report.total_sites, report.complete) == (2, 0)
    assert {s.code for s in report.incomplete} == {"KS-1", "CB-1"}
    incomplete = await list_mine_sites(session, principal, incomplete_only=True)
    assert len(incomplete) == 2
    boats = await list_mine_sites(session, principal, site_kind="dredging_boat")
    assert [b.code for b in boats] == ["CB-1"]


@pytest.mark.parametrize(
    ("member", "field"),
    [
        (RosterMemberInput(role="boss", contact_name="x", contact_phone="13800000000"), "role"),
        (RosterMemberInput(role="village_cadre"), "contact_name"),
        (RosterMemberInput(role="village_cadre", contact_name="x"), "contact_phone"),
        (
            RosterMemberInput(role="village_cadre", contact_name="x", contact_phone="call me"),
            "contact_phone",
        ),
        (
            RosterMemberInput(
                role="village_cadre", contact_name="x", contact_phone="13800000000", duty_checks=0
            ),
            "duty_checks",
        ),
        (RosterMemberInput(role="village_cadre", user_id=uuid.uuid4()), "user_id"),
    ],
)
async def test_bad_roster_members(
    session: AsyncSession, principal: Principal, member: RosterMemberInput, field: str
) -> None:
    site = await create_mine_site(
        session, principal, SiteInput(code="KS-2", name="矿", geometry=PIT)
    )
    with pytest.raises(InvalidRosterError) as err:
        await set_roster_member(session, principal, site.id, member)
    assert err.value.field == field


async def test_roles_and_bad_sites(
    session: AsyncSession, principal: Principal, county_id: uuid.UUID
) -> None:
    inspector = await _other(session, Role.INSPECTOR, county_id)
    captain = await _other(session, Role.CAPTAIN, county_id)
    with pytest.raises(PermissionDeniedError):
        await create_mine_site(session, inspector, SiteInput(code="A", name="a", geometry=PIT))
    site = await create_mine_site(session, captain, SiteInput(code="A", name="a", geometry=PIT))
    with pytest.raises(PermissionDeniedError):
        await set_roster_member(session, inspector, site.id, _contact("village_cadre"))
    with pytest.raises(PermissionDeniedError):
        await change_site_status(session, inspector, site.id, "reopened")
    # the roster (names, phones) is for managers and the seat holders (geofence.policy)
    with pytest.raises(MineSiteNotFoundError):
        await get_mine_site(session, inspector, site.id)
    assert await list_mine_sites(session, inspector) == []
    with pytest.raises(PermissionDeniedError):
        await roster_report(session, inspector)
    assert (await get_mine_site(session, captain, site.id)).code == "A"
    with pytest.raises(DuplicateSiteCodeError):
        await create_mine_site(session, captain, SiteInput(code="A", name="b", geometry=PIT))
    bowtie = shapely.Polygon([(112.1, 28.5), (112.11, 28.51), (112.11, 28.5), (112.1, 28.51)])
    with pytest.raises(InvalidGeometryError) as err:
        await create_mine_site(session, captain, SiteInput(code="B", name="b", geometry=bowtie))
    assert err.value.field == "geometry"
    boat = SiteInput(code="C", name="c", site_kind="dredging_boat", geometry=PIT)
    with pytest.raises(InvalidGeometryError):
        await create_mine_site(session, captain, boat)
    with pytest.raises(InvalidGeometryError):
        await create_mine_site(
            session, captain, SiteInput(code="D", name="d", geometry=shapely.Point(112.1, 95))
        )


async def test_old_register_versions_stay_readable(
    session: AsyncSession, principal: Principal
) -> None:
    site = await create_mine_site(
        session, principal, SiteInput(code="KS-3", name="旧名", geometry=PIT)
    )
    await change_site_status(session, principal, site.id, "signs_of_reopening")
    moved = shapely.box(112.16, 28.56, 112.161, 28.561)
    await update_mine_site(
        session, principal, site.id,
        SiteInput(code="KS-3", name="新名", geometry=moved, status="remediated"),
    )  # fmt: skip
    await session.commit()
    versions = await list_layer_versions(session, principal, kind="mine_sites")
    assert [v.version_no for v in versions] == [3, 2, 1]
    states = []
    for v in reversed(versions):
        [feature] = await read_layer_features(session, principal, v.id)
        assert feature.id == site.id
        states.append((feature.properties["name"], feature.properties["status"]))
    assert states == [("旧名", "closed"), ("旧名", "signs_of_reopening"), ("新名", "remediated")]
    [first] = await read_layer_features(session, principal, versions[-1].id)
    assert first.geometry.equals(PIT)
    current = await get_mine_site(session, principal, site.id)
    assert current.geometry.equals(moved) and current.status == "remediated"


async def test_a_status_keeps_its_reason_until_the_status_changes(
    session: AsyncSession, principal: Principal
) -> None:
    site = await create_mine_site(
        session, principal, SiteInput(code="KS-4", name="石场", geometry=PIT)
    )
    assert (site.status_reason, site.status_changed_at is not None) == ("", True)
    closed_at = site.status_changed_at
    site = await change_site_status(
        session, principal, site.id, "reopened", reason="  夜间有人开采  "
    )
    assert (site.status, site.status_reason) == ("reopened", "夜间有人开采")
    assert site.status_changed_at is not None and closed_at is not None
    assert site.status_changed_at >= closed_at
    reopened_at = site.status_changed_at
    # the same status: a new reason replaces the old, the time of the status stays; no reason
    # (or the same one) changes nothing
    site = await change_site_status(session, principal, site.id, "reopened", reason="已立案")
    assert (site.status_reason, site.status_changed_at) == ("已立案", reopened_at)
    versions = len(await list_layer_versions(session, principal, kind="mine_sites"))
    await change_site_status(session, principal, site.id, "reopened")
    await change_site_status(session, principal, site.id, "reopened", reason="已立案")
    assert len(await list_layer_versions(session, principal, kind="mine_sites")) == versions
    with pytest.raises(InvalidRosterError) as err:
        await change_site_status(session, principal, site.id, "closed", reason="x" * 2001)
    assert err.value.field == "reason"
    # a status set otherwise (a duty check's mark, here after a captain closed the site again)
    # ends the reason given for the old one
    await change_site_status(session, principal, site.id, "closed", reason="再次封堵")
    assert await mark_site_for_review(session, principal, site.id)
    site = await get_mine_site(session, principal, site.id)
    assert (site.status, site.status_reason) == ("signs_of_reopening", "")
    history = await list_layer_versions(session, principal, kind="mine_sites")
    reasons = [
        (f.properties["status"], f.properties["status_reason"])
        for v in reversed(history)
        for f in await read_layer_features(session, principal, v.id)
    ]
    assert reasons == [
        ("closed", ""),
        ("reopened", "夜间有人开采"),
        ("reopened", "已立案"),
        ("closed", "再次封堵"),
        ("signs_of_reopening", ""),
    ]


async def test_another_countys_sites_and_versions_are_not_found(
    session_factory: async_sessionmaker[AsyncSession], principal: Principal
) -> None:
    async with session_factory() as session:
        site = await create_mine_site(
            session, principal, SiteInput(code="KS-4", name="矿", geometry=PIT)
        )
        other_county = (
            await add_county(session, boundary=shapely.box(100.0, 30.0, 100.3, 30.3))
        ).id
        stranger = await _other(session, Role.ADMIN, other_county)
        await session.commit()
    async with session_factory() as session:
        with pytest.raises(MineSiteNotFoundError):
            await get_mine_site(session, stranger, site.id)
        with pytest.raises(MineSiteNotFoundError):
            await set_roster_member(session, stranger, site.id, _contact("village_cadre"))
        with pytest.raises(MineSiteNotFoundError):
            await change_site_status(session, stranger, site.id, "reopened")
        with pytest.raises(LayerVersionNotFoundError):
            await get_layer_version(session, stranger, site.layer_version_id)
        with pytest.raises(LayerVersionNotFoundError):
            await read_layer_features(session, stranger, site.layer_version_id)
        assert await list_mine_sites(session, stranger) == []
        assert (await get_mine_site(session, principal, site.id)).status == "closed"
