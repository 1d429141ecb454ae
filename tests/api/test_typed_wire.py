"""The typed members beside the untyped ones: the same facts, camelCase keys throughout.

``trustInfo``, ``fileMetadata`` (evidence) and ``entryDetails`` (custody entries) say what
the deprecated ``trust``, ``fileMeta`` and ``details`` say, through the real app: the photo
goes to rclone S3 by the presigned request, the API verifies it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.controllers.evidence import _typed
from infra.scope import Role
from mobile_contract.naming import camel
from mobile_contract.v1 import evidence as c
from tests.api.test_evidence_api import _photo, _upload
from tests.conftest import CountyFixture

Client = AsyncTestClient[Litestar]
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _as_typed(value: Any) -> Any:
    """An untyped snake_case object as its typed member shows it: camelCase keys, nulls
    left out (absent means not known)."""
    if isinstance(value, dict):
        return {camel(k): _as_typed(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_as_typed(v) for v in value]
    return value


def _same(typed: Any, old: Any) -> bool:
    """Equal, with times compared as instants (``Z`` and ``+00:00`` are one time)."""
    if isinstance(typed, dict) and isinstance(old, dict):
        return typed.keys() == old.keys() and all(_same(typed[k], old[k]) for k in typed)
    if isinstance(typed, list) and isinstance(old, list):
        return len(typed) == len(old) and all(_same(a, b) for a, b in zip(typed, old, strict=True))
    if isinstance(typed, str) and isinstance(old, str) and typed != old:
        try:
            return datetime.fromisoformat(typed) == datetime.fromisoformat(old)
        except ValueError:
            return False
    return bool(typed == old)


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


def _assert_typed_equals_old(body: dict[str, Any]) -> None:
    assert _same(body["trustInfo"], _as_typed(body["trust"])), (body["trustInfo"], body["trust"])
    assert _same(body["fileMetadata"], _as_typed(body["fileMeta"])), body["fileMetadata"]
    for key in [*_keys(body["trustInfo"]), *_keys(body["fileMetadata"])]:
        assert CAMEL.match(key), key


async def test_an_evidence_answer_carries_the_typed_members(
    client: Client, make_county: Any
) -> None:
    county: CountyFixture = await make_county()
    body = await _upload(client, county, Role.INSPECTOR, _photo())
    _assert_typed_equals_old(body)
    # the facts a phone reads: why this position, how far the device fix was, the file's GPS
    trust, meta = body["trustInfo"], body["fileMetadata"]
    assert trust["positionReason"] == body["trust"]["position_reason"]
    assert trust["inCounty"] is True
    assert trust["deviceFix"] == {"lon": 112.1, "lat": 28.5, "crs": "wgs84", "accuracyM": 6.0}
    assert trust["exifVsDeviceDistanceM"] == body["trust"]["exif_vs_device_distance_m"]
    assert meta["gps"]["hpeM"] == 5.0 == body["fileMeta"]["gps"]["hpe_m"]
    assert meta["mediaType"] == "image/jpeg" and meta["width"] == 640
    assert meta["capturedSource"] == body["fileMeta"]["captured_source"]

    headers = county.headers(Role.CAPTAIN)
    one = await client.get(f"/api/v1/evidence/{body['id']}", headers=headers)
    assert one.status_code == 200, one.text
    _assert_typed_equals_old(one.json())
    assert one.json()["trustInfo"] == trust and one.json()["fileMetadata"] == meta
    listed = await client.get("/api/v1/evidence", headers=headers)
    [item] = [e for e in listed.json()["items"] if e["id"] == body["id"]]
    _assert_typed_equals_old(item)


async def test_custody_entries_carry_typed_details(client: Client, make_county: Any) -> None:
    county: CountyFixture = await make_county()
    body = await _upload(client, county, Role.INSPECTOR, _photo())
    captain = county.headers(Role.CAPTAIN)
    url = f"/api/v1/evidence/{body['id']}"
    for inline in (True, False):
        resp = await client.post(f"{url}/original-url", json={"inline": inline}, headers=captain)
        assert resp.status_code == 200, resp.text
    flag = {"flag": "needs_review", "note": "位置待核"}
    assert (await client.post(f"{url}/flags", json=flag, headers=captain)).status_code == 200

    custody = await client.get(f"{url}/custody", headers=captain)
    assert custody.status_code == 200, custody.text
    every = custody.json()["entries"]
    for entry in every:
        assert _same(entry["entryDetails"], _as_typed(entry["details"])), entry
        assert all(CAMEL.match(k) for k in _keys(entry["entryDetails"]))
    entries = [e for e in every if e["action"] != "derivative_created"]  # if a worker ran
    assert [e["action"] for e in entries] == ["accepted", "viewed", "downloaded", "flagged"]
    accepted, viewed, _downloaded, flagged = (e["entryDetails"] for e in entries)
    assert accepted["sha256"] == body["sha256"] and accepted["sizeBytes"] == body["sizeBytes"]
    assert accepted["uploaderId"] == body["uploaderId"]
    assert accepted["flags"] == entries[0]["details"]["flags"]
    assert viewed["role"] == "captain" and "expiresAt" in viewed
    assert flagged == {"flag": "needs_review", "note": "位置待核"}


def test_an_annotation_entry_keeps_a_cleared_value() -> None:
    details = {
        "changes": {"view_type": {"from": "far", "to": None}, "caption": {"from": "", "to": "东"}},
        "version_before": 7,
    }
    typed = _typed(c.CustodyDetails, details)
    assert msgspec.to_builtins(typed) == {
        "changes": {"caption": {"from": "", "to": "东"}, "viewType": {"from": "far", "to": None}},
        "versionBefore": 7,
    }


def test_rows_of_an_older_shape_give_what_can_be_read() -> None:
    """A member of an unexpected type, or a GPS block without its position, is left out of
    the typed member (it stays in the untyped one) instead of failing the answer."""
    old = {"make": "TestMake", "width": "wide", "gps": {"lat": 28.5}, "extra": 1}
    assert msgspec.to_builtins(_typed(c.FileMetadata, old)) == {"make": "TestMake"}
    assert msgspec.to_builtins(_typed(c.EvidenceTrust, {})) == {}
    trust = {"device_fix": {"lon": 1, "lat": 2, "crs": "wgs84", "accuracy_m": 5}, "x": "y"}
    assert msgspec.to_builtins(_typed(c.EvidenceTrust, trust)) == {
        "deviceFix": {"lon": 1.0, "lat": 2.0, "crs": "wgs84", "accuracyM": 5.0}
    }


async def test_the_document_marks_the_old_members_deprecated(client: Client) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    for struct, old, new in (
        ("Evidence", "trust", "trustInfo"),
        ("Evidence", "fileMeta", "fileMetadata"),
        ("CustodyEntry", "details", "entryDetails"),
    ):
        props = schemas[struct]["properties"]
        assert props[old]["deprecated"] is True, (struct, old)
        assert new in props[old]["description"]
        assert not props[new].get("deprecated")
        assert new in schemas[struct]["required"]
    for name in ("EvidenceTrust", "FileMetadata", "FileGps", "CustodyDetails"):
        assert all(CAMEL.match(k) for k in schemas[name]["properties"]), name
