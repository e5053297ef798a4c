"""AES-256-GCM under a keyring, and the stored form of a secret.

Stored form: ``v1.<key id>.<base64url(nonce || ciphertext and tag)>``. The key id
(8 hex digits of a SHA-256 of the key) says which key to decrypt with, so
several keys can be in use at once while a rotation runs. Every encryption
takes a fresh random 96-bit nonce. The associated data is the secret's place
(table, column, org id, row id): a ciphertext copied into another row or
column does not decrypt, so whoever can write to the database cannot swap one
org's secret for another's. Generated secrets (``whsec_...``, base64url tokens)
never contain a dot, so a value starting with ``v1.`` is never plaintext.

Pure: no I/O, no settings. Messages never include a secret or a key.
"""

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = "v1"
STORED_PREFIX = FORMAT_VERSION + "."
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_CHARS = 8
_KEY_ID_DOMAIN = b"perfapi secret key id\x00"


class VaultError(Exception):
    """A key or a stored secret that cannot be used; the message says which and why."""


class KeyUnavailableError(VaultError):
    """The keys themselves cannot be had (a malformed setting, a missing key file).
    The message may name server paths: log it, do not show it to API clients."""


class SecretUnreadableError(VaultError):
    """One stored secret does not decrypt. The message names no path or key, so an
    org admin may read it (in a failed attempt's error, say)."""


@dataclass(frozen=True)
class Place:
    """Where a stored secret lives; its associated data."""

    table: str
    column: str
    org_id: UUID
    row_id: UUID

    def associated_data(self) -> bytes:
        return f"perfapi:{self.table}.{self.column}:{self.org_id}:{self.row_id}".encode()

    def __str__(self) -> str:
        return f"{self.table}.{self.column} of {self.row_id} (org {self.org_id})"


@dataclass(frozen=True)
class Sealed:
    """A stored secret and its place: what it takes to decrypt it later."""

    stored: str
    place: Place


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def parse_key(text: str, what: str) -> bytes:
    """A key from its base64 text; ``what`` names where it came from, for the message."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyUnavailableError(
            f"{what} is not base64; make a key with `perfapi secrets generate-key`"
        ) from None
    if len(key) != KEY_BYTES:
        raise KeyUnavailableError(
            f"{what} must be the base64 of {KEY_BYTES} bytes, not {len(key)}; make a key "
            "with `perfapi secrets generate-key`"
        )
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(_KEY_ID_DOMAIN + key).hexdigest()[:KEY_ID_CHARS]


def is_encrypted(stored: str) -> bool:
    return stored.startswith(STORED_PREFIX)


def key_id_of(stored: str) -> str | None:
    """The id of the key a stored secret is encrypted under (None: not encrypted)."""
    if not is_encrypted(stored):
        return None
    return stored.split(".", 2)[1]


def _b64url_decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class Keyring:
    """The current key, which encrypts, and older keys, still accepted for decryption."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self.keys = [current, *(key for key in previous if key != current)]
        self.current_id = key_id(current)
        self._ciphers = {key_id(key): AESGCM(key) for key in self.keys}

    @property
    def ids(self) -> list[str]:
        return [key_id(key) for key in self.keys]

    def encrypt(self, plaintext: str, place: Place) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current_id].encrypt(
            nonce, plaintext.encode(), place.associated_data()
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{STORED_PREFIX}{self.current_id}.{payload}"

    def decrypt(self, stored: str, place: Place) -> str:
        """The plaintext, or :class:`SecretUnreadableError` saying why not."""
        parts = stored.split(".")
        if len(parts) != 3 or parts[0] != FORMAT_VERSION:
            raise SecretUnreadableError(
                f"the stored {place.column} is not in the encrypted form v1.<key id>.<data>"
            )
        _, kid, payload = parts
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SecretUnreadableError(
                f"the stored {place.column} is encrypted under key {kid}, which this server "
                f"does not have (it has {', '.join(self.ids)})"
            )
        try:
            raw = _b64url_decode(payload)
        except (binascii.Error, ValueError):
            raise SecretUnreadableError(f"the stored {place.column} is malformed") from None
        try:
            plaintext = cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], place.associated_data()
            )
            return plaintext.decode()
        except (InvalidTag, ValueError, UnicodeDecodeError):
            raise SecretUnreadableError(
                f"the stored {place.column} does not decrypt under key {kid}: it was altered, "
                "or copied from another row or column"
            ) from None

    def open(self, sealed: Sealed) -> str:
        return self.decrypt(sealed.stored, sealed.place)

    def is_current(self, stored: str) -> bool:
        return key_id_of(stored) == self.current_id
