"""Evidence: upload sessions, verification, metadata, derivatives and custody.

The public surface for the web layer is :class:`EvidenceService` (one per request) and
:mod:`evidence.tasks` (the derivatives task, run by the procrastinate worker); the ports are
implemented over geofence and patrol in :mod:`evidence.adapters`; errors are in
:mod:`evidence.errors`. The casework built on evidence (cases, threshold screening, referrals
and referral packages) is the subpackage :mod:`evidence.cases`, above this core in the import
order: nothing here imports it.
"""

from __future__ import annotations

from evidence.adapters import (
    GeofenceLocationChecker,
    PatrolTrackContext,
    PatrolVisitListener,
    SiteReviewListener,
)
from evidence.custody import ChainProblem, ChainReport, CustodyAction, CustodyLog, chain_head
from evidence.derivatives import derivatives_job, make_evidence_derivatives
from evidence.ports import (
    AcceptanceListener,
    LocationChecker,
    NoLayersChecker,
    PatrolContext,
    TrackFix,
)
from evidence.service import EvidenceFilter, EvidencePage, EvidenceService, original_key
from evidence.uploads import ClaimedFix, NewUpload, PartRequest, UploadTicket

__all__ = [
    "AcceptanceListener",
    "ChainProblem",
    "ChainReport",
    "ClaimedFix",
    "CustodyAction",
    "CustodyLog",
    "EvidenceFilter",
    "EvidencePage",
    "EvidenceService",
    "GeofenceLocationChecker",
    "LocationChecker",
    "NewUpload",
    "NoLayersChecker",
    "PartRequest",
    "PatrolContext",
    "PatrolTrackContext",
    "PatrolVisitListener",
    "SiteReviewListener",
    "TrackFix",
    "UploadTicket",
    "chain_head",
    "derivatives_job",
    "make_evidence_derivatives",
    "original_key",
]
