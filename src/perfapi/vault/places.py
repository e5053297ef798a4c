"""Where secrets are stored: the columns encrypted at rest, and the place of each value."""

from typing import Literal

from perfapi.models import WebhookEndpoint, WebhookSource
from perfapi.vault.keys import Place, Sealed

SecretColumn = Literal["secret", "previous_secret"]

SECRET_COLUMNS: tuple[SecretColumn, ...] = ("secret", "previous_secret")
SECRET_TABLES = (WebhookSource.__tablename__, WebhookEndpoint.__tablename__)
"""Every table whose SECRET_COLUMNS hold encrypted secrets."""


def place_of(row: WebhookSource | WebhookEndpoint, column: SecretColumn) -> Place:
    return Place(row.__tablename__, column, row.org_id, row.id)


def sealed_of(row: WebhookSource | WebhookEndpoint, column: SecretColumn) -> Sealed | None:
    """The row's stored value of ``column`` with its place (None: the column is empty)."""
    stored: str | None = getattr(row, column)
    return None if stored is None else Sealed(stored, place_of(row, column))
