"""One scenario per write operation of the API: set up what it needs, make the write,
and say which audit entry it must leave.

Keyed by operation id, so the test comparing them with the app's operations fails
for a new write route nobody wrote a scenario (and an audit entry) for.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from tests.audit.helpers import closed_port_url, deliver_once
from tests.support import Tenant, created
from tests.webhooks.helpers import SIMPLE_MAPPING, body_of, hmac_signature, simple_payload

GOAL = {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"}
SOURCES = "/v1/webhook-sources"
ENDPOINTS = "/v1/webhook-endpoints"


@dataclass(frozen=True)
class Context:
    client: httpx.AsyncClient
    tenant: Tenant
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings

    async def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = await self.client.request(method, path, headers=self.tenant.headers, json=body)
        assert response.is_success, response.text
        return response

    async def make(self, path: str, body: Any) -> str:
        return await created(self.client, self.tenant, path, body)


@dataclass(frozen=True)
class Expected:
    action: str
    resource_type: str
    resource_id: str | None
    # Fields `changes` must hold with these values (a callable checks a value).
    includes: Mapping[str, Any] = field(default_factory=dict)
    # create: every old value null; delete: every new value null; rotation: only `includes`.
    kind: str = "change"
    # The whole of `changes`, where the test knows it (updates).
    changes: Mapping[str, Any] | None = None


Scenario = Callable[[Context], Awaitable[tuple[httpx.Response, Expected]]]
SCENARIOS: dict[str, Scenario] = {}
NOT_AUDITED = {
    # Unauthenticated, signed by the source: its deliveries log records it (docs/audit.md).
    "receiveWebhook",
}


def scenario(operation_id: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[operation_id] = function
        return function

    return register


async def _objective(ctx: Context) -> str:
    return await ctx.make("/v1/objectives", GOAL)


async def _kpi(ctx: Context, key: str = "sales.arr") -> str:
    return await ctx.make("/v1/kpis", {"key": key, "name": "ARR"})


async def _key_result(ctx: Context) -> tuple[str, str]:
    objective = await _objective(ctx)
    body = {"title": "Ship", "direction": "at_least", "target_value": 1}
    return objective, await ctx.make(f"/v1/objectives/{objective}/key-results", body)


@scenario("createObjective")
async def create_objective(ctx: Context) -> tuple[httpx.Response, Expected]:
    response = await ctx.send("POST", "/v1/objectives", GOAL)
    includes = {
        "title": [None, "Grow"],
        "start_date": [None, "2026-01-01"],
        "due_date": [None, "2026-12-31"],
        "status": [None, "active"],
        "parent_id": [None, None],
    }
    return response, Expected(
        "objective.created", "objective", response.json()["id"], includes, kind="create"
    )


@scenario("updateObjective")
async def update_objective(ctx: Context) -> tuple[httpx.Response, Expected]:
    objective = await _objective(ctx)
    body = {"title": "Grow more", "team": "emea", "status": "active"}  # status unchanged
    response = await ctx.send("PATCH", f"/v1/objectives/{objective}", body)
    changes = {"title": ["Grow", "Grow more"], "team": [None, "emea"]}
    return response, Expected("objective.updated", "objective", objective, changes=changes)


@scenario("deleteObjective")
async def delete_objective(ctx: Context) -> tuple[httpx.Response, Expected]:
    objective = await _objective(ctx)
    response = await ctx.send("DELETE", f"/v1/objectives/{objective}")
    includes = {"title": ["Grow", None], "due_date": ["2026-12-31", None]}
    return response, Expected("objective.deleted", "objective", objective, includes, kind="delete")


@scenario("linkObjectiveKpi")
async def link_objective_kpi(ctx: Context) -> tuple[httpx.Response, Expected]:
    objective, kpi = await _objective(ctx), await _kpi(ctx)
    response = await ctx.send("PUT", f"/v1/objectives/{objective}/kpis/{kpi}", {"weight": 2})
    changes = {"kpi_id": [None, kpi], "weight": [None, 2.0]}
    return response, Expected("objective.kpi_linked", "objective", objective, changes=changes)


@scenario("unlinkObjectiveKpi")
async def unlink_objective_kpi(ctx: Context) -> tuple[httpx.Response, Expected]:
    objective, kpi = await _objective(ctx), await _kpi(ctx)
    await ctx.send("PUT", f"/v1/objectives/{objective}/kpis/{kpi}", {"weight": 3})
    response = await ctx.send("DELETE", f"/v1/objectives/{objective}/kpis/{kpi}")
    changes = {"kpi_id": [kpi, None], "weight": [3.0, None]}
    return response, Expected("objective.kpi_unlinked", "objective", objective, changes=changes)


@scenario("createKeyResult")
async def create_key_result(ctx: Context) -> tuple[httpx.Response, Expected]:
    objective = await _objective(ctx)
    body = {"title": "Ship", "direction": "at_least", "target_value": 5}
    response = await ctx.send("POST", f"/v1/objectives/{objective}/key-results", body)
    includes = {
        "objective_id": [None, objective],
        "title": [None, "Ship"],
        "direction": [None, "at_least"],
        "target_value": [None, 5.0],
        "kpi_id": [None, None],
    }
    key_result = response.json()["id"]
    return response, Expected("key_result.created", "key_result", key_result, includes, "create")


@scenario("updateKeyResult")
async def update_key_result(ctx: Context) -> tuple[httpx.Response, Expected]:
    _, key_result = await _key_result(ctx)
    body = {"title": "Ship it", "target_value": 2}
    response = await ctx.send("PATCH", f"/v1/key-results/{key_result}", body)
    changes = {"title": ["Ship", "Ship it"], "target_value": [1.0, 2.0]}
    return response, Expected("key_result.updated", "key_result", key_result, changes=changes)


@scenario("deleteKeyResult")
async def delete_key_result(ctx: Context) -> tuple[httpx.Response, Expected]:
    objective, key_result = await _key_result(ctx)
    response = await ctx.send("DELETE", f"/v1/key-results/{key_result}")
    includes = {"title": ["Ship", None], "objective_id": [objective, None]}
    return response, Expected("key_result.deleted", "key_result", key_result, includes, "delete")


@scenario("createCheckIn")
async def create_check_in(ctx: Context) -> tuple[httpx.Response, Expected]:
    _, key_result = await _key_result(ctx)
    body = {"value": 3, "at": "2026-02-01T00:00:00Z", "note": "on track"}
    response = await ctx.send("POST", f"/v1/key-results/{key_result}/check-ins", body)
    includes = {
        "key_result_id": [None, key_result],
        "value": [None, 3.0],
        "at": [None, "2026-02-01T00:00:00Z"],
        "note": [None, "on track"],
    }
    check_in = response.json()["id"]
    return response, Expected("check_in.created", "check_in", check_in, includes, "create")


@scenario("deleteCheckIn")
async def delete_check_in(ctx: Context) -> tuple[httpx.Response, Expected]:
    _, key_result = await _key_result(ctx)
    check_in = await ctx.make(f"/v1/key-results/{key_result}/check-ins", {"value": 4})
    response = await ctx.send("DELETE", f"/v1/check-ins/{check_in}")
    includes = {"key_result_id": [key_result, None], "value": [4.0, None]}
    return response, Expected("check_in.deleted", "check_in", check_in, includes, "delete")


@scenario("createKpi")
async def create_kpi(ctx: Context) -> tuple[httpx.Response, Expected]:
    body = {"key": "sales.arr", "name": "ARR", "unit": "EUR", "tags": ["sales"]}
    response = await ctx.send("POST", "/v1/kpis", body)
    includes = {
        "key": [None, "sales.arr"],
        "name": [None, "ARR"],
        "unit": [None, "EUR"],
        "tags": [None, ["sales"]],
        "aggregation": [None, "sum"],
    }
    return response, Expected("kpi.created", "kpi", response.json()["id"], includes, "create")


@scenario("updateKpi")
async def update_kpi(ctx: Context) -> tuple[httpx.Response, Expected]:
    kpi = await _kpi(ctx)
    response = await ctx.send("PATCH", f"/v1/kpis/{kpi}", {"name": "Annual revenue"})
    changes = {"name": ["ARR", "Annual revenue"]}
    return response, Expected("kpi.updated", "kpi", kpi, changes=changes)


@scenario("deleteKpi")
async def delete_kpi(ctx: Context) -> tuple[httpx.Response, Expected]:
    kpi = await _kpi(ctx)
    response = await ctx.send("DELETE", f"/v1/kpis/{kpi}")
    includes = {"key": ["sales.arr", None], "name": ["ARR", None]}
    return response, Expected("kpi.deleted", "kpi", kpi, includes, kind="delete")


@scenario("createKpiTarget")
async def create_kpi_target(ctx: Context) -> tuple[httpx.Response, Expected]:
    kpi = await _kpi(ctx)
    body = {"period_start": "2026-01-01", "period_end": "2026-12-31", "value": 100}
    response = await ctx.send("POST", f"/v1/kpis/{kpi}/targets", body)
    includes = {
        "kpi_id": [None, kpi],
        "period_start": [None, "2026-01-01"],
        "period_end": [None, "2026-12-31"],
        "value": [None, 100.0],
    }
    target = response.json()["id"]
    return response, Expected("kpi_target.created", "kpi_target", target, includes, "create")


@scenario("deleteKpiTarget")
async def delete_kpi_target(ctx: Context) -> tuple[httpx.Response, Expected]:
    kpi = await _kpi(ctx)
    body = {"period_start": "2026-01-01", "period_end": "2026-03-31", "value": 7}
    target = await ctx.make(f"/v1/kpis/{kpi}/targets", body)
    response = await ctx.send("DELETE", f"/v1/kpi-targets/{target}")
    includes = {"kpi_id": [kpi, None], "value": [7.0, None]}
    return response, Expected("kpi_target.deleted", "kpi_target", target, includes, "delete")


def _points(*days: int) -> dict[str, Any]:
    return {
        "points": [
            {"kpi": "sales.arr", "ts": f"2026-01-{day:02d}T09:00:00Z", "value": day} for day in days
        ]
    }


@scenario("ingestPoints")
async def ingest_points(ctx: Context) -> tuple[httpx.Response, Expected]:
    await _kpi(ctx)
    await ctx.send("POST", "/v1/points", _points(10))
    response = await ctx.send("POST", "/v1/points", _points(10, 11))
    changes = {
        "received": [None, 2],
        "inserted": [None, 1],
        "updated": [None, 0],
        "unchanged": [None, 1],
        "kpis": [None, ["sales.arr"]],
    }
    return response, Expected("points.ingested", "points", None, changes=changes)


@scenario("deletePoints")
async def delete_points(ctx: Context) -> tuple[httpx.Response, Expected]:
    kpi = await _kpi(ctx)
    await ctx.send("POST", "/v1/points", _points(10, 11))
    response = await ctx.send("DELETE", f"/v1/kpis/{kpi}/points?from=2026-01-01&to=2026-01-11")
    changes = {
        "from": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"],
        "to": ["2026-01-11T00:00:00Z", "2026-01-11T00:00:00Z"],
        "points": [1, 0],
    }
    return response, Expected("kpi.points_deleted", "kpi", kpi, changes=changes)


async def _source(ctx: Context) -> dict[str, Any]:
    body = {"name": "crm", "scheme": "hmac_sha256", "mappings": [SIMPLE_MAPPING]}
    made: dict[str, Any] = (await ctx.send("POST", SOURCES, body)).json()
    return made


@scenario("createWebhookSource")
async def create_webhook_source(ctx: Context) -> tuple[httpx.Response, Expected]:
    body = {"name": "crm", "scheme": "hmac_sha256", "mappings": [SIMPLE_MAPPING]}
    response = await ctx.send("POST", SOURCES, body)
    includes = {
        "name": [None, "crm"],
        "scheme": [None, "hmac_sha256"],
        "signature_header": [None, "X-Signature"],
        "mappings": [None, [{**SIMPLE_MAPPING, "dimensions": {}}]],
        "enabled": [None, True],
        "previous_secret_expires_at": [None, None],
    }
    source = response.json()["id"]
    return response, Expected(
        "webhook_source.created", "webhook_source", source, includes, "create"
    )


@scenario("updateWebhookSource")
async def update_webhook_source(ctx: Context) -> tuple[httpx.Response, Expected]:
    source = (await _source(ctx))["id"]
    body = {"enabled": False, "name": "crm"}  # the name does not change
    response = await ctx.send("PATCH", f"{SOURCES}/{source}", body)
    changes = {"enabled": [True, False]}
    return response, Expected("webhook_source.updated", "webhook_source", source, changes=changes)


@scenario("deleteWebhookSource")
async def delete_webhook_source(ctx: Context) -> tuple[httpx.Response, Expected]:
    source = (await _source(ctx))["id"]
    response = await ctx.send("DELETE", f"{SOURCES}/{source}")
    includes = {"name": ["crm", None], "scheme": ["hmac_sha256", None]}
    return response, Expected(
        "webhook_source.deleted", "webhook_source", source, includes, kind="delete"
    )


def _expiry_pair(response: httpx.Response, overlap: timedelta) -> Callable[[Any], bool]:
    """Whether a recorded expiry of the previous secret is ``overlap`` after the request."""
    sent = datetime.now(UTC)

    def close(value: Any) -> bool:
        return abs(datetime.fromisoformat(value) - (sent + overlap)) < timedelta(minutes=1)

    return close


@scenario("rotateWebhookSourceSecret")
async def rotate_webhook_source_secret(ctx: Context) -> tuple[httpx.Response, Expected]:
    source = (await _source(ctx))["id"]
    response = await ctx.send("POST", f"{SOURCES}/{source}/rotate-secret", {"overlap_seconds": 60})
    includes = {"previous_secret_expires_at": [None, _expiry_pair(response, timedelta(minutes=1))]}
    return response, Expected(
        "webhook_source.secret_rotated", "webhook_source", source, includes, kind="rotation"
    )


@scenario("replayWebhookDelivery")
async def replay_webhook_delivery(ctx: Context) -> tuple[httpx.Response, Expected]:
    source = await _source(ctx)
    body = body_of(simple_payload())
    hook = await ctx.client.post(
        f"/v1/hooks/{source['id']}",
        content=body,
        headers={"X-Signature": hmac_signature(source["secret"], body)},
    )
    assert hook.status_code == 202, hook.text  # its KPI does not exist yet
    failed = hook.json()
    await _kpi(ctx, "sales.mrr")
    delivery = failed["delivery_id"]
    path = f"{SOURCES}/{source['id']}/deliveries/{delivery}/replay"
    response = await ctx.send("POST", path)
    changes = {
        "delivery_id": [delivery, delivery],
        "status": ["failed", "processed"],
        "error": [failed["error"], None],
        "points_written": [0, 1],
    }
    return response, Expected(
        "webhook_source.delivery_replayed", "webhook_source", source["id"], changes=changes
    )


async def _endpoint(ctx: Context, url: str = "http://127.0.0.1:9/hook") -> str:
    return await ctx.make(ENDPOINTS, {"url": url, "events": ["*"]})


@scenario("createWebhookEndpoint")
async def create_webhook_endpoint(ctx: Context) -> tuple[httpx.Response, Expected]:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["kpi.created"], "description": "ci"}
    response = await ctx.send("POST", ENDPOINTS, body)
    includes = {
        "url": [None, "http://127.0.0.1:9/hook"],
        "events": [None, ["kpi.created"]],
        "description": [None, "ci"],
        "enabled": [None, True],
    }
    endpoint = response.json()["id"]
    return response, Expected(
        "webhook_endpoint.created", "webhook_endpoint", endpoint, includes, "create"
    )


@scenario("updateWebhookEndpoint")
async def update_webhook_endpoint(ctx: Context) -> tuple[httpx.Response, Expected]:
    endpoint = await _endpoint(ctx)
    body = {"description": "billing", "events": ["kpi.updated", "kpi.created"]}
    response = await ctx.send("PATCH", f"{ENDPOINTS}/{endpoint}", body)
    changes = {"description": ["", "billing"], "events": [["*"], ["kpi.updated", "kpi.created"]]}
    return response, Expected(
        "webhook_endpoint.updated", "webhook_endpoint", endpoint, changes=changes
    )


@scenario("deleteWebhookEndpoint")
async def delete_webhook_endpoint(ctx: Context) -> tuple[httpx.Response, Expected]:
    endpoint = await _endpoint(ctx)
    response = await ctx.send("DELETE", f"{ENDPOINTS}/{endpoint}")
    includes = {"url": ["http://127.0.0.1:9/hook", None], "events": [["*"], None]}
    return response, Expected(
        "webhook_endpoint.deleted", "webhook_endpoint", endpoint, includes, kind="delete"
    )


@scenario("rotateWebhookEndpointSecret")
async def rotate_webhook_endpoint_secret(ctx: Context) -> tuple[httpx.Response, Expected]:
    endpoint = await _endpoint(ctx)
    path = f"{ENDPOINTS}/{endpoint}/rotate-secret"
    response = await ctx.send("POST", path, {"overlap_seconds": 3600})
    includes = {"previous_secret_expires_at": [None, _expiry_pair(response, timedelta(hours=1))]}
    return response, Expected(
        "webhook_endpoint.secret_rotated", "webhook_endpoint", endpoint, includes, "rotation"
    )


@scenario("retryWebhookEndpointAttempt")
async def retry_webhook_endpoint_attempt(ctx: Context) -> tuple[httpx.Response, Expected]:
    endpoint = await _endpoint(ctx, closed_port_url())
    await _kpi(ctx)  # an event to deliver
    no_retries = ctx.settings.model_copy(update={"webhook_retry_schedule": ()})
    await deliver_once(ctx.sessionmaker, no_retries, datetime.now(UTC))
    attempts = await ctx.send("GET", f"{ENDPOINTS}/{endpoint}/attempts")
    [failed] = attempts.json()["items"]
    assert failed["status"] == "failed"
    response = await ctx.send("POST", f"{ENDPOINTS}/{endpoint}/attempts/{failed['id']}/retry")
    changes = {"attempt_id": [failed["id"], failed["id"]], "delivery_status": ["failed", "pending"]}
    return response, Expected(
        "webhook_endpoint.attempt_retried", "webhook_endpoint", endpoint, changes=changes
    )


@scenario("createApiKey")
async def create_api_key(ctx: Context) -> tuple[httpx.Response, Expected]:
    response = await ctx.send("POST", "/v1/api-keys", {"name": "ci", "scopes": ["read"]})
    made = response.json()
    includes = {
        "name": [None, "ci"],
        "prefix": [None, made["prefix"]],
        "scopes": [None, ["read"]],
        "revoked_at": [None, None],
    }
    return response, Expected("api_key.created", "api_key", made["id"], includes, "create")


async def _api_key(ctx: Context) -> str:
    return await ctx.make("/v1/api-keys", {"name": "ci", "scopes": ["read"]})


@scenario("updateApiKey")
async def update_api_key(ctx: Context) -> tuple[httpx.Response, Expected]:
    key = await _api_key(ctx)
    response = await ctx.send("PATCH", f"/v1/api-keys/{key}", {"name": "dashboards"})
    changes = {"name": ["ci", "dashboards"]}
    return response, Expected("api_key.updated", "api_key", key, changes=changes)


@scenario("revokeApiKey")
async def revoke_api_key(ctx: Context) -> tuple[httpx.Response, Expected]:
    key = await _api_key(ctx)
    response = await ctx.send("POST", f"/v1/api-keys/{key}/revoke")
    changes = {"revoked_at": [None, response.json()["revoked_at"]]}
    return response, Expected("api_key.revoked", "api_key", key, changes=changes)
