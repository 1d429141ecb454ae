"""Errors of the case, screening, referral and package services, each with a stable ``code``.

::

    NotFoundError (404)
    ├── CaseNotFoundError              case_not_found           unknown, another county's, or
    │                                                           not visible to this role
    ├── ReferralNotFoundError          referral_not_found       the same for referrals
    ├── CaseSourceNotFoundError        case_source_not_found    the finding / change polygon
    ├── RuleNotFoundError              rule_not_found
    └── (CaseNotFoundError)            finding_not_found        flagging an unknown finding
    ConflictError (409)
    ├── CaseStatusTransitionError      invalid_status_transition  e.g. closed -> investigating,
    │                                                           or any move of a case whose
    │                                                           referral is open
    ├── CaseNotFlaggedError            case_not_flagged         a referral needs a flag first
    ├── ReferralAlreadyOpenError       referral_already_open    one open referral per case
    ├── StepOutOfOrderError            step_out_of_order        ``expected_step`` says which
    ├── ReconsiderationClosedError     reconsideration_window_closed  asked after 3 days
    ├── CaseHasNoEvidenceError         case_has_no_evidence     nothing to put in a package
    ├── (ConflictError)                case_no_taken, case_closed (finished cases are
    │                                  read-only and cannot be referred), rule_exists
    └── PackageSourceMismatchError     package_source_mismatch  stored bytes differ from the
                                                                hash taken at intake
    InvalidInputError (422)
    ├── InvalidCaseError               invalid_case             plus specific codes:
    │                                  invalid_violation_kind, invalid_source,
    │                                  invalid_party, invalid_amount, invalid_area,
    │                                  invalid_penalty, invalid_time, invalid_status,
    │                                  reason_required
    ├── UnknownEvidenceError           unknown_evidence         ``evidence_ids`` lists them
    ├── TeamTooSmallError              team_too_small           fewer than 2 officers
    ├── UnknownTeamMemberError         unknown_team_member      not an active user here
    ├── InvalidStepError               invalid_step             plus specific codes:
    │                                  invalid_time (naive, future, before the previous
    │                                  step), reason_required, report_required,
    │                                  police_unit_required, invalid_material,
    │                                  invalid_flag_subject
    ├── MissingMaterialsError          missing_materials        transfer without the letter,
    │                                                           report or list of items
    ├── InvalidRuleError               invalid_rule
    └── PackageTamperedError           package_tampered         raised by
                                                                ``PackageReport.raise_for_problems``
    UnavailableError (503)
    └── PackageSigningKeyMissingError  package_signing_key_missing
"""

from __future__ import annotations

from infra.errors import ConflictError, InvalidInputError, NotFoundError, UnavailableError

__all__ = [
    "CaseHasNoEvidenceError",
    "CaseNotFlaggedError",
    "CaseNotFoundError",
    "CaseSourceNotFoundError",
    "CaseStatusTransitionError",
    "InvalidCaseError",
    "InvalidRuleError",
    "InvalidStepError",
    "MissingMaterialsError",
    "PackageSigningKeyMissingError",
    "PackageSourceMismatchError",
    "PackageTamperedError",
    "ReconsiderationClosedError",
    "ReferralAlreadyOpenError",
    "ReferralNotFoundError",
    "RuleNotFoundError",
    "StepOutOfOrderError",
    "TeamTooSmallError",
    "UnknownEvidenceError",
    "UnknownTeamMemberError",
]


class CaseNotFoundError(NotFoundError):
    default_code = "case_not_found"


class ReferralNotFoundError(NotFoundError):
    default_code = "referral_not_found"


class CaseSourceNotFoundError(NotFoundError):
    default_code = "case_source_not_found"


class RuleNotFoundError(NotFoundError):
    default_code = "rule_not_found"


class CaseStatusTransitionError(ConflictError):
    default_code = "invalid_status_transition"


class CaseNotFlaggedError(ConflictError):
    default_code = "case_not_flagged"


class ReferralAlreadyOpenError(ConflictError):
    default_code = "referral_already_open"


class StepOutOfOrderError(ConflictError):
    default_code = "step_out_of_order"


class ReconsiderationClosedError(ConflictError):
    default_code = "reconsideration_window_closed"


class CaseHasNoEvidenceError(ConflictError):
    default_code = "case_has_no_evidence"


class PackageSourceMismatchError(ConflictError):
    default_code = "package_source_mismatch"


class InvalidCaseError(InvalidInputError):
    default_code = "invalid_case"


class UnknownEvidenceError(InvalidInputError):
    default_code = "unknown_evidence"


class TeamTooSmallError(InvalidInputError):
    default_code = "team_too_small"


class UnknownTeamMemberError(InvalidInputError):
    default_code = "unknown_team_member"


class InvalidStepError(InvalidInputError):
    default_code = "invalid_step"


class MissingMaterialsError(InvalidInputError):
    default_code = "missing_materials"


class InvalidRuleError(InvalidInputError):
    default_code = "invalid_rule"


class PackageTamperedError(InvalidInputError):
    default_code = "package_tampered"


class PackageSigningKeyMissingError(UnavailableError):
    default_code = "package_signing_key_missing"
