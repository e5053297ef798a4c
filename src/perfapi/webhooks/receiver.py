"""``POST /v1/hooks/{source_id}``: the public receiver. No API key: the signature is the proof."""

from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from perfapi.db.session import DbSession
from perfapi.errors import NotFoundError, ProblemError
from perfapi.kit.openapi import problem_responses
from perfapi.ratelimits.enforce import SOURCE_POLICY, count_request, retry_after
from perfapi.vault.dependencies import Keys
from perfapi.webhooks import repository, service
from perfapi.webhooks.schemas import HookReply

router = APIRouter(tags=["Webhooks"])


class TooManyRequestsError(ProblemError):
    status = 429


@router.post(
    "/v1/hooks/{source_id}",
    operation_id="receiveWebhook",
    summary="Receive a signed webhook from an HR or sales system",
    description="Verifies the signature on the raw body, stores the delivery, maps its "
    "points and upserts them in one transaction, then answers: 200 processed, 202 stored "
    "as failed (the mapping could not handle it; replay it after fixing the mapping). A "
    "redelivery (same delivery id) gets the same answer and changes nothing. Bad or "
    "missing signature, or a timestamp more than five minutes off: 401. Unknown or "
    "disabled source: 404. Over the source's rate: 429 with Retry-After. Database "
    "unavailable, or the source's secret cannot be decrypted on this server: 503, so the "
    "sender retries.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
    response_model=HookReply,
    responses={
        202: {"description": "Stored, but the mapping failed.", "model": HookReply},
        **problem_responses(401, 404, 429, 503),
    },
)
async def receive_webhook(
    source_id: UUID, request: Request, session: DbSession, keyring: Keys
) -> Response:
    source = await repository.find_for_receiver(session, source_id)
    if source is None or not source.enabled:
        raise NotFoundError("No enabled webhook source with this id.")
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    # Signature first: unsigned requests must not use up the real sender's allowance.
    key = service.delivery_key(source, headers, body, keyring)
    # Per source, on the app's limiter: with Redis, all replicas together allow the rate.
    applied = await count_request(
        request, f"source:{source.org_id}:{source.id}", source.rate_limit_per_minute, SOURCE_POLICY
    )
    if applied.refused:
        raise TooManyRequestsError(
            "This source sends faster than its rate limit; retry later.",
            headers=retry_after(applied),
        )
    outcome = await service.receive(session, source, key, body)
    delivery = outcome.delivery
    reply = HookReply(
        delivery_id=delivery.id,
        status=delivery.status,
        points_written=delivery.points_written,
        error=delivery.error,
    )
    status = 200 if delivery.status == "processed" else 202
    headers_out = {} if outcome.first_time else {"Webhook-Redelivery": "true"}
    return JSONResponse(reply.model_dump(mode="json"), status_code=status, headers=headers_out)
