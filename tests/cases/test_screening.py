"""Screening against the per-province rule table, with effective dates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseChanges, CaseInput, PriorPenalty, open_case, update_case
from evidence.cases.errors import InvalidRuleError
from evidence.cases.models import Case, ReferralSuggestion
from evidence.cases.screening import RuleInput, add_rule, list_rules, screen_case
from infra.errors import ConflictError, PermissionDeniedError
from tests import clock
from tests.cases.conftest import LAT, LON
from tests.worlds import World


def mining(value: str, **kw: object) -> CaseInput:
    base: dict[str, object] = {
        "cause": "无证开采河砂",
        "violation_kind": "illegal_mining",
        "lon": LON,
        "lat": LAT,
        "ore_value_yuan": Decimal(value),
    }
    base.update(kw)
    return CaseInput(**base)  # type: ignore[arg-type]


def province_rule(threshold: str, since: date, **kw: object) -> RuleInput:
    base: dict[str, object] = {
        "code": "343.ore_value",
        "violation_kind": "illegal_mining",
        "crime": "非法采矿罪",
        "article": "刑法第三百四十三条第一款",
        "metric": "ore_value_yuan",
        "threshold": Decimal(threshold),
        "unit": "yuan",
        "citation": "省高级人民法院、省人民检察院关于非法采矿数额标准的通知",
        "effective_from": since,
        "description": "本省非法采矿情节严重的数额标准",
    }
    base.update(kw)
    return RuleInput(**base)  # type: ignore[arg-type]


async def test_national_seed_rules_are_in_force(db: AsyncSession, world: World) -> None:
    rules = {r.code: r for r in await list_rules(db, world.captain)}
    assert rules["342.basic_farmland"].threshold == Decimal("5.00")
    assert rules["228.illegal_gain"].threshold == Decimal("500000.00")
    assert rules["343.ore_value"].province_code == "00"
    assert rules["343.ore_value"].effective_from == date(2016, 12, 1)
    # before the 2023 forest interpretation took effect its rules did not exist
    old = {r.code for r in await list_rules(db, world.captain, as_of=date(2020, 1, 1))}
    assert "342.forest.public_welfare" not in old
    assert "342.basic_farmland" in old


async def test_mining_value_over_the_national_figure_is_suggested(
    db: AsyncSession, world: World
) -> None:
    low = await open_case(db, world.captain, mining("80000"))
    high = await open_case(db, world.captain, mining("120000"))
    special = await open_case(db, world.captain, mining("60000", special_area=True))
    await db.commit()
    assert low.suggestions == ()
    assert [s.rule_code for s in high.suggestions] == ["343.ore_value"]
    assert [s.rule_code for s in special.suggestions] == ["343.ore_value.special_area"]
    assert "法释〔2016〕25号" in high.suggestions[0].citation


async def test_a_province_rule_not_yet_in_force_does_not_match(
    db: AsyncSession, world: World
) -> None:
    # a province lowers the figure to 60,000 yuan from tomorrow
    tomorrow = clock.today() + timedelta(days=1)
    await add_rule(db, world.admin, province_rule("60000", tomorrow))
    view = await open_case(db, world.captain, mining("70000"))
    await db.commit()
    assert view.suggestions == ()  # national 100,000 applies today; 60,000 is not in force

    case = await db.get(Case, view.id)
    assert case is not None
    later = await screen_case(db, case, province_code=world.province, as_of=tomorrow)
    assert [(s.rule_code, s.threshold) for s in later] == [("343.ore_value", Decimal("60000.00"))]
    await db.rollback()


async def test_a_province_rule_in_force_replaces_the_national_figure(
    db: AsyncSession, world: World
) -> None:
    await add_rule(db, world.admin, province_rule("300000", date(2017, 1, 1)))
    await db.commit()
    view = await open_case(db, world.captain, mining("150000"))
    assert view.suggestions == ()  # 150,000 < the province's 300,000
    view = await update_case(
        db, world.captain, view.id, CaseChanges(ore_value_yuan=Decimal("300000"))
    )
    [suggestion] = view.suggestions
    assert suggestion.threshold == Decimal("300000.00")
    assert "省高级人民法院" in suggestion.citation
    await db.commit()


async def test_repeat_mining_counts_penalties_in_two_years(db: AsyncSession, world: World) -> None:
    act = clock.today() - timedelta(days=10)
    penalties = [
        PriorPenalty("illegal_mining", act - timedelta(days=100), "罚字〔1〕号"),
        PriorPenalty("illegal_mining", act - timedelta(days=900), "罚字〔2〕号"),  # too old
    ]
    view = await open_case(
        db, world.captain, mining("1000", act_date=act, prior_penalties=penalties)
    )
    assert view.suggestions == ()
    penalties.append(PriorPenalty("illegal_mining", act - timedelta(days=300), "罚字〔3〕号"))
    view = await update_case(db, world.captain, view.id, CaseChanges(prior_penalties=penalties))
    assert [s.rule_code for s in view.suggestions] == ["343.repeat"]
    assert view.suggestions[0].value == Decimal("2.00")
    # a value change supersedes the suggestion; the old row is kept
    view = await update_case(db, world.captain, view.id, CaseChanges(prior_penalties=[]))
    assert view.suggestions == ()
    await db.commit()
    rows = (
        await db.scalars(select(ReferralSuggestion).where(ReferralSuggestion.case_id == view.id))
    ).all()
    assert len(rows) == 1 and rows[0].superseded_at is not None


async def test_forest_thresholds_halve_after_two_penalties(db: AsyncSession, world: World) -> None:
    three_mu = 3 * 666.67
    data = CaseInput(
        cause="毁林建房",
        violation_kind="land_occupation",
        lon=LON,
        lat=LAT,
        declared_areas_m2={"forest_public_welfare": three_mu},
    )
    view = await open_case(db, world.captain, data)
    assert view.suggestions == ()
    twice = [
        PriorPenalty("land_occupation", clock.today() - timedelta(days=30)),
        PriorPenalty("land_occupation", clock.today() - timedelta(days=60)),
    ]
    view = await update_case(db, world.captain, view.id, CaseChanges(prior_penalties=twice))
    assert [s.rule_code for s in view.suggestions] == ["342.forest.public_welfare.repeat"]
    await db.commit()


async def test_rules_are_set_by_admins_with_valid_data(db: AsyncSession, world: World) -> None:
    today = clock.today()
    with pytest.raises(PermissionDeniedError):
        await add_rule(db, world.captain, province_rule("1", today))
    with pytest.raises(InvalidRuleError):
        await add_rule(db, world.admin, province_rule("1", today, metric="height_m"))
    with pytest.raises(InvalidRuleError):
        await add_rule(
            db, world.admin, province_rule("1", today, effective_to=today - timedelta(days=1))
        )
    await add_rule(db, world.admin, province_rule("1", today))
    with pytest.raises(ConflictError) as info:
        await add_rule(db, world.admin, province_rule("2", today))
    assert info.value.code == "rule_exists"
    await db.rollback()
