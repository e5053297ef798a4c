"""Signing deliveries as Standard Webhooks (https://www.standardwebhooks.com) does.

Each endpoint has a secret, ``whsec_`` and 32 random bytes in base64. A delivery
carries ``webhook-id`` (the event id, the same on every retry, so a receiver can
drop repeats), ``webhook-timestamp`` (Unix seconds, so it can refuse old
replays) and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of
``{id}.{timestamp}.{body}`` under the secret. While a rotated secret overlaps
the new one, the header lists a signature under each, space-separated, and a
receiver holding either accepts the delivery. Small enough to write here; the
tests check it with the ``standardwebhooks`` package receivers use.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(
    message_id: str, timestamp: int, body: bytes, keys: Sequence[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed under each of ``keys`` (the current
    secret first, then one still in its overlap after a rotation)."""
    if not keys:
        raise ValueError("a delivery needs at least one secret")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(key, message_id, timestamp, body) for key in keys),
    }
