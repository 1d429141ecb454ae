"""Need-to-know answers of ``patrol.policy`` a caller relies on beyond the role walk of
``tests/api/test_need_to_know.py``: the directory's order and role filter, a stranger's
"user not found", the finding rule for single reads, the relations and finding readers other
packages register, and the sync pull's form of the rules.

The rules are SQL text built when the modules are imported (``sync.collections`` formats them
with :func:`~patrol.policy.sync_predicate` then); the tests here build them again, as an
importing package would, and run what they build.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from infra.scope import Principal, Role
from patrol import CONSTRUCTION_STATUSES, PatrolService, policy
from patrol.accounts import principal_of
from patrol.policy import (
    AREA_READ,
    PATROL_READ,
    finding_read,
    get_colleague,
    list_colleagues,
    may_read,
    register_colleagues,
    register_finding_readers,
    sync_predicate,
)
from tests.clock import ago
from tests.conftest import add_user
from tests.worlds import World

EN = {"Accept-Language": "en"}


@pytest.fixture
def own_rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Relations and finding readers registered by a test stay with that test."""
    for name in ("_colleague_rules", "_phone_rules", "_finding_rules"):
        monkeypatch.setattr(policy, name, list(getattr(policy, name)))
    yield


async def _finding(db: AsyncSession, world: World, project: str) -> uuid.UUID:
    """A finding on a patrol of area A1 by its leader, the world's inspector."""
    patrols = PatrolService(db)
    patrol = await patrols.start_patrol(
        world.inspector, uuid7(), area_id=world.area.id, started_at=ago(hours=1)
    )
    finding = await patrols.record_finding(
        world.inspector, patrol.id, uuid7(), found_at=ago(minutes=30), project_name=project,
        construction_status=CONSTRUCTION_STATUSES[0], lon=110.2, lat=30.4,
    )  # fmt: skip
    await db.commit()
    return finding.id


async def test_the_directory_is_listed_by_username_and_filtered_by_role(
    world: World, db: AsyncSession
) -> None:
    # added in reverse order of their names, so only sorting lists them by name
    for name in ("zeta", "alpha"):
        await add_user(db, world.county_id, Role.INSPECTOR, name)
    await db.commit()
    everyone = [c.user.username for c in await list_colleagues(db, world.captain)]
    assert everyone == sorted(everyone) and len(everyone) == len(Role) + 4
    inspectors = await list_colleagues(db, world.captain, role=Role.INSPECTOR)
    names = [c.user.username.split("-")[0] for c in inspectors]
    assert names == ["alpha", "inspector", "inspector2", "zeta"]


async def test_a_user_out_of_view_is_not_found_in_the_callers_language(
    world: World, client: AsyncTestClient[Litestar]
) -> None:
    # the second inspector shares no area or patrol with the first
    path = f"/api/v1/admin/users/{world.inspector2.user_id}"
    resp = await client.get(path, headers={**world.headers(Role.INSPECTOR), **EN})
    assert resp.status_code == 404
    assert (resp.json()["code"], resp.json()["detail"]) == ("user_not_found", "user not found")
    resp = await client.get(path, headers=world.headers(Role.CAPTAIN))
    assert resp.status_code == 200 and resp.json()["id"] == str(world.inspector2.user_id)


async def test_a_finding_is_read_by_its_patrols_readers_alone(
    world: World, db: AsyncSession
) -> None:
    finding = await _finding(db, world, "fenced yard")
    rule = finding_read()
    assert await may_read(db, world.inspector, rule, finding)
    assert await may_read(db, world.captain, rule, finding)
    assert not await may_read(db, world.inspector2, rule, finding)
    assert not await may_read(db, world.joint_team, rule, uuid.uuid4())


async def test_a_registered_relation_shows_colleagues_and_their_phones_as_registered(
    world: World, db: AsyncSession, own_rules: None
) -> None:
    pals: list[Principal] = []
    for name, phone in (("pal-a", "13900000001"), ("pal-b", "13900000002")):
        user = await add_user(db, world.county_id, Role.INSPECTOR, name, phone=phone)
        pals.append(principal_of(user))
    await db.commit()
    first, second = pals
    # "both are pals": a relation over the user row {t} and the caller {uid}
    rule = (
        "(split_part({t}.username, '-', 1) = 'pal' AND EXISTS (SELECT 1 FROM users nk_pal "
        "WHERE nk_pal.id = {uid} AND split_part(nk_pal.username, '-', 1) = 'pal'))"
    )

    async def seen_by_first() -> dict[uuid.UUID, str | None]:
        return {c.user.id: c.phone for c in await list_colleagues(db, first)}

    assert await seen_by_first() == {first.user_id: "13900000001"}
    register_colleagues(rule, shares_phone=False)
    register_colleagues(rule, shares_phone=False)
    assert await seen_by_first() == {first.user_id: "13900000001", second.user_id: None}
    assert (await get_colleague(db, first, second.user_id)).phone is None
    register_colleagues(rule, shares_phone=True)
    assert (await seen_by_first())[second.user_id] == "13900000002"
    assert (await get_colleague(db, first, second.user_id)).phone == "13900000002"


async def test_a_registered_finding_reader_reads_the_findings_of_its_branch(
    world: World, db: AsyncSession, own_rules: None
) -> None:
    shared = await _finding(db, world, "shared: quarry road")
    other = await _finding(db, world, "kept: river bank")
    # joint-team members read the findings whose project is marked shared
    rule = (
        "(EXISTS (SELECT 1 FROM users nk_jt WHERE nk_jt.id = {uid} AND nk_jt.role = "
        "'joint_team') AND {t}.project_name LIKE 'shared:%')"
    )
    assert not await may_read(db, world.joint_team, finding_read(), shared)
    register_finding_readers(rule)
    register_finding_readers(rule)
    assert finding_read().count(rule) == 1
    assert await may_read(db, world.joint_team, finding_read(), shared)
    assert not await may_read(db, world.joint_team, finding_read(), other)
    assert not await may_read(db, world.inspector2, finding_read(), shared)


async def test_the_sync_form_of_a_rule_reads_the_pulling_user_from_prm(
    world: World, db: AsyncSession
) -> None:
    # the shape of sync.collections: the caller is the row prm (uid, mgr)
    sql = text(
        "WITH prm AS (SELECT CAST(:uid AS uuid) AS uid, CAST(:mgr AS boolean) AS mgr) "
        "SELECT a.id FROM patrol_areas a, prm "
        f"WHERE a.county_id = :county AND {sync_predicate(AREA_READ, 'a')}"
    )

    async def areas(who: Principal, *, mgr: bool) -> set[uuid.UUID]:
        params = {"uid": who.user_id, "mgr": mgr, "county": world.county_id}
        return set((await db.execute(sql, params)).scalars())

    assert await areas(world.inspector, mgr=False) == {world.area.id}  # its leader
    assert await areas(world.inspector2, mgr=False) == set()
    assert await areas(world.inspector2, mgr=True) == {world.area.id}


@pytest.mark.parametrize("rule", [AREA_READ, PATROL_READ], ids=["area", "patrol"])
def test_a_rule_nested_under_an_alias_keeps_the_callers_placeholders(rule: str) -> None:
    # TARGET_READ, PLAN_READ and the finding rule apply the area and patrol rules to an inner
    # alias; the caller is filled in later, by REST or by the sync pull
    nested = policy._nest(rule, "nk_in")
    for uid, mgr in (("CAST(:u AS uuid)", "false"), ("prm.uid", "prm.mgr")):
        assert nested.format(uid=uid, mgr=mgr) == rule.format(t="nk_in", uid=uid, mgr=mgr)
