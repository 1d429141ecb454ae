"""Bodies decoded straight into their contract type read the same as through the guard.

A body whose type holds only numbers with a fraction, booleans, enumerations, identifiers and
times skips the plain-value walk (``api.decoding.typed_decoder``); what that decoding refuses
goes the guard's whole way, so every answer, accepted or refused, is the guard's.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from litestar.exceptions import ValidationException
from litestar.types import Empty

from api.decoding import _decode_typed, check_value, decode_body, read_strictly, typed_decoder
from infra.errors import InvalidInputError
from mobile_contract.v1.cases import CaseCreate
from mobile_contract.v1.geofence import CheckLocationRequest, CheckLocationsRequest
from mobile_contract.v1.patrol import TrackBatch

POINTS = {
    "points": [
        {"lon": 112.1, "lat": 28.5, "accuracyM": 8},
        {"lon": 112, "lat": 28, "accuracyM": 0.5},
    ]
}


def _guarded(body: bytes, target: Any) -> Any:
    value = decode_body(body, msgpack=False)
    check_value(value)
    return read_strictly(value, target)


def _typed(body: bytes, target: Any) -> Any:
    decoder = typed_decoder(target)
    assert decoder is not None
    return _decode_typed(decoder, body)


def test_only_types_without_text_integers_or_untyped_values_are_decoded_straight() -> None:
    assert typed_decoder(CheckLocationsRequest) is not None
    assert typed_decoder(CheckLocationRequest) is not None
    assert typed_decoder(TrackBatch) is not None
    assert typed_decoder(CaseCreate) is None  # free text: NUL characters are the guard's
    assert typed_decoder(Any) is None
    assert typed_decoder(dict[str, Any]) is None
    assert typed_decoder(list[float]) is None  # not a body type of the contract


def test_an_accepted_body_reads_the_same_either_way() -> None:
    for body in (POINTS, {**POINTS, "crs": "gcj02", "kinds": ["parcels", "mine_sites"]}):
        raw = json.dumps(body).encode()
        typed = _typed(raw, CheckLocationsRequest)
        assert typed == _guarded(raw, CheckLocationsRequest)
        assert [p.lon for p in typed.points] == [112.1, 112.0]  # a whole number is a float here
        assert all(type(p.lon) is float for p in typed.points)


def test_fields_the_type_does_not_name_are_skipped() -> None:
    raw = json.dumps({**POINTS, "note": "x", "extra": [[[1]]]}).encode()
    assert _typed(raw, CheckLocationsRequest) == _guarded(raw, CheckLocationsRequest)


@pytest.mark.parametrize(
    ("body", "refusal", "code"),
    [
        ({"points": [{"lon": 200.0, "lat": 28.5, "accuracyM": 8}]}, ValidationException, None),
        ({"points": [{"lon": "112.1", "lat": 28.5, "accuracyM": 8}]}, ValidationException, None),
        ({"points": [{"lat": 28.5, "accuracyM": 8}]}, ValidationException, None),
        ({**POINTS, "kinds": ["parc\x00els"]}, InvalidInputError, "invalid_character"),
        ({**POINTS, "crs": "wgs\x0084"}, InvalidInputError, "invalid_character"),
        ({"points": [{"lon": 112.1, "lat": 28.5, "accuracyM": 8}] * 10_001}, ValidationException,
         None),
    ],
    ids=["out of range", "text for a number", "missing", "nul in an enum list", "nul in an enum",
         "too many points"],
)  # fmt: skip
def test_a_refused_body_goes_the_guards_whole_way(
    body: dict[str, Any], refusal: type[Exception], code: str | None
) -> None:
    raw = json.dumps(body).encode()
    assert _typed(raw, CheckLocationsRequest) is Empty
    with pytest.raises(refusal) as caught:
        _guarded(raw, CheckLocationsRequest)
    if code is not None:
        assert getattr(caught.value, "code", None) == code


def test_a_body_nested_beyond_reason_is_left_to_the_guard() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    assert _typed(raw, CheckLocationRequest) is Empty
    with pytest.raises(InvalidInputError) as caught:
        _guarded(raw, CheckLocationRequest)
    assert caught.value.code == "nesting_too_deep"


def test_identifiers_and_times_are_parsed_by_the_type() -> None:
    point: dict[str, Any] = {
        "id": str(uuid.uuid4()), "t": "2026-12-06T08:00:00+08:00", "lon": 112.1, "lat": 28.5,
        "accuracyM": 6.0,
    }  # fmt: skip
    good = json.dumps({"points": [point]}).encode()
    assert _typed(good, TrackBatch) == _guarded(good, TrackBatch)
    for field, value in (("id", point["id"][:-1] + "\x00"), ("t", "2026-12-06T08:00\x00")):
        bad = json.dumps({"points": [{**point, field: value}]}).encode()
        assert _typed(bad, TrackBatch) is Empty
        with pytest.raises(InvalidInputError) as caught:
            _guarded(bad, TrackBatch)
        assert caught.value.code == "invalid_character"
