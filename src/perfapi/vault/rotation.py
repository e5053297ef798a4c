"""``perfapi secrets rotate-key``: every stored secret re-encrypted under a new key.

Without downtime: each row is re-encrypted in a transaction of its own (its lock
held for a moment), while servers go on decrypting with either key. The key
file (the embedded default) is replaced before the first row, so every server
reading it encrypts under the new key from then on and decrypts both. With
``PERFAPI_SECRET_KEY`` the operator deploys the new key first (see
docs/operations.md); then this re-encrypts under it.

A row that fails (its secret does not decrypt under any key) is reported and
skipped. Passes repeat while they find rows under another key that have not
failed: a server still encrypting under the old key meanwhile is caught up with.
"""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.config import Settings
from perfapi.db.availability import is_database_unavailable
from perfapi.db.engine import create_engine, create_sessionmaker
from perfapi.db.migrate import migrate
from perfapi.vault import repository
from perfapi.vault.keyfile import key_file_path, write_key_file
from perfapi.vault.keys import (
    Keyring,
    KeyUnavailableError,
    Place,
    SecretUnreadableError,
    key_id,
    new_key,
    parse_key,
)
from perfapi.vault.places import SECRET_TABLES
from perfapi.vault.repository import RowKey
from perfapi.vault.setup import keyring_of

BATCH = 500
MAX_PASSES = 3


@dataclass(frozen=True)
class Failure:
    place: Place | None
    table: str
    key: RowKey
    reason: str


@dataclass
class Report:
    key_id: str
    key_file: Path | None
    reencrypted: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)
    """Stored secrets per key id once done."""

    @property
    def others(self) -> dict[str, int]:
        return {kid: count for kid, count in self.by_key.items() if kid != self.key_id}

    def lines(self) -> list[str]:
        where = f" (key file {self.key_file})" if self.key_file else ""
        total = sum(self.reencrypted.values())
        lines = [f"stored secrets are encrypted under key {self.key_id}{where}"]
        counts = ", ".join(f"{name} {count}" for name, count in sorted(self.reencrypted.items()))
        lines.append(f"re-encrypted {total} secret(s)" + (f": {counts}" if counts else ""))
        if self.failures:
            lines.append(f"failed: {len(self.failures)} secret(s) could not be re-encrypted:")
            lines.extend(
                f"  {failure.place or f'{failure.table} row {failure.key[1]}'}: {failure.reason}"
                for failure in self.failures
            )
        if self.others:
            listed = ", ".join(f"{kid} ({count})" for kid, count in sorted(self.others.items()))
            lines.append(f"still under other keys: {listed}; keep those keys, and run this again")
        else:
            lines.append(f"no stored secret is under another key: only key {self.key_id} is needed")
        return lines


async def _reencrypt_row(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    table: str,
    key: RowKey,
    report: Report,
) -> bool:
    """Re-encrypt the row's secrets not under the current key; whether all of them were."""
    async with sessionmaker() as session, session.begin():
        stored = await repository.lock_secrets(session, table, key)
        if stored is None:
            return True  # deleted meanwhile
        updates: dict[str, str] = {}
        complete = True
        for column, value in stored.items():
            if value is None or keyring.is_current(value):
                continue
            place = Place(table, column, key[0], key[1])
            try:
                updates[column] = keyring.encrypt(keyring.decrypt(value, place), place)
            except SecretUnreadableError as exc:
                report.failures.append(Failure(place, table, key, str(exc)))
                complete = False
        if updates:
            await repository.store_secrets(session, table, key, updates)
    for column in updates:
        report.reencrypted[f"{table}.{column}"] += 1
    return complete


async def reencrypt_all(
    sessionmaker: async_sessionmaker[AsyncSession], keyring: Keyring, report: Report
) -> None:
    """Every stored secret not under the current key, under it; failures into ``report``."""
    failed: set[tuple[str, RowKey]] = set()
    for _ in range(MAX_PASSES):
        worked = False
        for table in SECRET_TABLES:
            after: RowKey | None = None
            while True:
                async with sessionmaker() as session:
                    batch = await repository.rows_not_under(
                        session, table, keyring.current_id, after, BATCH
                    )
                if not batch:
                    break
                for key in batch:
                    after = key
                    if (table, key) in failed:
                        continue
                    worked = True
                    try:
                        complete = await _reencrypt_row(sessionmaker, keyring, table, key, report)
                    except Exception as exc:
                        if is_database_unavailable(exc):
                            raise
                        report.failures.append(Failure(None, table, key, str(exc)[:300]))
                        complete = False
                    if not complete:
                        failed.add((table, key))
        if not worked:
            break
    async with sessionmaker() as session:
        report.by_key = await repository.count_by_key(session)


async def rotate_key(settings: Settings, new_key_text: str | None) -> Report:
    """Migrate, make the new key current, re-encrypt everything; the report.

    :class:`KeyUnavailableError` when the keys cannot be had or changed.
    """
    assert settings.database_url is not None
    engine = create_engine(settings.database_url, settings)
    try:
        await migrate(engine)
        async with repository.rotation_lock(engine) as held:
            if not held:
                # Two at once would each make their own new key; one would be lost.
                raise KeyUnavailableError("another `perfapi secrets rotate-key` is running")
            if settings.secret_key is None:
                path = key_file_path(settings.data_dir)
                # The key file as it is: a missing one is an error, never replaced.
                old = keyring_of(settings)
                key = new_key() if new_key_text is None else parse_key(new_key_text, "the new key")
                if key_id(key) == old.current_id:
                    raise KeyUnavailableError(f"key {old.current_id} is the current key already")
                keyring = Keyring(key, old.keys)
                write_key_file(path, keyring)
                report = Report(keyring.current_id, path)
            else:
                if new_key_text is not None:
                    raise KeyUnavailableError(
                        "PERFAPI_SECRET_KEY is set, so the new key is yours to deploy: set it as "
                        "PERFAPI_SECRET_KEY with the old key in PERFAPI_SECRET_KEYS_PREVIOUS on "
                        "every server, then run `perfapi secrets rotate-key` without --new-key"
                    )
                keyring = keyring_of(settings)
                report = Report(keyring.current_id, None)
            await reencrypt_all(create_sessionmaker(engine), keyring, report)
            if report.key_file is not None:
                # Keep the key just replaced (a server may have been encrypting under it a
                # moment ago), and any other still in use; older ones go.
                old_current = keyring.keys[1]
                kept = [old_current, *(k for k in keyring.keys[2:] if key_id(k) in report.others)]
                write_key_file(report.key_file, Keyring(keyring.keys[0], kept))
            return report
    finally:
        await engine.dispose()
