"""The migration that encrypts secrets stored in plaintext before it, and its downgrade."""

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from perfapi.db.migrate import alembic_config
from perfapi.vault.keyfile import read_key_file
from perfapi.vault.keys import Keyring, Place, key_id_of, new_key
from tests.support import fresh_database
from tests.vault.helpers import STORED_FORM

BEFORE = "b3e5a7c9d1f2"
ENCRYPTED = "c4f6b8d0e2a3"

ORG = uuid.UUID("00000000-0000-0000-0000-000000000001")
SOURCE = uuid.UUID("00000000-0000-0000-0000-0000000000a1")
ROTATED_SOURCE = uuid.UUID("00000000-0000-0000-0000-0000000000a2")
ENDPOINT = uuid.UUID("00000000-0000-0000-0000-0000000000b1")
PLAIN = {
    ("webhook_sources", SOURCE): ("whsec_c291cmNlIHNlY3JldCBvZiAzMiBieXRlcyEhISEhISE=", None),
    ("webhook_sources", ROTATED_SOURCE): ("Zm9vYmFyLXRva2VuLW5ldw", "Zm9vYmFyLXRva2VuLW9sZA"),
    ("webhook_endpoints", ENDPOINT): (
        "whsec_ZW5kcG9pbnQgc2VjcmV0IG9mIDMyIGJ5dGVzISEhISE=",
        "whsec_cHJldmlvdXMgZW5kcG9pbnQgc2VjcmV0IDMyIGJ5dGU=",
    ),
}


async def _insert_plaintext(connection: AsyncConnection) -> None:
    """Rows as a server before encryption at rest wrote them."""
    await connection.execute(
        text("INSERT INTO orgs (id, name) VALUES (:org, 'legacy')"), {"org": ORG}
    )
    for name, scheme, row_id in (
        ("hr", "standard", SOURCE),
        ("crm", "hmac_sha256", ROTATED_SOURCE),
    ):
        secret, previous = PLAIN["webhook_sources", row_id]
        await connection.execute(
            text(
                "INSERT INTO webhook_sources (org_id, id, name, scheme, mappings, enabled, "
                "rate_limit_per_minute, secret, previous_secret, previous_secret_expires_at) "
                "VALUES (:org, :id, :name, :scheme, '[]', true, 60, :secret, :previous, "
                "now() + interval '1 day')"
            ),
            {
                "org": ORG,
                "id": row_id,
                "name": name,
                "scheme": scheme,
                "secret": secret,
                "previous": previous,
            },
        )
    secret, previous = PLAIN["webhook_endpoints", ENDPOINT]
    await connection.execute(
        text(
            "INSERT INTO webhook_endpoints (org_id, id, url, events, description, enabled, "
            "secret, previous_secret, previous_secret_expires_at, starts_after) VALUES (:org, "
            ":id, 'https://example.com/hook', '{*}', '', true, :secret, :previous, "
            "now() + interval '1 day', 0)"
        ),
        {"org": ORG, "id": ENDPOINT, "secret": secret, "previous": previous},
    )
    await connection.commit()


def _alembic(
    step: Callable[..., None], revision: str, keyring: Keyring | None
) -> Callable[[Connection], None]:
    def run(sync_connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_connection
        if keyring is not None:
            config.attributes["secret_keyring"] = keyring
        step(config, revision)

    return run


async def _stored(connection: AsyncConnection) -> dict[tuple[str, uuid.UUID], tuple[Any, Any]]:
    found = {}
    for table in ("webhook_sources", "webhook_endpoints"):
        rows = await connection.execute(
            text(f"SELECT id, secret, previous_secret FROM {table}")  # noqa: S608
        )
        found.update({(table, row_id): (secret, previous) for row_id, secret, previous in rows})
    return found


async def test_stored_secrets_are_encrypted_by_the_upgrade_and_decrypted_by_the_downgrade(
    database_server_url: str,
) -> None:
    keyring = Keyring(new_key())
    async with fresh_database(database_server_url, "encrypt") as url:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_alembic(command.upgrade, BEFORE, None))
                await _insert_plaintext(connection)
                await connection.run_sync(_alembic(command.upgrade, ENCRYPTED, keyring))
                await connection.commit()
                encrypted = await _stored(connection)

                with pytest.raises(IntegrityError, match="webhook_sources_secrets_encrypted_check"):
                    await connection.execute(
                        text("UPDATE webhook_sources SET secret = 'plain' WHERE id = :id"),
                        {"id": SOURCE},
                    )
                await connection.rollback()

                await connection.run_sync(_alembic(command.downgrade, BEFORE, keyring))
                await connection.commit()
                decrypted = await _stored(connection)
        finally:
            await engine.dispose()

    assert decrypted == PLAIN
    assert encrypted.keys() == PLAIN.keys()
    for (table, row_id), values in encrypted.items():
        for column, value, plain in zip(
            ("secret", "previous_secret"), values, PLAIN[table, row_id], strict=True
        ):
            if plain is None:
                assert value is None
                continue
            assert STORED_FORM.fullmatch(value), value
            assert key_id_of(value) == keyring.current_id
            assert plain not in value
            assert keyring.decrypt(value, Place(table, column, ORG, row_id)) == plain


async def test_the_migration_finds_the_key_serve_uses(
    database_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run as `perfapi serve` and `perfapi migrate` run it: the key from the environment,
    here the embedded default, a key file in PERFAPI_DATA_DIR, created when first needed."""
    monkeypatch.delenv("PERFAPI_SECRET_KEY", raising=False)
    monkeypatch.setenv("PERFAPI_DATA_DIR", str(tmp_path))
    async with fresh_database(database_server_url, "encryptfile") as url:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_alembic(command.upgrade, BEFORE, None))
                await connection.commit()
                assert os.listdir(tmp_path) == []  # nothing to encrypt, no key made
                await _insert_plaintext(connection)
                await connection.run_sync(_alembic(command.upgrade, ENCRYPTED, None))
                await connection.commit()
                encrypted = await _stored(connection)
        finally:
            await engine.dispose()
    path = tmp_path / "secret.key"
    assert (path.stat().st_mode & 0o777) == 0o600
    keyring = read_key_file(path)
    secret, _ = encrypted["webhook_endpoints", ENDPOINT]
    plain = PLAIN["webhook_endpoints", ENDPOINT][0]
    assert keyring.decrypt(secret, Place("webhook_endpoints", "secret", ORG, ENDPOINT)) == plain
