"""``changes`` of an audit entry: ``{field: [old, new]}``, never a secret.

Which fields are secret is decided here and only here. :func:`without_secrets`
runs on every entry recorded, so a caller that passed a secret by mistake
still records none; the snapshot helpers never read one in the first place.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import inspect

from perfapi.events.service import stored

Changes = dict[str, tuple[Any, Any]]

SECRET_FIELDS = frozenset({"secret", "previous_secret", "secret_hash"})
"""Stored or shown secrets: signing secrets, API keys and their hashes. Besides these,
any field whose name holds ``secret`` counts as one (an encrypted secret is still one),
except timestamps such as ``previous_secret_expires_at``, which say when, not what."""

NOT_REPEATED = frozenset({"org_id", "id", "created_at", "updated_at"})
"""Columns an entry says otherwise: its resource names the id and org, its ``at`` the time."""


def is_secret(name: str) -> bool:
    return name in SECRET_FIELDS or ("secret" in name and not name.endswith("_at"))


def without_secrets(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: pair for name, pair in changes.items() if not is_secret(name)}


def snapshot(entity: object, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The entity's recordable stored values, as JSON values (as events carry them);
    only ``fields`` when given."""
    columns = [attribute.key for attribute in inspect(type(entity)).column_attrs]
    wanted = set(columns) if fields is None else set(fields)
    skipped = [name for name in columns if name not in wanted or is_secret(name)]
    return stored(entity, leave_out=[*NOT_REPEATED, *skipped])


def created(entity: object) -> Changes:
    """Every recordable field of a new entity, as ``[null, value]``."""
    return {name: (None, value) for name, value in snapshot(entity).items()}


def deleted(before: Mapping[str, Any]) -> Changes:
    """Every field of a snapshot taken before deleting, as ``[value, null]``."""
    return {name: (value, None) for name, value in before.items()}


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """The fields whose values differ between two snapshots, as ``[old, new]``."""
    return {
        name: (before.get(name), value)
        for name, value in after.items()
        if before.get(name) != value
    }


def updated(before: Mapping[str, Any], entity: object) -> Changes:
    """What changed in ``entity`` since ``before`` (its snapshot before the change)."""
    return changed(before, snapshot(entity))
