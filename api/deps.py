"""Dependency providers: the request's transaction, the caller, and the services."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from evidence import (
    EvidenceService,
    GeofenceLocationChecker,
    PatrolTrackContext,
    PatrolVisitListener,
    SiteReviewListener,
)
from evidence.adapters import visible_evidence_ids
from evidence.cases import ThresholdFindingScreener
from evidence.cases.documents import DocumentService
from evidence.cases.package_keys import PackageKeyring
from evidence.cases.petition_service import PetitionService
from evidence.cases.procedure import ProcedureService
from evidence.cases.satellite_batches import SatelliteBatchService
from evidence.cases.service import CaseService
from evidence.cases.tip_offs import TipOffService
from evidence.custody import CustodyLog
from geofence.service import GeofenceService
from infra.db import utcnow
from infra.scope import Principal
from infra.settings import Settings
from patrol.accounts import AccountService
from patrol.alerts import AlertService
from patrol.areas import AreaService
from patrol.config import PatrolConfig
from patrol.coverage import CoverageService
from patrol.duty import DutyService, GeofenceDutyRoster
from patrol.org import OrgService
from patrol.plans import PlanService
from patrol.sessions import PatrolService
from patrol.tracks import TrackService
from patrol.verification import VerificationService
from sync import CursorCodec, LayerService, PullService, PushService

__all__ = [
    "DEPENDENCIES",
    "Accounts",
    "Alerts",
    "Areas",
    "Caller",
    "Cases",
    "Coverage",
    "Db",
    "Documents",
    "Duty",
    "EvidenceSvc",
    "Geofence",
    "Layers",
    "LocationChecks",
    "Org",
    "Patrols",
    "Petitions",
    "Plans",
    "Procedure",
    "Pull",
    "Push",
    "SatelliteBatches",
    "Settings_",
    "TipOffs",
    "Tracks",
    "Verifications",
]


@contextlib.asynccontextmanager
async def request_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; committed when the handler succeeds, rolled back otherwise.

    A session the request never used (a single check answered from the index, for one) is
    neither committed nor closed: both are round trips through SQLAlchemy's greenlet for
    nothing, a tenth of such a request's time.
    """
    session = state.session_factory()
    try:
        yield session
    except BaseException:
        if _used(session):
            await session.rollback()
            await session.close()
        raise
    if _used(session):
        try:
            await session.commit()
        finally:
            await session.close()


def _used(session: AsyncSession) -> bool:
    return bool(session.in_transaction() or session.identity_map or session.new or session.deleted)


async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
    async with request_session(state) as session:
        yield session


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    return request.user


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


# Handler parameters are injected by name; these aliases mark them as dependencies.
Db = NamedDependency[AsyncSession]
Caller = NamedDependency[Principal]
Settings_ = NamedDependency[Settings]


def provide_accounts(db: Db, settings: Settings_) -> AccountService:
    return AccountService(db, settings.auth)


def provide_org(db: Db) -> OrgService:
    return OrgService(db)


def provide_pull(db: Db, settings: Settings_) -> PullService:
    return PullService(db, CursorCodec(settings.auth.secret_key))


def provide_push(db: Db, settings: Settings_, state: State) -> PushService:
    # evidence caption edits append to the custody chain, keyed like the evidence service's;
    # ``state.clock`` (see provide_petitions) replaces the server's when set
    return PushService(
        db,
        config=PATROL_CONFIG,
        custody=CustodyLog(settings.evidence.package_signing_key.encode()),
        screener=FINDING_SCREENER,
        clock=state.get("clock") or utcnow,
    )


def provide_layers(db: Db, settings: Settings_, state: State) -> LayerService:
    limits = settings.layers
    return LayerService(
        db,
        sessions=state.session_factory,
        max_geojson_bytes=limits.geojson_max_bytes,
        max_tile_bytes=limits.tile_max_bytes,
    )


# Field work: one config for every service (the county's time zone, filters, tolerances),
# and one screening of findings against the referral thresholds (REST and sync push alike).
PATROL_CONFIG = PatrolConfig()
FINDING_SCREENER = ThresholdFindingScreener()


