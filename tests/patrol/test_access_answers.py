"""The shared checks of the field-work services (``patrol._access``), each answered exactly:
which error, which code, which facts and which English text a refusal carries (the English
detail of a problem answer is the text raised), and who passes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.errors import DomainError
from infra.ids import uuid7
from infra.scope import Role
from patrol._access import (
    aware,
    ensure_may_patrol,
    ensure_patrol_reader,
    ensure_patrol_writer,
    is_area_member,
    is_patrol_crew,
    load_area,
    load_patrol,
    load_readable_area,
    require_manager,
)
from patrol.errors import (
    AreaNotFoundError,
    InvalidPatrolInputError,
    NotAreaMemberError,
    NotPatrolOwnerError,
    PatrolNotFoundError,
)
from patrol.field_models import AreaMember, ContractArea, PatrolSession
from patrol.sessions import PatrolService
from tests.clock import ago
from tests.worlds import World

NOT_MEMBER = "you are not the leader or a member of this contract area"
NOT_OWNER = "this patrol belongs to someone else"


def _refusal(exc: DomainError) -> tuple[str, str, dict[str, object]]:
    return exc.code, exc.detail, dict(exc.extra)


def test_aware_times_become_utc_and_naive_ones_are_refused() -> None:
    beijing = datetime(2026, 11, 20, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    got = aware(beijing, "start")
    assert got == beijing and got.tzinfo is UTC
    with pytest.raises(InvalidPatrolInputError) as caught:
        aware(datetime(2026, 11, 20, 16, 0), "started_at")  # noqa: DTZ001 - the naive case
    assert _refusal(caught.value) == (
        "invalid_time",
        "started_at must carry a time zone offset",
        {"field": "started_at"},
    )


def test_only_captains_and_admins_are_managers(world: World) -> None:
    require_manager(world.captain, "review")
    require_manager(world.admin, "review")
    for who in (world.inspector, world.squad, world.joint_team):
        with pytest.raises(DomainError) as caught:
            require_manager(who, "review duty")
        assert _refusal(caught.value) == (
            "role_not_allowed",
            "only captain, admin may review duty",
            {"allowed_roles": [Role.CAPTAIN, Role.ADMIN]},
        )


def test_a_role_is_one_of_those_named(world: World) -> None:
    assert world.inspector.has_role(Role.INSPECTOR, Role.CAPTAIN)
    assert not world.inspector.has_role(Role.CAPTAIN, Role.ADMIN)
    assert not world.inspector.has_role()


async def test_an_area_of_another_county_is_not_found(
    world: World, other_world: Callable[[], Awaitable[World]], db: AsyncSession
) -> None:
    assert (await load_area(db, world.inspector, world.area.id)).id == world.area.id
    other = await other_world()
    with pytest.raises(AreaNotFoundError) as caught:
        await load_area(db, other.captain, world.area.id)
    assert _refusal(caught.value) == (
        "area_not_found",
        "contract area not found",
        {"area_id": str(world.area.id)},
    )


async def test_leaders_members_and_managers_patrol_an_area(world: World, db: AsyncSession) -> None:
    area = await load_area(db, world.captain, world.area.id)
    assert await is_area_member(db, area, world.inspector.user_id)  # the leader
    assert not await is_area_member(db, area, world.inspector2.user_id)
    for who in (world.inspector, world.captain, world.admin):
        await ensure_may_patrol(db, who, area)
    for who in (world.inspector2, world.joint_team, world.squad):
        with pytest.raises(NotAreaMemberError) as caught:
            await ensure_may_patrol(db, who, area)
        assert _refusal(caught.value) == (
            "not_area_member",
            NOT_MEMBER,
            {"area_id": str(area.id)},
        )
        with pytest.raises(NotAreaMemberError) as caught:
            await load_readable_area(db, who, area.id)
        assert _refusal(caught.value) == ("not_area_member", NOT_MEMBER, {"area_id": str(area.id)})
    for who in (world.inspector, world.captain, world.admin):
        assert (await load_readable_area(db, who, area.id)).id == area.id


async def _patrol(world: World, db: AsyncSession) -> PatrolSession:
    patrol = await PatrolService(db).start_patrol(
        world.inspector,
        uuid7(),
        area_id=world.area.id,
        started_at=ago(hours=1),
        companion_ids=[world.joint_team.user_id],
    )
    await db.commit()
    return patrol


async def test_the_crew_writes_a_patrol_and_others_are_refused(
    world: World, db: AsyncSession
) -> None:
    patrol = await _patrol(world, db)
    assert is_patrol_crew(world.inspector, patrol)
    assert is_patrol_crew(world.joint_team, patrol)  # a companion
    for who in (world.inspector2, world.captain, world.squad):
        assert not is_patrol_crew(who, patrol)
        with pytest.raises(NotPatrolOwnerError) as caught:
            ensure_patrol_writer(who, patrol)
        assert _refusal(caught.value) == (
            "not_patrol_owner",
            NOT_OWNER,
            {"patrol_id": str(patrol.id)},
        )
    ensure_patrol_writer(world.joint_team, patrol)
    alone = PatrolSession(inspector_id=world.inspector.user_id, companion_ids=None)
    assert is_patrol_crew(world.inspector, alone)
    assert not is_patrol_crew(world.joint_team, alone)


async def test_the_crew_and_managers_read_a_patrol(world: World, db: AsyncSession) -> None:
    patrol = await _patrol(world, db)
    for who in (world.inspector, world.joint_team, world.captain, world.admin):
        await ensure_patrol_reader(db, who, patrol)
    with pytest.raises(NotPatrolOwnerError) as caught:
        await ensure_patrol_reader(db, world.inspector2, patrol)
    assert _refusal(caught.value) == ("not_patrol_owner", NOT_OWNER, {"patrol_id": str(patrol.id)})


@pytest.mark.parametrize("for_update", [False, True])
async def test_a_patrol_of_another_county_is_not_found(
    world: World,
    other_world: Callable[[], Awaitable[World]],
    db: AsyncSession,
    for_update: bool,
) -> None:
    patrol = await _patrol(world, db)
    got = await load_patrol(db, world.captain, patrol.id, for_update=for_update)
    assert got.id == patrol.id
    other = await other_world()
    for missing in (patrol.id, uuid.uuid4()):
        with pytest.raises(PatrolNotFoundError) as caught:
            await load_patrol(db, other.captain, missing, for_update=for_update)
        assert _refusal(caught.value) == (
            "patrol_not_found",
            "patrol not found",
            {"patrol_id": str(missing)},
        )


class _NoOffset(tzinfo):
    """A zone that knows no offset: such a time is as naive as one without a zone."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:  # noqa: ARG002
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:  # noqa: ARG002
        return None

    def tzname(self, dt: datetime | None) -> str | None:  # noqa: ARG002
        return None


