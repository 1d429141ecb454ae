"""The OpenAPI document tells the whole truth: error responses, request limits, who needs a token.

Litestar documents what a handler returns when it succeeds. After the document is built,
:func:`complete_document` adds what it cannot see, all from this one module:

* every operation's error responses as ``application/problem+json`` (the
  :class:`~mobile_contract.v1.common.Problem` schema), each status listing the stable
  ``code`` values it can carry, in its description and as ``x-problem-codes``: the statuses
  every operation shares (:data:`SHARED_ERRORS`) merged with the operation's own
  (:data:`OPERATION_ERRORS`, keyed by operation id, found by reading which domain errors the
  services behind each handler raise);
* every constraint the contract Structs enforce on decoding (``gt``, ``ge``, lengths,
  patterns, on optional members and map values too), copied from msgspec's own schema;
* ``security: []`` on the operations that take no token (:data:`api.auth.PUBLIC_PATHS`);
* the whole error catalogue (:mod:`infra.error_codes`) as ``components.x-error-catalogue``:
  each code with its HTTP status (``null`` for a per-item code, carried inside a 200
  answer), ``alsoStatus`` where one code has two, and its title and message template in
  Chinese and English. The Problem schema's ``code`` points there.

A new operation without an entry in :data:`OPERATION_ERRORS` fails ``test_openapi_errors``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field, fields
from typing import Any

import msgspec
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

import mobile_contract.v1
from api.auth import PUBLIC_PATHS
from api.guards import ROLE_OPERATIONS
from api.problems import PROBLEM_MEDIA_TYPE
from infra.error_codes import CATALOGUE

__all__ = ["OPERATION_ERRORS", "SHARED_ERRORS", "complete_document", "error_catalogue"]

Errors = dict[int, tuple[str, ...]]

# What any operation may answer besides its own errors. Bodies are decoded before the handler
# runs (400, 413); the database and the object store may be out of reach (503).
SHARED_ERRORS: dict[str, Errors] = {
    "always": {
        400: ("validation_error", "malformed_body", "bad_request", "unknown_parameter"),
        # the input guard (api/decoding.py) on query and path parameters and bodies
        422: ("invalid_character", "number_out_of_range"),
        503: ("database_unavailable", "storage_unavailable"),
    },
    "with_body": {
        413: ("body_too_large",),
        415: ("unsupported_media_type",),
        422: ("nesting_too_deep",),
    },
    "with_token": {401: ("not_authenticated",)},
    # closed to an external role by the guard (api/guards.py): every operation it does not open
    "closed_to_external": {403: ("role_not_allowed",)},
    # a path parameter that does not parse (not a UUID, not a month) names no route
    "with_path": {404: ("not_found",)},
}

_STATUS_TEXT = {
    400: "The request is malformed or breaks the schema",
    401: "No valid token, or the credentials are wrong",
    403: "The caller may not do this",
    404: "Not found, or not visible to the caller",
    409: "The current state forbids it",
    413: "The body is larger than the server accepts",
    415: "The body's content type is not one the operation reads",
    422: "Well-formed, but refused by a rule",
    429: "Too many attempts; retry after ``retryAfterS`` seconds",
    503: "A dependency is unavailable; retry after ``Retry-After`` seconds",
}

# Each operation's own errors. Generated from the ``raise`` sites reachable from each handler
# and checked against schemathesis runs; keep it in step when a service learns a new error.
OPERATION_ERRORS: dict[str, Errors] = {
    "AssignTipOffVerification": {
        403: ("role_not_allowed",),
        404: ("area_not_found", "tip_off_not_found"),
        409: ("tip_off_wrong_status",),
        422: ("invalid_coordinates", "no_area_for_tip_off", "tip_off_not_located"),
    },
    "DecideTipOff": {
        403: ("role_not_allowed",),
        404: ("tip_off_not_found",),
        409: ("tip_off_wrong_status",),
        422: ("invalid_tip_off", "refusal_reason_required", "transfer_to_required"),
    },
    "DeleteHoliday": {403: ("role_not_allowed",), 404: ("holiday_not_found",)},
    "GetTipOff": {
        403: ("role_not_allowed",),
        404: ("tip_off_not_found",),
    },
    "GetTipOffFigures": {403: ("role_not_allowed",), 422: ("invalid_figures_period",)},
    "GetTipOffReporter": {
        403: ("role_not_allowed",),
        404: ("tip_off_not_found",),
    },
    "HandleTipOff": {
        403: ("role_not_allowed",),
        404: ("tip_off_not_found",),
        409: ("tip_off_wrong_status",),
        422: ("invalid_tip_off",),
    },
    "ListHolidays": {
        403: ("role_not_allowed",),
    },
    "ListTipOffs": {
        403: ("role_not_allowed",),
    },
    "OpenCaseFromTipOff": {
        403: ("role_not_allowed",),
        404: ("tip_off_not_found",),
        409: ("tip_off_wrong_status",),
        422: (
            "invalid_case",
            "invalid_violation_kind",
            "tip_off_not_located",
            "unknown_evidence",
        ),
    },
    "OpenTipOff": {
        403: ("role_not_allowed",),
        404: ("township_not_found",),
        422: (
            "invalid_coordinates",
            "invalid_geometry",
            "invalid_time",
            "invalid_tip_off",
            "unknown_evidence",
        ),
    },
    "PutHoliday": {403: ("role_not_allowed",), 422: ("invalid_calendar_day",)},
    "RecordTipOffFeedback": {
        403: ("role_not_allowed",),
        404: ("tip_off_not_found",),
        409: ("tip_off_wrong_status",),
        422: ("invalid_time", "invalid_tip_off"),
    },
    # the administrative penalty procedure (evidence.cases.procedure, evidence.cases.penalties)
    # the case file's documents and the 案卷 (evidence.cases.documents, case_file)
    "GenerateCaseDocument": {
        403: ("role_not_allowed",),
        404: ("case_not_found",),
        409: ("document_not_ready",),
        422: ("invalid_case_document",),
    },
    "ListCaseDocuments": {404: ("case_not_found",)},
    "GetCaseDocument": {404: ("case_not_found", "case_document_not_found")},
    "DownloadCaseDocument": {
        403: ("document_has_id_numbers",),
        404: ("case_not_found", "case_document_not_found"),
        409: ("package_source_mismatch",),
    },
    "AttachDocumentScan": {
        403: ("role_not_allowed",),
        404: ("case_not_found", "case_document_not_found"),
        422: ("invalid_document_scan",),
    },
    "ExportCaseFile": {
        403: ("role_not_allowed",),
        404: ("case_not_found",),
        503: ("package_signing_key_missing",),
    },
    "GetCaseProcedure": {404: ("case_not_found",)},
    "ListCaseSteps": {404: ("case_not_found",)},
    "PutCasePenalty": {
        403: ("role_not_allowed",),
        404: ("case_not_found",),
        409: ("case_closed", "penalty_decided"),
        422: (
            "fine_basis_missing",
            "fine_out_of_range",
            "invalid_amount",
            "invalid_id_number",
            "invalid_party",
            "invalid_penalty",
        ),
    },
    "RecordCaseStep": {
        403: ("role_not_allowed",),
        404: ("case_not_found",),
        409: (
            "case_closed",
            "case_step_out_of_order",
            "closing_requirements_unmet",
            "enforcement_too_early",
            "hearing_request_late",
            "penalty_required",
        ),
        422: (
            "hearing_notice_too_short",
            "invalid_amount",
            "invalid_case_step",
            "invalid_time",
            "reason_required",
            "unknown_evidence",
        ),
    },
    # satellite campaign tasks (evidence.cases.satellite_tasks)
    "GetSatelliteTask": {403: ("role_not_allowed",), 404: ("satellite_task_not_found",)},
    "ListSatelliteResults": {403: ("role_not_allowed",), 404: ("satellite_task_not_found",)},
    "ListSatelliteTasks": {403: ("role_not_allowed",), 422: ("invalid_cursor",)},
    "OpenSatelliteCase": {
        403: ("role_not_allowed",),
        404: ("satellite_task_not_found",),
        409: ("satellite_case_exists", "satellite_task_wrong_status"),
        422: ("invalid_case", "invalid_coordinates", "invalid_violation_kind", "unknown_evidence"),
    },
    "RecordSatelliteResult": {
        403: ("not_patrol_owner", "role_not_allowed"),
        404: (
            "evidence_not_found",
            "patrol_not_found",
            "satellite_task_not_found",
            "target_not_found",
        ),
        409: ("id_reused", "satellite_task_submitted", "satellite_task_wrong_status"),
        422: (
            "invalid_geometry",
            "invalid_satellite_result",
            "invalid_time",
            "outside_county",
            "too_many_vertices",
        ),
    },
    "ReopenSatelliteTask": {
        403: ("role_not_allowed",),
        404: ("satellite_task_not_found",),
        409: ("satellite_task_wrong_status",),
        422: ("invalid_satellite_result",),
    },
    "ReviewSatelliteTask": {
        403: ("role_not_allowed",),
        404: ("satellite_task_not_found",),
        409: ("satellite_task_submitted", "satellite_task_wrong_status"),
        422: ("invalid_satellite_result",),
    },
    "SubmitSatelliteTasks": {
        403: ("role_not_allowed",),
        404: ("satellite_task_not_found",),
        409: ("satellite_task_wrong_status",),
        422: ("invalid_satellite_result",),
    },
    "AbortUpload": {
        403: ("not_upload_owner",),
        404: ("upload_not_found",),
        409: ("upload_already_accepted",),
    },
    "AcknowledgeAlert": {403: ("role_not_allowed",), 404: ("alert_not_found",)},
    "AddReferralRule": {403: ("role_not_allowed",), 409: ("rule_exists",), 422: ("invalid_rule",)},
    "AddTarget": {
        403: ("role_not_allowed",),
        404: ("area_not_found",),
        422: (
            "invalid_coordinates",
            "invalid_radius",
            "invalid_target_kind",
        ),
    },
    "AppendTrackPoints": {
        403: ("not_patrol_owner",),
        404: ("patrol_not_found",),
        422: ("too_many_points",),
    },
    "ChangeCaseStatus": {
        403: ("role_not_allowed",),
        404: ("case_not_found",),
        409: ("invalid_status_transition",),
        422: ("reason_required",),
    },
    "CheckLocation": {
        403: ("not_roster_member",),
        404: (
            "county_not_found",
            "site_not_found",
        ),
        422: (
            "invalid_coordinates",
            "outside_county",
            "unknown_layer_kind",
        ),
    },
    "CheckLocations": {
        403: ("not_roster_member",),
        404: (
            "county_not_found",
            "site_not_found",
        ),
        422: (
            "invalid_coordinates",
            "too_many_points",
            "unknown_layer_kind",
        ),
    },
    "CompleteUpload": {
        403: ("not_upload_owner",),
        404: (
            "county_not_found",
            "evidence_not_found",
            "upload_not_found",
        ),
        409: (
            "upload_aborted",
            "upload_incomplete",
        ),
        422: (
            "evidence_size_mismatch",
            "unknown_layer_kind",
            "unsupported_media_type",
        ),
    },
    "CreateArea": {
        403: ("role_not_allowed",),
        409: ("duplicate_code",),
        422: (
            "invalid_coordinates",
            "invalid_geometry",
            "invalid_grade",
            "unknown_user",
        ),
    },
    "CreateMineSite": {
        403: ("role_not_allowed",),
        409: ("duplicate_site_code",),
        422: (
            "invalid_geometry",
            "invalid_roster",
        ),
    },
    "CreateReferral": {
        403: ("role_not_allowed",),
        404: (
            "case_not_found",
            "referral_not_found",
        ),
        409: (
            "case_closed",
            "case_not_flagged",
            "referral_already_open",
        ),
        422: (
            "invalid_time",
            "report_required",
            "team_too_small",
            "unknown_team_member",
        ),
    },
    "CreateToken": {
        401: ("invalid_credentials",),
        429: ("login_locked",),
        503: ("login_busy",),
    },
    "CreateCounty": {
        403: ("not_platform_admin",),
        409: ("duplicate_county",),
        422: (
            "invalid_admin_code",
            "invalid_boundary",
            "invalid_coordinates",
            "invalid_geometry",
            "invalid_name",
            "invalid_province_code",
            "too_many_vertices",
            "unknown_crs",
        ),
    },
    "CreateTownship": {
        403: ("role_not_allowed",),
        409: ("code_taken",),
        422: (
            "invalid_coordinates",
            "invalid_geometry",
        ),
    },
    "CreateUpload": {
        409: (
            "evidence_id_conflict",
            "upload_aborted",
        ),
        422: (
            "file_empty",
            "invalid_id",
            "invalid_md5",
            "reference_not_found",
            "unsupported_media_type",
            "upload_too_large",
        ),
    },
    "CreateUser": {
        403: ("role_not_allowed",),
        409: ("username_taken",),
        422: ("password_too_short",),
    },
    "CreateVillage": {
        403: ("role_not_allowed",),
        404: ("township_not_found",),
        409: ("code_taken",),
        422: (
            "invalid_coordinates",
            "invalid_geometry",
        ),
    },
    "DeactivateTarget": {403: ("role_not_allowed",), 404: ("target_not_found",)},
    "DeleteFrequencyRule": {403: ("role_not_allowed",), 404: ("rule_not_found",)},
    "EndPatrol": {
        403: ("not_patrol_owner",),
        404: ("patrol_not_found",),
        409: ("patrol_already_ended",),
        422: ("invalid_time",),
    },
    "ExportCoverageCsv": {
        403: ("role_not_allowed",),
        404: ("area_not_found",),
        422: (
            "invalid_coordinates",
            "invalid_month",
            "invalid_radius",
            "invalid_target_kind",
        ),
    },
    "ExportReferralPackage": {
        403: ("role_not_allowed",),
        404: (
            "case_not_found",
            "referral_not_found",
        ),
        409: ("case_has_no_evidence",),
        503: ("package_signing_key_missing",),
    },
    "ExportTracksGeoJson": {403: ("role_not_allowed",), 422: ("invalid_period",)},
    "FlagEvidence": {
        403: ("role_not_allowed",),
        404: (
            "county_not_found",
            "evidence_not_found",
        ),
        422: ("unknown_layer_kind",),
    },
    "FlagForReferral": {
        403: ("role_not_allowed",),
        404: (
            "case_not_found",
            "finding_not_found",
        ),
        422: (
            "invalid_flag_subject",
            "reason_required",
        ),
    },
    "GetArea": {403: ("not_area_member",), 404: ("area_not_found",)},
    "GetCase": {404: ("case_not_found",)},
    "GetCoverage": {
        403: ("role_not_allowed",),
        404: ("area_not_found",),
        422: (
            "invalid_coordinates",
            "invalid_month",
            "invalid_radius",
            "invalid_target_kind",
        ),
    },
    "GetCustody": {
        404: (
            "county_not_found",
            "evidence_not_found",
        ),
        422: ("unknown_layer_kind",),
    },
    "GetDerivativeUrl": {
        404: (
            "county_not_found",
            "derivative_not_found",
            "evidence_not_found",
        ),
        422: ("unknown_layer_kind",),
    },
    "GetDutyStatus": {403: ("role_not_allowed",), 422: ("invalid_time",)},
    "GetEvidence": {
        404: (
            "county_not_found",
            "evidence_not_found",
        ),
        422: ("unknown_layer_kind",),
    },
    "GetConsoleConfig": {},
    "GetCountySettings": {403: ("role_not_allowed",)},
    "GetSigningKeys": {503: ("package_signing_key_missing",)},
    "GetHealth": {},
    "GetMetrics": {403: ("role_not_allowed",)},
    "GetImportJob": {403: ("role_not_allowed",), 404: ("import_job_not_found",)},
    "GetLayerGeoJson": {404: ("layer_not_found",), 422: ("page_cursor_invalid",)},
    "GetLayerVersion": {404: ("layer_version_not_found",)},
    "GetLiveStatus": {403: ("role_not_allowed",)},
    "GetMe": {
        404: (
            "county_not_found",
            "user_not_found",
        )
    },
    "GetMineSite": {404: ("mine_site_not_found",)},
    "GetMyPlan": {422: ("invalid_month",)},
    "GetOriginalUrl": {
        404: (
            "county_not_found",
            "evidence_not_found",
        ),
        422: (
            "unknown_layer_kind",
            "unsupported_media_type",
        ),
    },
    "GetPatrol": {403: ("not_patrol_owner",), 404: ("patrol_not_found",)},
    "GetPlan": {403: ("not_area_member",), 404: ("area_not_found",), 422: ("invalid_month",)},
    "GetReadiness": {},
    "GetReferral": {403: ("role_not_allowed",), 404: ("referral_not_found",)},
    "GetRosterReport": {403: ("role_not_allowed",), 422: ("invalid_roster",)},
    "GetTile": {
        404: (
            "layer_not_found",
            "tile_not_found",
        ),
        422: ("tile_too_large",),
    },
    "GetTownship": {404: ("township_not_found",)},
    "GetTrack": {403: ("not_patrol_owner",), 404: ("patrol_not_found",)},
    "GetUpload": {403: ("not_upload_owner",), 404: ("upload_not_found",)},
    "GetUser": {404: ("user_not_found",)},
    "GetVillage": {404: ("village_not_found",)},
    "CreateSatelliteBatch": {
        403: ("role_not_allowed",),
        409: ("satellite_batch_exists",),
        422: (
            "invalid_field_map",
            "invalid_geometry",
            "invalid_satellite_batch",
            "no_features",
            "unknown_crs",
            "unknown_encoding",
            "unknown_source_layer",
            "unsupported_file",
        ),
    },
    "ListSatelliteBatches": {403: ("role_not_allowed",)},
    "GetSatelliteBatch": {
        403: ("role_not_allowed",),
        404: ("satellite_batch_not_found",),
    },
    "AssignSatelliteTasks": {
        403: ("role_not_allowed",),
        404: ("area_not_found", "satellite_task_not_found"),
        409: ("satellite_task_submitted",),
        422: ("invalid_satellite_batch", "no_area_for_satellite_task", "unknown_user"),
    },
    "ImportLayer": {
        403: ("role_not_allowed",),
        404: ("county_not_found",),
        422: (
            "invalid_field_map",
            "invalid_geometry",
            "no_features",
            "unknown_crs",
            "unknown_encoding",
            "unknown_layer_kind",
            "unknown_source_layer",
            "unsupported_file",
        ),
    },
    "LinkCaseEvidence": {
        403: ("role_not_allowed",),
        404: ("case_not_found",),
        409: ("case_closed",),
        422: (
            "invalid_coordinates",
            "invalid_geometry",
            "unknown_evidence",
        ),
    },
    "ListAlerts": {403: ("role_not_allowed",), 422: ("invalid_time",)},
    "ListAreas": {},
    "ListCases": {},
    "ListCounties": {403: ("not_platform_admin",)},
    "ListDevices": {},
    "ListDutyChecks": {
        404: ("county_not_found",),
        422: (
            "invalid_time",
            "unknown_layer_kind",
        ),
    },
    "ListEvidence": {
        404: ("county_not_found",),
        422: (
            "invalid_cursor",
            "unknown_layer_kind",
        ),
    },
    "ListCountyFindings": {422: ("invalid_cursor",)},
    "ListFindings": {403: ("not_patrol_owner",), 404: ("patrol_not_found",)},
    "ListFlags": {403: ("role_not_allowed",)},
    "ListFrequencyRules": {},
    "ListJobs": {403: ("role_not_allowed",)},
    "ListLayerFeatures": {404: ("layer_version_not_found",)},
    "ListLayerVersions": {422: ("unknown_layer_kind",)},
    "ListMineSites": {422: ("invalid_roster",)},
    "ListOverdueReferralSteps": {403: ("role_not_allowed",)},
    "ListPatrols": {422: ("invalid_time",)},
    "ListPlans": {422: ("invalid_month",)},
    "ListReferralRules": {},
    "ListReferrals": {403: ("role_not_allowed",), 404: ("referral_not_found",)},
    "ListSignIns": {403: ("not_patrol_owner",), 404: ("patrol_not_found",)},
    "ListTargetVerifications": {403: ("not_area_member",), 404: ("target_not_found",)},
    "ListTargets": {403: ("not_area_member",), 404: ("area_not_found",)},
    "ListTownships": {},
    "ListUsers": {},
    "ListVillages": {},
    "OpenCase": {
        403: ("role_not_allowed",),
        404: ("case_source_not_found",),
        409: ("case_no_taken",),
        422: (
            "invalid_amount",
            "invalid_area",
            "invalid_case",
            "invalid_coordinates",
            "invalid_geometry",
            "invalid_party",
            "invalid_source",
            "invalid_time",
            "unknown_evidence",
        ),
    },
    "OverlayArea": {
        404: ("county_not_found",),
        422: (
            "invalid_geometry",
            "invalid_text",
            "invalid_view_type",
            "outside_county",
        ),
    },
    "RecordDutyCheck": {
        403: ("not_roster_member",),
        404: (
            "county_not_found",
            "site_not_found",
        ),
        409: ("id_reused",),
        422: (
            "invalid_status",
            "invalid_time",
            "unknown_layer_kind",
        ),
    },
    "RecordFinding": {
        403: ("not_patrol_owner",),
        404: (
            "patrol_not_found",
            "village_not_found",
        ),
        409: (
            "id_reused",
            "patrol_already_ended",
        ),
        422: (
            "invalid_accuracy",
            "invalid_coordinates",
            "invalid_patrol_input",
            "invalid_status",
            "invalid_time",
        ),
    },
    "RecordHandover": {
        403: ("role_not_allowed",),
        404: ("referral_not_found",),
        409: ("step_out_of_order",),
        422: (
            "invalid_time",
            "missing_materials",
        ),
    },
    "RecordPoliceDecision": {
        403: ("role_not_allowed",),
        404: ("referral_not_found",),
        409: ("step_out_of_order",),
        422: (
            "invalid_time",
            "reason_required",
        ),
    },
    "RecordPoliceReceipt": {
        403: ("role_not_allowed",),
        404: ("referral_not_found",),
        409: ("step_out_of_order",),
        422: ("invalid_time",),
    },
    "RecordReferralDecision": {
        403: ("role_not_allowed",),
        404: ("referral_not_found",),
        409: ("step_out_of_order",),
        422: (
            "invalid_time",
            "reason_required",
        ),
    },
    "RecordReferralTransfer": {
        403: ("role_not_allowed",),
        404: ("referral_not_found",),
        409: ("step_out_of_order",),
        422: (
            "invalid_material",
            "invalid_time",
            "missing_materials",
            "police_unit_required",
        ),
    },
    "RecordTargetVerification": {
        403: (
            "not_area_member",
            "not_patrol_owner",
        ),
        404: (
            "area_not_found",
            "evidence_not_found",
            "finding_not_found",
            "patrol_not_found",
            "target_not_found",
        ),
        409: ("id_reused",),
        422: (
            "invalid_patrol_input",
            "invalid_time",
            "target_inactive",
        ),
    },
    "RefreshToken": {
        401: (
            "account_disabled",
            "invalid_refresh_token",
        )
    },
    "RegisterDevice": {},
    "RemoveRosterMember": {
        403: ("role_not_allowed",),
        404: ("mine_site_not_found",),
        422: ("invalid_roster",),
    },
    "RequestReconsideration": {
        403: ("role_not_allowed",),
        404: ("referral_not_found",),
        409: (
            "case_closed",
            "reconsideration_window_closed",
            "step_out_of_order",
        ),
        422: (
            "invalid_time",
            "reason_required",
        ),
    },
    "ResetPassword": {
        403: ("role_not_allowed",),
        404: ("user_not_found",),
        422: ("password_too_short",),
    },
    "RevokeDevice": {404: ("device_not_found",)},
    "SetCaseTeam": {
        403: ("role_not_allowed",),
        404: ("case_not_found",),
        409: ("case_closed",),
        422: (
            "invalid_team",
            "unknown_team_member",
        ),
    },
    "SetFrequencyRule": {
        403: ("role_not_allowed",),
        404: ("area_not_found",),
        409: ("id_reused",),
        422: ("invalid_rule",),
    },
    "SetMineSiteStatus": {
        403: ("role_not_allowed",),
        404: ("mine_site_not_found",),
        422: ("invalid_roster",),
    },
    "SetRosterMember": {
        403: ("role_not_allowed",),
        404: ("mine_site_not_found",),
        422: ("invalid_roster",),
    },
    "SignIn": {
        403: ("not_patrol_owner",),
        404: (
            "patrol_not_found",
            "village_not_found",
        ),
        409: (
            "id_reused",
            "patrol_already_ended",
        ),
        422: (
            "invalid_accuracy",
            "invalid_coordinates",
            "invalid_patrol_input",
            "invalid_time",
            "manual_sign_in_needs_reason",
        ),
    },
    "StartPatrol": {
        403: ("not_area_member",),
        404: ("area_not_found",),
        409: ("id_reused",),
        422: (
            "area_inactive",
            "invalid_time",
            "unknown_user",
        ),
    },
    "SyncPull": {
        409: (
            "cursor_stale",
            "sync_busy",
        ),
        422: ("cursor_malformed",),
    },
    "SyncPush": {
        403: ("not_patrol_owner",),
        404: ("village_not_found",),
        409: (
            "id_reused",
            "patrol_already_ended",
        ),
        422: (
            "batch_too_large",
            "implausible_time",
            "invalid_accuracy",
            "invalid_coordinates",
            "invalid_patrol_input",
            "invalid_status",
            "invalid_time",
            "manual_sign_in_needs_reason",
            "too_many_points",
        ),
    },
    "UpdateArea": {
        403: ("role_not_allowed",),
        404: ("area_not_found",),
        422: (
            "invalid_coordinates",
            "invalid_geometry",
            "invalid_grade",
            "unknown_user",
        ),
    },
    "UpdateCase": {
        403: ("role_not_allowed",),
        404: ("case_not_found",),
        409: ("case_closed",),
        422: (
            "invalid_amount",
            "invalid_coordinates",
            "invalid_geometry",
            "unknown_evidence",
        ),
    },
    "UpdateMineSite": {
        403: ("role_not_allowed",),
        404: ("mine_site_not_found",),
        409: ("duplicate_site_code",),
        422: (
            "invalid_geometry",
            "invalid_roster",
        ),
    },
    "UpdateTownship": {
        403: ("role_not_allowed",),
        404: ("township_not_found",),
        422: (
            "invalid_coordinates",
            "invalid_geometry",
        ),
    },
    "UpdateUser": {403: ("role_not_allowed",), 404: ("user_not_found",), 409: ("self_lockout",)},
    "UpdateVillage": {
        403: ("role_not_allowed",),
        404: ("village_not_found",),
        422: (
            "invalid_coordinates",
            "invalid_geometry",
        ),
    },
    "UpsertPlan": {
        403: ("role_not_allowed",),
        404: ("area_not_found",),
        422: (
            "invalid_month",
            "invalid_rule",
        ),
    },
    # petitions (信访)
    "RegisterPetition": {
        403: ("role_not_allowed",),
        404: ("township_not_found",),
        422: ("invalid_petition", "invalid_time"),
    },
    "ListPetitions": {403: ("role_not_allowed",)},
    "GetPetitionFigures": {403: ("role_not_allowed",), 422: ("invalid_petition",)},
    "GetPetition": {403: ("role_not_allowed",), 404: ("petition_not_found",)},
    "GetPetitioner": {403: ("role_not_allowed",), 404: ("petition_not_found",)},
    "DecidePetition": {
        403: ("role_not_allowed",),
        404: ("petition_not_found",),
        409: ("petition_step_out_of_order",),
        422: ("invalid_time", "reason_required"),
    },
    "AssignPetition": {
        403: ("role_not_allowed",),
        404: ("petition_not_found", "township_not_found"),
        409: ("petition_step_out_of_order",),
        422: ("invalid_petition", "invalid_time"),
    },
    "ExtendPetition": {
        403: ("role_not_allowed",),
        404: ("petition_not_found",),
        409: ("petition_step_out_of_order", "petition_already_extended"),
        422: (
            "invalid_petition",
            "invalid_time",
            "reason_required",
            "petition_extension_too_long",
        ),
    },
    "ReplyPetition": {
        403: ("role_not_allowed",),
        404: ("petition_not_found",),
        409: ("petition_step_out_of_order",),
        422: ("invalid_petition", "invalid_time"),
    },
    "RequestPetitionReview": {
        403: ("role_not_allowed",),
        404: ("petition_not_found",),
        409: ("petition_step_out_of_order", "petition_reviews_exhausted"),
        422: ("invalid_petition", "invalid_time", "petition_review_window_closed"),
    },
    "AnswerPetitionReview": {
        403: ("role_not_allowed",),
        404: ("petition_not_found",),
        409: ("petition_step_out_of_order", "petition_reviews_exhausted"),
        422: ("invalid_petition", "invalid_time"),
    },
    # satellite campaigns: figures and exports
    "GetSatelliteFigures": {403: ("role_not_allowed",), 404: ("satellite_batch_not_found",)},
    "ExportSatelliteBatch": {403: ("role_not_allowed",), 404: ("satellite_batch_not_found",)},
    # periodic statistics and reports
    "GetStatistics": {403: ("role_not_allowed",), 422: ("invalid_figures_period",)},
    "ListReports": {403: ("role_not_allowed",)},
    "CreateReport": {403: ("role_not_allowed",), 422: ("invalid_report_period",)},
    "GetReport": {403: ("role_not_allowed",), 404: ("report_not_found",)},
    "DownloadReport": {
        403: ("role_not_allowed",),
        404: ("report_not_found",),
        409: ("report_not_ready",),
    },
}


@dataclass
class _ProblemResponse(OpenAPIResponse):
    """A problem-details response that also lists its ``code`` values as ``x-problem-codes``."""

    codes: tuple[str, ...] = field(default=())

    @property
    def _exclude_fields(self) -> set[str]:
        return {"codes"}

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        schema["x-problem-codes"] = list(self.codes)
        return schema


def error_catalogue() -> dict[str, Any]:
    """Every code of the catalogue, by code: status, title and message in both languages."""
    out: dict[str, Any] = {}
    for entry in sorted(CATALOGUE.values(), key=lambda e: e.code):
        item: dict[str, Any] = {"status": entry.status}
        if entry.also:
            item["alsoStatus"] = list(entry.also)
        item["title"] = {"zh": entry.zh_title, "en": entry.en_title}
        item["message"] = {"zh": entry.zh, "en": entry.en}
        out[entry.code] = item
    return out


@dataclass
class _Components(Components):
    """The document's components, with the error catalogue as ``x-error-catalogue``."""

    catalogue: dict[str, Any] = field(default_factory=dict)

    @property
    def _exclude_fields(self) -> set[str]:
        return {"catalogue"}

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        schema["x-error-catalogue"] = self.catalogue
        return schema


