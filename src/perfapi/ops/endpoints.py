"""Health, readiness, metrics and offline interactive docs."""

import asyncio
from importlib.resources import files
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from perfapi.errors import ServiceUnavailableError
from perfapi.kit.openapi import problem_responses
from perfapi.ops.metrics import HttpMetrics

router = APIRouter(tags=["Operations"])

DOCS_ASSETS_PATH = "/docs-assets"
DOCS_ASSETS_DIR = str(files("fastapi_offline") / "static")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/healthz", operation_id="getHealth", summary="The process is alive")
async def healthz() -> Health:
    return Health()


async def _ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="The database is reachable",
    responses=problem_responses(503),
)
async def readyz(request: Request) -> Health:
    engine: AsyncEngine = request.app.state.engine
    timeout: float = request.app.state.settings.readiness_timeout_seconds
    try:
        await asyncio.wait_for(_ping(engine), timeout)
    except Exception as exc:
        raise ServiceUnavailableError(
            f"The database is not reachable: {type(exc).__name__}.",
            headers={"Retry-After": "5"},
        ) from exc
    return Health()


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    http_metrics: HttpMetrics = request.app.state.metrics
    return Response(generate_latest(http_metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="perfapi",
        swagger_js_url=f"{root}{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_ASSETS_PATH}/favicon.png",
    )
