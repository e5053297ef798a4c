"""API key strings: ``pfk_<12 hex public id>_<32 char secret>``.

The public part (``pfk_...``, the *prefix*) is stored in clear and shown in
lists so people can tell keys apart. Only a SHA-256 of the whole key is kept:
with 192 random bits of secret a slow password hash would add latency to every
request and no safety.
"""

import hashlib
import hmac
import secrets
from enum import StrEnum

TOKEN_MARK = "pfk_"  # noqa: S105 (a marker, not a secret)
_PUBLIC_HEX_CHARS = 12
PREFIX_LENGTH = len(TOKEN_MARK) + _PUBLIC_HEX_CHARS
_SECRET_CHARS = 32
TOKEN_LENGTH = PREFIX_LENGTH + 1 + _SECRET_CHARS


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    INGEST = "ingest"
    ADMIN = "admin"


def generate_token() -> tuple[str, str]:
    """Return a new key and its public prefix."""
    prefix = TOKEN_MARK + secrets.token_hex(_PUBLIC_HEX_CHARS // 2)
    secret = secrets.token_urlsafe(24)
    return f"{prefix}_{secret}", prefix


def prefix_of(token: str) -> str | None:
    """The public prefix of a well-formed key, else None."""
    if len(token) != TOKEN_LENGTH or not token.startswith(TOKEN_MARK):
        return None
    if token[PREFIX_LENGTH] != "_":
        return None
    return token[:PREFIX_LENGTH]


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_matches(token: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)