_CODE_DESCRIPTION = (
    "Stable, meant for programs; never changes. ``components.x-error-catalogue`` lists every "
    "code with its HTTP status and its title and message in Chinese and English."
)


def _with_catalogue(openapi: OpenAPI) -> None:
    components = openapi.components
    if isinstance(components, _Components):
        return
    kept = {f.name: getattr(components, f.name) for f in fields(components)}
    openapi.components = _Components(**kept, catalogue=error_catalogue())


def _contract_structs() -> list[type[msgspec.Struct]]:
    structs: list[type[msgspec.Struct]] = []
    for info in pkgutil.iter_modules(mobile_contract.v1.__path__):
        module = importlib.import_module(f"mobile_contract.v1.{info.name}")
        structs.extend(
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, msgspec.Struct)
            and obj.__module__ == module.__name__
        )
    return structs


_CONSTRAINTS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minItems": "min_items",
    "maxItems": "max_items",
    "multipleOf": "multiple_of",
}


_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"


def _member(schema: Schema) -> Schema:
    """The one non-null member of an optional schema (``X | None``), else the schema itself."""
    members = [m for m in (schema.one_of or schema.any_of or []) if isinstance(m, Schema)]
    typed = [m for m in members if m.type != OpenAPIType.NULL]
    if len(typed) == 1 and len(members) == len(schema.one_of or schema.any_of or []):
        for attr in _CONSTRAINTS.values():  # Litestar hoists some onto the union: move them
            if getattr(schema, attr) is not None and getattr(typed[0], attr) is None:
                setattr(typed[0], attr, getattr(schema, attr))
            setattr(schema, attr, None)
        return typed[0]
    return schema


