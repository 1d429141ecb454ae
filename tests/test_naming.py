"""One camelCase rule on the wire: names renamed outside a Struct agree with msgspec's."""

from __future__ import annotations

import importlib
import pkgutil

import msgspec
import pytest

import mobile_contract.v1
from mobile_contract.naming import camel


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("patrol_id", "patrolId"),
        ("occupied_area_m2", "occupiedAreaM2"),
        ("area_m2_by_class", "areaM2ByClass"),
        ("retry_after_s", "retryAfterS"),
        ("a__b", "aB"),
        ("ab_cD", "abCd"),
        ("name_", "name"),
        ("_x", "_x"),
        ("id", "id"),
    ],
)
def test_names_are_renamed_as_msgspec_renames_fields(name: str, wire: str) -> None:
    assert camel(name) == wire


#: Fields named on purpose, not by the rule (``partMd5s`` reads better than ``partMd5S``).
NAMED = {("CreateUploadRequest", "part_md5s")}


def test_every_contract_field_has_the_wire_name_camel_gives() -> None:
    seen = 0
    for info in pkgutil.iter_modules(mobile_contract.v1.__path__):
        module = importlib.import_module(f"mobile_contract.v1.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, msgspec.Struct):
                for f in msgspec.structs.fields(value):
                    if f.encode_name != f.name and (value.__name__, f.name) not in NAMED:
                        assert camel(f.name) == f.encode_name, (value.__name__, f.name)
                        seen += 1
    assert seen > 100
