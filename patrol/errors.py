"""Errors of the field-work services, each with a stable ``code``.

::

    NotFoundError (404)
    ├── AreaNotFoundError           area_not_found
    ├── TargetNotFoundError         target_not_found
    ├── RuleNotFoundError           rule_not_found
    ├── PatrolNotFoundError         patrol_not_found
    ├── VillageNotFoundError        village_not_found
    ├── FindingNotFoundError        finding_not_found
    ├── SiteNotFoundError           site_not_found       (no roster for that site)
    └── AlertNotFoundError          alert_not_found
    PermissionDeniedError (403)     role_not_allowed     (the role may not do this)
    ├── NotAreaMemberError          not_area_member      (a patrol for someone else's area)
    ├── NotPatrolOwnerError         not_patrol_owner     (someone else's patrol), or
    │                               not_finding_editor   (a finding the caller may not edit)
    └── NotRosterMemberError        not_roster_member    (a duty check for someone else)
    ConflictError (409)
    ├── PatrolAlreadyEndedError     patrol_already_ended (ended again at another time; a
    │                                                     sign-in or finding after the end)
    ├── IdReusedError               id_reused            (a client id names something else)
    ├── DuplicateCodeError          duplicate_code
    └── DuplicateCountyError        duplicate_county     (a county admin code already used)
    InvalidInputError (422)
    ├── InvalidPatrolInputError     invalid_patrol_input, or a specific code: invalid_time,
    │                               invalid_coordinates, invalid_accuracy, invalid_geometry,
    │                               invalid_grade, invalid_rule, invalid_radius,
    │                               invalid_target_kind, invalid_status, invalid_month,
    │                               manual_sign_in_needs_reason, too_many_points,
    │                               area_inactive, target_inactive, unknown_target,
    │                               unknown_user
    └── (InvalidInputError itself)  unknown_user, unknown_township, unknown_village

Per-point problems in a track batch are not errors: the batch is stored and the answer lists
each rejected point with its reason (see :class:`patrol.tracks.AppendResult`).
"""

from __future__ import annotations

from infra import error_codes as codes
from infra.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

__all__ = [
    "AlertNotFoundError",
    "AreaNotFoundError",
    "DuplicateCodeError",
    "DuplicateCountyError",
    "FindingNotFoundError",
    "IdReusedError",
    "InvalidPatrolInputError",
    "NotAreaMemberError",
    "NotPatrolOwnerError",
    "NotRosterMemberError",
    "PatrolAlreadyEndedError",
    "PatrolNotFoundError",
    "RuleNotFoundError",
    "SiteNotFoundError",
    "TargetNotFoundError",
    "VillageNotFoundError",
]


class AreaNotFoundError(NotFoundError):
    default_code = codes.AREA_NOT_FOUND


class TargetNotFoundError(NotFoundError):
    default_code = codes.TARGET_NOT_FOUND


class RuleNotFoundError(NotFoundError):
    default_code = codes.RULE_NOT_FOUND


class PatrolNotFoundError(NotFoundError):
    default_code = codes.PATROL_NOT_FOUND


class VillageNotFoundError(NotFoundError):
    default_code = codes.VILLAGE_NOT_FOUND


class FindingNotFoundError(NotFoundError):
    default_code = codes.FINDING_NOT_FOUND


class SiteNotFoundError(NotFoundError):
    default_code = codes.SITE_NOT_FOUND


class AlertNotFoundError(NotFoundError):
    default_code = codes.ALERT_NOT_FOUND


class NotAreaMemberError(PermissionDeniedError):
    default_code = codes.NOT_AREA_MEMBER


class NotPatrolOwnerError(PermissionDeniedError):
    default_code = codes.NOT_PATROL_OWNER


class NotRosterMemberError(PermissionDeniedError):
    default_code = codes.NOT_ROSTER_MEMBER


class PatrolAlreadyEndedError(ConflictError):
    default_code = codes.PATROL_ALREADY_ENDED


class IdReusedError(ConflictError):
    default_code = codes.ID_REUSED


class DuplicateCodeError(ConflictError):
    default_code = codes.DUPLICATE_CODE


class DuplicateCountyError(ConflictError):
    default_code = codes.DUPLICATE_COUNTY


class InvalidPatrolInputError(InvalidInputError):
    default_code = codes.INVALID_PATROL_INPUT
