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

Petitions (信访, :mod:`evidence.cases.petitions`)::

    PetitionNotFoundError           petition_not_found (404)  unknown or another county's
    PetitionStepOutOfOrderError     petition_step_out_of_order (409)  ``expected_step``
    PetitionAlreadyExtendedError    petition_already_extended (409)  a second extension
    PetitionReviewsExhaustedError   petition_reviews_exhausted (409)  after the re-review
    InvalidPetitionError            invalid_petition (422)  plus specific codes:
                                    invalid_time, reason_required,
                                    petition_extension_too_long,
                                    petition_review_window_closed
Tip-offs (12336 clues) and the working-day calendar::

    TipOffNotFoundError (404)          tip_off_not_found        unknown or another county's
    HolidayNotFoundError (404)         holiday_not_found        no calendar entry that day
    TipOffStatusError (409)            tip_off_wrong_status     the step does not fit the
                                                                clue's status (``state``)
    InvalidTipOffError (422)           invalid_tip_off          plus specific codes:
                                       refusal_reason_required, transfer_to_required,
                                       tip_off_not_located, no_area_for_tip_off,
                                       invalid_calendar_day, invalid_figures_period,
                                       invalid_time
    ReportNotFoundError (404)          report_not_found
    ReportNotReadyError (409)          report_not_ready         not generated yet (``state``)
    InvalidReportError (422)           invalid_report_period    the period does not fit the
                                                                template, or is in the future

The administrative penalty procedure (:mod:`evidence.cases.procedure`,
:mod:`evidence.cases.penalties`)::

    CaseStepOrderError (409)           case_step_out_of_order   ``expected_step`` (and
                                                                ``expected_steps``) say which
    InvalidCaseStepError (422)         invalid_case_step        plus specific codes:
                                       invalid_time, reason_required, invalid_amount,
                                       hearing_notice_too_short (``earliest``)
    (ConflictError)                    hearing_request_late, enforcement_too_early,
                                       penalty_required, penalty_decided,
                                       closing_requirements_unmet (``missing``)
    (InvalidCaseError)                 fine_out_of_range (``min``, ``max``),
                                       fine_basis_missing, invalid_id_number,
                                       invalid_party, invalid_penalty, invalid_amount

The case file's documents (:mod:`evidence.cases.documents`)::

    CaseDocumentNotFoundError (404)    case_document_not_found  unknown, another case's or
                                                                county's
    DocumentRestrictedError (403)      document_has_id_numbers  a joint-team member asked for
                                                                a document with an ID number
    DocumentNotReadyError (409)        document_not_ready       ``missing``: the penalty, the
                                                                referral ...
    InvalidCaseDocumentError (422)     invalid_case_document    plus invalid_document_scan
