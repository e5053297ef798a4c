from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field


class AuditActor(BaseModel):
    type: Literal["api_key", "jwt", "cli"] = Field(
        description="`api_key`: an API key; `jwt`: a user signed in through the org's "
        "identity provider; `cli`: an operator running a `perfapi` command."
    )
    id: str = Field(description="The API key's id, the JWT's `sub`, or `cli`.")


class AuditResource(BaseModel):
    # Plain text rather than an enum: an entry a newer release recorded must never
    # make this release's read fail.
    type: str = Field(description="The part of `action` before the dot, e.g. `objective`.")
    id: str | None = Field(
        description="The resource's id; null for `points.ingested`, which may write "
        "points of many KPIs."
    )


class AuditEvent(BaseModel):
    id: UUID
    at: datetime = Field(description="When the write was recorded, inside its transaction.")
    actor: AuditActor
    action: str = Field(
        description="`<resource type>.<verb>`, e.g. `objective.updated`; see docs/audit.md."
    )
    resource: AuditResource
    changes: dict[str, tuple[Any, Any]] = Field(
        description="`{field: [old, new]}`: null old values on create, null new values on "
        "delete, only the fields that changed on update. Secrets never appear."
    )
    request_id: str | None = Field(
        description="The `X-Request-Id` of the request that wrote; null for a CLI command."
    )
