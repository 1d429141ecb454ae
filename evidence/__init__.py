"""Evidence: upload sessions, verification, metadata, derivatives and custody (issue 4).

The public surface for the web layer is :class:`EvidenceService` (one per request) and
:mod:`evidence.tasks` (the derivatives task, run by the procrastinate worker); the ports are
implemented over geofence and patrol in :mod:`evidence.adapters`; errors are in
:mod:`evidence.errors`. Cases, threshold screening, referrals and referral packages
(issue 7) are :mod:`evidence.cases`, :mod:`evidence.screening`, :mod:`evidence.referrals`
and :mod:`evidence.package`, with their errors in :mod:`evidence.case_errors`.
"""

from __future__ import annotations

from evidence.adapters import (
    GeofenceLocationChecker,
    PatrolTrackContext,
    PatrolVisitListener,
    SiteReviewListener,
)
from evidence.case_demo import seed_demo_cases
from evidence.case_models import CaseStatus, ReferralStatus, ReferralStep, SourceKind, ViolationKind
from evidence.cases import (
    Areas,
    CaseChanges,
    CaseInput,
    CaseView,
    FlagView,
    Party,
    PriorPenalty,
    SuggestionView,
    change_status,
    get_case,
    link_evidence,
    list_cases,
    open_case,
    update_case,
)
from evidence.custody import ChainProblem, ChainReport, CustodyAction, CustodyLog, chain_head
from evidence.derivatives import enqueue_derivatives, make_evidence_derivatives
from evidence.finding_screening import ThresholdFindingScreener
from evidence.package import (
    PackageProblem,
    PackageReport,
    ReferralPackage,
    export_referral_package,
    verify_package,
)
from evidence.ports import (
    AcceptanceListener,
    LocationChecker,
    NoLayersChecker,
    PatrolContext,
    TrackFix,
)
from evidence.referrals import (
    Material,
    MaterialKind,
    OverdueStep,
    ReferralView,
    create_referral,
    flag_for_referral,
    get_referral,
    list_flags,
    list_referrals,
    overdue_steps,
    record_decision,
    record_handover,
    record_police_decision,
    record_police_receipt,
    record_transfer,
    request_reconsideration,
)
from evidence.screening import (
    RuleInput,
    RuleView,
    add_rule,
    list_rules,
    screen_case,
    screen_findings,
)
from evidence.service import EvidenceFilter, EvidencePage, EvidenceService, original_key
from evidence.uploads import ClaimedFix, NewUpload, PartRequest, UploadTicket

__all__ = [
    "AcceptanceListener",
    "Areas",
    "CaseChanges",
    "CaseInput",
    "CaseStatus",
    "CaseView",
    "ChainProblem",
    "ChainReport",
    "ClaimedFix",
    "CustodyAction",
    "CustodyLog",
    "EvidenceFilter",
    "EvidencePage",
    "EvidenceService",
    "FlagView",
    "GeofenceLocationChecker",
    "LocationChecker",
    "Material",
    "MaterialKind",
    "NewUpload",
    "NoLayersChecker",
    "OverdueStep",
    "PackageProblem",
    "PackageReport",
    "PartRequest",
    "Party",
    "PatrolContext",
    "PatrolTrackContext",
    "PatrolVisitListener",
    "PriorPenalty",
    "ReferralPackage",
    "ReferralStatus",
    "ReferralStep",
    "ReferralView",
    "RuleInput",
    "RuleView",
    "SiteReviewListener",
    "SourceKind",
    "SuggestionView",
    "ThresholdFindingScreener",
    "TrackFix",
    "UploadTicket",
    "ViolationKind",
    "add_rule",
    "chain_head",
    "change_status",
    "create_referral",
    "enqueue_derivatives",
    "export_referral_package",
    "flag_for_referral",
    "get_case",
    "get_referral",
    "link_evidence",
    "list_cases",
    "list_flags",
    "list_referrals",
    "list_rules",
    "make_evidence_derivatives",
    "open_case",
    "original_key",
    "overdue_steps",
    "record_decision",
    "record_handover",
    "record_police_decision",
    "record_police_receipt",
    "record_transfer",
    "request_reconsideration",
    "screen_case",
    "screen_findings",
    "seed_demo_cases",
    "update_case",
    "verify_package",
]
