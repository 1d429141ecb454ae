"""Findings are screened with the rule set cases are screened with (the national rules seeded
by ``0005_cases``: permanent basic farmland ≥ 5 mu, other cultivated land ≥ 10 mu), at,
just below and just above the thresholds; the security squad sees what a rule matched.

The rules a test adds for its province are rolled back at its end, never committed (see
:mod:`tests.cases.test_screening`)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
import structlog
from shapely.geometry import box, mapping
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases import ThresholdFindingScreener
from evidence.cases.cases import CaseChanges, CaseInput, open_case, update_case
from evidence.cases.errors import CaseNotFoundError
from evidence.cases.models import ReferralSuggestion
from evidence.cases.referrals import flag_for_referral
from evidence.cases.screening import RuleInput, add_rule
from infra.ids import uuid7
from patrol.alerts import AlertService
from patrol.areas import AreaService
from patrol.errors import NotPatrolOwnerError
from patrol.finding_checks import place_of
from patrol.findings import FindingChanges, FindingEdit
from patrol.sessions import PatrolService
from tests.cases.conftest import LAT, LON, add_parcels
from tests.clock import ago
from tests.worlds import World

WEST = LON - 0.05  # permanent basic farmland
EAST = LON + 0.05  # other cultivated land
MU = Decimal("0.01")


async def _patrol(db: AsyncSession, world: World) -> tuple[PatrolService, uuid.UUID]:
    area = await AreaService(db).create_area(
        world.captain,
        code=f"A{uuid.uuid4().hex[:6]}",
        name="测试片区",
        grade=1,
        geometry=mapping(box(LON - 0.1, LAT - 0.1, LON + 0.1, LAT + 0.1)),
        leader_id=world.inspector.user_id,
    )
    service = PatrolService(db, screener=ThresholdFindingScreener())
    pid = uuid7()
    await service.start_patrol(world.inspector, pid, area_id=area.id, started_at=ago(hours=2))
    return service, pid


async def _find(
    service: PatrolService, world: World, pid: uuid.UUID, lon: float, m2: float, name: str
) -> uuid.UUID:
    finding = await service.record_finding(
        world.inspector, pid, uuid7(), found_at=ago(minutes=30), project_name=name,
        construction_status="partly_built", lon=lon, lat=LAT, accuracy_m=5.0,
        occupied_area_m2=m2,
    )  # fmt: skip
    return finding.id


async def test_basic_farmland_at_below_and_above_five_mu(db: AsyncSession, world: World) -> None:
    await add_parcels(db, world.county_id)
    service, pid = await _patrol(db, world)
    sizes = {
        "4.90 亩": 3266.67,
        "4.99 亩": 3326.67,
        "4.995 亩": 3330.0,  # half a cent rounds up: shown and compared as 5.00
        "5.00 亩": 3333.34,
        "5.10 亩": 3400.0,
    }
    ids = {name: await _find(service, world, pid, WEST, m2, name) for name, m2 in sizes.items()}
    await db.commit()
    rows = {f.id: f for f in await service.list_findings(world.inspector, pid)}
    codes = {
        name: [s.rule_code for s in place_of(rows[fid]).suggestions] for name, fid in ids.items()
    }
    assert codes == {
        "4.90 亩": [],
        "4.99 亩": [],
        "4.995 亩": ["342.basic_farmland"],
        "5.00 亩": ["342.basic_farmland"],
        "5.10 亩": ["342.basic_farmland"],
    }
    (suggestion,) = place_of(rows[ids["5.10 亩"]]).suggestions
    assert (suggestion.value, suggestion.threshold, suggestion.unit) == (
        Decimal("5.10"),
        Decimal("5.00"),
        "mu",
    )
    assert suggestion.crime == "非法占用农用地罪"
    assert "该发现永久基本农田面积5.10亩" in suggestion.message
    assert "仅为移送建议" in suggestion.message
    stored = (
        await db.scalars(
            select(ReferralSuggestion).where(ReferralSuggestion.county_id == world.county_id)
        )
    ).all()
    assert sorted((s.finding_id, s.rule_code) for s in stored) == sorted(
        (ids[name], "342.basic_farmland") for name in ("4.995 亩", "5.00 亩", "5.10 亩")
    )
    assert place_of(rows[ids["4.995 亩"]]).suggestions[0].value == Decimal("5.00")
    assert all(s.case_id is None for s in stored)


async def test_other_cultivated_land_at_below_and_above_ten_mu(
    db: AsyncSession, world: World
) -> None:
    await add_parcels(db, world.county_id)
    service, pid = await _patrol(db, world)
    below = await _find(service, world, pid, EAST, 6659.99, "9.99 亩")
    at = await _find(service, world, pid, EAST, 6666.67, "10.00 亩")
    above = await _find(service, world, pid, EAST, 7000.0, "10.50 亩")
    # 6 mu of basic farmland would be a crime, of other cultivated land it is not
    six = await _find(service, world, pid, EAST, 4000.0, "6.00 亩")
    await db.commit()
    rows = {f.id: f for f in await service.list_findings(world.inspector, pid)}
    assert rows[at].land_class == "cultivated"
    codes = {fid: [s.rule_code for s in place_of(rows[fid]).suggestions] for fid in rows}
    assert codes == {below: [], at: ["342.cultivated"], above: ["342.cultivated"], six: []}


async def test_the_squad_sees_screened_findings_and_their_alerts(
    db: AsyncSession, world: World
) -> None:
    await add_parcels(db, world.county_id)
    service, pid = await _patrol(db, world)
    big = await _find(service, world, pid, WEST, 3400.0, "占用基本农田建厂")
    small = await _find(service, world, pid, WEST, 3266.67, "占用基本农田建棚")
    await db.commit()
    squad_view = await PatrolService(db).list_findings(world.squad, pid)
    assert [f.id for f in squad_view] == [big]
    # what the squad sees it may flag for referral; the rest does not exist for it
    flag = await flag_for_referral(db, world.squad, reason="达到入罪标准", finding_id=big)
    assert flag.finding_id == big
    with pytest.raises(CaseNotFoundError):
        await flag_for_referral(db, world.squad, reason="x", finding_id=small)
    alerts = await AlertService(db).list_alerts(world.squad, kinds=["referral_suggested"])
    assert len(alerts) == 1
    assert alerts[0].session_id == pid
    assert "巡查发现「占用基本农田建厂」达到移送标准" in alerts[0].message
    assert "342.basic_farmland" in alerts[0].message
    captain_alerts = await AlertService(db).list_alerts(world.captain)
    assert [a.kind for a in captain_alerts] == ["referral_suggested"]

    # a case opened from the finding is screened on its own, with the same rules
    case = await open_case(
        db,
        world.inspector,
        CaseInput(
            cause="未经批准占用永久基本农田建设厂房",
            violation_kind="land_occupation",
            lon=WEST,
            lat=LAT,
            source_kind="finding",
            source_id=big,
            surveyed_geometry=mapping(
                box(WEST - 0.0003, LAT - 0.0003, WEST + 0.0003, LAT + 0.0003)
            ),
        ),
    )
    await db.commit()
    assert [s.rule_code for s in case.suggestions] == ["342.basic_farmland"]
    # measured again, smaller: the case's suggestion goes, and its alert resolves itself
    smaller = mapping(box(WEST - 0.0002, LAT - 0.0002, WEST + 0.0002, LAT + 0.0002))
    case = await update_case(db, world.captain, case.id, CaseChanges(surveyed_geometry=smaller))
    await db.commit()
    assert case.suggestions == ()
    alerts = await AlertService(db).list_alerts(world.captain, state="all")
    by_subject = {("案件" in a.message): a.resolution for a in alerts}
    assert by_subject == {True: "suggestion_superseded", False: None}


def _province_rule(code: str, metric: str, threshold: str, description: str) -> RuleInput:
    return RuleInput(
        code=code, violation_kind="land_occupation", crime="非法占用农用地罪",
        article="刑法第三百四十二条", metric=metric, threshold=Decimal(threshold), unit="mu",
        citation="省高级人民法院关于非法占用农用地的数额标准", effective_from=date(2020, 1, 1),
        description=description,
    )  # fmt: skip


async def test_a_finding_is_screened_with_its_own_provinces_figure(
    db: AsyncSession, world: World
) -> None:
    """The county's province lowers the basic-farmland figure to 4 mu: a 4.50 mu finding,
    under the national 5 mu, is suggested against the province's figure and citation."""
    await add_parcels(db, world.county_id)
    lower = _province_rule(
        "342.basic_farmland", "basic_farmland_mu", "4", "本省非法占用永久基本农田4亩以上"
    )
    await add_rule(db, world.admin, lower)
    service, pid = await _patrol(db, world)
    four_and_a_half = await _find(service, world, pid, WEST, 3000.0, "4.50 亩")
    under_four = await _find(service, world, pid, WEST, 2659.99, "3.99 亩")
    rows = {f.id: f for f in await service.list_findings(world.inspector, pid)}
    assert place_of(rows[under_four]).suggestions == ()
    (suggestion,) = place_of(rows[four_and_a_half]).suggestions
    assert (suggestion.rule_code, suggestion.value, suggestion.threshold) == (
        "342.basic_farmland",
        Decimal("4.50"),
        Decimal("4.00"),
    )
    assert suggestion.citation == "省高级人民法院关于非法占用农用地的数额标准"
    assert suggestion.message.startswith("本省非法占用永久基本农田4亩以上。")
    await db.rollback()


