"""Evidence: upload sessions, verification, metadata, derivatives and custody (issue 4).

The public surface for the web layer is :class:`EvidenceService` (one per request) and
:func:`run_pending_jobs` / :func:`run_worker` (the derivatives worker); the ports are
implemented over geofence and patrol in :mod:`evidence.adapters`; errors are in
:mod:`evidence.errors`.
"""

from __future__ import annotations

from evidence.adapters import (
    GeofenceLocationChecker,
    PatrolTrackContext,
    PatrolVisitListener,
    SiteReviewListener,
)
from evidence.custody import ChainProblem, ChainReport, CustodyAction, CustodyLog, chain_head
from evidence.derivatives import JobsRun, enqueue_derivatives, run_pending_jobs
from evidence.ports import (
    AcceptanceListener,
    LocationChecker,
    NoLayersChecker,
    PatrolContext,
    TrackFix,
)
from evidence.service import EvidenceFilter, EvidencePage, EvidenceService, original_key
from evidence.uploads import ClaimedFix, NewUpload, PartRequest, UploadTicket
from evidence.worker import WorkerOptions, run_worker

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
    "JobsRun",
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
    "WorkerOptions",
    "chain_head",
    "enqueue_derivatives",
    "original_key",
    "run_pending_jobs",
    "run_worker",
]
