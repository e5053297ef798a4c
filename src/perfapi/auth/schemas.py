from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from perfapi.auth.tokens import Scope
from perfapi.kit.calendar import CalendarInstant


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


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret key. Shown only in this response: store it now.")
