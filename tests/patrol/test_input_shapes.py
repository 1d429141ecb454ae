"""One input per field action: REST bodies and push operations build the same domain input,
and the values the REST enums accept are the ones the domain checks for sync."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from api.controllers import field_inputs as inputs
from mobile_contract.v1 import patrol as rest
from mobile_contract.v1 import sync as wire
from patrol.duty import CHECK_STATUSES
from patrol.sessions import CONSTRUCTION_STATUSES, MANUAL_REASONS, SIGN_IN_METHODS

_PATROL, _ITEM, _OP = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_rest_enums_are_the_values_the_domain_checks() -> None:
    assert tuple(rest.SignInMethodName) == SIGN_IN_METHODS
    assert tuple(rest.ManualReasonName) == MANUAL_REASONS
    assert tuple(rest.ConstructionStatusName) == CONSTRUCTION_STATUSES
    assert tuple(rest.DutyCheckStatusName) == CHECK_STATUSES


def _both(
    rest_type: type[Any], op_type: type[Any], body: dict[str, Any], ids: dict[str, Any]
) -> tuple[Any, Any]:
    tag = op_type.__struct_config__.tag
    op = msgspec.convert({"type": tag, "opId": str(_OP), **ids, **body}, op_type)
    return msgspec.convert(body, rest_type), op


def test_rest_and_sync_build_the_same_inputs() -> None:
    start = {"areaId": str(uuid.uuid4()), "startedAt": "2026-11-20T08:00:00+08:00",
             "companionIds": [str(uuid.uuid4())], "note": "n"}  # fmt: skip
    a, b = _both(rest.PatrolStart, wire.StartPatrolOp, start, {"patrolId": str(_PATROL)})
    assert inputs.start_input(_PATROL, a) == inputs.start_input(b.patrol_id, b)
    end = {"endedAt": "2026-11-20T11:00:00+08:00"}
    a, b = _both(rest.PatrolEnd, wire.EndPatrolOp, end, {"patrolId": str(_PATROL)})
    assert inputs.end_input(_PATROL, a) == inputs.end_input(b.patrol_id, b)
    sign = {"at": "2026-11-20T08:10:00+08:00", "method": "manual", "reasonCode": "indoor",
            "villageId": str(uuid.uuid4()), "address": "村委会"}  # fmt: skip
    ids = {"patrolId": str(_PATROL), "signInId": str(_ITEM)}
    a, b = _both(rest.SignInCreate, wire.SignInOp, sign, ids)
    made = inputs.sign_in_input(_PATROL, _ITEM, a)
    assert made == inputs.sign_in_input(b.patrol_id, b.sign_in_id, b)
    assert type(made.method) is str and type(made.reason_code) is str
    ring = [[112, 28], [112.1, 28], [112.1, 28.1], [112, 28]]
    finding = {"foundAt": "2026-11-20T09:00:00+08:00", "projectName": "厂房",
               "constructionStatus": "other", "lon": 112.0, "lat": 28.0, "note": "x" * 4000,
               "outline": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
    ids = {"patrolId": str(_PATROL), "findingId": str(_ITEM)}
    a, b = _both(rest.FindingCreate, wire.RecordFindingOp, finding, ids)
    made_f = inputs.finding_input(_PATROL, _ITEM, a)
    assert made_f == inputs.finding_input(b.patrol_id, b.finding_id, b)
    assert type(made_f.construction_status) is str
    check = {"siteId": str(uuid.uuid4()), "checkedAt": "2026-11-20T10:00:00+08:00",
             "status": "still_closed", "evidenceIds": [str(uuid.uuid4())]}  # fmt: skip
    a, b = _both(rest.DutyCheckCreate, wire.DutyCheckOp, check, {"checkId": str(_ITEM)})
    assert inputs.duty_check_input(_ITEM, a) == inputs.duty_check_input(b.check_id, b)
