from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from perfapi.kit.fields import NOT_BLANK, Flag, Integer, JsonInteger, Trimmed
from perfapi.kit.schemas import RequestModel, ResponseModel, not_null
from perfapi.points.records import DIMENSION_NAME_BODY
from perfapi.webhooks.mapping import compile_expression


class Scheme(StrEnum):
    STANDARD = "standard"
    HMAC_SHA256 = "hmac_sha256"


def _compiles(expression: str) -> str:
    compile_expression(expression)
    return expression


Expression = Annotated[
    str, StringConstraints(min_length=1, max_length=1000), AfterValidator(_compiles)
]
# As POST /v1/points requires (pydantic's regex engine: $ is the very end here).
DimensionName = Annotated[str, Field(pattern=rf"^{DIMENSION_NAME_BODY}$")]
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")]
Name = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=NOT_BLANK), Trimmed]


class Mapping(RequestModel):
    """How one kind of payload becomes points. Each field is a JMESPath expression."""

    for_each: Expression | None = Field(
        default=None, description="Yields the list of items; without it, the payload is one item."
    )
    kpi: Expression = Field(description="The KPI key, e.g. the raw literal `'sales.new_arr'`.")
    ts: Expression = Field(description="RFC 3339 string, or Unix seconds or milliseconds.")
    value: Expression = Field(description="A number (or a numeric string).")
    dimensions: dict[DimensionName, Expression] = Field(
        default_factory=dict,
        max_length=16,
        description="Dimension name -> expression.",
        # Names outside the pattern are refused; say so (patternProperties alone would not).
        json_schema_extra={"additionalProperties": False},
    )


Mappings = Annotated[list[Mapping], Field(min_length=1, max_length=20)]
RateLimit = Annotated[
    int, Field(ge=1, le=100_000, description="Deliveries per minute."), JsonInteger
]


class WebhookSourceCreate(RequestModel):
    name: Name
    scheme: Scheme
    signature_header: HeaderName | None = Field(
        default=None, description="hmac_sha256 only: the header with `sha256=<hex>` (X-Signature)."
    )
    delivery_id_header: HeaderName | None = Field(
        default=None,
        description="hmac_sha256 only: a header with the sender's delivery id, used to spot "
        "redeliveries; without it, repeats of one body are one delivery.",
    )
    mappings: Mappings
    enabled: Flag = True
    rate_limit_per_minute: RateLimit = 600


class WebhookSourceUpdate(RequestModel):
    """JSON merge patch. The scheme cannot change: create another source."""

    name: Name | None = None
    signature_header: HeaderName | None = None
    delivery_id_header: HeaderName | None = None
    mappings: Mappings | None = None
    enabled: Flag | None = None
    rate_limit_per_minute: RateLimit | None = None

    _required = not_null("name", "mappings", "enabled", "rate_limit_per_minute")


class WebhookSource(ResponseModel):
    id: UUID
    name: str
    scheme: Scheme
    signature_header: str | None
    delivery_id_header: str | None
    mappings: list[dict[str, Any]]
    enabled: bool
    rate_limit_per_minute: int
    receiver_path: str = Field(description="Where the sender posts: `/v1/hooks/{id}`.")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation, until when the previous secret is still accepted."
    )
    created_at: datetime
    updated_at: datetime


class WebhookSourceWithSecret(WebhookSource):
    secret: str = Field(description="The signing secret. Shown only in this response.")


class RotateSecret(RequestModel):
    overlap_seconds: Integer = Field(
        default=86_400,
        ge=0,
        le=7 * 86_400,
        description="How long the previous secret stays valid (default 24 hours).",
    )


class Delivery(ResponseModel):
    id: UUID
    received_at: datetime
    processed_at: datetime
    status: str = Field(description="processed or failed.")
    error: str | None
    points_written: int


class HookReply(ResponseModel):
    delivery_id: UUID
    status: str
    points_written: int
    error: str | None