"""

from __future__ import annotations

from infra import error_codes as codes
from infra.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)

__all__ = [
    "CaseDocumentNotFoundError",
    "CaseHasNoEvidenceError",
    "CaseNotFlaggedError",
    "CaseNotFoundError",
    "CaseSourceNotFoundError",
    "CaseStatusTransitionError",
    "CaseStepOrderError",
    "DocumentNotReadyError",
    "DocumentRestrictedError",
    "HolidayNotFoundError",
    "InvalidCaseDocumentError",
    "InvalidCaseError",
    "InvalidCaseStepError",
    "InvalidPetitionError",
    "InvalidReportError",
    "InvalidRuleError",
    "InvalidStepError",
    "InvalidTipOffError",
    "MissingMaterialsError",
    "PackageSigningKeyMissingError",
    "PackageSourceMismatchError",
    "PackageTamperedError",
    "PetitionAlreadyExtendedError",
    "PetitionNotFoundError",
    "PetitionReviewsExhaustedError",
    "PetitionStepOutOfOrderError",
    "ReconsiderationClosedError",
    "ReferralAlreadyOpenError",
    "ReferralNotFoundError",
    "ReportNotFoundError",
    "ReportNotReadyError",
    "RuleNotFoundError",
    "StepOutOfOrderError",
    "TeamTooSmallError",
    "TipOffNotFoundError",
    "TipOffStatusError",
    "UnknownEvidenceError",
    "UnknownTeamMemberError",
]


class CaseNotFoundError(NotFoundError):
    default_code = codes.CASE_NOT_FOUND


class ReferralNotFoundError(NotFoundError):
    default_code = codes.REFERRAL_NOT_FOUND


class CaseSourceNotFoundError(NotFoundError):
    default_code = codes.CASE_SOURCE_NOT_FOUND


class RuleNotFoundError(NotFoundError):
    default_code = codes.RULE_NOT_FOUND


class CaseStatusTransitionError(ConflictError):
    default_code = codes.INVALID_STATUS_TRANSITION


class CaseNotFlaggedError(ConflictError):
    default_code = codes.CASE_NOT_FLAGGED


class ReferralAlreadyOpenError(ConflictError):
    default_code = codes.REFERRAL_ALREADY_OPEN


class StepOutOfOrderError(ConflictError):
    default_code = codes.STEP_OUT_OF_ORDER


class ReconsiderationClosedError(ConflictError):
    default_code = codes.RECONSIDERATION_WINDOW_CLOSED


class CaseHasNoEvidenceError(ConflictError):
    default_code = codes.CASE_HAS_NO_EVIDENCE


class PackageSourceMismatchError(ConflictError):
    default_code = codes.PACKAGE_SOURCE_MISMATCH


class InvalidCaseError(InvalidInputError):
    default_code = codes.INVALID_CASE


class UnknownEvidenceError(InvalidInputError):
    default_code = codes.UNKNOWN_EVIDENCE


class TeamTooSmallError(InvalidInputError):
    default_code = codes.TEAM_TOO_SMALL


class UnknownTeamMemberError(InvalidInputError):
    default_code = codes.UNKNOWN_TEAM_MEMBER


class InvalidStepError(InvalidInputError):
    default_code = codes.INVALID_STEP


class MissingMaterialsError(InvalidInputError):
    default_code = codes.MISSING_MATERIALS


class InvalidRuleError(InvalidInputError):
    default_code = codes.INVALID_RULE


class PackageTamperedError(InvalidInputError):
    default_code = codes.PACKAGE_TAMPERED


class PackageSigningKeyMissingError(UnavailableError):
    default_code = codes.PACKAGE_SIGNING_KEY_MISSING


class PetitionNotFoundError(NotFoundError):
    default_code = codes.PETITION_NOT_FOUND


class PetitionStepOutOfOrderError(ConflictError):
    default_code = codes.PETITION_STEP_OUT_OF_ORDER


class PetitionAlreadyExtendedError(ConflictError):
    default_code = codes.PETITION_ALREADY_EXTENDED


class PetitionReviewsExhaustedError(ConflictError):
    default_code = codes.PETITION_REVIEWS_EXHAUSTED


class InvalidPetitionError(InvalidInputError):
    default_code = codes.INVALID_PETITION


class TipOffNotFoundError(NotFoundError):
    default_code = codes.TIP_OFF_NOT_FOUND


class HolidayNotFoundError(NotFoundError):
    default_code = codes.HOLIDAY_NOT_FOUND


class TipOffStatusError(ConflictError):
    default_code = codes.TIP_OFF_WRONG_STATUS


class InvalidTipOffError(InvalidInputError):
    default_code = codes.INVALID_TIP_OFF


class SatelliteBatchNotFoundError(NotFoundError):
    default_code = codes.SATELLITE_BATCH_NOT_FOUND


class SatelliteTaskNotFoundError(NotFoundError):
    default_code = codes.SATELLITE_TASK_NOT_FOUND


class InvalidSatelliteBatchError(InvalidInputError):
    default_code = codes.INVALID_SATELLITE_BATCH


class SatelliteBatchExistsError(ConflictError):
    default_code = codes.SATELLITE_BATCH_EXISTS


class InvalidSatelliteResultError(InvalidInputError):
    default_code = codes.INVALID_SATELLITE_RESULT


class SatelliteTaskStatusError(ConflictError):
    default_code = codes.SATELLITE_TASK_WRONG_STATUS


class SatelliteCaseExistsError(ConflictError):
    default_code = codes.SATELLITE_CASE_EXISTS


class SatelliteTaskSubmittedError(ConflictError):
    default_code = codes.SATELLITE_TASK_SUBMITTED


class ReportNotFoundError(NotFoundError):
    default_code = codes.REPORT_NOT_FOUND


class ReportNotReadyError(ConflictError):
    default_code = codes.REPORT_NOT_READY


class InvalidReportError(InvalidInputError):
    default_code = codes.INVALID_REPORT_PERIOD


class CaseStepOrderError(ConflictError):
    default_code = codes.CASE_STEP_OUT_OF_ORDER


class InvalidCaseStepError(InvalidInputError):
    default_code = codes.INVALID_CASE_STEP


class CaseDocumentNotFoundError(NotFoundError):
    default_code = codes.CASE_DOCUMENT_NOT_FOUND


class DocumentRestrictedError(PermissionDeniedError):
    default_code = codes.DOCUMENT_HAS_ID_NUMBERS


class DocumentNotReadyError(ConflictError):
    default_code = codes.DOCUMENT_NOT_READY


class InvalidCaseDocumentError(InvalidInputError):
    default_code = codes.INVALID_CASE_DOCUMENT
