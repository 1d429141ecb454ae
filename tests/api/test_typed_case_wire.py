"""Cases and referral rules carry their fixed-shape blobs typed and camelCase, beside the old
snake_case members: a case's ``areas.overlaySource`` beside ``areas.source``, a rule's
``ruleCondition`` beside ``condition``; a rule may be added with either."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from infra.scope import Role
from tests.cases.conftest import LAT, LON, add_parcels, geojson, square
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]


async def test_a_cases_overlay_source_is_typed(
    client: Client, make_county: Any, db: AsyncSession
) -> None:
    county: CountyFixture = await make_county()
    await add_parcels(db, county.id)
    body = {
        "cause": "未经批准占用耕地建设厂房",
        "violationKind": "land_occupation",
        "lon": LON,
        "lat": LAT,
        "surveyedGeometry": geojson(square(LON - 0.03, LAT, 100)),
    }
    resp = await client.post("/api/v1/cases", json=body, headers=county.headers(Role.CAPTAIN))
    assert resp.status_code == 201, resp.text
    areas = resp.json()["areas"]
    old, typed = areas["source"], areas["overlaySource"]
    assert old["layer"] == typed["layer"] == "parcels"
    assert typed["layerVersionId"] == old["layer_version_id"]
    assert typed["layerVersionNo"] == old["layer_version_no"]
    assert typed["basis"] == old["basis"]
    assert datetime.fromisoformat(typed["computedAt"]) == datetime.fromisoformat(old["computed_at"])

    # a case without a surveyed polygon has no overlay: both members say nothing
    del body["surveyedGeometry"]
    resp = await client.post("/api/v1/cases", json=body, headers=county.headers(Role.CAPTAIN))
    assert resp.status_code == 201, resp.text
    assert resp.json()["areas"]["source"] == {}
    assert resp.json()["areas"]["overlaySource"] == {}


async def test_a_rules_condition_is_typed_and_may_be_given_typed(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    admin = county.headers(Role.ADMIN)
    rules = (await client.get("/api/v1/referral-rules", headers=admin)).json()
    by_code = {r["code"]: r for r in rules}
    # the national figures: twice penalised within two years, and the prior-penalty metric
    twice = [r for r in rules if "penalties" in r["condition"]]
    assert twice
    for rule in twice:
        p = rule["condition"]["penalties"]
        assert rule["ruleCondition"]["penalties"] == {
            "kind": p["kind"],
            "withinYears": p["within_years"],
            "atLeast": p["at_least"],
        }
    plain = [r for r in by_code.values() if not r["condition"]]
    assert plain and all(r["ruleCondition"] == {} for r in plain)

    new = {
        "code": "test.prior_mining",
        "violationKind": "illegal_mining",
        "crime": "非法采矿罪",
        "article": "343",
        "metric": "prior_penalties",
        "threshold": "2",
        "unit": "count",
        "citation": "两年内曾因非法采矿受过两次以上行政处罚",
        "effectiveFrom": "2999-01-01",
        "condition": {"penalty_kind": "land_occupation", "within_years": 9},  # not used
        "ruleCondition": {"penaltyKind": "illegal_mining", "withinYears": 2},
    }
    resp = await client.post("/api/v1/referral-rules", json=new, headers=admin)
    assert resp.status_code == 201, resp.text
    rule = resp.json()
    assert rule["condition"] == {"penalty_kind": "illegal_mining", "within_years": 2}
    assert rule["ruleCondition"] == {"penaltyKind": "illegal_mining", "withinYears": 2}

    bad = {**new, "code": "test.bad", "ruleCondition": {"penaltyKind": "poaching"}}
    resp = await client.post("/api/v1/referral-rules", json=bad, headers=admin)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "validation_error"