def provide_areas(db: Db) -> AreaService:
    return AreaService(db, config=PATROL_CONFIG)


def provide_plans(db: Db) -> PlanService:
    return PlanService(db, config=PATROL_CONFIG)


def provide_patrols(db: Db) -> PatrolService:
    return PatrolService(db, config=PATROL_CONFIG, screener=FINDING_SCREENER)


def provide_tracks(db: Db) -> TrackService:
    return TrackService(db, config=PATROL_CONFIG)


def provide_coverage(db: Db) -> CoverageService:
    return CoverageService(db, roster=GeofenceDutyRoster(), config=PATROL_CONFIG)


def provide_duty(db: Db) -> DutyService:
    return DutyService(db, GeofenceDutyRoster(), config=PATROL_CONFIG)


def provide_verifications(db: Db) -> VerificationService:
    # evidence named in a result is checked with the evidence need-to-know rule
    return VerificationService(db, config=PATROL_CONFIG, evidence=visible_evidence_ids)


def provide_alerts(db: Db) -> AlertService:
    return AlertService(db)


def provide_evidence(
    db: Db, settings: Settings_, principal: Caller, state: State
) -> EvidenceService:
    return EvidenceService(
        db,
        state.store,
        settings.evidence,
        GeofenceLocationChecker(),
        patrol=PatrolTrackContext(),
        listeners=(SiteReviewListener(), PatrolVisitListener(principal)),
    )


def provide_package_keys(settings: Settings_) -> PackageKeyring:
    return PackageKeyring.from_settings(settings)


def provide_cases(db: Db, settings: Settings_, state: State) -> CaseService:
    # ``state.clock`` (see provide_petitions) replaces the server's when set: a referral's
    # overdue steps are judged by it
    return CaseService(
        db,
        state.store,
        settings.evidence,
        keys=PackageKeyring.from_settings(settings),
        clock=state.get("clock") or utcnow,
    )


def provide_petitions(db: Db, settings: Settings_, state: State) -> PetitionService:
    # reads of a petitioner's identity append to the custody chain, keyed like evidence's;
    # ``state.clock`` (a fixed clock a test or a drill sets) replaces the server's when set
    custody = CustodyLog(settings.evidence.package_signing_key.encode())
    clock = state.get("clock") or utcnow
    return PetitionService(db, custody, clock=clock)


def provide_tip_offs(db: Db, settings: Settings_, state: State) -> TipOffService:
    # reporter reads append to the custody chain, keyed like the evidence service's;
    # ``state.clock`` (see provide_petitions) replaces the server's when set
    return TipOffService(
        db,
        settings.tip_offs,
        CustodyLog(settings.evidence.package_signing_key.encode()),
        areas=AreaService(db, config=PATROL_CONFIG),
        clock=state.get("clock") or utcnow,
    )


def provide_satellite_batches(db: Db, settings: Settings_, state: State) -> SatelliteBatchService:
    # files above the layer import's job limit are refused (no background path for batches)
    return SatelliteBatchService(
        db,
        settings.satellite,
        import_limit_bytes=settings.layers.import_job_bytes,
        tz=PATROL_CONFIG.tz,
        clock=state.get("clock") or utcnow,
    )


def provide_procedure(db: Db, settings: Settings_, state: State) -> ProcedureService:
    # ``state.clock`` (see provide_petitions) replaces the server's when set; the procuratorate's
    # reads append to the custody chain, keyed like evidence's
    return ProcedureService(
        db,
        settings.procedure,
        clock=state.get("clock") or utcnow,
        custody=CustodyLog(settings.evidence.package_signing_key.encode()),
    )


def provide_documents(db: Db, settings: Settings_, state: State) -> DocumentService:
    # custody entries keyed like the evidence service's; the package keys sign the 案卷;
    # ``state.clock`` (see provide_petitions) replaces the server's when set
    return DocumentService(
        db,
        state.store,
        custody_key=settings.evidence.package_signing_key,
        procedure=settings.procedure,
        keys=PackageKeyring.from_settings(settings),
        clock=state.get("clock") or utcnow,
    )