async def test_each_new_suggestion_of_a_finding_is_logged_with_its_rules(
    db: AsyncSession, world: World
) -> None:
    await add_parcels(db, world.county_id)
    service, pid = await _patrol(db, world)
    with structlog.testing.capture_logs() as logs:
        big = await _find(service, world, pid, WEST, 3400.0, "5.10 亩")
        await _find(service, world, pid, WEST, 3266.67, "4.90 亩")  # no suggestion: no line
    screened = [e for e in logs if e.get("event") == "evidence.finding_screened"]
    assert screened == [
        {
            "event": "evidence.finding_screened",
            "log_level": "info",
            "finding_id": str(big),
            "county": str(world.county_id),
            "rules": ["342.basic_farmland"],
        }
    ]


async def test_a_provinces_rule_on_all_cultivated_land_counts_basic_farmland_in_it(
    db: AsyncSession, world: World
) -> None:
    """A province's own rule on all cultivated land (5 mu): a finding on permanent basic
    farmland counts towards it as one on other cultivated land does, at 5.00 mu shown and
    not at 4.99."""
    await add_parcels(db, world.county_id)
    rule = _province_rule("本省.cultivated", "cultivated_mu", "5", "本省非法占用耕地5亩以上")
    await add_rule(db, world.admin, rule)
    service, pid = await _patrol(db, world)
    sizes = {"基本农田4.99亩": (WEST, 3329.0), "基本农田5.00亩": (WEST, 3330.0),
             "一般耕地4.99亩": (EAST, 3329.0), "一般耕地5.00亩": (EAST, 3330.0)}  # fmt: skip
    ids = {
        name: await _find(service, world, pid, lon, m2, name) for name, (lon, m2) in sizes.items()
    }
    rows = {f.id: f for f in await service.list_findings(world.inspector, pid)}
    codes = {
        name: [s.rule_code for s in place_of(rows[fid]).suggestions] for name, fid in ids.items()
    }
    assert codes == {
        "基本农田4.99亩": [],
        "基本农田5.00亩": ["342.basic_farmland", "本省.cultivated"],
        "一般耕地4.99亩": [],
        "一般耕地5.00亩": ["本省.cultivated"],
    }
    await db.rollback()


