"""The one mapping from domain views to wire Structs, and the views it maps."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

import msgspec
import pytest

from api.mapping import to_wire, to_wire_list
from mobile_contract.v1 import patrol as c
from patrol.areas import AreaView, TargetView
from patrol.coverage import AreaCoverage, Coverage, InspectorCoverage, LiveBoard, LiveInspector
from patrol.coverage import WeekCoverage as WeekView
from patrol.duty import DutyCompliance
from patrol.plans import PlanTarget, PlanView, Requirement
from patrol.verification import VerificationView


class _Kind(enum.StrEnum):
    ONE = "one"


class _Inner(msgspec.Struct, kw_only=True, rename="camel"):
    min_count: int


class _Out(msgspec.Struct, kw_only=True, rename="camel"):
    some_id: uuid.UUID
    kind: _Kind
    inner: _Inner
    total: int
    label: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class _InnerView:
    min_count: int


@dataclass(frozen=True, slots=True)
class _View:
    some_id: uuid.UUID
    kind: str
    inner: _InnerView
    parts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.parts)


@dataclass(frozen=True, slots=True)
class _Extra:
    label: str
    total: int


def test_attributes_nested_views_properties_and_enums_convert_by_python_name() -> None:
    view = _View(uuid.uuid4(), "one", _InnerView(3), (1, 2))
    out = to_wire(_Out, view, label="x")
    assert out == _Out(
        some_id=view.some_id, kind=_Kind.ONE, inner=_Inner(min_count=3), total=3, label="x"
    )
    assert msgspec.json.decode(msgspec.json.encode(out))["inner"] == {"minCount": 3}


def test_keywords_come_first_then_the_views_in_order() -> None:
    view = _View(uuid.uuid4(), "one", _InnerView(3), (1, 2))
    out = to_wire(_Out, view, _Extra(label="from extra", total=99), kind="one")
    assert (out.total, out.label, out.note) == (3, "from extra", None)
    assert to_wire(_Out, view, _Extra("l", 0), total=7, note="n").total == 7


def test_a_missing_required_field_or_a_wrong_value_is_an_error() -> None:
    view = _View(uuid.uuid4(), "one", _InnerView(3), (1, 2))
    with pytest.raises(msgspec.ValidationError):
        to_wire(_Out, view)  # no label
    with pytest.raises(msgspec.ValidationError):
        to_wire(_Out, view, label="x", kind="two")


def test_lists() -> None:
    views = [_InnerView(1), _InnerView(2)]
    assert to_wire_list(_Inner, views) == [_Inner(min_count=1), _Inner(min_count=2)]


#: The patrol views the API maps as they are, with the fields it computes.
_PAIRS: list[tuple[type, type[msgspec.Struct], set[str]]] = [
    (AreaView, c.Area, set()),
    (TargetView, c.Target, set()),
    (PlanView, c.Plan, {"month"}),
    (PlanTarget, c.PlanTarget, set()),
    (Requirement, c.Requirement, set()),
    (Coverage, c.Coverage, {"month"}),
    (AreaCoverage, c.AreaCoverage, set()),
    (WeekView, c.WeekCoverage, set()),
    (InspectorCoverage, c.InspectorCoverage, set()),
    (DutyCompliance, c.DutyCompliance, set()),
    (LiveBoard, c.LiveStatus, set()),
    (LiveInspector, c.LiveInspector, set()),
    (VerificationView, c.TargetVerification, set()),
]


@pytest.mark.parametrize(
    ("view", "struct", "computed"), _PAIRS, ids=lambda x: getattr(x, "__name__", "")
)
def test_every_wire_field_has_an_attribute_of_the_same_name(
    view: type, struct: type[msgspec.Struct], computed: set[str]
) -> None:
    """A field the view lacks would silently keep its default on the wire."""
    missing = [f for f in struct.__struct_fields__ if f not in computed and not hasattr(view, f)]
    assert missing == []
