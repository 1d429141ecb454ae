"""Cases: opening with areas from the overlay, the status workflow, who sees what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import (
    CaseChanges,
    CaseInput,
    Party,
    change_status,
    get_case,
    list_cases,
    open_case,
    update_case,
)
from evidence.cases.errors import (
    CaseNotFoundError,
    CaseStatusTransitionError,
    InvalidCaseError,
    UnknownEvidenceError,
)
from evidence.cases.models import Case, CaseEvent
from infra.errors import InvalidInputError, PermissionDeniedError
from tests.cases.conftest import LAT, LON, add_parcels, geojson, square
from tests.worlds import World


def farmland_case(**kw: object) -> CaseInput:
    base: dict[str, object] = {
        "cause": "未经批准占用永久基本农田建设厂房",
        "violation_kind": "land_occupation",
        "lon": LON - 0.01,
        "lat": LAT,
        "parties": [Party("张三", id_no="430000199001010000")],
    }
    base.update(kw)
    return CaseInput(**base)  # type: ignore[arg-type]


async def test_open_case_overlays_the_surveyed_polygon_and_suggests_a_referral(
    db: AsyncSession, world: World
) -> None:
    await add_parcels(db, world.county_id)
    # 80 m x 80 m = 6400 m² = 9.6 mu, straddling the farmland/cultivated boundary at LON
    poly = square(LON, LAT, 80)
    view = await open_case(db, world.captain, farmland_case(surveyed_geometry=geojson(poly)))
    await db.commit()

    assert view.status == "clue"
    assert view.case_no.endswith("-0001")
    assert view.areas.total_m2 == pytest.approx(6400, rel=0.01)
    assert view.areas.basic_farmland_m2 == pytest.approx(3200, rel=0.02)
    assert view.areas.cultivated_m2 == pytest.approx(6400, rel=0.01)
    assert view.areas.basic_farmland_mu == pytest.approx(4.8, abs=0.1)
    assert view.areas.source["layer_version_no"] == 1
    # 4.8 mu of basic farmland and 4.8 mu of other cultivated land: below both thresholds
    assert view.suggestions == ()

    bigger = square(LON - 0.0006, LAT, 100)  # mostly west: > 5 mu basic farmland
    changed = await update_case(
        db, world.captain, view.id, CaseChanges(surveyed_geometry=geojson(bigger))
    )
    await db.commit()
    assert changed.areas.basic_farmland_mu > 5
    [suggestion] = changed.suggestions
    assert suggestion.rule_code == "342.basic_farmland"
    assert suggestion.threshold == Decimal("5.00")
    assert "法释〔2000〕14号" in suggestion.citation
    assert "人工审查" in suggestion.message
    assert changed.referral_ids == ()  # a suggestion never refers anything
    assert changed.flags == ()


async def test_workflow_with_suspend_resume_and_refused_moves(
    db: AsyncSession, world: World
) -> None:
    view = await open_case(db, world.inspector, farmland_case())
    await db.commit()
    for status in ("filed", "investigating"):
        view = await change_status(db, world.captain, view.id, status)
    view = await change_status(db, world.captain, view.id, "suspended", reason="当事人下落不明")
    assert view.suspended_from == "investigating"
    with pytest.raises(CaseStatusTransitionError) as info:
        await change_status(db, world.captain, view.id, "decided")
    assert info.value.code == "invalid_status_transition"
    view = await change_status(db, world.captain, view.id, "investigating")
    for status in ("decided", "executing", "closed"):
        view = await change_status(db, world.captain, view.id, status)
    await db.commit()
    assert view.status == "closed"
    with pytest.raises(CaseStatusTransitionError):
        await change_status(db, world.captain, view.id, "filed")
    with pytest.raises(PermissionDeniedError):
        await change_status(db, world.inspector, view.id, "filed")
    events = (
        await db.scalars(
            select(CaseEvent.details).where(
                CaseEvent.case_id == view.id, CaseEvent.kind == "status"
            )
        )
    ).all()
    assert [e["to"] for e in events] == [
        "filed",
        "investigating",
        "suspended",
        "investigating",
        "decided",
        "executing",
        "closed",
    ]


async def test_terminate_and_withdraw_need_a_reason(db: AsyncSession, world: World) -> None:
    view = await open_case(db, world.captain, farmland_case())
    with pytest.raises(InvalidCaseError) as info:
        await change_status(db, world.captain, view.id, "withdrawn")
    assert info.value.code == "reason_required"
    view = await change_status(db, world.captain, view.id, "withdrawn", reason="不构成违法")
    assert view.status == "withdrawn"
    await db.commit()


async def test_bad_input_is_refused_and_nothing_is_stored(db: AsyncSession, world: World) -> None:
    mine = select(func.count()).select_from(Case).where(Case.county_id == world.county_id)
    before = await db.scalar(mine)
    with pytest.raises(InvalidInputError):
        await open_case(db, world.captain, farmland_case(lon=200.0))
    with pytest.raises(InvalidCaseError):
        await open_case(db, world.captain, farmland_case(violation_kind="arson"))
    with pytest.raises(InvalidCaseError):
        await open_case(db, world.captain, farmland_case(ore_value_yuan=Decimal("-1")))
    with pytest.raises(InvalidInputError):
        bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
        await open_case(db, world.captain, farmland_case(surveyed_geometry=bowtie))
    with pytest.raises(UnknownEvidenceError):
        await open_case(db, world.captain, farmland_case(evidence_ids=[world.county_id]))
    await db.commit()
    assert await db.scalar(mine) == before


async def test_county_isolation_and_role_visibility(
    db: AsyncSession, world: World, other_world: Callable[[], Awaitable[World]]
) -> None:
    mine = await open_case(db, world.inspector, farmland_case(cause="检查员甲的案件"))
    theirs = await open_case(db, world.inspector2, farmland_case(cause="检查员乙的案件"))
    await db.commit()
    other = await other_world()

    # another county: the case does not exist
    with pytest.raises(CaseNotFoundError):
        await get_case(db, other.captain, mine.id)
    assert await list_cases(db, other.captain) == []
    with pytest.raises(CaseNotFoundError):
        await update_case(db, other.captain, mine.id, CaseChanges(cause="改"))

    # captains see the whole county, inspectors their own cases
    assert {c.id for c in await list_cases(db, world.captain)} == {mine.id, theirs.id}
    assert [c.id for c in await list_cases(db, world.inspector)] == [mine.id]
    with pytest.raises(CaseNotFoundError):
        await get_case(db, world.inspector, theirs.id)
    # the squad sees nothing that is not flagged or referred
    assert await list_cases(db, world.squad) == []
    with pytest.raises(CaseNotFoundError):
        await get_case(db, world.squad, mine.id)
