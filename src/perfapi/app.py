"""``create_app(settings)``: the whole service, wired from settings passed in."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from perfapi import __version__
from perfapi.audit.endpoints import router as audit_router
from perfapi.audit.retention import prune_forever as prune_audit_forever
from perfapi.auth.endpoints import router as api_keys_router
from perfapi.auth.jwt import verifier_from_settings
from perfapi.conditional.dependencies import NotModifiedError, not_modified_response
from perfapi.conditional.headers import CachingHeadersMiddleware
from perfapi.config import Settings
from perfapi.console.endpoints import router as console_router
from perfapi.db.engine import create_engine, create_sessionmaker
from perfapi.errors import install_error_handlers
from perfapi.events.derived import derive_forever
from perfapi.events.endpoints import router as events_router
from perfapi.events.retention import prune_forever
from perfapi.events.signals import EventSignals
from perfapi.events.tails import Tails
from perfapi.forecasts.cache import MODELS
from perfapi.forecasts.endpoints import router as forecasts_router
from perfapi.insights.endpoints import router as insights_router
from perfapi.key_results.check_in_endpoints import router as check_ins_router
from perfapi.key_results.endpoints import router as key_results_router
from perfapi.key_results.schemas import KEY_RESULT_CREATE_VARIANTS
from perfapi.kit.openapi import DocumentedUnion, install_openapi
from perfapi.kpis.endpoints import router as kpis_router
from perfapi.objectives.endpoints import router as objectives_router
from perfapi.objectives.link_endpoints import router as objective_kpis_router
from perfapi.ops.endpoints import DOCS_ASSETS_DIR, DOCS_ASSETS_PATH
from perfapi.ops.endpoints import router as ops_router
from perfapi.ops.gc import tune_garbage_collector
from perfapi.ops.logs import configure_logging
from perfapi.ops.metrics import (
    EventMetrics,
    HttpMetrics,
    PartitionMetrics,
    RateLimitMetrics,
    ReplicaMetrics,
    RollupMetrics,
)
from perfapi.ops.middleware import BodyLimitMiddleware, RequestContextMiddleware
from perfapi.ops.text_guard import TextGuardMiddleware
from perfapi.points.admission import Admission
from perfapi.points.endpoints import router as points_router
from perfapi.points.partition_maintenance import maintain_forever
from perfapi.points.partitions import PROCESS_MONTHS
from perfapi.ratelimits.headers import RateLimitHeadersMiddleware
from perfapi.ratelimits.setup import open_limiter
from perfapi.replicas.monitor import monitor_forever
from perfapi.replicas.startup import open_read_replica
from perfapi.reports.kpi_endpoints import router as kpi_reports_router
from perfapi.reports.org_endpoints import router as org_reports_router
from perfapi.reports.progress_endpoints import router as progress_router
from perfapi.rollups.worker import refresh_forever
from perfapi.vault.setup import prepare_keys
from perfapi.webhook_endpoints.delivery import deliver_forever
from perfapi.webhook_endpoints.endpoints import router as webhook_endpoints_router
from perfapi.webhooks.endpoints import router as webhook_sources_router
from perfapi.webhooks.receiver import router as webhook_receiver_router

DESCRIPTION = """\
Strategy and performance management, API first: objectives with key results,
KPIs and their measurements, and reports computed on read.

