"""The committed v1 contract still holds, and the breaking-change check itself is right."""

from __future__ import annotations

import copy
import json
from typing import Any

from api.cli import CONTRACT_FILE, openapi_document
from mobile_contract.compat import breaking_changes


def _committed() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(CONTRACT_FILE.read_text())
    return doc


def test_running_app_does_not_break_installed_apps() -> None:
    problems = breaking_changes(_committed(), openapi_document())
    assert problems == [], (
        "breaking changes against mobile_contract/v1/openapi.json:\n" + "\n".join(problems)
    )


def _find_op(doc: dict[str, Any], op_id: str) -> dict[str, Any]:
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == op_id:
                return op
    raise KeyError(op_id)


def test_breaking_changes_are_caught() -> None:
    old = _committed()
    schemas = old["components"]["schemas"]

    removed = copy.deepcopy(old)
    _find_op(removed, "GetMe")["operationId"] = "GetMyself"
    assert any("GetMe: operation removed" in p for p in breaking_changes(old, removed))

    retyped = copy.deepcopy(old)
    retyped["components"]["schemas"]["TokenPair"]["properties"]["expiresIn"] = {"type": "string"}
    assert any("expiresIn: type changed" in p for p in breaking_changes(old, retyped))

    dropped = copy.deepcopy(old)
    del dropped["components"]["schemas"]["Me"]["properties"]["displayName"]
    assert any("displayName: field removed" in p for p in breaking_changes(old, dropped))

    required = copy.deepcopy(old)
    login = required["components"]["schemas"]["TokenRequest"]
    login["properties"]["otp"] = {"type": "string"}
    login["required"] = [*login["required"], "otp"]
    assert any("otp: new required field" in p for p in breaking_changes(old, required))

    enum_name = next(n for n, s in schemas.items() if s.get("enum") and "inspector" in s["enum"])
    narrowed = copy.deepcopy(old)
    narrowed["components"]["schemas"][enum_name]["enum"].remove("joint_team")
    assert any("accepted values removed" in p for p in breaking_changes(old, narrowed))


def test_additive_changes_pass() -> None:
    old = _committed()
    new = copy.deepcopy(old)
    new["paths"]["/api/v1/brand-new"] = {"get": {"operationId": "BrandNew", "responses": {}}}
    login = new["components"]["schemas"]["TokenRequest"]
    login["properties"]["deviceName"] = {"type": "string"}
    new["components"]["schemas"]["Me"]["properties"]["avatarUrl"] = {"type": "string"}
    new["components"]["schemas"]["Me"]["required"].append("avatarUrl")
    assert breaking_changes(old, new) == []