def test_a_time_whose_zone_has_no_offset_is_refused() -> None:
    with pytest.raises(InvalidPatrolInputError) as caught:
        aware(datetime(2026, 11, 20, 16, 0, tzinfo=_NoOffset()), "ended_at")
    assert _refusal(caught.value) == (
        "invalid_time",
        "ended_at must carry a time zone offset",
        {"field": "ended_at"},
    )


async def test_membership_is_of_this_area_and_this_user(world: World, db: AsyncSession) -> None:
    # the squad member is on this area's team; the second inspector on another area's only
    other = ContractArea(
        county_id=world.county_id,
        code=f"O{uuid.uuid4().hex[:6]}",
        name="另一片区",
        grade=1,
        geom=world.area.geom,
        leader_id=world.captain.user_id,
    )
    db.add(other)
    await db.flush()
    cid = world.county_id
    db.add(AreaMember(county_id=cid, area_id=world.area.id, user_id=world.squad.user_id))
    db.add(AreaMember(county_id=cid, area_id=other.id, user_id=world.inspector2.user_id))
    await db.flush()
    area = await load_area(db, world.captain, world.area.id)
    assert await is_area_member(db, area, world.squad.user_id)
    assert not await is_area_member(db, area, world.inspector2.user_id)
    assert await is_area_member(db, other, world.inspector2.user_id)
    assert not await is_area_member(db, other, world.squad.user_id)
    await db.rollback()


async def test_only_a_load_for_update_locks_the_patrol(
    world: World, db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    patrol = await _patrol(world, db)
    grab = text("SELECT id FROM patrol_sessions WHERE id = :p FOR UPDATE NOWAIT")

    async def locked() -> bool:
        async with session_factory() as other:
            try:
                await other.execute(grab, {"p": patrol.id})
            except DBAPIError:
                return True
            finally:
                await other.rollback()
        return False

    await load_patrol(db, world.captain, patrol.id)
    assert not await locked()
    await load_patrol(db, world.captain, patrol.id, for_update=True)
    assert await locked()
    await db.rollback()
