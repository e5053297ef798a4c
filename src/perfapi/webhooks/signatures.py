"""Signing schemes of webhook senders, checked on the raw body in constant time.

``standard``: the Standard Webhooks spec. Headers ``webhook-id``,
``webhook-timestamp`` (Unix seconds, within five minutes of now either way)
and ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` entries
over ``"{id}.{timestamp}.{body}"``, keyed with the base64 part of the
``whsec_`` secret; any one entry matching any current secret passes.

``hmac_sha256``: GitHub style, ``sha256=<hex HMAC-SHA256 of the raw body>`` in
a configurable header, keyed with the secret string's UTF-8 bytes.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime

TOLERANCE_SECONDS = 5 * 60
STANDARD_PREFIX = "whsec_"
HMAC_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_PLAIN_ID_LENGTH = 200


class SignatureError(Exception):
    """Why a delivery's signature was refused (said to the sender in a 401)."""


def new_secret(scheme: str) -> str:
    if scheme == "standard":
        return STANDARD_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32)


def _standard_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(STANDARD_PREFIX))


def verify_standard(
    secrets_: Sequence[str], headers: Mapping[str, str], body: bytes, now: datetime
) -> str:
    """Check a Standard Webhooks delivery; return its id (the ``webhook-id``)."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        raise SignatureError("Missing webhook-id, webhook-timestamp or webhook-signature header.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not a Unix timestamp.") from None
    if abs(now.timestamp() - sent_at) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp is more than five minutes from now.")
    signed = f"{message_id}.{timestamp}.".encode() + body
    offered = []
    for entry in signatures.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            offered.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    for secret in secrets_:
        expected = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, signature) for signature in offered):
            return message_id
    raise SignatureError("No signature in webhook-signature matches.")


def verify_hmac(secrets_: Sequence[str], header_value: str | None, body: bytes) -> None:
    if not header_value or not header_value.startswith(HMAC_PREFIX):
        raise SignatureError("Missing signature header, or it does not start with sha256=.")
    offered = header_value.removeprefix(HMAC_PREFIX).strip().lower()
    if not _HEX_DIGEST.fullmatch(offered):
        raise SignatureError("The signature is not a SHA-256 hex digest.")
    for secret in secrets_:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, offered):
            return
    raise SignatureError("The signature does not match.")


def id_key(delivery_id: str) -> str:
    """A sender's delivery id as a key: whole when short, else its digest (index limits)."""
    if len(delivery_id) <= MAX_PLAIN_ID_LENGTH:
        return "id:" + delivery_id
    return "idsha256:" + hashlib.sha256(delivery_id.encode()).hexdigest()


def body_digest(body: bytes) -> str:
    """A delivery's id when the sender sends none: repeats of one body are one delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()