async def test_a_finding_where_no_parcel_layer_reaches_counts_its_whole_area(
    db: AsyncSession, world: World
) -> None:
    """Without parcels under it a finding has no land class, yet its occupied area is all
    of the total a province's rule on the whole area (20 mu) compares with."""
    rule = _province_rule("本省.total", "total_mu", "20", "本省非法占用土地20亩以上")
    await add_rule(db, world.admin, rule)
    service, pid = await _patrol(db, world)
    under = await _find(service, world, pid, LON, 13_329.0, "19.99 亩")
    at = await _find(service, world, pid, LON, 13_340.0, "20.01 亩")
    rows = {f.id: f for f in await service.list_findings(world.inspector, pid)}
    assert rows[at].areas_by_class == {}
    assert place_of(rows[under]).suggestions == ()
    [suggestion] = place_of(rows[at]).suggestions
    assert (suggestion.rule_code, suggestion.value) == ("本省.total", Decimal("20.01"))
    await db.rollback()


async def test_an_edited_area_screens_the_finding_again(db: AsyncSession, world: World) -> None:
    """Down under the figure the suggestion goes (kept, superseded) and its alert resolves
    itself; back over it a new suggestion comes, with an alert of its own, and the squad
    sees the finding again."""
    await add_parcels(db, world.county_id)
    service, pid = await _patrol(db, world)
    fid = await _find(service, world, pid, WEST, 3400.0, "占用基本农田建房")
    await db.commit()

    async def edit_area(m2: float) -> list[tuple[str, Decimal]]:
        version = (await service.finding_versions(world.inspector, [fid]))[fid]
        edit = FindingEdit(fid, version, FindingChanges(occupied_area_m2=m2))
        assert (await service.update_finding(world.inspector, edit)).status == "applied"
        await db.commit()  # a version is the writing transaction: one per edit
        [row] = [f for f in await service.list_findings(world.inspector, pid) if f.id == fid]
        return [(s.rule_code, s.value) for s in place_of(row).suggestions]

    assert await edit_area(3000.0) == []
    with pytest.raises(NotPatrolOwnerError):  # nothing suggested: not the squad's to read
        await PatrolService(db).list_findings(world.squad, pid)
    assert await edit_area(3400.0) == [("342.basic_farmland", Decimal("5.10"))]
    assert [f.id for f in await PatrolService(db).list_findings(world.squad, pid)] == [fid]
    rows = (
        await db.scalars(select(ReferralSuggestion).where(ReferralSuggestion.finding_id == fid))
    ).all()
    assert sorted((r.value, r.superseded_at is None) for r in rows) == [
        (Decimal("5.10"), False),
        (Decimal("5.10"), True),
    ]
    [gone] = [r for r in rows if r.superseded_at is not None]
    alerts = await AlertService(db).list_alerts(
        world.captain, kinds=["referral_suggested"], state="all"
    )
    assert sorted((a.resolution or "", a.resolved_at) for a in alerts) == [
        ("", None),
        ("suggestion_superseded", gone.superseded_at),
    ]


