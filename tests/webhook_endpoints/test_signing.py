"""Deliveries are signed as Standard Webhooks receivers verify them."""

import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from perfapi.webhook_endpoints.signing import SECRET_PREFIX, new_secret, signed_headers

BODY = json.dumps({"id": "evt_42", "type": "kpi.created", "data": {"kpi": {"key": "sales"}}})


def test_a_receiver_verifies_the_signature_with_the_standard_library() -> None:
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    now = int(time.time())
    headers = signed_headers("evt_42", now, BODY.encode(), [secret])
    assert headers["webhook-id"] == "evt_42"
    assert headers["webhook-timestamp"] == str(now)
    assert Webhook(secret).verify(BODY, headers)["type"] == "kpi.created"


def test_while_a_rotated_secret_overlaps_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers("evt_42", int(time.time()), BODY.encode(), [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_a_changed_body_id_or_old_timestamp_fails_verification() -> None:
    secret = new_secret()
    now = int(time.time())
    headers = signed_headers("evt_42", now, BODY.encode(), [secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("sales", "costs"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "evt_43"})
    stale = signed_headers("evt_42", now - 3600, BODY.encode(), [secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, stale)  # replayed an hour later


def test_secrets_are_new_each_time_and_a_delivery_needs_one() -> None:
    assert len({new_secret() for _ in range(100)}) == 100
    with pytest.raises(ValueError, match="at least one"):
        signed_headers("evt_42", 0, b"{}", [])
