"""The penalty content: fine ranges from the case's figures and the officer's amount inside
them, ID-number and credit-code check digits, the major flag, masking for joint-team
members, closing an order to return land, and the content frozen by the decision."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from evidence.cases.penalties import is_valid_credit_code, is_valid_id_number, mask_id
from infra.scope import Role
from tests import clock
from tests.procedure.conftest import Flow

T0 = clock.NOW
PERSON_ID = "11010519491231002X"  # GB 11643's own example
COMPANY_CODE = "914403001922038216"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (PERSON_ID, True),
        ("11010519491231002x", True),  # a lower-case X is the same check character
        ("110105194912310021", False),  # check digit
        ("11010519491331002X", False),  # no 31st of the 13th month
        ("1101051949123100", False),  # too short
    ],
)
def test_id_number_check_digit(value: str, valid: bool) -> None:
    assert is_valid_id_number(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (COMPANY_CODE, True),
        ("91110000802100433B", True),
        ("914403001922038217", False),  # check character
        ("91440300192203821I", False),  # I is not in the code's alphabet
        ("9144030019220382", False),
    ],
)
def test_credit_code_check_character(value: str, valid: bool) -> None:
    assert is_valid_credit_code(value) is valid


def test_masking_keeps_the_last_four() -> None:
    assert mask_id(PERSON_ID) == "**************002X"


async def _area(flow: Flow, case_id: str) -> Decimal:
    return Decimal(str((await flow.call("GET", f"/cases/{case_id}"))["areas"]["totalM2"]))


def _content(fines: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "parties": [{"name": "张三", "idNo": PERSON_ID, "address": "东风村三组"}],
        "violations": [{"article": "lal_77", "facts": "占用耕地建厂房"}],
        "fines": fines,
        **more,
    }


async def test_an_occupation_fine_lies_between_100_and_1000_yuan_per_square_metre(
    flow: Flow,
) -> None:
    case_id = await flow.open_case()
    area = await _area(flow, case_id)
    low, high = area * 100, area * 1000
    below = {"article": "lalr_57", "amountYuan": str(low - Decimal("0.01"))}
    problem = await flow.penalty(case_id, _content([below]), expect=422)
    assert problem["code"] == "fine_out_of_range"
    assert (problem["details"]["min"], problem["details"]["max"]) == (f"{low:.2f}", f"{high:.2f}")
    above = {"article": "lalr_57", "amountYuan": str(high + Decimal("0.01"))}
    assert (await flow.penalty(case_id, _content([above]), expect=422))[
        "code"
    ] == "fine_out_of_range"

    # the captain chooses the lowest amount: recorded with the range and who chose it
    penalty = await flow.penalty(
        case_id, _content([{"article": "lalr_57", "amountYuan": str(low)}])
    )
    [fine] = penalty["fines"]
    captain = str(flow.county.users[Role.CAPTAIN].id)
    assert (fine["basis"], Decimal(fine["basisValue"])) == ("area_m2", area)
    assert (Decimal(fine["minYuan"]), Decimal(fine["maxYuan"])) == (low, high)
    assert (fine["chosenBy"], Decimal(penalty["fineTotalYuan"])) == (captain, low)
    # a fine of hundreds of thousands: a hearing right, and a major case
    assert (penalty["hearingTriggered"], penalty["major"]) == (True, True)
    # the lead inspector rewrites the content: the unchanged fine keeps its chooser, a new
    # amount is the inspector's
    again = await flow.penalty(case_id, _content([fine | {"amountYuan": str(low)}]), Role.INSPECTOR)
    assert again["fines"][0]["chosenBy"] == captain
    changed = {"article": "lalr_57", "amountYuan": str(low + 1)}
    again = await flow.penalty(case_id, _content([changed]), Role.INSPECTOR)
    assert again["fines"][0]["chosenBy"] == str(flow.county.users[Role.INSPECTOR].id)


async def test_mining_gain_and_reclamation_fines_follow_their_articles(flow: Flow) -> None:
    # ore worth 50,000 yuan (under 100,000): 100,000 to 1,000,000 yuan
    small = await flow.open_case(violationKind="illegal_mining", oreValueYuan="50000")
    mining = {"article": "mrl_64", "amountYuan": "99999.99"}
    problem = await flow.penalty(small, _content([mining]), expect=422)
    assert (problem["details"]["min"], problem["details"]["max"]) == ("100000.00", "1000000.00")
    # ore worth 200,000 yuan: three to five times its value
    big = await flow.open_case(violationKind="illegal_mining", oreValueYuan="200000")
    problem = await flow.penalty(big, _content([mining]), expect=422)
    assert (problem["details"]["min"], problem["details"]["max"]) == ("600000.00", "1000000.00")
    ok = await flow.penalty(big, _content([mining | {"amountYuan": "600000"}]))
    assert ok["fines"][0]["basis"] == "ore_value_yuan"
    # an illegal transfer's gain of 620,000 yuan: 10 to 50 per cent of it
    sold = await flow.open_case(violationKind="land_transfer", illegalGainYuan="620000")
    gain = {"article": "lalr_54", "amountYuan": "61999.99"}
    problem = await flow.penalty(sold, _content([gain]), expect=422)
    assert (problem["details"]["min"], problem["details"]["max"]) == ("62000.00", "310000.00")
    # a reclamation-fee fine states the fee; without it the range cannot be known
    fee = {"article": "lalr_55", "amountYuan": "100000"}
    missing = await flow.penalty(sold, _content([fee]), expect=422)
    assert (missing["code"], missing["details"]["basis"]) == (
        "fine_basis_missing",
        "reclamation_fee_yuan",
    )
    ok = await flow.penalty(sold, _content([fee | {"basisYuan": "20000"}]))
    assert (ok["fines"][0]["minYuan"], ok["fines"][0]["maxYuan"]) == ("100000.00", "200000.00")
    # an occupation fine of a case never surveyed has no area to count
    unsurveyed = await flow.open_case(surveyedGeometry=None)
    per_m2 = {"article": "lalr_57", "amountYuan": "100"}
    missing = await flow.penalty(unsurveyed, _content([per_m2]), expect=422)
    assert missing["details"]["basis"] == "area_total_m2"


async def test_id_numbers_and_credit_codes_are_checked(flow: Flow) -> None:
    case_id = await flow.open_case()
    wrong = {"parties": [{"name": "张三", "idNo": "110105194912310021"}]}
    problem = await flow.penalty(case_id, wrong, expect=422)
    assert (problem["code"], problem["errors"][0]["field"]) == (
        "invalid_id_number",
        "parties[0].idNo",
    )
    company = {"name": "某建材有限公司", "kind": "organisation", "idNo": "914403001922038217"}
    problem = await flow.penalty(case_id, {"parties": [company]}, expect=422)
    assert problem["code"] == "invalid_id_number"
    company["idNo"] = COMPANY_CODE
    ok = await flow.penalty(case_id, {"parties": [company | {"representative": "李四"}]})
    assert ok["parties"][0]["idNo"] == COMPANY_CODE


async def test_joint_team_members_read_party_numbers_masked(flow: Flow) -> None:
    case_id = await flow.open_case()
    await flow.penalty(case_id, {"parties": [{"name": "张三", "idNo": PERSON_ID}]})
    seen = {}
    for role in (Role.CAPTAIN, Role.INSPECTOR, Role.JOINT_TEAM):
        party = (await flow.procedure(case_id, role))["penalty"]["parties"][0]
        seen[role] = (party["idNo"], party["idMasked"])
    assert seen[Role.CAPTAIN] == seen[Role.INSPECTOR] == (PERSON_ID, False)
    assert seen[Role.JOINT_TEAM] == ("**************002X", True)
    resp = await flow.client.get(
        f"/api/v1/cases/{case_id}/procedure", headers=flow.county.headers(Role.JOINT_TEAM)
    )
    assert PERSON_ID not in resp.text
    # the joint team member reads the steps as the case (but may not write the penalty)
    await flow.call("GET", f"/cases/{case_id}/steps", Role.JOINT_TEAM)
    refused = await flow.penalty(case_id, {}, Role.JOINT_TEAM, expect=403)
    assert refused["code"] == "role_not_allowed"
    # the clue desk sees no case at all
    gone = await flow.call("GET", f"/cases/{case_id}/procedure", Role.CLUE_DESK, expect=404)
    assert gone["code"] == "case_not_found"


async def test_a_major_case_is_reviewed_before_notice_and_decision(flow: Flow) -> None:
    case_id = await flow.open_case()
    await flow.step(case_id, "filing", T0)
    await flow.step(case_id, "investigation", T0 + timedelta(hours=1), summary="勘验")
    area = await _area(flow, case_id)
    content = _content([{"article": "lalr_57", "amountYuan": str(area * 100)}])
    await flow.penalty(case_id, content)
    assert (await flow.procedure(case_id))["major"] is True
    problem = await flow.step(case_id, "notice", T0 + timedelta(hours=2), expect=409)
    assert problem["details"]["expectedStep"] == "legal_review"
    problem = await flow.step(
        case_id, "decision", T0 + timedelta(hours=2), expect=409, option="no_penalty_minor"
    )
    assert problem["details"]["expectedStep"] == "legal_review"
    # a legal review that sends it back does not count
    await flow.step(
        case_id, "legal_review", T0 + timedelta(hours=3), opinion="事实不清", passed=False
    )
    assert "legal_review" in (await flow.procedure(case_id))["nextSteps"]
    await flow.step(case_id, "legal_review", T0 + timedelta(hours=4), opinion="同意")
    await flow.step(case_id, "collective_discussion", T0 + timedelta(hours=5), conclusion="同意",
                    participants=["局长", "分管副局长", "法规科长"])  # fmt: skip
    assert "notice" in (await flow.procedure(case_id))["nextSteps"]


async def test_closing_an_order_to_return_land_needs_the_right_holders_confirmation(
    flow: Flow,
) -> None:
    case_id = await flow.open_case()
    await flow.step(case_id, "filing", T0)
    await flow.step(case_id, "investigation", T0 + timedelta(hours=1), summary="勘验")
    # a notice before the content of the penalty is known is refused
    refused = await flow.step(case_id, "notice", T0 + timedelta(hours=2), expect=409)
    assert refused["code"] == "penalty_required"
    content = {
        "parties": [{"name": "张三", "idNo": PERSON_ID}],
        "violations": [{"article": "lal_77"}],
        "measures": [{"kind": "return_land", "deadlineDays": 30}],
    }
    penalty = await flow.penalty(case_id, content)
    assert (penalty["hearingTriggered"], penalty["major"]) == (False, False)
    await flow.step(case_id, "notice", T0 + timedelta(hours=2))
    await flow.step(case_id, "statement", T0 + timedelta(days=1), Role.INSPECTOR, summary="无异议")
    await flow.step(case_id, "decision", T0 + timedelta(days=2), option="penalty")
    frozen = await flow.penalty(case_id, content, expect=409)
    assert frozen["code"] == "penalty_decided"
    await flow.step(case_id, "service", T0 + timedelta(days=2, hours=1), Role.INSPECTOR,
                    method="direct")  # fmt: skip
    early = await flow.step(case_id, "closing", T0 + timedelta(days=3), expect=409)
    assert early["code"] == "closing_requirements_unmet"
    assert early["details"]["items"] == ["right_holder_confirmation"]
    # the land is handed back, but the village has not confirmed it in writing yet
    await flow.step(case_id, "execution", T0 + timedelta(days=20), Role.INSPECTOR,
                    landReturned=True)  # fmt: skip
    assert (await flow.call("GET", f"/cases/{case_id}"))["status"] == "executing"
    await flow.step(case_id, "closing", T0 + timedelta(days=21), expect=409)
    await flow.step(case_id, "execution", T0 + timedelta(days=25), Role.INSPECTOR,
                    landReturned=True, rightHolderConfirmed=True)  # fmt: skip
    await flow.step(case_id, "closing", T0 + timedelta(days=26), summary="已退还土地")
    case = await flow.call("GET", f"/cases/{case_id}")
    assert case["status"] == "closed"
    proc = await flow.procedure(case_id)
    assert (proc["stage"], proc["nextSteps"]) == ("closing", [])
    done = await flow.step(case_id, "investigation", T0 + timedelta(days=27), expect=409,
                           summary="补充")  # fmt: skip
    assert done["code"] == "case_closed"
