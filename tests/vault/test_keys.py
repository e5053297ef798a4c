"""AES-GCM under a keyring: the stored form, the binding to a place, several keys."""

import base64
import re
import uuid

import pytest

from perfapi.vault.keys import (
    KEY_BYTES,
    Keyring,
    KeyUnavailableError,
    Place,
    SecretUnreadableError,
    encode_key,
    is_encrypted,
    key_id,
    key_id_of,
    new_key,
    parse_key,
)

ORG = uuid.UUID(int=1)
ROW = uuid.UUID(int=2)
PLACE = Place("webhook_sources", "secret", ORG, ROW)
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
STORED_FORM = re.compile(r"v1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)")


def test_the_stored_form_names_the_key_and_hides_the_secret() -> None:
    key = new_key()
    stored = Keyring(key).encrypt(SECRET, PLACE)
    match = STORED_FORM.fullmatch(stored)
    assert match, stored
    assert match.group(1) == key_id(key) == key_id_of(stored)
    assert SECRET not in stored
    assert SECRET.removeprefix("whsec_") not in stored
    # 12 bytes of nonce, the ciphertext as long as the secret, a 16-byte tag.
    payload = base64.urlsafe_b64decode(match.group(2) + "=" * (-len(match.group(2)) % 4))
    assert len(payload) == 12 + len(SECRET) + 16
    assert is_encrypted(stored)
    assert not is_encrypted(SECRET)
    assert Keyring(key).decrypt(stored, PLACE) == SECRET


def test_every_encryption_takes_a_fresh_nonce() -> None:
    keyring = Keyring(new_key())
    stored = {keyring.encrypt(SECRET, PLACE) for _ in range(50)}
    assert len(stored) == 50
    assert {keyring.decrypt(item, PLACE) for item in stored} == {SECRET}


@pytest.mark.parametrize(
    "elsewhere",
    [
        Place("webhook_sources", "previous_secret", ORG, ROW),
        Place("webhook_endpoints", "secret", ORG, ROW),
        Place("webhook_sources", "secret", uuid.UUID(int=9), ROW),
        Place("webhook_sources", "secret", ORG, uuid.UUID(int=9)),
    ],
    ids=["other column", "other table", "other org", "other row"],
)
def test_a_ciphertext_moved_elsewhere_does_not_decrypt(elsewhere: Place) -> None:
    keyring = Keyring(new_key())
    stored = keyring.encrypt(SECRET, PLACE)
    with pytest.raises(SecretUnreadableError, match="altered, or copied from another row"):
        keyring.decrypt(stored, elsewhere)


def test_a_tampered_ciphertext_does_not_decrypt() -> None:
    keyring = Keyring(new_key())
    stored = keyring.encrypt(SECRET, PLACE)
    flipped = stored[:-5] + ("A" if stored[-5] != "A" else "B") + stored[-4:]
    with pytest.raises(SecretUnreadableError, match="altered"):
        keyring.decrypt(flipped, PLACE)
    for broken, reason in [
        (SECRET, "not in the encrypted form"),
        (stored + ".x", "not in the encrypted form"),
        ("v2" + stored[2:], "not in the encrypted form"),
        (stored[: stored.rindex(".")] + ".@@@", "malformed"),
        (stored[: stored.rindex(".")] + ".AAAA", "altered"),
    ]:
        with pytest.raises(SecretUnreadableError, match=reason):
            keyring.decrypt(broken, PLACE)


def test_older_keys_decrypt_and_only_the_current_one_encrypts() -> None:
    old, new = new_key(), new_key()
    stored_old = Keyring(old).encrypt(SECRET, PLACE)
    rotating = Keyring(new, [old])
    assert rotating.decrypt(stored_old, PLACE) == SECRET
    assert not rotating.is_current(stored_old)
    stored_new = rotating.encrypt(SECRET, PLACE)
    assert key_id_of(stored_new) == key_id(new)
    assert rotating.is_current(stored_new)
    assert Keyring(new).decrypt(stored_new, PLACE) == SECRET
    with pytest.raises(SecretUnreadableError) as raised:
        Keyring(new).decrypt(stored_old, PLACE)
    message = str(raised.value)
    assert f"under key {key_id(old)}, which this server does not have" in message
    assert f"it has {key_id(new)}" in message


def test_keys_are_parsed_with_clear_messages_that_never_show_them() -> None:
    key = new_key()
    assert parse_key(encode_key(key), "K") == key
    assert parse_key(f"  {encode_key(key)}\n", "K") == key
    with pytest.raises(KeyUnavailableError, match=r"^K is not base64") as raised:
        parse_key("not a key!", "K")
    assert "not a key" not in str(raised.value)
    short = encode_key(b"x" * 16)
    with pytest.raises(KeyUnavailableError, match=f"base64 of {KEY_BYTES} bytes, not 16"):
        parse_key(short, "K")
