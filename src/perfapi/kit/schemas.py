"""Base classes for request and response models."""

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator


class RequestModel(BaseModel):
    """A request body: unknown fields are errors, NaN and infinities are not numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def not_null(*fields: str) -> Any:
    """A validator for PATCH models: these fields may be left out, but not set to null.

    PATCH bodies follow JSON merge patch: a field left out keeps its value, a
    field set to null clears it, which only optional fields allow.
    """

    def reject_null(value: object) -> object:
        if value is None:
            raise ValueError("may be left out but not set to null")
        return value

    return field_validator(*fields, mode="before")(reject_null)


ModelT = TypeVar("ModelT", bound=BaseModel)


def with_computed(model: type[ModelT], row: object, **computed: Any) -> ModelT:
    """The response ``model`` from a stored row plus fields computed on read."""
    values = {
        name: computed[name] if name in computed else getattr(row, name)
        for name in model.model_fields
    }
    return model.model_validate(values)
