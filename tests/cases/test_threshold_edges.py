"""Every referral threshold in force at, just below and just above its figure.

The rules come from the table itself (the national figures seeded by ``0005_cases``; each
test's county is in a province of its own, so no provincial row interferes): a rule missed
here would be a rule nobody checked. Each rule is tried with the value one cent (one
penalty, for counts) under its threshold, at it and one cent over, every other condition of
the rule met (special area, earlier penalties); the suggestion the captain sees names the
rule exactly when the value reaches the figure, and shows the value and the threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from evidence.cases.cases import CaseInput, PriorPenalty, open_case
from evidence.cases.models import Case
from evidence.cases.screening import RuleView, list_rules, screen_case
from tests import clock
from tests.cases.conftest import LAT, LON
from tests.worlds import World

#: The act, ten days before the pinned day (never a 29 February, whatever the day of the run).
ACT = clock.TODAY - timedelta(days=10)
CENT = Decimal("0.01")
M2_PER_MU = 10_000 / 15
_YUAN = ("ore_value_yuan", "destroyed_value_yuan", "illegal_gain_yuan")
_DECLARED = {
    "forest_public_welfare_mu": "forest_public_welfare",
    "forest_commercial_mu": "forest_commercial",
    "grassland_mu": "grassland",
}
# surveyed-polygon figures: (total, cultivated, basic farmland) in m² for a value in mu
_SURVEYED: dict[str, Callable[[float], tuple[float, float, float]]] = {
    "basic_farmland_mu": lambda m2: (m2, m2, m2),
    "other_cultivated_mu": lambda m2: (m2, m2, 0.0),
    "cultivated_mu": lambda m2: (m2, m2, 0.0),
    "other_land_mu": lambda m2: (m2, 0.0, 0.0),
    "total_mu": lambda m2: (m2, 0.0, 0.0),
}


def _penalties(rule: RuleView, count: int | None = None) -> list[PriorPenalty]:
    cond = rule.condition
    if rule.metric == "prior_penalties":
        kind, years, n = cond["penalty_kind"], int(cond["within_years"]), count or 0
    elif "penalties" in cond:
        p = cond["penalties"]
        kind, years, n = p["kind"], int(p["within_years"]), int(p["at_least"])
    else:
        return []
    assert years >= 1
    return [
        PriorPenalty(kind, ACT - timedelta(days=30 * (i + 1)), f"罚字〔{i}〕号") for i in range(n)
    ]


async def _suggested(db: AsyncSession, world: World, rule: RuleView, value: Decimal) -> set[str]:
    """Open a case whose figure for ``rule`` is ``value``; the rule codes it is screened to."""
    data: dict[str, Any] = {
        "cause": "边界测试",
        "violation_kind": rule.violation_kind,
        "lon": LON,
        "lat": LAT,
        "act_date": ACT,
        "special_area": bool(rule.condition.get("special_area", False)),
        "prior_penalties": _penalties(rule, int(value) if rule.unit == "count" else None),
    }
    if rule.metric in _YUAN:
        data[rule.metric] = value
    elif rule.metric in _DECLARED:
        data["declared_areas_m2"] = {_DECLARED[rule.metric]: float(value) * M2_PER_MU}
    view = await open_case(db, world.captain, CaseInput(**data))
    if rule.metric in _SURVEYED:
        # the overlay of a surveyed polygon fills these; set them as it would
        case = await db.get(Case, view.id)
        assert case is not None
        total, cultivated, pbf = _SURVEYED[rule.metric](float(value) * M2_PER_MU)
        case.area_total_m2, case.area_cultivated_m2, case.area_basic_farmland_m2 = (
            total,
            cultivated,
            pbf,
        )
        rows = await screen_case(db, case, province_code=world.province)
        return {r.rule_code for r in rows}
    for s in view.suggestions:
        if s.rule_code == rule.code:
            assert (s.value, s.threshold, s.unit) == (value, rule.threshold, rule.unit)
    return {s.rule_code for s in view.suggestions}


async def test_every_rule_in_force_matches_at_its_figure_and_not_a_cent_below(
    db: AsyncSession, world: World
) -> None:
    rules = await list_rules(db, world.captain)
    assert {r.province_code for r in rules} == {"00"}
    known = set(_YUAN) | set(_DECLARED) | set(_SURVEYED) | {"prior_penalties"}
    assert {r.metric for r in rules} <= known, "a rule on a metric this test cannot set"
    seen: dict[str, tuple[bool, bool, bool]] = {}
    for rule in rules:
        step = Decimal(1) if rule.unit == "count" else CENT
        below, at, above = rule.threshold - step, rule.threshold, rule.threshold + step
        assert below >= 0
        seen[rule.code] = (
            rule.code in await _suggested(db, world, rule, below),
            rule.code in await _suggested(db, world, rule, at),
            rule.code in await _suggested(db, world, rule, above),
        )
    await db.commit()
    assert len(seen) == len(rules) >= 21  # the national table of 0005_cases
    assert seen == dict.fromkeys(seen, (False, True, True))
    # the national figures, each among the rules checked above
    figures = {(r.code, r.threshold) for r in rules}
    for code, threshold in [
        ("342.basic_farmland", "5.00"),
        ("228.illegal_gain", "500000.00"),
        ("343.ore_value", "100000.00"),
        ("343.ore_value.special_area", "50000.00"),
    ]:
        assert (code, Decimal(threshold)) in figures


async def test_earlier_penalties_count_back_exactly_to_the_window_start(
    db: AsyncSession, world: World
) -> None:
    """A penalty decided exactly ``within_years`` years before the act still counts; one
    decided the day before does not."""
    rules = {r.code: r for r in await list_rules(db, world.captain)}
    repeat = rules["343.repeat"]
    years = int(repeat.condition["within_years"])
    start = ACT.replace(year=ACT.year - years)
    got = []
    for oldest in (start, start - timedelta(days=1)):
        penalties = [
            PriorPenalty(str(repeat.condition["penalty_kind"]), ACT - timedelta(days=20), "罚1"),
            PriorPenalty(str(repeat.condition["penalty_kind"]), oldest, "罚2"),
        ]
        view = await open_case(
            db,
            world.captain,
            CaseInput(
                cause="再次非法采矿",
                violation_kind=repeat.violation_kind,
                lon=LON,
                lat=LAT,
                act_date=ACT,
                ore_value_yuan=Decimal("1000"),
                prior_penalties=penalties,
            ),
        )
        got.append([s.rule_code for s in view.suggestions])
    await db.commit()
    assert repeat.threshold == Decimal(2)
    assert got == [["343.repeat"], []]


@pytest.mark.parametrize(
    ("m2", "shown", "matched"),
    [
        (3329.99, "4.99", False),
        (3330.0, "5.00", True),  # 4.995 mu: half a cent rounds up
        (3350.0, "5.03", True),  # 5.025 mu: up, not to the even cent
        (10_000 / 3, "5.00", True),
        (3340.0, "5.01", True),
    ],
)
async def test_basic_farmland_in_square_metres_around_five_mu(
    db: AsyncSession, world: World, m2: float, shown: str, matched: bool
) -> None:
    """5 mu is 3,333.33 m² (1 mu = 10,000/15 m²); figures are compared as shown, in mu to
    the cent, half a cent rounded up."""
    rule = next(r for r in await list_rules(db, world.captain) if r.code == "342.basic_farmland")
    view = await open_case(
        db,
        world.captain,
        CaseInput(cause="占用基本农田", violation_kind=rule.violation_kind, lon=LON, lat=LAT),
    )
    case = await db.get(Case, view.id)
    assert case is not None
    case.area_total_m2 = case.area_cultivated_m2 = case.area_basic_farmland_m2 = m2
    rows = {r.rule_code: r for r in await screen_case(db, case, province_code=world.province)}
    await db.commit()
    assert ("342.basic_farmland" in rows) is matched
    if matched:
        assert rows["342.basic_farmland"].value == Decimal(shown)


@pytest.mark.parametrize(
    ("kind", "areas", "code", "matched"),
    [
        ("land_transfer", (13_329.99, 0.0), "228.other_land", False),  # 19.99 mu
        ("land_transfer", (13_330.0, 0.0), "228.other_land", True),  # 19.995: 20.00 mu
        ("land_occupation", (6663.33, 6663.33), "342.cultivated", False),  # 9.99 mu
        ("land_occupation", (6663.34, 6663.34), "342.cultivated", True),  # 9.99501: 10.00
        # 30 mu surveyed, 15 of them cultivated: 15 mu of other land, under 20
        ("land_transfer", (20_000.0, 10_000.0), "228.other_land", False),
    ],
)
async def test_land_without_basic_farmland_around_its_figure_in_square_metres(
    db: AsyncSession,
    world: World,
    kind: str,
    areas: tuple[float, float],
    code: str,
    matched: bool,
) -> None:
    """Other land is the surveyed area less its cultivated land, other cultivated land the
    cultivated land less its basic farmland: with none of the latter, all of it. Half a cent
    rounds up: 13,330 m² (19.995 mu) meets the 20 mu of 228.other_land, 6,663.34 m² (9.99501
    mu) the 10 mu of 342.cultivated."""
    view = await open_case(
        db, world.captain, CaseInput(cause="边界测试", violation_kind=kind, lon=LON, lat=LAT)
    )
    case = await db.get(Case, view.id)
    assert case is not None
    case.area_total_m2, case.area_cultivated_m2 = areas
    case.area_basic_farmland_m2 = 0.0
    rows = {r.rule_code: r for r in await screen_case(db, case, province_code=world.province)}
    await db.commit()
    assert (code in rows) is matched
    if matched:
        assert (rows[code].value, rows[code].threshold) == (
            {"228.other_land": Decimal("20.00"), "342.cultivated": Decimal("10.00")}[code],
        ) * 2