def _json_member(schema: dict[str, Any]) -> dict[str, Any]:
    members = schema.get("anyOf") or schema.get("oneOf") or []
    typed = [m for m in members if m.get("type") != "null"]
    return typed[0] if len(typed) == 1 else schema


def _restore_constraints(schema: Schema, truth: dict[str, Any]) -> None:
    """Copy the constraints msgspec enforces (``truth``) onto Litestar's schema, recursively."""
    target, source = _member(schema), _json_member(truth)
    for key, attr in _CONSTRAINTS.items():
        if key in source:
            setattr(target, attr, source[key])
    for name, prop in (target.properties or {}).items():
        if isinstance(prop, Schema) and name in source.get("properties", {}):
            _restore_constraints(prop, source["properties"][name])
    if isinstance(target.items, Schema) and isinstance(source.get("items"), dict):
        _restore_constraints(target.items, source["items"])
    extra = target.additional_properties
    if isinstance(extra, Schema) and isinstance(source.get("additionalProperties"), dict):
        _restore_constraints(extra, source["additionalProperties"])
    if source.get("format") == "decimal" and target.pattern is None:
        target.pattern = _DECIMAL  # msgspec calls it a format no validator knows


def _contract_schemas(openapi: OpenAPI) -> None:
    """State every constraint the contract Structs enforce, and add the problem schemas.

    Litestar drops constraints on optional members (``Annotated[float, Meta(gt=0)] | None``
    loses ``gt``); msgspec decodes the requests, so its own schema is the truth to copy from.
    """
    _, truth = msgspec.json.schema_components(
        _contract_structs(), ref_template="#/components/schemas/{name}"
    )
    schemas: dict[str, Any] = openapi.components.schemas
    for name, schema in schemas.items():
        if name in truth and isinstance(schema, Schema):
            _restore_constraints(schema, truth[name])
    for name in ("Problem", "FieldError"):
        schemas[name] = truth[name]
    schemas["Problem"]["properties"]["code"]["description"] = _CODE_DESCRIPTION
    openapi.components.schemas = dict(sorted(schemas.items()))


