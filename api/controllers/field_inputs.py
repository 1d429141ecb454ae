"""The domain inputs of the field record, built from the wire the same way for REST and sync.

A REST body (``mobile_contract.v1.patrol``: ``PatrolStart``, ``SignInCreate``, ...) and a
push operation (``mobile_contract.v1.sync``: ``StartPatrolOp``, ``SignInOp``, ...) carry the
same fields under the same names; the ids come from the path for REST and from the operation
for sync. Enumerated values reach the domain as their plain text, which the domain checks
(``patrol.sessions.SIGN_IN_METHODS``, ``MANUAL_REASONS``, ``CONSTRUCTION_STATUSES``,
``patrol.duty.CHECK_STATUSES``, ``patrol.verification.OUTCOMES``): REST refuses other values
on the wire, a push operation gets the domain's refusal in its receipt.
"""

from __future__ import annotations

import uuid

from mobile_contract.v1 import patrol as rest
from mobile_contract.v1 import sync as wire
from patrol.duty import DutyCheckInput
from patrol.sessions import EndPatrolInput, FindingInput, SignInInput, StartPatrolInput
from patrol.verification import TargetVerificationInput

__all__ = [
    "duty_check_input",
    "end_input",
    "finding_input",
    "sign_in_input",
    "start_input",
    "verification_input",
]


def _text(value: str | None) -> str | None:
    """An enum member's value, or the text as it came."""
    return None if value is None else str(value)


def start_input(
    patrol_id: uuid.UUID, data: rest.PatrolStart | wire.StartPatrolOp
) -> StartPatrolInput:
    return StartPatrolInput(
        patrol_id=patrol_id,
        area_id=data.area_id,
        started_at=data.started_at,
        companion_ids=tuple(data.companion_ids),
        note=data.note,
    )


def end_input(patrol_id: uuid.UUID, data: rest.PatrolEnd | wire.EndPatrolOp) -> EndPatrolInput:
    return EndPatrolInput(patrol_id=patrol_id, ended_at=data.ended_at, note=data.note)


def sign_in_input(
    patrol_id: uuid.UUID, sign_in_id: uuid.UUID, data: rest.SignInCreate | wire.SignInOp
) -> SignInInput:
    return SignInInput(
        patrol_id=patrol_id,
        sign_in_id=sign_in_id,
        at=data.at,
        method=str(data.method),
        lon=data.lon,
        lat=data.lat,
        accuracy_m=data.accuracy_m,
        reason_code=_text(data.reason_code),
        village_id=data.village_id,
        address=data.address,
    )


def finding_input(
    patrol_id: uuid.UUID, finding_id: uuid.UUID, data: rest.FindingCreate | wire.RecordFindingOp
) -> FindingInput:
    return FindingInput(
        patrol_id=patrol_id,
        finding_id=finding_id,
        found_at=data.found_at,
        project_name=data.project_name,
        construction_status=str(data.construction_status),
        lon=data.lon,
        lat=data.lat,
        accuracy_m=data.accuracy_m,
        builder=data.builder,
        construction_started_on=data.construction_started_on,
        occupied_area_m2=data.occupied_area_m2,
        township_id=data.township_id,
        village_id=data.village_id,
        note=data.note,
        outline=data.outline,
    )


def duty_check_input(
    check_id: uuid.UUID, data: rest.DutyCheckCreate | wire.DutyCheckOp
) -> DutyCheckInput:
    return DutyCheckInput(
        check_id=check_id,
        site_id=data.site_id,
        checked_at=data.checked_at,
        status=str(data.status),
        member_id=data.member_id,
        is_night=data.is_night,
        note=data.note,
        evidence_ids=tuple(data.evidence_ids),
    )


def verification_input(
    target_id: uuid.UUID,
    verification_id: uuid.UUID,
    data: rest.TargetVerificationCreate | wire.RecordTargetVerificationOp,
) -> TargetVerificationInput:
    return TargetVerificationInput(
        target_id=target_id,
        verification_id=verification_id,
        outcome=str(data.outcome),
        verified_at=data.verified_at,
        patrol_id=data.patrol_id,
        note=data.note,
        finding_ids=tuple(data.finding_ids),
        evidence_ids=tuple(data.evidence_ids),
    )
