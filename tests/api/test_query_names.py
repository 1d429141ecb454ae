"""Query parameters and form fields by their camelCase or declared names; unknown ones refused.

Bodies are camelCase, and so may be the query: ``uploaderId`` is ``uploader_id``. A name a
route does not take is a 400 ``unknown_parameter`` naming it, not silently ignored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.scope import Role
from tests.api.test_evidence_api import WHEN, _photo, _upload
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
API = "/api/v1"
IMPORT = "/api/v1/geofence/layers/import"


def _problem(resp: Any, where: str, name: str) -> dict[str, Any]:
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["code"] == "unknown_parameter"
    assert body["details"]["in"] == where and body["details"]["parameter"] == name
    assert body["errors"] == [{"field": name, "message": body["errors"][0]["message"]}]
    return body


async def test_camel_and_snake_query_names_give_the_same_answer(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    body = await _upload(client, county, Role.INSPECTOR, _photo())
    captain = county.headers(Role.CAPTAIN)
    inspector = county.users[Role.INSPECTOR].id
    since = WHEN.replace(hour=0).isoformat()
    cases: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            "/api/v1/evidence",
            {"uploaderId": str(inspector), "capturedFrom": since, "limit": 5},
            {"uploader_id": str(inspector), "captured_from": since, "limit": 5},
        ),
        ("/api/v1/areas", {"mineOnly": "true", "includeInactive": "true"}, {}),
        ("/api/v1/patrols", {"inspectorId": str(inspector), "areaId": str(uuid.uuid4())}, {}),
        ("/api/v1/cases", {"violationKind": "land_occupation", "openedSince": since}, {}),
    ]
    for path, camel, given in cases:
        snake = given or {_snake(k): v for k, v in camel.items()}
        by_camel = await client.get(path, params=camel, headers=captain)
        by_snake = await client.get(path, params=snake, headers=captain)
        assert by_camel.status_code == 200, (path, by_camel.text)
        assert by_camel.json() == by_snake.json(), path
    # the camelCase name takes effect (it is not ignored): another uploader, no evidence
    listed = await client.get("/api/v1/evidence", params={"limit": 5}, headers=captain)
    assert [e["id"] for e in listed.json()["items"]] == [body["id"]]
    other = await client.get(
        "/api/v1/evidence", params={"uploaderId": str(uuid.uuid4())}, headers=captain
    )
    assert other.json()["items"] == []
    # and so are the declared bounds: limit=0 is refused whatever the spelling
    bad = await client.get("/api/v1/evidence", params={"limit": 0}, headers=captain)
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"


def _snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


async def test_an_unknown_query_parameter_is_refused(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    captain = county.headers(Role.CAPTAIN)
    resp = await client.get("/api/v1/evidence", params={"patrolID": "x"}, headers=captain)
    body = _problem(resp, "query", "patrolID")
    assert "patrolId" in body["details"]["accepted"] and "limit" in body["details"]["accepted"]
    assert "patrolID" in body["detail"]  # Chinese by default, naming the parameter
    en = await client.get("/api/v1/evidence?bogus=1", headers={**captain, "Accept-Language": "en"})
    assert "bogus" in _problem(en, "query", "bogus")["detail"]
    # a route without query parameters takes none
    me = await client.get("/api/v1/me?verbose=1", headers=captain)
    assert _problem(me, "query", "verbose")["details"]["accepted"] == []
    # the NUL guard still comes first
    nul = await client.get("/api/v1/evidence?a%00b=1", headers=captain)
    assert nul.status_code == 422 and nul.json()["code"] == "invalid_character"


def _geojson() -> bytes:
    ring = [[112.1, 28.5], [112.101, 28.5], [112.101, 28.501], [112.1, 28.501], [112.1, 28.5]]
    feature = {
        "type": "Feature",
        "properties": {"CODE": "0101"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


async def _import(client: Client, county: CountyFixture, **form: str) -> Any:
    return await client.post(
        IMPORT,
        headers=county.headers(Role.ADMIN),
        files={"file": ("parcels.geojson", _geojson(), "application/octet-stream")},
        data={"kind": "parcels", **form},
    )


async def test_layer_upload_form_fields_by_either_name(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    # fieldMap is read (it was ignored before): a malformed one is refused like field_map
    for name in ("fieldMap", "field_map"):
        resp = await _import(client, county, **{name: "nonsense"})
        assert resp.status_code == 422, resp.text
        assert [e["field"] for e in resp.json()["errors"]] == ["field_map"]
    by_camel = await _import(client, county, fieldMap="source_code=CODE", dryRun="true")
    by_snake = await _import(client, county, field_map="source_code=CODE", dry_run="true")
    assert by_camel.status_code == by_snake.status_code == 200, by_camel.text
    assert by_camel.json() == by_snake.json()
    assert by_camel.json()["dryRun"] is True and by_camel.json()["versionNo"] == 0
    assert by_camel.json()["read"] == 1


async def test_an_unknown_form_field_is_refused(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    resp = await _import(client, county, fieldmapping="source_code=CODE")
    body = _problem(resp, "form", "fieldmapping")
    assert {"fieldMap", "dryRun", "file", "kind"} <= set(body["details"]["accepted"])


async def test_one_form_field_under_both_names_is_refused(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    resp = await _import(client, county, fieldMap="source_code=CODE", field_map="x=CODE")
    assert resp.status_code == 400 and resp.json()["code"] == "validation_error", resp.text


async def test_the_document_names_the_camel_case_aliases(client: Client) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    listing = doc["paths"]["/api/v1/evidence"]["get"]["parameters"]
    by_name = {p["name"]: p for p in listing}
    assert by_name["uploader_id"]["x-aliases"] == ["uploaderId"]
    assert "`uploaderId`" in by_name["uploader_id"]["description"]
    assert "x-aliases" not in by_name["limit"]  # one word: its own camelCase
    assert doc["components"]["schemas"]["LayerUpload"]["additionalProperties"] is False
    form = doc["components"]["schemas"]["LayerUpload"]["properties"]
    assert "`fieldMap`" in form["field_map"]["description"]
    assert "`dryRun`" in form["dry_run"]["description"]
    for status in ("400",):
        codes = doc["paths"]["/api/v1/evidence"]["get"]["responses"][status]["x-problem-codes"]
        assert "unknown_parameter" in codes


async def test_options_answers_whatever_the_query(client: Client) -> None:
    resp = await client.options("/api/v1/evidence?patrolId=x&anything=1")
    assert resp.status_code == 204, resp.text


async def test_a_time_in_the_query_is_rfc_3339_or_refused(
    client: Client, make_county: Callable[..., Awaitable[CountyFixture]]
) -> None:
    """Litestar alone would read ``0`` or ``1.5`` as a Unix time and ``null`` as no value;
    the document says date-time (with its offset) or date, and so does the answer."""
    county = await make_county()
    h = county.headers(Role.CAPTAIN)
    for path, name in (("/cases", "openedSince"), ("/tip-offs", "receivedTo")):
        for bad in ("0", "1.5", "null", "2026-11-18T10:00:00", "2026-11-18"):
            resp = await client.get(f"{API}{path}", params={name: bad}, headers=h)
            assert resp.status_code == 400, (path, bad, resp.text)
            problem = resp.json()
            assert problem["code"] == "validation_error"
            assert problem["details"] == {"parameter": name, "in": "query"}
        for good in ("2026-11-18T10:00:00Z", "2026-11-18T10:00:00.5+08:00"):
            resp = await client.get(f"{API}{path}", params={name: good}, headers=h)
            assert resp.status_code == 200, (path, good, resp.text)
    for bad in ("0", "2026-11-18T10:00:00Z", "null"):
        resp = await client.get(f"{API}/petitions", params={"receivedFrom": bad}, headers=h)
        assert (resp.status_code, resp.json()["code"]) == (400, "validation_error"), bad
    resp = await client.get(f"{API}/petitions", params={"receivedFrom": "2026-11-18"}, headers=h)
    assert resp.status_code == 200, resp.text