def _with_vertex_limit(errors: dict[str, Errors]) -> dict[str, Errors]:
    """Every geometry the API takes has the same vertex limit (``infra.geometry``): an
    operation that can refuse a geometry can refuse too many vertices."""
    for own in errors.values():
        refusals = own.get(422, ())
        if "invalid_geometry" in refusals and "too_many_vertices" not in refusals:
            own[422] = (*refusals, "too_many_vertices")
    return errors


OPERATION_ERRORS = _with_vertex_limit(OPERATION_ERRORS)


def _errors_of(operation: Operation, *, path: str, public: bool) -> Errors:
    kinds = ["always"]
    if operation.request_body is not None:
        kinds.append("with_body")
    if not public:
        kinds.append("with_token")
        if any(operation.operation_id not in ops for ops in ROLE_OPERATIONS.values()):
            kinds.append("closed_to_external")
    if "{" in path:
        kinds.append("with_path")
    merged: dict[int, list[str]] = {}
    own = OPERATION_ERRORS.get(operation.operation_id or "", {})
    for errors in [*(SHARED_ERRORS[k] for k in kinds), own]:
        for status, codes in errors.items():
            known = merged.setdefault(status, [])
            known.extend(c for c in codes if c not in known)
    return {status: tuple(codes) for status, codes in sorted(merged.items())}


def _problem_response(status: int, codes: tuple[str, ...]) -> _ProblemResponse:
    listed = ", ".join(f"`{c}`" for c in codes)
    return _ProblemResponse(
        description=f"{_STATUS_TEXT.get(status, 'Error')}. Problem details; `code`: {listed}.",
        content={
            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(
                schema=Reference(ref="#/components/schemas/Problem")
            )
        },
        codes=codes,
    )


def complete_document(openapi: OpenAPI) -> OpenAPI:
    """Add error responses, full request schemas and public security to the built document."""
    _contract_schemas(openapi)
    _with_catalogue(openapi)
    public = [re.compile(p) for p in PUBLIC_PATHS]
    for path, item in (openapi.paths or {}).items():
        is_public = any(p.search(path) for p in public)
        for method in ("get", "put", "post", "patch", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            if is_public:
                operation.security = []
            responses = {
                status: response
                for status, response in (operation.responses or {}).items()
                if not status.startswith("4")  # Litestar's own 400 is not what we send
            }
            for status, codes in _errors_of(operation, path=path, public=is_public).items():
                if str(status) not in responses:
                    responses[str(status)] = _problem_response(status, codes)
            operation.responses = dict(sorted(responses.items()))
    return openapi
