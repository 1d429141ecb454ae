"""Screening against the per-province rule table, with effective dates.

A rule a test adds in force is never committed: each test's county has a province of its own
(:func:`tests.worlds.fresh_province`), but only within one run, and a database shared by
several runs (as the mutation runs share one) would hand a committed rule to a later run's
county of the same two letters."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import (
    CaseChanges,
    CaseInput,
    PriorPenalty,
    get_case,
    open_case,
    update_case,
)
from evidence.cases.errors import InvalidRuleError
from evidence.cases.models import Case, ReferralSuggestion
from evidence.cases.screening import (
    PenaltyCondition,
    RuleCondition,
    RuleInput,
    add_rule,
    list_rules,
    screen_case,
)
from infra.errors import ConflictError, PermissionDeniedError
from patrol.alerts import AlertService
from tests import clock
from tests.cases.conftest import LAT, LON
from tests.worlds import World

#: A date no case of any test reaches: rules added from it are in force nowhere.
FAR = date(2999, 1, 1)


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
    view = await open_case(db, world.captain, mining("150000"))
    assert view.suggestions == ()  # 150,000 < the province's 300,000
    view = await update_case(
        db, world.captain, view.id, CaseChanges(ore_value_yuan=Decimal("300000"))
    )
    [suggestion] = view.suggestions
    assert suggestion.threshold == Decimal("300000.00")
    assert "省高级人民法院" in suggestion.citation
    await db.rollback()  # see the module's docstring


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


async def test_a_case_is_screened_on_its_own_and_told_what_met_which_figure(
    db: AsyncSession, world: World
) -> None:
    first = await open_case(db, world.captain, mining("120000"))
    second = await open_case(db, world.captain, mining("150000"))
    await db.commit()
    assert first.screened_at is not None and second.screened_at is not None
    rule = next(r for r in await list_rules(db, world.captain) if r.code == "343.ore_value")
    # screening the second case leaves the first one's suggestion alone
    [suggestion] = (await get_case(db, world.captain, first.id)).suggestions
    assert (suggestion.rule_code, suggestion.value) == ("343.ore_value", Decimal("120000"))
    assert suggestion.message == (
        f"{rule.description}。本案矿产品价值120000.00元，达到100000.00元的标准"
        f"（{rule.citation}）。仅为移送建议，是否移送公安机关由人工审查决定。"
    )
    [other] = (await get_case(db, world.captain, second.id)).suggestions
    assert other.value == Decimal("150000") and other.id != suggestion.id


async def test_a_penalty_decided_on_the_day_of_the_act_counts_one_the_day_after_does_not(
    db: AsyncSession, world: World
) -> None:
    act = clock.today() - timedelta(days=10)
    earlier = PriorPenalty("illegal_mining", act - timedelta(days=100), "罚字〔1〕号")
    got = []
    for decided in (act, act + timedelta(days=1)):
        penalties = [earlier, PriorPenalty("illegal_mining", decided, "罚字〔2〕号")]
        view = await open_case(
            db, world.captain, mining("1000", act_date=act, prior_penalties=penalties)
        )
        got.append([(s.rule_code, s.value) for s in view.suggestions])
    await db.commit()
    assert got == [[("343.repeat", Decimal("2.00"))], []]


async def test_rules_are_listed_by_code_with_their_conditions_as_typed_facts(
    db: AsyncSession, world: World
) -> None:
    wanted = ["343.repeat", "342.basic_farmland", "no.such.rule"]
    rules = await list_rules(db, world.captain, codes=wanted)
    assert [r.code for r in rules] == ["342.basic_farmland", "343.repeat"]
    every = {r.code: r for r in await list_rules(db, world.captain)}
    assert {
        code: every[code].rule_condition
        for code in ("342.basic_farmland", "343.ore_value.special_area", "342.grassland.repeat",
                     "343.repeat")
    } == {
        "342.basic_farmland": RuleCondition(),
        "343.ore_value.special_area": RuleCondition(special_area=True),
        "342.grassland.repeat": RuleCondition(penalties=PenaltyCondition("grassland", 3, 1)),
        "343.repeat": RuleCondition(penalty_kind="illegal_mining", within_years=2),
    }  # fmt: skip
    # the typed facts give back the stored condition, key for key
    assert all(r.rule_condition.as_condition() == r.condition for r in every.values())
    assert RuleCondition.of({"special_area": False}).as_condition() == {"special_area": False}
    assert RuleCondition.of({"penalties": "twice"}) == RuleCondition()


async def test_an_invalid_rule_names_its_field_and_what_is_wrong(
    db: AsyncSession, world: World
) -> None:
    with pytest.raises(PermissionDeniedError) as denied:
        await add_rule(db, world.captain, province_rule("1", FAR))
    assert denied.value.detail == "only admin may set referral thresholds"
    metric = "height_of_the_spoil_heap_over_the_river_bank_m"
    mined = {"kind": "illegal_mining", "within_years": 2, "at_least": 2}
    count = {"metric": "prior_penalties", "unit": "count"}
    refused = {
        "kind": province_rule("1", FAR, violation_kind="theft"),
        "metric": province_rule("1", FAR, metric=metric),
        "unit": province_rule("1", FAR, unit="acre"),
        "level": province_rule("1", FAR, level="serious"),
        "negative": province_rule("-0.01", FAR),
        "infinite": province_rule("Infinity", FAR),
        "not a number": province_rule("NaN", FAR),
        "ends as it starts": province_rule("1", FAR, effective_to=FAR),
        "no code": province_rule("1", FAR, code="  "),
        "no citation": province_rule("1", FAR, citation=" "),
        "unknown condition": province_rule("1", FAR, condition={"night": True, "special_area": 1}),
        "penalties in words": province_rule("1", FAR, condition={"penalties": "twice"}),
        "penalties of no known kind": province_rule(
            "1", FAR, condition={"penalties": {**mined, "kind": "theft"}}
        ),
        "window in words": province_rule(
            "1", FAR, condition={"penalties": {**mined, "within_years": "2"}}
        ),
        "count in words": province_rule(
            "1", FAR, condition={"penalties": {**mined, "at_least": "2"}}
        ),
        "counted kind missing": province_rule("2", FAR, **count, condition={"within_years": 2}),
        "counted kind unknown": province_rule(
            "2", FAR, **count, condition={"penalty_kind": "theft", "within_years": 2}
        ),
        "counting window missing": province_rule(
            "2", FAR, **count, condition={"penalty_kind": "illegal_mining"}
        ),
        "counting window in words": province_rule(
            "2", FAR, **count, condition={"penalty_kind": "illegal_mining", "within_years": "2"}
        ),
    }
    answers = {}
    for name, data in refused.items():
        with pytest.raises(InvalidRuleError) as err:
            await add_rule(db, world.admin, data)
        answers[name] = (err.value.code, err.value.extra.get("field"), err.value.detail)
    penalties = ("invalid_rule", "condition.penalties",
                 "penalties needs kind, within_years and at_least")  # fmt: skip
    counted = ("invalid_rule", "condition",
               "the prior_penalties metric needs penalty_kind and within_years")  # fmt: skip
    unit = ("invalid_rule", "unit", "unit or level is not known")
    threshold = ("invalid_rule", "threshold", "threshold must be at least 0")
    citation = ("invalid_rule", "code", "a rule needs a code and a citation")
    assert answers == {
        "kind": ("invalid_rule", "violation_kind", "unknown violation kind"),
        "metric": ("invalid_rule", "metric", f"unknown metric {metric[:40]!r}"),
        "unit": unit,
        "level": unit,
        "negative": threshold,
        "infinite": threshold,
        "not a number": threshold,
        "ends as it starts": (
            "invalid_rule", "effective_to", "effective_to must be after effective_from"
        ),
        "no code": citation,
        "no citation": citation,
        "unknown condition": ("invalid_rule", "condition", "unknown condition keys: ['night']"),
        "penalties in words": penalties,
        "penalties of no known kind": penalties,
        "window in words": penalties,
        "count in words": penalties,
        "counted kind missing": counted,
        "counted kind unknown": counted,
        "counting window missing": counted,
        "counting window in words": counted,
    }  # fmt: skip
    assert len(metric) > 40
    await db.rollback()


async def test_a_rule_is_stored_as_given_once_per_code_and_date(
    db: AsyncSession, world: World
) -> None:
    mined = {"kind": "illegal_mining", "within_years": 2, "at_least": 2}
    accepted = [
        province_rule("0", FAR, code="test.zero"),
        province_rule("0.5", FAR, code="test.serious", level="especially_serious",
                      condition={"special_area": False}, effective_to=FAR + timedelta(days=1)),
        province_rule("1", FAR, code="test.penalties", condition={"penalties": mined}),
        province_rule("2", FAR, code="test.count", metric="prior_penalties", unit="count",
                      condition={"penalty_kind": "illegal_mining", "within_years": 2}),
    ]  # fmt: skip
    views = [await add_rule(db, world.admin, data) for data in accepted]
    assert [(v.code, v.threshold, v.level, v.condition, v.effective_to) for v in views] == [
        ("test.zero", Decimal("0.00"), "threshold", {}, None),
        ("test.serious", Decimal("0.50"), "especially_serious", {"special_area": False},
         FAR + timedelta(days=1)),
        ("test.penalties", Decimal("1.00"), "threshold", {"penalties": mined}, None),
        ("test.count", Decimal("2.00"), "threshold",
         {"penalty_kind": "illegal_mining", "within_years": 2}, None),
    ]  # fmt: skip
    assert {v.province_code for v in views} == {world.province}
    # a code is kept to 60 characters (trimmed), a crime to 100, an article to 60
    code, crime, article = "343.ore_value." + "x" * 60, "非法采矿罪" * 25, "刑法第三百四十三条" * 8
    first = await add_rule(
        db, world.admin, province_rule("1", FAR, code=f" {code} ", crime=crime, article=article)
    )
    assert (first.code, first.crime, first.article) == (code[:60], crime[:100], article[:60])
    with pytest.raises(ConflictError) as taken:
        await add_rule(db, world.admin, province_rule("2", FAR, code=code))
    assert (taken.value.code, taken.value.detail, taken.value.extra) == (
        "rule_exists",
        "a rule with this code already starts on this date",
        {"rule_id": str(first.id)},
    )
    # a new version of the code from a later date, and another code from the same date
    later = await add_rule(db, world.admin, province_rule("3", FAR + timedelta(days=1), code=code))
    other = await add_rule(db, world.admin, province_rule("3", FAR, code="343.other"))
    assert (later.code, later.effective_from, other.effective_from) == (
        code[:60],
        FAR + timedelta(days=1),
        FAR,
    )
    await db.rollback()


async def test_a_case_screened_again_keeps_what_still_holds_and_renews_what_changed(
    db: AsyncSession, world: World
) -> None:
    act = clock.today() - timedelta(days=10)
    penalties = [
        PriorPenalty("illegal_mining", act - timedelta(days=100), "罚字〔1〕号"),
        PriorPenalty("illegal_mining", act - timedelta(days=300), "罚字〔2〕号"),
    ]
    view = await open_case(
        db, world.captain, mining("120000", act_date=act, prior_penalties=penalties)
    )
    first = {s.rule_code: s for s in view.suggestions}
    assert {code: s.value for code, s in first.items()} == {
        "343.ore_value": Decimal("120000"),
        "343.repeat": Decimal("2.00"),
    }
    assert {s.created_at for s in view.suggestions} == {view.screened_at}
    # screened again, nothing a rule reads changed: the same two suggestions, not new ones
    view = await update_case(
        db, world.captain, view.id, CaseChanges(act_date=act + timedelta(days=1))
    )
    assert {s.rule_code: s.id for s in view.suggestions} == {c: s.id for c, s in first.items()}
    # a new value renews that rule's suggestion only
    view = await update_case(
        db, world.captain, view.id, CaseChanges(ore_value_yuan=Decimal("130000"))
    )
    now = {s.rule_code: s for s in view.suggestions}
    assert now["343.repeat"].id == first["343.repeat"].id
    assert now["343.ore_value"].id != first["343.ore_value"].id
    assert (now["343.ore_value"].value, now["343.ore_value"].created_at) == (
        Decimal("130000"),
        view.screened_at,
    )
    await db.commit()
    rows = (
        await db.scalars(select(ReferralSuggestion).where(ReferralSuggestion.case_id == view.id))
    ).all()
    assert sorted((r.rule_code, r.value, r.superseded_at) for r in rows) == [
        ("343.ore_value", Decimal("120000"), view.screened_at),
        ("343.ore_value", Decimal("130000"), None),
        ("343.repeat", Decimal("2.00"), None),
    ]


async def test_a_suggestion_that_comes_back_is_a_new_one_with_an_alert_of_its_own(
    db: AsyncSession, world: World
) -> None:
    view = await open_case(db, world.captain, mining("120000"))
    [first] = view.suggestions
    lower = await update_case(
        db, world.captain, view.id, CaseChanges(ore_value_yuan=Decimal("80000"))
    )
    assert lower.suggestions == ()
    back = await update_case(
        db, world.captain, view.id, CaseChanges(ore_value_yuan=Decimal("120000"))
    )
    [again] = back.suggestions
    assert (again.value, again.created_at) == (first.value, back.screened_at)
    assert again.id != first.id
    await db.commit()
    rows = (
        await db.scalars(select(ReferralSuggestion).where(ReferralSuggestion.case_id == view.id))
    ).all()
    assert {r.id: r.superseded_at for r in rows} == {
        first.id: lower.screened_at,
        again.id: None,
    }
    # the first alert resolved itself when its suggestion went, the second one is open
    alerts = await AlertService(db).list_alerts(
        world.captain, kinds=["referral_suggested"], state="all"
    )
    assert sorted(((a.resolution or ""), a.resolved_at is None) for a in alerts) == [
        ("", True),
        ("suggestion_superseded", False),
    ]
    assert {(a.kind, a.severity) for a in alerts} == {("referral_suggested", "warning")}
    [resolved] = [a for a in alerts if a.resolution]
    assert (resolved.raised_at, resolved.resolved_at) == (first.created_at, lower.screened_at)


async def test_the_window_of_an_act_on_29_february_starts_on_28_february(
    db: AsyncSession, world: World
) -> None:
    """Two years before 29 February 2024 is 28 February 2022 (there is no 29th): a penalty
    decided that day counts, one decided the day before does not."""
    act = date(2024, 2, 29)
    got = []
    for oldest in (date(2022, 2, 28), date(2022, 2, 27)):
        penalties = [
            PriorPenalty("illegal_mining", date(2023, 6, 1), "罚字〔1〕号"),
            PriorPenalty("illegal_mining", oldest, "罚字〔2〕号"),
        ]
        view = await open_case(
            db, world.captain, mining("1000", act_date=act, prior_penalties=penalties)
        )
        got.append([(s.rule_code, s.value) for s in view.suggestions])
    await db.commit()
    assert got == [[("343.repeat", Decimal("2.00"))], []]


async def test_a_province_rule_is_in_force_until_the_day_before_it_ends(
    db: AsyncSession, world: World
) -> None:
    ends = date(2020, 1, 1)
    await add_rule(db, world.admin, province_rule("300000", date(2017, 1, 1), effective_to=ends))
    figures = {}
    for day in (ends - timedelta(days=1), ends):
        [rule] = await list_rules(db, world.captain, as_of=day, codes=["343.ore_value"])
        figures[day] = (rule.province_code, rule.threshold)
    assert figures == {
        ends - timedelta(days=1): (world.province, Decimal("300000.00")),
        ends: ("00", Decimal("100000.00")),
    }
    await db.rollback()  # see the module's docstring


async def test_a_provinces_rule_beats_the_national_one_whatever_their_dates(
    db: AsyncSession, world: World, other_world: Callable[[], Awaitable[World]]
) -> None:
    """Per code, the province's own row beats the national one even when it is older, and
    of the province's rows the one that took effect last; another province's rows (here the
    same code from the same day, which each province may add) reach no other county."""
    await add_rule(db, world.admin, province_rule("300000", date(2018, 1, 1)))
    await add_rule(db, world.admin, province_rule("200000", date(2010, 1, 1)))
    neighbour = await other_world()
    await add_rule(db, neighbour.admin, province_rule("1", date(2010, 1, 1)))
    figures = {}
    for day in (date(2015, 1, 1), date(2017, 6, 1), clock.today()):
        [rule] = await list_rules(db, world.captain, as_of=day, codes=["343.ore_value"])
        figures[day] = (rule.province_code, rule.threshold)
    assert figures == {
        date(2015, 1, 1): (world.province, Decimal("200000.00")),  # before the national one
        date(2017, 6, 1): (world.province, Decimal("200000.00")),  # after it, yet older
        clock.today(): (world.province, Decimal("300000.00")),
    }
    [theirs] = await list_rules(db, neighbour.captain, codes=["343.ore_value"])
    assert (theirs.province_code, theirs.threshold) == (neighbour.province, Decimal("1.00"))
    await db.rollback()  # see the module's docstring


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14"])
async def test_the_rules_in_force_today_are_chinas_days_whatever_the_machines_zone(
    db: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """A rule in force for one day, China's today, is in force by default whether the
    server's own zone is twelve hours behind UTC or fourteen ahead (at any hour of the day,
    one of them is on another date than China)."""
    today = clock.today()
    await add_rule(
        db, world.admin, province_rule("300000", today, effective_to=today + timedelta(days=1))
    )
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        [rule] = await list_rules(db, world.captain, codes=["343.ore_value"])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert (rule.province_code, rule.threshold) == (world.province, Decimal("300000.00"))
    await db.rollback()  # see the module's docstring
