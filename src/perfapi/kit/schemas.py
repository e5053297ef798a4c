"""Base classes for request and response models."""

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator


def _non_nullable_fields(model: type[BaseModel]) -> set[str]:
    """The fields a :func:`not_null` validator guards."""
    return {
        field
        for decorator in model.__pydantic_decorators__.field_validators.values()
        if decorator.func.__name__ == _reject_null.__name__
        for field in decorator.info.fields
    }


def _document_non_nullable(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """State in the schema what :func:`not_null` checks: such a field may be left
    out, but its schema does not admit null."""
    properties = schema.get("properties", {})
    for field in _non_nullable_fields(model):
        prop = properties.get(field)
        if prop is None or "anyOf" not in prop:
            continue
        kept = [option for option in prop["anyOf"] if option.get("type") != "null"]
        prop.pop("anyOf")
        prop.pop("default", None)
        if len(kept) == 1:
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept


class RequestModel(BaseModel):
    """A request body: unknown fields are errors, NaN and infinities are not numbers."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, json_schema_extra=_document_non_nullable
    )


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _reject_null(value: object) -> object:
    if value is None:
        raise ValueError("may be left out but not set to null")
    return value


def not_null(*fields: str) -> Any:
    """A validator for PATCH models: these fields may be left out, but not set to null.

    PATCH bodies follow JSON merge patch: a field left out keeps its value, a
    field set to null clears it, which only optional fields allow.
    """

    return field_validator(*fields, mode="before")(_reject_null)


ModelT = TypeVar("ModelT", bound=BaseModel)


def with_computed(model: type[ModelT], row: object, **computed: Any) -> ModelT:
    """The response ``model`` from a stored row plus fields computed on read."""
    values = {
        name: computed[name] if name in computed else getattr(row, name)
        for name in model.model_fields
    }
    return model.model_validate(values)
