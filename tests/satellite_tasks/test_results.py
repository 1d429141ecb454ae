"""Field results of satellite tasks through the service: each outcome's fields, the overlay
in mu, replays, late results, the patrol visit, and who reads which task."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evidence.cases.satellite_models import SatelliteTask
from evidence.cases.satellite_tasks import (
    SatelliteResultInput,
    SatelliteTaskService,
    TaskFilter,
)
from infra.errors import DomainError
from infra.ids import uuid7
from patrol.field_models import PatrolSession, TargetVisit
from tests import clock
from tests.satellite_tasks.seed import LAT, LON, TaskSpec, seed_batch, square
from tests.worlds import World

AT = clock.NOW - timedelta(hours=1)


def _service(db: AsyncSession) -> SatelliteTaskService:
    return SatelliteTaskService(db, clock=lambda: clock.NOW)


def legal(task_id: uuid.UUID, **kw: Any) -> SatelliteResultInput:
    base: dict[str, Any] = {
        "task_id": task_id, "result_id": uuid7(), "outcome": "legal", "verified_at": AT,
        "proof_type": "farmland_conversion", "approval_no": "湘政土批〔2026〕12号",
    }  # fmt: skip
    return SatelliteResultInput(**{**base, **kw})


def illegal(task_id: uuid.UUID, **kw: Any) -> SatelliteResultInput:
    base: dict[str, Any] = {
        "task_id": task_id, "result_id": uuid7(), "outcome": "illegal", "verified_at": AT,
        "violator": "某某建材有限公司", "violator_type": "organisation", "land_use": "industrial",
        "construction_status": "partly_built",
    }  # fmt: skip
    return SatelliteResultInput(**{**base, **kw})


async def _expect(code: str, call: Awaitable[Any], field: str | None = None) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code, caught.value
    if field is not None:
        assert caught.value.extra.get("field") == field, caught.value.extra
    return caught.value


async def test_each_outcome_needs_its_own_fields_and_no_other(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec()])
    task_id = seeded.task_ids[0]
    me = world.inspector
    bad = "invalid_satellite_result"
    async with session_factory() as db:
        svc = _service(db)
        for missing in ("proof_type", "approval_no"):
            await _expect(bad, svc.record_result(me, legal(task_id, **{missing: None})), missing)
        await _expect(bad, svc.record_result(me, legal(task_id, approval_no="  ")), "approval_no")
        await _expect(
            bad, svc.record_result(me, legal(task_id, violator="张三")), "violator"
        )  # another outcome's field
        await _expect(
            bad,
            svc.record_result(me, legal(task_id, outcome="not_new", not_new_kind="rural_road")),
            "proof_type",
        )
        not_new = SatelliteResultInput(task_id=task_id, result_id=uuid7(), outcome="not_new",
                                       verified_at=AT)  # fmt: skip
        await _expect(bad, svc.record_result(me, not_new), "not_new_kind")
        await _expect(
            bad, svc.record_result(me, replace(not_new, not_new_kind="barn")), "not_new_kind"
        )
        for missing in ("violator", "violator_type", "land_use", "construction_status"):
            await _expect(bad, svc.record_result(me, illegal(task_id, **{missing: None})), missing)
        await _expect(
            bad, svc.record_result(me, illegal(task_id, not_new_kind="no_change")), "not_new_kind"
        )
        await _expect(
            "invalid_time",
            svc.record_result(me, legal(task_id, verified_at=clock.NOW + timedelta(hours=1))),
            "verified_at",
        )
        view, replayed = await svc.record_result(
            me, replace(not_new, not_new_kind="rural_road", note="村道硬化")
        )
        await db.commit()
    assert not replayed and view.current and view.not_new_kind == "rural_road"
    # the polygon straddles the two parcels: about half of its area in each class
    total = sum(view.overlay_areas_mu.values())
    assert set(view.overlay_areas_mu) == {"permanent_basic_farmland", "cultivated"}
    assert total == pytest.approx(view.overlay_area_mu, abs=1e-3)
    assert view.overlay_area_mu == pytest.approx(100 * 100 / 666.67, rel=0.02)
    assert view.overlay_areas_mu["cultivated"] == pytest.approx(total / 2, rel=0.02)

    async with session_factory() as db:
        task = await _service(db).get_task(me, task_id)
    assert (task.status, task.outcome) == ("verified", "not_new")
    assert task.result is not None and task.result.id == view.id
    assert task.monitored_areas_mu == {"cultivated": 7.5, "permanent_basic_farmland": 7.5}
    assert task.batch.id == seeded.batch_id and task.area is not None
    assert task.area.name == "west area" and task.inspector is not None
    assert task.polygon["type"] == "MultiPolygon"
    assert [e.kind for e in task.events] == ["result_recorded"]
    assert task.events[0].actor_id == me.user_id


async def test_a_walked_outline_is_overlaid_instead_of_the_polygon(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec()])
    west = square(LON - 0.002, LAT, 50.0)  # wholly in the basic farmland, about 3.75 mu
    outline = {"type": "Polygon", "coordinates": [[list(c) for c in west.exterior.coords]]}
    async with session_factory() as db:
        view, _ = await _service(db).record_result(
            world.inspector,
            illegal(seeded.task_ids[0], outline=outline, approval_area_mu=None),
        )
        await db.commit()
    assert list(view.overlay_areas_mu) == ["permanent_basic_farmland"]
    assert view.overlay_area_mu == pytest.approx(50 * 50 / 666.67, rel=0.02)
    assert view.outline is not None and view.outline["type"] == "MultiPolygon"


async def test_the_same_result_again_answers_it_and_another_body_is_refused(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec()])
    item = legal(seeded.task_ids[0])
    async with session_factory() as db:
        first, _ = await _service(db).record_result(world.inspector, item)
        await db.commit()
    async with session_factory() as db:
        again, replayed = await _service(db).record_result(world.inspector, item)
        assert replayed and again == first
        await _expect(
            "id_reused", _service(db).record_result(world.inspector, replace(item, note="改"))
        )
        # another inspector sending the same body under the same id is not a replay
        await _expect("id_reused", _service(db).record_result(world.inspector2, item))
        results = await _service(db).list_results(world.captain, seeded.task_ids[0])
    assert [r.id for r in results] == [first.id]


async def test_a_result_verified_earlier_is_kept_as_history(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec()])
    task_id = seeded.task_ids[0]
    async with session_factory() as db:
        svc = _service(db)
        newer, _ = await svc.record_result(world.inspector, illegal(task_id))
        # a phone that was offline longer: verified two hours before the current result
        late, _ = await svc.record_result(
            world.inspector, legal(task_id, verified_at=AT - timedelta(hours=2))
        )
        await db.commit()
    assert newer.current and not late.current
    async with session_factory() as db:
        svc = _service(db)
        task = await svc.get_task(world.inspector, task_id)
        history = await svc.list_results(world.inspector, task_id)
    assert task.outcome == "illegal" and task.result is not None and task.result.id == newer.id
    assert [(r.id, r.current) for r in history] == [(newer.id, True), (late.id, False)]
    assert [e.details["current"] for e in task.events] == [True, False]


async def test_a_result_on_a_patrol_counts_as_the_target_visit(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_batch(session_factory, world, [TaskSpec(target=True)])
    async with session_factory() as db:
        patrol = PatrolSession(
            id=uuid7(), county_id=world.county_id, area_id=world.area.id,
            inspector_id=world.inspector.user_id, started_at=AT - timedelta(hours=1),
        )  # fmt: skip
        db.add(patrol)
        await db.commit()
    async with session_factory() as db:
        svc = _service(db)
        stranger = illegal(seeded.task_ids[0], patrol_id=patrol.id)
        await _expect("not_patrol_owner", svc.record_result(world.captain, stranger))
        await _expect(
            "patrol_not_found",
            svc.record_result(world.inspector, illegal(seeded.task_ids[0], patrol_id=uuid7())),
        )
        view, _ = await svc.record_result(world.inspector, stranger)
        await db.commit()
    assert view.patrol_id == patrol.id
    async with session_factory() as db:
        task = await db.get_one(SatelliteTask, seeded.task_ids[0])
        visits = (
            await db.scalars(select(TargetVisit).where(TargetVisit.session_id == patrol.id))
        ).all()
    assert [(v.target_id, v.source) for v in visits] == [(task.target_id, "verified")]


async def test_states_that_take_no_result(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    specs = [
        TaskSpec(status="passed"),
        TaskSpec(status="submitted"),
        TaskSpec(status="unassigned", inspector=None, in_area=False),
    ]
    seeded = await seed_batch(session_factory, world, specs)
    passed, submitted, unassigned = seeded.task_ids
    async with session_factory() as db:
        svc = _service(db)
        err = await _expect(
            "satellite_task_wrong_status", svc.record_result(world.inspector, legal(passed))
        )
        assert err.extra["state"] == "passed"
        await _expect(
            "satellite_task_submitted", svc.record_result(world.inspector, legal(submitted))
        )
        # an unassigned polygon is no inspector's: it does not exist for them
        await _expect(
            "satellite_task_not_found", svc.record_result(world.inspector, legal(unassigned))
        )
        view, _ = await svc.record_result(world.captain, legal(unassigned))
        await db.commit()
    assert view.current


async def test_inspectors_read_their_tasks_and_the_list_filters(
    world: World, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    specs = [
        TaskSpec(due_in_days=-1),  # overdue
        TaskSpec(inspector="inspector2", in_area=False),  # another inspector's, outside A1
        TaskSpec(inspector="inspector2"),  # in A1, which the inspector leads
        TaskSpec(status="verified", due_in_days=-1),  # past due, but verified: not overdue
        TaskSpec(status="unassigned", inspector=None, in_area=False),
    ]
    seeded = await seed_batch(session_factory, world, specs, today=clock.TODAY)
    ids = seeded.task_ids
    async with session_factory() as db:
        svc = _service(db)
        mine = await svc.list_tasks(world.inspector, TaskFilter(batch_id=seeded.batch_id))
        assert [t.id for t in mine.items] == [ids[0], ids[2], ids[3]]
        theirs = await svc.list_tasks(world.inspector2, TaskFilter(batch_id=seeded.batch_id))
        assert [t.id for t in theirs.items] == [ids[1], ids[2]]
        joint = await svc.list_tasks(world.joint_team, TaskFilter(batch_id=seeded.batch_id))
        assert joint.items == []
        await _expect("satellite_task_not_found", svc.get_task(world.inspector, ids[1]))
        await _expect("satellite_task_not_found", svc.list_results(world.joint_team, ids[0]))
        await _expect("role_not_allowed", svc.get_task(world.squad, ids[0]))

        every = TaskFilter(batch_id=seeded.batch_id)
        overdue = await svc.list_tasks(world.captain, replace(every, overdue=True))
        assert [(t.id, t.overdue) for t in overdue.items] == [(ids[0], True)]
        by_inspector = replace(every, inspector_id=world.inspector2.user_id)
        assert len((await svc.list_tasks(world.captain, by_inspector)).items) == 2
        verified = replace(every, status=["verified", "passed"])
        assert [t.id for t in (await svc.list_tasks(world.captain, verified)).items] == [ids[3]]
        one = replace(every, monitoring_no=seeded.monitoring_nos[4])
        assert [t.id for t in (await svc.list_tasks(world.captain, one)).items] == [ids[4]]

        pages: list[uuid.UUID] = []
        cursor = None
        while True:
            page = await svc.list_tasks(world.captain, every, cursor=cursor, limit=2)
            pages += [t.id for t in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == ids
        await _expect("invalid_cursor", svc.list_tasks(world.captain, every, cursor="x"))
