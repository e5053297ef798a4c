"""The key set cache against a real HTTP server on 127.0.0.1, with a clock the test moves."""

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from perfapi.auth.jwks import (
    DEFAULT_LIFETIME_SECONDS,
    MAX_LIFETIME_SECONDS,
    MIN_LIFETIME_SECONDS,
    REFETCH_COOLDOWN_SECONDS,
    STALE_GRACE_SECONDS,
    FileKeys,
    KeysUnavailableError,
    UnknownKeyError,
    UrlKeys,
    cache_lifetime,
    parse_key_set,
)
from tests.auth.jwt_support import KeySetServer, SigningKey, serving, write_key_set


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("ES256")


@pytest.fixture
async def provider(key: SigningKey) -> AsyncIterator[KeySetServer]:
    async with serving(KeySetServer(keys=[key])) as server:
        yield server


@pytest.fixture
async def keys(provider: KeySetServer, clock: Clock) -> AsyncIterator[UrlKeys]:
    source = UrlKeys(provider.url, clock=clock)
    yield source
    await source.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, DEFAULT_LIFETIME_SECONDS),
        ("public, max-age=3600", 3600),
        ('max-age="120"', 120),
        ("max-age=0", MIN_LIFETIME_SECONDS),
        ("no-cache", MIN_LIFETIME_SECONDS),
        ("max-age=31536000", MAX_LIFETIME_SECONDS),
        ("max-age=soon", DEFAULT_LIFETIME_SECONDS),
        ("max-age=nan", DEFAULT_LIFETIME_SECONDS),
        ("private", DEFAULT_LIFETIME_SECONDS),
    ],
)
def test_cache_lifetime_honours_max_age_within_bounds(header: str | None, seconds: float) -> None:
    assert cache_lifetime(header) == seconds


def test_only_asymmetric_signing_keys_with_a_kid_are_kept(key: SigningKey) -> None:
    rsa = SigningKey.generate("RS256")
    document = {
        "keys": [
            key.public_jwk(),
            {**rsa.public_jwk(), "use": "enc", "kid": "for-encryption"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
            {**rsa.public_jwk(), "alg": "RS512", "kid": "other-alg"},
            {k: v for k, v in rsa.public_jwk().items() if k != "kid"},
            {"kty": "RSA", "kid": "broken", "n": 5, "e": []},
            "not a key",
        ]
    }
    assert list(parse_key_set(document)) == [key.kid]


@pytest.mark.parametrize(
    "document",
    [[], {}, {"keys": "no"}, {"keys": []}, {"keys": [{"kty": "oct", "k": "eA", "kid": "h"}]}],
)
def test_a_key_set_without_usable_keys_is_refused(document: object) -> None:
    with pytest.raises(ValueError, match="JSON Web Key Set"):
        parse_key_set(document)


async def test_the_set_is_fetched_again_when_its_lifetime_ends(
    keys: UrlKeys, provider: KeySetServer, key: SigningKey, clock: Clock
) -> None:
    assert (await keys.key_for(key.kid)).key_id == key.kid
    clock.now += DEFAULT_LIFETIME_SECONDS - 1
    await keys.key_for(key.kid)
    assert provider.fetches == 1
    clock.now += 1
    await keys.key_for(key.kid)
    assert provider.fetches == 2


async def test_concurrent_requests_on_a_cold_cache_share_one_fetch(
    keys: UrlKeys, provider: KeySetServer, key: SigningKey
) -> None:
    found = await asyncio.gather(*(keys.key_for(key.kid) for _ in range(20)))
    assert {one.key_id for one in found} == {key.kid}
    assert provider.fetches == 1


async def test_an_unknown_kid_refetches_at_most_once_per_cooldown(
    keys: UrlKeys, provider: KeySetServer, key: SigningKey, clock: Clock
) -> None:
    await keys.key_for(key.kid)
    rotated = SigningKey.generate("ES256")
    provider.keys = [key, rotated]
    # Right after a regular fetch: a rotated key is still fetched at once.
    assert (await keys.key_for(rotated.kid)).key_id == rotated.kid
    assert provider.fetches == 2
    for _ in range(3):
        with pytest.raises(UnknownKeyError):
            await keys.key_for("made-up")
    assert provider.fetches == 2
    clock.now += REFETCH_COOLDOWN_SECONDS
    with pytest.raises(UnknownKeyError):
        await keys.key_for("made-up")
    assert provider.fetches == 3


async def test_an_unknown_kid_in_a_set_just_fetched_is_not_fetched_twice(
    keys: UrlKeys, provider: KeySetServer
) -> None:
    with pytest.raises(UnknownKeyError):
        await keys.key_for("made-up")
    assert provider.fetches == 1


async def test_while_the_provider_is_down_stale_keys_serve_for_a_grace_period(
    keys: UrlKeys, provider: KeySetServer, key: SigningKey, clock: Clock
) -> None:
    await keys.key_for(key.kid)
    await provider.stop()
    clock.now += DEFAULT_LIFETIME_SECONDS + 1
    assert (await keys.key_for(key.kid)).key_id == key.kid
    with pytest.raises(KeysUnavailableError) as unavailable:
        await keys.key_for("made-up")
    assert 1 <= unavailable.value.retry_after <= REFETCH_COOLDOWN_SECONDS
    clock.now += STALE_GRACE_SECONDS
    with pytest.raises(KeysUnavailableError):
        await keys.key_for(key.kid)


async def test_a_provider_answering_an_empty_set_is_unavailable(
    clock: Clock, key: SigningKey
) -> None:
    server = KeySetServer(keys=[])
    async with serving(server):
        source = UrlKeys(server.url, clock=clock)
        try:
            with pytest.raises(KeysUnavailableError):
                await source.key_for(key.kid)
            server.keys = [key]
            clock.now += REFETCH_COOLDOWN_SECONDS
            assert (await source.key_for(key.kid)).key_id == key.kid
        finally:
            await source.aclose()


def test_a_broken_key_set_file_fails_at_start(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text('{"keys": [')
    with pytest.raises(ValueError, match="PERFAPI_JWT_JWKS_FILE"):
        FileKeys(path)
    with pytest.raises(ValueError, match="PERFAPI_JWT_JWKS_FILE"):
        FileKeys(tmp_path / "missing.json")


async def test_a_file_broken_after_start_keeps_the_keys_read_before(
    tmp_path: Path, key: SigningKey
) -> None:
    path = tmp_path / "jwks.json"
    write_key_set(path, [key])
    source = FileKeys(path)
    before = path.stat().st_mtime_ns
    path.write_text(json.dumps({"keys": []}))
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))
    with pytest.raises(UnknownKeyError):
        await source.key_for("made-up")
    assert (await source.key_for(key.kid)).key_id == key.kid
