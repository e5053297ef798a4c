from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from perfapi.events.types import EventType
from perfapi.kit.fields import Flag
from perfapi.kit.schemas import RequestModel, ResponseModel, not_null

ALL_EVENTS = "*"
SELECTORS = [ALL_EVENTS, *(event_type.value for event_type in EventType)]


def _known(value: str) -> str:
    if value not in SELECTORS:
        raise PydanticCustomError(
            "unknown_event_type",
            "'{value}' is not an event type perfapi sends; see GET /v1/events for the "
            "catalogue, or use '*' for every type",
            {"value": value[:80]},
        )
    return value


EventSelector = Annotated[
    str,
    Field(max_length=100, json_schema_extra={"enum": SELECTORS}),
    AfterValidator(_known),
]
Events = Annotated[
    list[EventSelector],
    Field(
        min_length=1,
        max_length=len(SELECTORS),
        description="The event types sent to the endpoint; `*` for every type.",
    ),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="Where deliveries are posted: http(s), and every address its host "
        "resolves to public unless the server allows private targets.",
        examples=["https://hooks.example.com/perfapi"],
    ),
]
Description = Annotated[str, Field(max_length=500)]


class WebhookEndpointCreate(RequestModel):
    url: Url
    events: Events
    description: Description = ""
    enabled: Flag = True


class WebhookEndpointUpdate(RequestModel):
    """JSON merge patch. Enabling an endpoint again sends the events that commit from
    then on; what committed while it was disabled is in `GET /v1/events`."""

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: Flag | None = None

    _required = not_null("url", "events", "description", "enabled")


class WebhookEndpoint(ResponseModel):
    id: UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    failing_since: datetime | None = Field(
        description="When the attempts that have failed since the last success began; an "
        "endpoint failing for 3 days is disabled."
    )
    disabled_at: datetime | None = Field(description="When perfapi disabled it, if it did.")
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation, until when deliveries are signed with the previous "
        "secret as well."
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpoint):
    secret: str = Field(
        description="The signing secret (`whsec_` and base64). Shown only in this response."
    )


class WebhookAttempt(ResponseModel):
    id: UUID
    delivery_id: UUID = Field(description="The event's delivery to this endpoint.")
    event_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    event_type: str
    attempted_at: datetime
    status: Literal["succeeded", "failed"]
    trigger: Literal["scheduled", "manual"]
    response_status: int | None = Field(description="The receiver's HTTP status, if it answered.")
    duration_ms: int
    error: str | None = Field(description="Why it failed, when not for the status alone.")
    response_body: str | None = Field(description="The start of the receiver's answer (1 KB).")


class WebhookDelivery(ResponseModel):
    id: UUID
    event_id: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int = Field(description="Scheduled attempts made so far.")
    next_attempt_at: datetime | None = Field(description="While pending: when it is sent.")
