"""A row's secrets in and out of their stored form: issued, rotated, opened.

Shared by webhook sources and webhook endpoints, whose secret columns are alike.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from perfapi.models import WebhookEndpoint, WebhookSource
from perfapi.vault.keys import Keyring, Sealed, SecretUnreadableError
from perfapi.vault.places import place_of, sealed_of

log = logging.getLogger(__name__)

SecretHolder = WebhookSource | WebhookEndpoint


def issue(row: SecretHolder, keyring: Keyring, secret: str) -> None:
    """Store ``secret`` as the row's (new) secret. The row needs its id already."""
    row.secret = keyring.encrypt(secret, place_of(row, "secret"))


def rotate(
    row: SecretHolder, keyring: Keyring, secret: str, overlap_seconds: int, now: datetime
) -> None:
    """Make ``secret`` the row's secret; the current one stays, as the previous secret,
    for ``overlap_seconds``. A current secret that does not decrypt cannot stay: the
    rotation goes on without overlap (it is how such a row is repaired)."""
    previous: str | None = None
    if overlap_seconds:
        try:
            previous = keyring.decrypt(row.secret, place_of(row, "secret"))
        except SecretUnreadableError as exc:
            log.warning(
                "rotating the secret of %s %s without overlap: %s",
                row.__tablename__,
                row.id,
                exc,
                extra={"org_id": str(row.org_id)},
            )
    # Re-encrypted, not copied: a ciphertext is bound to its column.
    row.previous_secret = (
        None if previous is None else keyring.encrypt(previous, place_of(row, "previous_secret"))
    )
    row.previous_secret_expires_at = (
        None if previous is None else now + timedelta(seconds=overlap_seconds)
    )
    issue(row, keyring, secret)


def current_secrets(row: SecretHolder, now: datetime) -> list[Sealed]:
    """The stored secrets valid at ``now``: the secret, then a previous one in its overlap."""
    valid = [Sealed(row.secret, place_of(row, "secret"))]
    previous = sealed_of(row, "previous_secret")
    expires = row.previous_secret_expires_at
    if previous is not None and expires is not None and expires > now:
        valid.append(previous)
    return valid


def opened(
    keyring: Keyring, sealed: Sequence[Sealed]
) -> tuple[list[str], list[SecretUnreadableError]]:
    """The plaintexts of ``sealed`` that decrypt, and the errors of those that do not."""
    plaintexts: list[str] = []
    errors: list[SecretUnreadableError] = []
    for item in sealed:
        try:
            plaintexts.append(keyring.open(item))
        except SecretUnreadableError as exc:
            errors.append(exc)
    return plaintexts, errors
