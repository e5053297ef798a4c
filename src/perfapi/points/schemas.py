from datetime import datetime

from pydantic import Field

from perfapi.kit.schemas import ResponseModel


class IngestResult(ResponseModel):
    received: int = Field(description="Points in the request.")
    inserted: int = Field(description="New points stored.")
    updated: int = Field(description="Stored points whose value changed.")
    unchanged: int = Field(
        description="Points already stored with this value, and exact repeats within the request."
    )


class PointOut(ResponseModel):
    ts: datetime
    value: float
    dimensions: dict[str, str]


class PointsDeleted(ResponseModel):
    deleted: int