async def test_a_finding_without_an_occupied_area_meets_no_figure_not_even_zero(
    db: AsyncSession, world: World
) -> None:
    """The province asks about every occupation of basic farmland (a figure of 0) and
    lowers 342.basic_farmland to 1 mu: 1.00 mu meets both, 0.99 mu the first only, and a
    finding recorded without an occupied area neither: it has no figure to compare."""
    await add_parcels(db, world.county_id)
    every = _province_rule("本省.any", "basic_farmland_mu", "0", "本省占用永久基本农田即提示")
    one_mu = _province_rule("342.basic_farmland", "basic_farmland_mu", "1", "本省1亩以上")
    for rule in (every, one_mu):
        await add_rule(db, world.admin, rule)
    service, pid = await _patrol(db, world)
    one = await _find(service, world, pid, WEST, 666.67, "1.00 亩")
    under = await _find(service, world, pid, WEST, 663.0, "0.99 亩")
    unknown = await service.record_finding(
        world.inspector, pid, uuid7(), found_at=ago(minutes=30), project_name="面积未知",
        construction_status="levelled", lon=WEST, lat=LAT, accuracy_m=5.0,
    )  # fmt: skip
    rows = {f.id: f for f in await service.list_findings(world.inspector, pid)}
    codes = {fid: [s.rule_code for s in place_of(rows[fid]).suggestions] for fid in rows}
    assert codes == {
        one: ["342.basic_farmland", "本省.any"],
        under: ["本省.any"],
        unknown.id: [],
    }
    await db.rollback()  # see the module's docstring
