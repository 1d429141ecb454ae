"""Verifying a target in the field: who may, what is checked, replays, the listeners of the
target's kind, superseding results, and a target's due date with its overdue mark."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.adapters import visible_evidence_ids
from infra import error_codes as codes
from infra.errors import DomainError
from infra.ids import uuid7
from infra.scope import Role
from patrol import verification
from patrol.areas import AreaService
from patrol.field_models import PatrolTarget, TargetVisit
from patrol.plans import PlanService
from patrol.sessions import PatrolService
from patrol.verification import (
    TargetVerificationInput,
    VerificationResult,
    VerificationService,
    register_verification_listener,
)
from tests import clock
from tests.clock import CHINA, NOW, TODAY, ago
from tests.patrol.helpers import M_PER_DEG_LAT
from tests.worlds import World

LON, LAT = 110.3, 30.3  # the target, radius 100 m, in area A1


def _north(metres: float) -> tuple[float, float]:
    return LON, LAT + metres / M_PER_DEG_LAT


class _Heard:
    """A listener that remembers what it was told."""

    def __init__(self) -> None:
        self.results: list[VerificationResult] = []

    async def __call__(self, db: AsyncSession, result: VerificationResult) -> None:
        assert db is not None
        self.results.append(result)


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> _Heard:
    """A listener for tip-off targets (the registry is emptied for the test)."""
    monkeypatch.setattr(verification, "_LISTENERS", {})
    listener = _Heard()
    register_verification_listener("tip_off", listener)
    register_verification_listener("tip_off", listener)  # registering twice: one call
    return listener


async def _target(world: World, db: AsyncSession, **kw: Any) -> PatrolTarget:
    fields: dict[str, Any] = {"kind": "tip_off", "name": "举报点", "lon": LON, "lat": LAT,
                              "visit_radius_m": 100.0, "ref_id": uuid7(), **kw}  # fmt: skip
    return await AreaService(db).add_target(world.captain, world.area.id, **fields)


async def _patrol(world: World, db: AsyncSession) -> uuid.UUID:
    """The inspector's patrol of area A1 (with the joint-team member) and two findings:
    ``near`` 50 m from the target, ``far`` 500 m."""
    pid = uuid7()
    patrols = PatrolService(db)
    await patrols.start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=ago(hours=2),
        companion_ids=[world.joint_team.user_id],
    )  # fmt: skip
    return pid


async def _finding(world: World, db: AsyncSession, pid: uuid.UUID, metres: float) -> uuid.UUID:
    lon, lat = _north(metres)
    row = await PatrolService(db).record_finding(
        world.inspector, pid, uuid7(), found_at=ago(hours=1), project_name="厂房",
        construction_status="levelled", lon=lon, lat=lat,
    )  # fmt: skip
    return row.id


def _item(target_id: uuid.UUID, **kw: Any) -> TargetVerificationInput:
    fields: dict[str, Any] = {"target_id": target_id, "verification_id": uuid7(),
                              "outcome": "found", "verified_at": ago(minutes=30), **kw}  # fmt: skip
    return TargetVerificationInput(**fields)


def _service(db: AsyncSession) -> VerificationService:
    return VerificationService(db, evidence=visible_evidence_ids)


async def _refused(code: str, call: Any) -> None:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code


async def test_a_result_on_a_patrol_attaches_near_findings_counts_a_visit_and_is_heard_once(
    world: World, db: AsyncSession, heard: _Heard
) -> None:
    target = await _target(world, db)
    pid = await _patrol(world, db)
    near, _far = await _finding(world, db, pid, 50.0), await _finding(world, db, pid, 500.0)
    service = _service(db)
    item = _item(target.id, patrol_id=pid, note="现场已复垦")
    view, replayed = await service.record_result(world.joint_team, item)  # a companion
    assert not replayed
    assert (view.id, view.target_id, view.target_kind, view.ref_id, view.patrol_id) == (
        item.verification_id, target.id, "tip_off", target.ref_id, pid,
    )  # fmt: skip
    assert (view.inspector_id, view.outcome, view.note, view.current) == (
        world.joint_team.user_id, "found", "现场已复垦", True,
    )  # fmt: skip
    assert (view.finding_ids, view.evidence_ids) == ([near], [])
    assert heard.results == [
        VerificationResult(
            county_id=world.county_id, target_id=target.id, target_kind="tip_off",
            ref_id=target.ref_id, inspector_id=world.joint_team.user_id, session_id=pid,
            outcome="found", note="现场已复垦", finding_ids=(near,), evidence_ids=(),
            verified_at=item.verified_at,
        )
    ]  # fmt: skip
    visit = (
        await db.execute(
            select(TargetVisit).where(
                TargetVisit.session_id == pid, TargetVisit.source == "verified"
            )
        )
    ).scalar_one()
    assert (visit.target_id, visit.first_at, visit.min_distance_m) == (
        target.id, item.verified_at, 50.0,
    )  # fmt: skip
    # the same result again: the stored one, nobody told twice
    again, replayed = await service.record_result(world.joint_team, item)
    assert replayed and again == view
    assert len(heard.results) == 1
    # the same id with another result, or from someone else
    await _refused(codes.ID_REUSED, service.record(world.joint_team, _item(
        target.id, verification_id=item.verification_id, patrol_id=pid, outcome="not_found",
        verified_at=item.verified_at, note="现场已复垦",
    )))  # fmt: skip
    await _refused(codes.ID_REUSED, service.record(world.inspector, item))
    assert len(heard.results) == 1


async def test_named_findings_and_evidence_are_checked(world: World, db: AsyncSession) -> None:
    target = await _target(world, db, kind="custom", ref_id=None)
    pid = await _patrol(world, db)
    far = await _finding(world, db, pid, 500.0)
    service = _service(db)
    # named findings are attached as named, wherever they are
    view = await service.record(
        world.inspector, _item(target.id, patrol_id=pid, finding_ids=(far,))
    )
    assert view.finding_ids == [far]
    # a finding of another patrol
    other = await _patrol(world, db)
    theirs = await _finding(world, db, other, 10.0)
    await _refused(codes.FINDING_NOT_FOUND, service.record(
        world.inspector, _item(target.id, patrol_id=pid, finding_ids=(far, theirs))
    ))  # fmt: skip
    # findings without their patrol
    await _refused(codes.INVALID_PATROL_INPUT, service.record(
        world.inspector, _item(target.id, finding_ids=(far,))
    ))  # fmt: skip
    # evidence nobody uploaded, and without the evidence port none at all
    await _refused(codes.EVIDENCE_NOT_FOUND, service.record(
        world.inspector, _item(target.id, patrol_id=pid, evidence_ids=(uuid7(),))
    ))  # fmt: skip
    await _refused(codes.EVIDENCE_NOT_FOUND, VerificationService(db).record(
        world.inspector, _item(target.id, patrol_id=pid, evidence_ids=(uuid7(),))
    ))  # fmt: skip


async def test_who_may_record_and_read(world: World, db: AsyncSession, other_world: Any) -> None:
    target = await _target(world, db, kind="custom", ref_id=None)
    pid = await _patrol(world, db)
    service = _service(db)
    # on a patrol: its crew only (a captain is not on it)
    await _refused(codes.NOT_PATROL_OWNER, service.record(
        world.captain, _item(target.id, patrol_id=pid)
    ))  # fmt: skip
    await _refused(codes.PATROL_NOT_FOUND, service.record(
        world.inspector, _item(target.id, patrol_id=uuid7())
    ))  # fmt: skip
    # without a patrol: the area's leader and members (the joint-team member is neither)
    await _refused(codes.NOT_AREA_MEMBER, service.record(world.joint_team, _item(target.id)))
    mine = await service.record(world.inspector, _item(target.id))
    assert (mine.patrol_id, mine.finding_ids) == (None, [])
    # the rules of the result itself
    await _refused(codes.INVALID_PATROL_INPUT, service.record(
        world.inspector, _item(target.id, outcome="maybe")
    ))  # fmt: skip
    await _refused(codes.INVALID_TIME, service.record(
        world.inspector, _item(target.id, verified_at=clock.now() + timedelta(minutes=6))
    ))  # fmt: skip
    await _refused(codes.INVALID_TIME, service.record(
        world.inspector, _item(target.id, verified_at=datetime(2026, 11, 1, 9, 0))  # noqa: DTZ001
    ))  # fmt: skip
    # another county's target is not found; a retired one is inactive
    there: World = await other_world()
    await _refused(codes.TARGET_NOT_FOUND, service.record(there.inspector, _item(target.id)))
    await _refused(codes.TARGET_NOT_FOUND, service.list_verifications(there.captain, target.id))
    await AreaService(db).deactivate_target(world.captain, target.id)
    await _refused(codes.TARGET_INACTIVE, service.record(
        world.inspector, _item(target.id, patrol_id=pid)
    ))  # fmt: skip
    # readers: managers and the area's leader and members
    for who in (world.captain, world.admin, world.inspector):
        assert [v.id for v in await service.list_verifications(who, target.id)] == [mine.id]
    for who in (world.joint_team, world.squad):
        await _refused(codes.NOT_AREA_MEMBER, service.list_verifications(who, target.id))


async def test_the_latest_result_is_current_and_the_history_stays(
    world: World, db: AsyncSession, heard: _Heard
) -> None:
    target = await _target(world, db)
    pid = await _patrol(world, db)
    service = _service(db)
    first = await service.record(
        world.inspector, _item(target.id, patrol_id=pid, verified_at=ago(minutes=50))
    )
    second = await service.record(
        world.joint_team,
        _item(target.id, patrol_id=pid, outcome="already_handled", verified_at=ago(minutes=40)),
    )
    # a phone that was offline longer sends an earlier result last: history only
    late = await service.record(
        world.inspector,
        _item(target.id, patrol_id=pid, outcome="not_found", verified_at=ago(minutes=45)),
    )
    assert (late.current, late.superseded_by) == (False, second.id)
    listed = await service.list_verifications(world.captain, target.id)
    assert [(v.id, v.current, v.superseded_by) for v in listed] == [
        (second.id, True, None),
        (late.id, False, second.id),
        (first.id, False, second.id),
    ]
    assert [r.outcome for r in heard.results] == ["found", "already_handled"]
    # one visit per patrol and target by verification, at the first time
    visit = (
        await db.execute(
            select(TargetVisit).where(
                TargetVisit.session_id == pid, TargetVisit.source == "verified"
            )
        )
    ).scalar_one()
    assert visit.first_at == first.verified_at
    assert visit.min_distance_m == 100.0  # nothing measured: the visit radius


async def test_a_listener_refusing_undoes_the_result(
    world: World, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verification, "_LISTENERS", {})

    async def refuse(db: AsyncSession, result: VerificationResult) -> None:
        raise DomainError("the record behind the target refuses", code=codes.CONFLICT)

    register_verification_listener("change_polygon", refuse)
    target = await _target(world, db, kind="change_polygon")
    item = _item(target.id)
    with pytest.raises(DomainError):
        async with db.begin_nested():
            await _service(db).record(world.inspector, item)
    assert await _service(db).list_verifications(world.captain, target.id) == []
    with pytest.raises(ValueError, match="unknown target kind"):
        register_verification_listener("clue", refuse)


async def test_due_date_and_overdue_at_the_turn_of_the_county_day(
    world: World, db: AsyncSession
) -> None:
    areas = AreaService(db)
    due = TODAY
    late = await _target(world, db, name="a 到期", kind="custom", ref_id=None, due_on=due)
    done = await _target(world, db, name="b 已核", kind="custom", ref_id=None, due_on=due)
    await _target(world, db, name="c 无期", kind="custom", ref_id=None)
    await _service(db).record(world.inspector, _item(done.id, verified_at=NOW - timedelta(days=1)))
    views = {
        v.name: v.due_on for v in await areas.list_target_views(world.inspector, world.area.id)
    }
    assert views == {"a 到期": due, "b 已核": due, "c 无期": None}
    # the last second of the due day in China, and the first of the next
    last = datetime.combine(due, datetime.max.time(), CHINA).replace(microsecond=0)
    marks = {}
    for at in (last, last + timedelta(seconds=1)):
        plans = PlanService(db, clock=lambda at=at: at.astimezone(UTC))
        (plan,) = await plans.get_my_plan(world.inspector, due.replace(day=1))
        marks[at.time().isoformat()] = {t.name: (t.due_on, t.overdue) for t in plan.targets}
    assert marks == {
        "23:59:59": {"a 到期": (due, False), "b 已核": (due, False), "c 无期": (None, False)},
        "00:00:00": {"a 到期": (due, True), "b 已核": (due, False), "c 无期": (None, False)},
    }
    assert late.due_on == due


async def test_over_http(world: World, db: AsyncSession, client: AsyncTestClient[Litestar]) -> None:
    """AddTarget takes a due date; the PUT answers the same for the same body and 409 for
    another; a retired target is 422; the plan shows the due date."""
    api = "/api/v1"
    resp = await client.post(
        f"{api}/areas/{world.area.id}/targets",
        json={"kind": "tip_off", "name": "举报点", "lon": LON, "lat": LAT, "refId": str(uuid7()),
              "dueOn": (clock.today() - timedelta(days=1)).isoformat()},
        headers=world.headers(Role.CAPTAIN),
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    target = resp.json()
    assert target["dueOn"] == (clock.today() - timedelta(days=1)).isoformat()
    plan = await client.get(f"{api}/plans/mine", headers=world.headers(Role.INSPECTOR))
    assert plan.status_code == 200, plan.text
    (shown,) = [t for p in plan.json() for t in p["targets"] if t["id"] == target["id"]]
    assert (shown["dueOn"], shown["overdue"]) == (target["dueOn"], True)
    url = f"{api}/targets/{target['id']}/verifications/{uuid7()}"
    body = {"outcome": "not_found", "verifiedAt": clock.ago(minutes=5).isoformat()}
    first = await client.put(url, json=body, headers=world.headers(Role.INSPECTOR))
    assert first.status_code == 200, first.text
    again = await client.put(url, json=body, headers=world.headers(Role.INSPECTOR))
    assert again.json() == first.json()
    assert first.json()["current"] and first.json()["targetKind"] == "tip_off"
    other = await client.put(
        url, json={**body, "note": "另一份"}, headers=world.headers(Role.INSPECTOR)
    )
    assert (other.status_code, other.json()["code"]) == (409, "id_reused")
    listed = await client.get(
        f"{api}/targets/{target['id']}/verifications", headers=world.headers(Role.CAPTAIN)
    )
    assert [v["id"] for v in listed.json()] == [first.json()["id"]]
    plan = await client.get(f"{api}/plans/mine", headers=world.headers(Role.INSPECTOR))
    (shown,) = [t for p in plan.json() for t in p["targets"] if t["id"] == target["id"]]
    assert shown["overdue"] is False  # verified
    gone = await client.delete(f"{api}/targets/{target['id']}", headers=world.headers(Role.CAPTAIN))
    assert gone.status_code == 204
    retired = await client.put(
        f"{api}/targets/{target['id']}/verifications/{uuid7()}",
        json=body,
        headers=world.headers(Role.INSPECTOR),
    )
    assert (retired.status_code, retired.json()["code"]) == (422, "target_inactive")


async def test_work_with_a_due_date_reaches_the_stored_plans_it_falls_in(
    world: World, db: AsyncSession
) -> None:
    """A captain's plan lists the targets chosen for the month; work sent out later with a
    due date (a clue to verify) is added to the plans from this month to its due month, so
    the inspector's plan and the phone's plan record show it; other targets are not."""
    this = clock.today().replace(day=1)
    months = [(this - timedelta(days=1)).replace(day=1), this]
    for _ in range(2):
        months.append((months[-1] + timedelta(days=32)).replace(day=1))
    before, _now, nxt, after = months
    plans = PlanService(db)
    for month in months:
        await plans.upsert_plan(world.captain, world.area.id, month, target_ids=[])
    due = await _target(world, db, name="核查", due_on=nxt + timedelta(days=4))
    plain = await _target(world, db, name="普通", kind="custom", ref_id=None)
    late = await _target(world, db, name="已逾期", due_on=clock.today() - timedelta(days=1))
    await db.commit()
    listed = {
        month: {t.name for t in (await plans.get_plan(world.captain, world.area.id, month)).targets}
        for month in months
    }
    assert listed == {before: set(), this: {"核查", "已逾期"}, nxt: {"核查"}, after: set()}
    assert plain.due_on is None and due.due_on is not None and late.due_on is not None
    # adding the same work again (a replayed request) does not list it twice
    await AreaService(db)._into_plans(world.area.id, due.id, due.due_on)
    await db.commit()
    (stored,) = (await plans.get_plan(world.captain, world.area.id, nxt)).targets
    assert stored.id == due.id
