"""Editing a finding last seen at a version (``PatrolService.update_finding``): who may,
what merges, what conflicts, what is refused; and batches of one patrol."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from patrol.errors import FindingNotFoundError, InvalidPatrolInputError, NotPatrolOwnerError
from patrol.findings import FindingChanges, FindingEdit
from patrol.sessions import PatrolService, SignInInput
from tests.clock import ago
from tests.worlds import World


async def _finding(svc: PatrolService, world: World) -> tuple[uuid.UUID, uuid.UUID, int]:
    pid, fid = uuid7(), uuid7()
    await svc.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=ago(hours=1))
    await svc.record_finding(
        world.inspector, pid, fid, found_at=ago(minutes=30), project_name="厂房",
        construction_status="partly_built", lon=110.15, lat=30.15, builder="某人",
    )  # fmt: skip
    await svc.db.commit()  # a version is the writing transaction: one per edit below
    return pid, fid, (await svc.finding_versions(world.inspector, [fid]))[fid]


async def test_edits_apply_merge_conflict_and_repeat(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    _, fid, v0 = await _finding(svc, world)
    # the captain renames it; the phone, still at v0, edits the builder: they merge
    renamed = await svc.update_finding(
        world.captain, FindingEdit(finding_id=fid, base_version=v0,
                                   changes=FindingChanges(project_name="厂房二期"))
    )  # fmt: skip
    await db.commit()
    assert renamed.status == "applied" and renamed.version != v0
    merged = await svc.update_finding(
        world.inspector,
        FindingEdit(finding_id=fid, base_version=v0, changes=FindingChanges(builder="某公司"),
                    base=FindingChanges(builder="某人")),
    )  # fmt: skip
    await db.commit()
    assert merged.status == "applied" and merged.version != renamed.version
    # the phone, still at v0, renames it too: both sides changed the name
    clash = await svc.update_finding(
        world.inspector,
        FindingEdit(finding_id=fid, base_version=v0, changes=FindingChanges(project_name="仓库"),
                    base=FindingChanges(project_name="厂房")),
    )  # fmt: skip
    assert clash.status == "conflict" and clash.version == merged.version
    assert clash.server_values == {"project_name": "厂房二期"}
    # the same values again change nothing
    same = await svc.update_finding(
        world.inspector,
        FindingEdit(finding_id=fid, base_version=merged.version,
                    changes=FindingChanges(builder="某公司")),
    )  # fmt: skip
    assert (same.status, same.version) == ("unchanged", merged.version)


async def test_edits_are_refused_for_others_and_bad_values(
    world: World, db: AsyncSession, other_world: Callable[[], Awaitable[World]]
) -> None:
    svc = PatrolService(db)
    _, fid, v0 = await _finding(svc, world)
    edit = FindingEdit(finding_id=fid, base_version=v0, changes=FindingChanges(note="n"))
    with pytest.raises(NotPatrolOwnerError) as refused:
        await svc.update_finding(world.inspector2, edit)
    assert refused.value.code == "not_finding_editor"
    stranger = await other_world()
    for who, finding_id in ((stranger.captain, fid), (world.captain, uuid7())):
        with pytest.raises(FindingNotFoundError) as missing:
            await svc.update_finding(
                who, FindingEdit(finding_id=finding_id, base_version=v0, changes=edit.changes)
            )
        assert missing.value.code == "finding_not_found"
    bad = [
        (FindingChanges(construction_status="demolished"), "invalid_status"),
        (FindingChanges(occupied_area_m2=-1.0), "invalid_patrol_input"),
        (FindingChanges(project_name="  "), "invalid_patrol_input"),
    ]
    for changes, code in bad:
        with pytest.raises(InvalidPatrolInputError) as err:
            await svc.update_finding(
                world.inspector, FindingEdit(finding_id=fid, base_version=v0, changes=changes)
            )
        assert err.value.code == code


async def test_a_batch_is_of_one_patrol(world: World, db: AsyncSession) -> None:
    svc = PatrolService(db)
    items = [
        SignInInput(patrol_id=uuid7(), sign_in_id=uuid7(), at=ago(minutes=5), lon=110.15,
                    lat=30.15)
        for _ in range(2)
    ]  # fmt: skip
    with pytest.raises(InvalidPatrolInputError) as err:
        await svc.sign_in_many(world.inspector, items)
    assert err.value.extra.get("field") == "patrol_id"


async def test_a_name_of_spaces_or_longer_than_its_column_is_refused_on_edit(
    world: World, db: AsyncSession
) -> None:
    svc = PatrolService(db)
    _, fid, v0 = await _finding(svc, world)
    for name in ("  ", " " + "名" * 200):
        with pytest.raises(InvalidPatrolInputError) as err:
            await svc.update_finding(
                world.captain, FindingEdit(finding_id=fid, base_version=v0,
                                           changes=FindingChanges(project_name=name))
            )  # fmt: skip
        assert (err.value.code, err.value.extra) == (
            "invalid_patrol_input",
            {"field": "project_name"},
        )
    kept = await svc.update_finding(
        world.captain, FindingEdit(finding_id=fid, base_version=v0,
                                   changes=FindingChanges(project_name=" " + "名" * 199))
    )  # fmt: skip
    assert kept.status == "applied"
