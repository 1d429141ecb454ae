"""The composition root: ``create_app(settings)`` wires every part and nothing else does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.auth import TokenMinter, build_jwt_auth
from api.compression import AdaptiveGzip
from api.controllers.admin import (
    CountyController,
    CountySettingsController,
    TownshipController,
    UserController,
    VillageController,
)
from api.controllers.areas import AreaController
from api.controllers.auth import AuthController, MeController
from api.controllers.cases import CaseController
from api.controllers.console import ConsoleConfigController, console_router, docs_render_plugins
from api.controllers.documents import CaseDocumentController
from api.controllers.duty import DutyController
from api.controllers.evidence import EvidenceController, UploadController
from api.controllers.geofence import GeofenceController
from api.controllers.jobs import JobController
from api.controllers.layers import LayerController
from api.controllers.mine_sites import MineSiteController
from api.controllers.patrol import FindingController, PatrolController
from api.controllers.petitions import PetitionController
from api.controllers.plans import PlanController
from api.controllers.procedure import ProcedureController
from api.controllers.referrals import FlagController, ReferralController, ReferralRuleController
from api.controllers.reports import ReportController, StatisticsController
from api.controllers.review import ReviewController
from api.controllers.satellite_batches import SatelliteBatchController
from api.controllers.satellite_figures import SatelliteFiguresController
from api.controllers.satellite_tasks import SatelliteTaskController
from api.controllers.signing_keys import SigningKeyController
from api.controllers.sync import LayerDataController, SyncController
from api.controllers.system import SystemController
from api.controllers.tip_offs import TipOffController, WorkCalendarController
from api.decoding import GuardedRequest, check_parameters
from api.deps import DEPENDENCIES
from api.fast_checks import FastCheckLocation
from api.guards import external_role_guard
from api.metrics import Metrics
from api.middleware import RequestIdMiddleware
from api.models import MODEL_MODULES
from api.openapi_errors import complete_document
from api.options import allow_every_method
from api.problems import handle_exception
from api.query import document_wire
from api.worker import TASK_NAMES, run_background_worker, task_app
from evidence.cases.petitions import register_petition_clue_opener
from evidence.cases.tip_offs import petition_clue_opener
from geofence.index import DEFAULT_INDEX
from geofence.jobs import ImportJobRunner
from infra.db import create_engine, create_session_factory
from infra.memory import freeze_long_lived
from infra.migrate import Migrator
from infra.objectstore import ObjectStore, S3ObjectStore
from infra.settings import Settings

__all__ = ["API_V1_HANDLERS", "create_app"]

_WORKER_STOP_S = 40.0  # shutdown waits this long for the jobs in hand (the worker: 30 s)

API_V1_HANDLERS: list[Any] = [
    AuthController,
    MeController,
    UserController,
    CountyController,
    CountySettingsController,
    TownshipController,
    VillageController,
    GeofenceController,
    LayerController,
    MineSiteController,
    UploadController,
    EvidenceController,
    SyncController,
    LayerDataController,
    AreaController,
    PlanController,
    PatrolController,
    FindingController,
    DutyController,
    ReviewController,
    CaseController,
    ProcedureController,
    CaseDocumentController,
    TipOffController,
    WorkCalendarController,
    SatelliteBatchController,
    SatelliteTaskController,
    SatelliteFiguresController,
    ReferralRuleController,
    FlagController,
    ReferralController,
    PetitionController,
    JobController,
    ConsoleConfigController,
    SigningKeyController,
    StatisticsController,
    ReportController,
]


def create_app(settings: Settings, *, store: ObjectStore | None = None) -> Litestar:
    """Build the application. Connections are opened lazily and closed on shutdown."""
    settings.validate()
    # a complaint or accusation petition opens a clue with this county setup's deadlines
    register_petition_clue_opener(petition_clue_opener(settings.tip_offs))
    engine = create_engine(settings.database)
    object_store = store or S3ObjectStore(settings.object_store)
    jwt_auth = build_jwt_auth(settings.auth)
    session_factory = create_session_factory(engine)
    DEFAULT_INDEX.configure(budget_bytes=settings.layers.index_budget_mb * 1024 * 1024)
    # Work no request waits on (layer import jobs, the in-process worker) has its own small
    # pool whose statements are not cut off at the request bound.
    background = create_engine(settings.database.for_background_work())
    background_sessions = create_session_factory(background)
    import_jobs = ImportJobRunner(background_sessions, object_store)
    metrics = Metrics({"requests": engine, "background": background}, tasks=TASK_NAMES)
    state = State(
        {
            "settings": settings,
            "engine": engine,
            "session_factory": session_factory,
            "import_jobs": import_jobs,
            "migrator": Migrator(engine, MODEL_MODULES),
            "store": object_store,
            "tokens": TokenMinter(jwt_auth, settings.auth),
            "metrics": metrics,
        }
    )

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker: asyncio.Task[None] | None = None
        if settings.server.run_worker_in_process:
            # The embedded default: procrastinate's worker runs inside this process.
            concurrency = settings.server.worker_concurrency
            worker = asyncio.create_task(
                run_background_worker(
                    settings,
                    background_sessions,
                    object_store,
                    stop=stop,
                    concurrency=concurrency,
                    app=task_app(settings, concurrency=concurrency),
                ),
                name="background-worker",
            )
        await import_jobs.recover()
        # held counties read again in the background, on this loop, with this app's sessions
        DEFAULT_INDEX.renew_with(session_factory)
        # what is alive now lives as long as the process: keep full collections off it
        freeze_long_lived(collect=True)
        try:
            yield
        finally:
            stop.set()
            DEFAULT_INDEX.stop_renewing(session_factory)
            if worker is not None:
                try:
                    await asyncio.wait_for(worker, timeout=_WORKER_STOP_S)
                except TimeoutError:
                    worker.cancel()  # a job cut short is retried (queue:retry_stalled)
            await engine.dispose()
            await background.dispose()

    api_v1 = Router(path="/api/v1", route_handlers=API_V1_HANDLERS)
    app = Litestar(
        route_handlers=[SystemController, api_v1, console_router()],
        dependencies=DEPENDENCIES,
        # deny by default for external roles (the procuratorate): only its allowlist
        guards=[external_role_guard],
        state=state,
        lifespan=[lifespan],
        on_app_init=[jwt_auth.on_app_init],
        exception_handlers={Exception: handle_exception},
        # the input guard: bodies, query and path parameters (api/decoding.py)
        request_class=GuardedRequest,
        before_request=check_parameters,
        # gzip at level 6 for small answers and 1 for bulk ones (api/compression.py); handlers
        # with opt skip_compression stream already-compressed bytes (ZIP packages).
        middleware=[AdaptiveGzip()],
        request_max_body_size=settings.server.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Field patrol and inspection API",
            version="1.0.0",
            path="/schema",
            render_plugins=docs_render_plugins(),  # their scripts from here, not a CDN
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
        ),
        debug=False,
        # infra.logging owns the log stream; Litestar's default config would replace it.
        logging_config=None,
    )
    complete_document(app.openapi_schema)  # error responses and full request schemas
    document_wire(app.openapi_schema)  # camelCase parameter names, deprecated members
    allow_every_method(app)
    # Outermost, so that unrouted requests (404/405) get a request id and an access log too.
    routed = app.asgi_handler
    if settings.server.fast_checks:  # the phones' single checks (api/fast_checks.py)
        routed = FastCheckLocation(app, routed)
    app.asgi_handler = RequestIdMiddleware(routed, observe=metrics.observe_request)
    return app