Authenticate with `Authorization: Bearer <api key>`, or with a JWT from the
organisation's identity provider when the server is set up for one. Errors are RFC 9457
`application/problem+json`. Lists are keyset-paginated with `?limit=&cursor=`.
"""

# Paths whose bodies are bulk data and get the larger ingestion limit.
INGEST_PATHS = ("/v1/points",)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database_url is None:
            raise RuntimeError("create_app needs settings.database_url to serve requests")
        # The key file exists from here on; requests and senders read it at each use.
        prepare_keys(settings)
        engine = create_engine(settings.database_url, settings)
        app.state.engine = engine
        try:
            read_replica = await open_read_replica(
                settings, engine, app.state.replica_metrics.fallbacks
            )
        except BaseException:
            await engine.dispose()
            raise
        app.state.read_replica = read_replica
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.rate_limiter = open_limiter(settings, app.state.rate_limit_metrics)
        pruner = asyncio.create_task(prune_forever(app.state.sessionmaker, settings))
        audit_pruner = asyncio.create_task(prune_audit_forever(app.state.sessionmaker, settings))
        listener = asyncio.create_task(app.state.event_signals.listen_forever(engine))
        deriver = None
        if settings.derived_events_seconds > 0:
            deriver = asyncio.create_task(
                derive_forever(
                    app.state.sessionmaker, settings, app.state.event_metrics.derive_failures
                )
            )
        sender = None
        if settings.webhook_delivery_seconds > 0:
            sender = asyncio.create_task(
                deliver_forever(
                    app.state.sessionmaker,
                    settings,
                    app.state.event_signals,
                    app.state.event_metrics.webhook_attempts,
                    app.state.event_metrics.webhook_failures,
                )
            )
        replica_monitor = None
        if read_replica is not None and settings.read_lag_check_seconds > 0:
            replica_monitor = asyncio.create_task(
                monitor_forever(read_replica, settings.read_lag_check_seconds)
            )
        # Writers of this process distrust what retention may drop (see points.partitions).
        PROCESS_MONTHS.set_retention(settings.points_retention_days)
        partition_keeper = None
        if settings.points_partition_maintenance_seconds > 0:
            partition_keeper = asyncio.create_task(
                maintain_forever(app.state.sessionmaker, settings, app.state.partition_metrics)
            )
        refresher = None
        if settings.rollup_refresh_seconds > 0:
            refresher = asyncio.create_task(
                refresh_forever(app.state.sessionmaker, settings, app.state.rollup_metrics)
            )
        try:
            yield
        finally:
            background = (
                pruner,
                audit_pruner,
                listener,
                deriver,
                sender,
                replica_monitor,
                partition_keeper,
                refresher,
            )
            for task in background:
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.rate_limiter.aclose()
            if app.state.jwt_verifier is not None:
                await app.state.jwt_verifier.aclose()
            if read_replica is not None:
                await read_replica.engine.dispose()
            await engine.dispose()

    MODELS.resize(settings.forecast_models_kept)
    app = FastAPI(
        title="perfapi",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.jwt_verifier = verifier_from_settings(settings)
    app.state.event_signals = EventSignals()
    app.state.event_tails = Tails(app.state.event_signals)
    app.state.metrics = HttpMetrics()
    app.state.rollup_metrics = RollupMetrics(app.state.metrics.registry)
    app.state.event_metrics = EventMetrics(app.state.metrics.registry)
    app.state.rate_limit_metrics = RateLimitMetrics(app.state.metrics.registry)
    app.state.partition_metrics = PartitionMetrics(app.state.metrics.registry)
    app.state.replica_metrics = ReplicaMetrics(app.state.metrics.registry)
    app.state.read_replica = None  # opened by the lifespan when one is configured
    app.state.points_admission = Admission(
        slots=settings.large_points_json_slots,
        large_above=settings.large_points_json_bytes,
        json_limit=settings.max_points_json_bytes,
    )

    install_error_handlers(app)
    app.add_exception_handler(NotModifiedError, not_modified_response)
    app.add_middleware(CachingHeadersMiddleware)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(TextGuardMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        prefix_limits=[(path, settings.max_ingest_body_bytes) for path in INGEST_PATHS],
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "ETag",
                "Link",
                "Location",
                "RateLimit",
                "RateLimit-Policy",
                "Retry-After",
                "X-Request-Id",
            ],
            max_age=600,
        )
    # Added last, so outermost: every response, errors included, gets a request id.
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)

    for router in (
        ops_router,
        objectives_router,
        progress_router,
        objective_kpis_router,
        key_results_router,
        check_ins_router,
        kpis_router,
        points_router,
        kpi_reports_router,
        forecasts_router,
        insights_router,
        events_router,
        org_reports_router,
        webhook_sources_router,
        webhook_receiver_router,
        webhook_endpoints_router,
        api_keys_router,
        audit_router,
        console_router,
    ):
        app.include_router(router)
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-assets")
    install_openapi(
        app,
        unions=[DocumentedUnion("KeyResultCreate", "direction", KEY_RESULT_CREATE_VARIANTS)],
    )
    return app


def app_from_environment() -> FastAPI:
    """The app of one of ``perfapi serve --workers N``'s processes: a new process, it
    reads its settings from the environment the server prepared (the database chosen
    before forking included)."""
    settings = Settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    tune_garbage_collector()
    return create_app(settings)
