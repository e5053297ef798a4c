from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from perfapi.events.types import EventType


class Event(BaseModel):
    id: str = Field(description="`evt_` and the event's position in the org's log.")
    type: EventType
    created_at: datetime
    data: dict[str, Any] = Field(
        description="What changed: the resource as stored, and for an update the `previous` "
        "values of the fields that changed."
    )