def provide_geofence(db: Db, settings: Settings_, state: State) -> GeofenceService:
    return GeofenceService(db, import_jobs=state.import_jobs, settings=settings.layers)


async def provide_location_checks(
    state: State, request: Request[Principal, Any, Any]
) -> AsyncIterator[tuple[GeofenceService, Principal]]:
    """The location checks' service and caller from one provider.

    Litestar resolves the dependencies of one level (session, settings, caller) as concurrent
    tasks in a task group; for a single check, answered from memory in a fraction of a
    millisecond, spawning them cost more than the check. Reserved parameters (state, request)
    are not dependencies, so this provider is resolved alone.
    """
    async with location_checks(state, request.user) as checks:
        yield checks


@contextlib.asynccontextmanager
async def location_checks(
    state: State, caller: Principal
) -> AsyncIterator[tuple[GeofenceService, Principal]]:
    """The location checks' service over one request session, and the caller (shared by
    :func:`provide_location_checks` and the direct path of :mod:`api.fast_checks`)."""
    settings: Settings = state.settings
    async with request_session(state) as session:
        yield (
            GeofenceService(session, import_jobs=state.import_jobs, settings=settings.layers),
            caller,
        )


Accounts = NamedDependency[AccountService]
Cases = NamedDependency[CaseService]
Geofence = NamedDependency[GeofenceService]
LocationChecks = NamedDependency[tuple[GeofenceService, Principal]]
Petitions = NamedDependency[PetitionService]
EvidenceSvc = NamedDependency[EvidenceService]
Org = NamedDependency[OrgService]
Pull = NamedDependency[PullService]
Push = NamedDependency[PushService]
Layers = NamedDependency[LayerService]
Areas = NamedDependency[AreaService]
Plans = NamedDependency[PlanService]
Patrols = NamedDependency[PatrolService]
Tracks = NamedDependency[TrackService]
Coverage = NamedDependency[CoverageService]
Duty = NamedDependency[DutyService]
Alerts = NamedDependency[AlertService]
Verifications = NamedDependency[VerificationService]
TipOffs = NamedDependency[TipOffService]
SatelliteBatches = NamedDependency[SatelliteBatchService]
PackageKeys = NamedDependency[PackageKeyring]
Procedure = NamedDependency[ProcedureService]
Documents = NamedDependency[DocumentService]

DEPENDENCIES: dict[str, Provide] = {
    "db": Provide(provide_db),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "accounts": Provide(provide_accounts, sync_to_thread=False),
    "org": Provide(provide_org, sync_to_thread=False),
    "evidence": Provide(provide_evidence, sync_to_thread=False),
    "pull": Provide(provide_pull, sync_to_thread=False),
    "push": Provide(provide_push, sync_to_thread=False),
    "layers": Provide(provide_layers, sync_to_thread=False),
    "areas": Provide(provide_areas, sync_to_thread=False),
    "plans": Provide(provide_plans, sync_to_thread=False),
    "patrols": Provide(provide_patrols, sync_to_thread=False),
    "tracks": Provide(provide_tracks, sync_to_thread=False),
    "coverage": Provide(provide_coverage, sync_to_thread=False),
    "duty": Provide(provide_duty, sync_to_thread=False),
    "alerts": Provide(provide_alerts, sync_to_thread=False),
    "verifications": Provide(provide_verifications, sync_to_thread=False),
    "cases": Provide(provide_cases, sync_to_thread=False),
    "petitions": Provide(provide_petitions, sync_to_thread=False),
    "geofence": Provide(provide_geofence, sync_to_thread=False),
    "location_checks": Provide(provide_location_checks),
    "tip_offs": Provide(provide_tip_offs, sync_to_thread=False),
    "satellite_batches": Provide(provide_satellite_batches, sync_to_thread=False),
    "package_keys": Provide(provide_package_keys, sync_to_thread=False),
    "procedure": Provide(provide_procedure, sync_to_thread=False),
    "documents": Provide(provide_documents, sync_to_thread=False),
}
