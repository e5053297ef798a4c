"""secrets encrypted at rest

Webhook source secrets and webhook endpoint signing secrets, stored in
plaintext before, are encrypted (see perfapi.vault): each becomes
``v1.<key id>.<data>``, bound to its table, column, org and row. A CHECK keeps
plaintext out from then on. Downgrade decrypts them again.

The key comes from the same settings ``perfapi serve`` reads (the environment):
``PERFAPI_SECRET_KEY``, else the key file in ``PERFAPI_DATA_DIR``, created here
if needed. It is read only when there is a secret to convert, so migrating an
empty database creates no key file. ``config.attributes["secret_keyring"]``
hands over a keyring instead (tests). Generated secrets never contain a dot, so
``v1.`` tells an encrypted value from plaintext without doubt.

Revision ID: c4f6b8d0e2a3
Revises: b3e5a7c9d1f2
Create Date: 2026-11-30 08:00:00.000000+00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

from perfapi.config import Settings
from perfapi.vault.keys import Keyring, Place, SecretUnreadableError, is_encrypted
from perfapi.vault.setup import prepare_keys

revision: str = "c4f6b8d0e2a3"
down_revision: str | None = "b3e5a7c9d1f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("webhook_sources", "webhook_endpoints")
CHECK_NAME = "secrets_encrypted"
CHECK = "secret LIKE 'v1.%' AND (previous_secret IS NULL OR previous_secret LIKE 'v1.%')"

Convert = Callable[[Callable[[], Keyring], str, Place], str | None]
"""A stored value to its new form; None: leave it as it is."""


class _LazyKeyring:
    def __init__(self) -> None:
        self._keyring: Keyring | None = context.config.attributes.get("secret_keyring")

    def __call__(self) -> Keyring:
        if self._keyring is None:
            self._keyring = prepare_keys(Settings())
        return self._keyring


def _convert_all(convert: Convert) -> None:
    bind = op.get_bind()
    keyring = _LazyKeyring()
    for table in TABLES:
        rows = bind.execute(
            sa.text(f"SELECT org_id, id, secret, previous_secret FROM {table}")  # noqa: S608
        ).all()
        updates = []
        for org_id, row_id, secret, previous in rows:
            values = {"secret": secret, "previous_secret": previous}
            changed = False
            for column, value in values.items():
                if value is None:
                    continue
                new = convert(keyring, value, Place(table, column, org_id, row_id))
                if new is not None:
                    values[column] = new
                    changed = True
            if changed:
                updates.append({**values, "org_id": org_id, "id": row_id})
        if updates:
            bind.execute(
                sa.text(
                    f"UPDATE {table} SET secret = :secret, "  # noqa: S608
                    "previous_secret = :previous_secret WHERE org_id = :org_id AND id = :id"
                ),
                updates,
            )


def _encrypted(keyring: Callable[[], Keyring], value: str, place: Place) -> str | None:
    return None if is_encrypted(value) else keyring().encrypt(value, place)


def _decrypted(keyring: Callable[[], Keyring], value: str, place: Place) -> str | None:
    if not is_encrypted(value):
        return None
    try:
        return keyring().decrypt(value, place)
    except SecretUnreadableError as exc:
        raise SecretUnreadableError(f"cannot downgrade {place}: {exc}") from None


def upgrade() -> None:
    _convert_all(_encrypted)
    for table in TABLES:
        op.create_check_constraint(op.f(f"{table}_{CHECK_NAME}_check"), table, CHECK)


def downgrade() -> None:
    for table in TABLES:
        op.drop_constraint(op.f(f"{table}_{CHECK_NAME}_check"), table, type_="check")
    _convert_all(_decrypted)
