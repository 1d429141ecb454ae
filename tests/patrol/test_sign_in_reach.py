"""A GPS sign-in says what it reached: the targets within their radius, the nearest target
and its distance, and a flag when it is far from every target; thresholds at their edges."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.ids import uuid7
from infra.scope import Role
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.field_models import TargetVisit
from patrol.sessions import PatrolService, SignInInput
from tests.clock import ago
from tests.conftest import CountyFixture
from tests.patrol.helpers import M_PER_DEG_LAT
from tests.worlds import World

CFG = PatrolConfig()
LON, LAT = 110.3, 30.3  # target "gate", radius 100 m


def _north(metres: float) -> tuple[float, float]:
    return LON, LAT + metres / M_PER_DEG_LAT


async def _patrol(world: World, db: AsyncSession) -> tuple[uuid.UUID, datetime, uuid.UUID]:
    gate = await AreaService(db).add_target(
        world.captain, world.area.id, kind="custom", name="gate", lon=LON, lat=LAT,
        visit_radius_m=100,
    )  # fmt: skip
    pid, started = uuid7(), ago(hours=2)
    await PatrolService(db).start_patrol(
        world.inspector, pid, area_id=world.area.id, started_at=started
    )
    return pid, started, gate.id


async def test_reach_and_far_flag_at_their_edges(world: World, db: AsyncSession) -> None:
    pid, started, gate = await _patrol(world, db)
    assert (CFG.sign_in_far_m, CFG.default_visit_radius_m) == (1000.0, 100.0)
    cases = [99.99, 100.0, 100.01, 999.99, 1000.0, 1000.01, 40_000.0]
    items = [
        SignInInput(
            patrol_id=pid,
            sign_in_id=uuid7(),
            at=started + timedelta(minutes=i + 1),
            method="gps",
            lon=_north(m)[0],
            lat=_north(m)[1],
            accuracy_m=8.0,
        )
        for i, m in enumerate(cases)
    ]
    rows = await PatrolService(db).sign_in_many(world.inspector, items)
    got = [
        (r.reached_target_ids, r.nearest_target_id, r.nearest_target_m, r.far_from_targets)
        for r, _ in rows
    ]
    assert got == [
        ([gate], gate, 99.99, False),
        ([gate], gate, 100.0, False),  # at the radius: reached
        ([], gate, 100.01, False),
        ([], gate, 999.99, False),
        ([], gate, 1000.0, False),  # at the threshold: not far
        ([], gate, 1000.01, True),
        ([], gate, 40_000.0, True),
    ]
    # only the sign-ins that reached the gate count as its visit
    visit = (
        await db.execute(select(TargetVisit).where(TargetVisit.session_id == pid))
    ).scalar_one()
    assert (visit.target_id, visit.source, visit.min_distance_m) == (gate, "sign_in", 99.99)
    assert visit.first_at == items[0].at


async def test_the_threshold_is_a_setting(world: World, db: AsyncSession) -> None:
    pid, started, gate = await _patrol(world, db)
    strict = PatrolService(db, config=replace(CFG, sign_in_far_m=500.0))
    at = started + timedelta(minutes=5)
    near = await strict.sign_in(
        world.inspector, pid, uuid7(), at=at, lon=LON, lat=LAT + 500 / M_PER_DEG_LAT
    )
    far = await strict.sign_in(
        world.inspector, pid, uuid7(), at=at, lon=LON, lat=LAT + 500.01 / M_PER_DEG_LAT
    )
    assert (near.far_from_targets, far.far_from_targets) == (False, True)
    assert far.nearest_target_id == gate


async def test_several_targets_nearest_first_manual_and_replays(
    world: World, db: AsyncSession
) -> None:
    pid, started, gate = await _patrol(world, db)
    areas = AreaService(db)
    east = M_PER_DEG_LAT * 0.8638  # metres per degree of longitude near 30.3° (≈)
    post = await areas.add_target(
        world.captain, world.area.id, kind="custom", name="post", lon=LON + 60 / east, lat=LAT,
        visit_radius_m=150,
    )  # fmt: skip
    patrols = PatrolService(db)
    sign_id = uuid7()
    at = started + timedelta(minutes=3)
    row = await patrols.sign_in(world.inspector, pid, sign_id, at=at, lon=LON + 50 / east, lat=LAT)
    assert row.reached_target_ids == [post.id, gate]  # nearest first
    assert row.nearest_target_id == post.id and row.nearest_target_m == pytest.approx(10, abs=0.2)
    # the replay returns what was stored, even after the targets change
    await areas.deactivate_target(world.captain, post.id)
    again = await patrols.sign_in(
        world.inspector, pid, sign_id, at=at, lon=LON + 50 / east, lat=LAT
    )
    assert again.reached_target_ids == [post.id, gate]
    # a manual sign-in stands at its village: it reaches nothing and is never flagged
    manual = await patrols.sign_in(
        world.inspector, pid, uuid7(), at=at, method="manual", reason_code="no_gps_fix",
        village_id=world.village.id,
    )  # fmt: skip
    assert (manual.reached_target_ids, manual.nearest_target_m, manual.far_from_targets) == (
        [],
        None,
        False,
    )
    # the captain reads the patrol's sign-ins with what each reached
    listed = await patrols.list_sign_ins(world.captain, pid)
    assert [(s.id, s.reached_target_ids) for s in listed][:1] == [(sign_id, [post.id, gate])]


async def test_an_area_without_targets_flags_nothing(world: World, db: AsyncSession) -> None:
    pid, started = uuid7(), ago(hours=2)
    patrols = PatrolService(db)
    await patrols.start_patrol(world.inspector, pid, area_id=world.area.id, started_at=started)
    row = await patrols.sign_in(
        world.inspector, pid, uuid7(), at=started + timedelta(minutes=1), lon=LON, lat=LAT
    )
    assert (row.reached_target_ids, row.nearest_target_id, row.far_from_targets) == (
        [],
        None,
        False,
    )


async def test_the_sign_in_reply_names_the_targets_reached(client: Any, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    me, cap = county.headers(Role.INSPECTOR), county.headers(Role.CAPTAIN)
    ring = [[112.05, 28.45], [112.15, 28.45], [112.15, 28.55], [112.05, 28.55], [112.05, 28.45]]
    area = await client.post(
        "/api/v1/areas",
        json={"code": "A1", "name": "北片", "grade": 1,
              "geometry": {"type": "Polygon", "coordinates": [ring]},
              "leaderId": str(county.users[Role.INSPECTOR].id)},
        headers=cap,
    )  # fmt: skip
    assert area.status_code == 201, area.text
    target = await client.post(
        f"/api/v1/areas/{area.json()['id']}/targets",
        json={"kind": "custom", "name": "桥头", "lon": 112.1, "lat": 28.5, "visitRadiusM": 100},
        headers=cap,
    )
    assert target.status_code == 201, target.text
    tid = target.json()["id"]
    pid, start = str(uuid7()), ago(hours=1)
    resp = await client.put(
        f"/api/v1/patrols/{pid}",
        json={"areaId": area.json()["id"], "startedAt": start.isoformat()},
        headers=me,
    )
    assert resp.status_code == 200, resp.text

    async def sign(north_m: float) -> dict[str, Any]:
        body = {"at": (start + timedelta(minutes=5)).isoformat(), "lon": 112.1,
                "lat": 28.5 + north_m / M_PER_DEG_LAT, "accuracyM": 6.0}  # fmt: skip
        r = await client.put(f"/api/v1/patrols/{pid}/sign-ins/{uuid7()}", json=body, headers=me)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    near, edge, far = await sign(30.0), await sign(1000.0), await sign(40_000.0)
    assert (near["targetsReached"], near["nearestTargetId"], near["nearestTargetM"]) == (
        [tid],
        tid,
        30.0,
    )
    assert near["farFromTargets"] is False
    assert (edge["targetsReached"], edge["nearestTargetM"], edge["farFromTargets"]) == (
        [],
        1000.0,
        False,
    )
    assert (far["targetsReached"], far["nearestTargetM"], far["farFromTargets"]) == (
        [],
        40_000.0,
        True,
    )
    listed = await client.get(f"/api/v1/patrols/{pid}/sign-ins", headers=cap)
    assert listed.status_code == 200, listed.text
    assert [s["farFromTargets"] for s in listed.json()] == [False, False, True]
    stranger = county.headers(Role.SECURITY_SQUAD)
    assert (
        await client.get(f"/api/v1/patrols/{pid}/sign-ins", headers=stranger)
    ).status_code == 403
