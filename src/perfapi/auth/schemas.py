from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from perfapi.auth.tokens import Scope
from perfapi.kit.calendar import CalendarInstant
from perfapi.kit.fields import JsonInteger
from perfapi.kit.schemas import RequestModel, not_null

KeyRateLimit = Annotated[
    int,
    Field(
        ge=1,
        le=1_000_000,
        description="Requests per minute this key may make (a burst of a whole minute's "
        "allowance passes); null: the server's default (PERFAPI_RATE_LIMIT_PER_MINUTE).",
    ),
    JsonInteger,
]


def _distinct(scopes: list[Scope]) -> list[Scope]:
    return sorted(set(scopes))


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="What the key is for.")
    scopes: Annotated[list[Scope], AfterValidator(_distinct)] = Field(
        min_length=1, description="read: GET; write: changes; ingest: points; admin: keys."
    )
    expires_at: CalendarInstant | None = Field(
        default=None, description="After this instant the key no longer authenticates."
    )
    rate_limit_per_minute: KeyRateLimit | None = None


class ApiKeyUpdate(RequestModel):
    """JSON merge patch: a field left out keeps its value; `rate_limit_per_minute: null`
    puts the key back on the server's default."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    rate_limit_per_minute: KeyRateLimit | None = None

    _required = not_null("name")


class ApiKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    prefix: str = Field(description="The key's public start, to tell keys apart.")
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None
    rate_limit_per_minute: int | None = Field(
        description="The key's own requests per minute; null: the server's default."
    )


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret key. Shown only in this response: store it now.")
