"""Casework built on evidence: cases, threshold screening, referrals and referral packages.

It sits above the evidence core in the import order (``make lint`` enforces it): these
modules use the core (uploads, custody, the need-to-know of evidence), and the core never
imports them. What the core needs to know about cases — that evidence linked to a case is
visible to whoever may see the case, and that evidence may reference a case — is registered
into :mod:`evidence.access` by :mod:`evidence.cases.access` when this package is imported.

* :mod:`evidence.cases.cases` — opening, changing and reading cases;
* :mod:`evidence.cases.screening` — the province's criminal referral thresholds;
* :mod:`evidence.cases.finding_screening` — the thresholds applied to field findings;
* :mod:`evidence.cases.referrals` — flags, referrals to the police and their deadlines;
* :mod:`evidence.cases.package` — signed evidence packages;
* :mod:`evidence.cases.access` — who sees which case;
* :mod:`evidence.cases.tip_offs` — 12336 clues and the other channels, with working-day
  deadlines (:mod:`evidence.cases.calendar`); a clue's verification target reports back
  through :func:`patrol.verification.register_verification_listener`, registered here;
* :mod:`evidence.cases.petitions` — petitions (信访) with their statutory deadlines;
* :mod:`evidence.cases.models`, :mod:`evidence.cases.errors`, :mod:`evidence.cases.demo`.
"""

from __future__ import annotations

from evidence.cases import access as access  # registers what the core needs to know of cases
from evidence.cases.cases import (
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
from evidence.cases.demo import seed_demo_cases
from evidence.cases.finding_screening import ThresholdFindingScreener
from evidence.cases.models import (
    CaseStatus,
    ReferralStatus,
    ReferralStep,
    SourceKind,
    ViolationKind,
)
from evidence.cases.package import (
    PackageProblem,
    PackageReport,
    ReferralPackage,
    export_referral_package,
    verify_package,
)
from evidence.cases.referrals import (
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
from evidence.cases.screening import (
    RuleInput,
    RuleView,
    add_rule,
    list_rules,
    screen_case,
    screen_findings,
)
from evidence.cases.tip_offs import on_tip_off_verified
from patrol.verification import register_verification_listener

__all__ = [
    "Areas",
    "CaseChanges",
    "CaseInput",
    "CaseStatus",
    "CaseView",
    "FlagView",
    "Material",
    "MaterialKind",
    "OverdueStep",
    "PackageProblem",
    "PackageReport",
    "Party",
    "PriorPenalty",
    "ReferralPackage",
    "ReferralStatus",
    "ReferralStep",
    "ReferralView",
    "RuleInput",
    "RuleView",
    "SourceKind",
    "SuggestionView",
    "ThresholdFindingScreener",
    "ViolationKind",
    "add_rule",
    "change_status",
    "create_referral",
    "export_referral_package",
    "flag_for_referral",
    "get_case",
    "get_referral",
    "link_evidence",
    "list_cases",
    "list_flags",
    "list_referrals",
    "list_rules",
    "open_case",
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

# the result of a clue's verification target, recorded from a phone or over REST, returns to
# the clue in the same transaction
register_verification_listener("tip_off", on_tip_off_verified)
