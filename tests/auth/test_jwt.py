"""JWT bearer tokens from an identity provider, end to end: keys generated here, the key
set served from 127.0.0.1, a separate app configured for it, the real database."""

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from perfapi.config import Settings
from tests.auth.jwt_support import (
    AUDIENCE,
    ISSUER,
    KeySetServer,
    SigningKey,
    claims,
    hand_made,
    serving,
    with_payload,
    write_key_set,
)
from tests.support import Tenant, assert_problem, bearer, created, running

OBJECTIVES = "/v1/objectives"
GOAL = {"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"}


def jwt_settings(settings: Settings, **source: Any) -> Settings:
    return settings.model_copy(update={"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **source})


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.generate("RS256")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.generate("ES256")


@pytest.fixture(scope="module")
def ed_key() -> SigningKey:
    return SigningKey.generate("EdDSA")


@pytest.fixture(scope="module")
def short_key() -> SigningKey:
    return SigningKey.generate("RS256", rsa_bits=1024)


@pytest.fixture
async def provider(
    rsa_key: SigningKey, ec_key: SigningKey, ed_key: SigningKey, short_key: SigningKey
) -> AsyncIterator[KeySetServer]:
    async with serving(KeySetServer(keys=[rsa_key, ec_key, ed_key, short_key])) as server:
        yield server


@pytest.fixture
async def jwt_client(
    settings: Settings, provider: KeySetServer, tenant: Tenant
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(jwt_settings(settings, jwt_jwks_url=provider.url)) as client:
        yield client


def comparable(response: httpx.Response) -> dict[str, Any]:
    """A problem body without the parts that differ from request to request."""
    body = assert_problem(response, response.status_code)
    return {name: value for name, value in body.items() if name not in ("request_id", "instance")}


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key", "ed_key"])
async def test_a_good_token_acts_for_its_org_with_its_scopes(
    jwt_client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    key_name: str,
    request: pytest.FixtureRequest,
) -> None:
    key: SigningKey = request.getfixturevalue(key_name)
    mine = await created(jwt_client, tenant, OBJECTIVES, GOAL)
    theirs = await created(jwt_client, other_tenant, OBJECTIVES, GOAL)
    headers = bearer(key.sign(claims(sub=f"user-{key.alg}")))

    listed = await jwt_client.get(OBJECTIVES, headers=headers)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [mine]
    made = await jwt_client.post(OBJECTIVES, headers=headers, json=GOAL)
    assert made.status_code == 201, made.text
    assert_problem(await jwt_client.get(f"{OBJECTIVES}/{theirs}", headers=headers), 404)
    # read and write were granted, admin was not.
    assert_problem(await jwt_client.get("/v1/api-keys", headers=headers), 403, "forbidden")


async def test_an_audience_list_containing_perfapi_is_accepted(
    jwt_client: httpx.AsyncClient, rsa_key: SigningKey
) -> None:
    token = rsa_key.sign(claims(aud=["account", AUDIENCE]))
    assert (await jwt_client.get(OBJECTIVES, headers=bearer(token))).status_code == 200


async def test_clock_skew_within_the_leeway_is_tolerated(
    jwt_client: httpx.AsyncClient, rsa_key: SigningKey
) -> None:
    now = int(time.time())
    for skewed in (claims(exp=now - 30), claims(nbf=now + 30, iat=now + 30)):
        response = await jwt_client.get(OBJECTIVES, headers=bearer(rsa_key.sign(skewed)))
        assert response.status_code == 200, (skewed, response.text)


async def test_a_missing_scope_is_403(jwt_client: httpx.AsyncClient, rsa_key: SigningKey) -> None:
    token = rsa_key.sign(claims(scope="openid read"))
    body = assert_problem(
        await jwt_client.post(OBJECTIVES, headers=bearer(token), json=GOAL), 403, "forbidden"
    )
    assert "'write' scope" in body["detail"]


def _bad_tokens(rsa: SigningKey, ec: SigningKey, short: SigningKey) -> dict[str, tuple[str, str]]:
    """Name -> (token, the check the log must name)."""
    now = int(time.time())
    stranger = SigningKey.generate("RS256", kid=rsa.kid)  # same kid, another key
    unlisted = SigningKey.generate("ES256")
    good = rsa.sign(claims())
    pem = rsa.public_pem()
    return {
        "expired": (rsa.sign(claims(exp=now - 120, iat=now - 600)), "expired"),
        "not yet valid": (rsa.sign(claims(nbf=now + 120)), "not-yet-valid"),
        "wrong issuer": (rsa.sign(claims(iss="https://evil.example")), "issuer"),
        "wrong audience": (ec.sign(claims(aud="someone-else")), "audience"),
        "unknown kid": (unlisted.sign(claims()), "unknown-kid"),
        "tampered payload": (with_payload(good, claims(org="globex", scope="admin")), "signature"),
        "signed by another key": (stranger.sign(claims()), "signature"),
        "alg none": (hand_made({"alg": "none", "kid": rsa.kid}, claims(), None), "algorithm"),
        "HS256 with the public key": (
            hand_made({"alg": "HS256", "typ": "JWT", "kid": rsa.kid}, claims(), pem),
            "algorithm",
        ),
        "RS256 header on an EC key": (
            hand_made({"alg": "RS256", "kid": ec.kid}, claims(), None) + "AAAA",
            "algorithm",
        ),
        "unknown org": (rsa.sign(claims(org="initech")), "unknown-org"),
        "no scope claim": (rsa.sign(claims(scope=None)), "no-scope"),
        "no perfapi scope": (rsa.sign(claims(scope="openid profile email")), "no-scope"),
        "no exp": (rsa.sign(claims(exp=None)), "missing-exp"),
        "no sub": (rsa.sign(claims(sub=None)), "missing-sub"),
        "no aud": (rsa.sign(claims(aud=None)), "missing-aud"),
        "empty sub": (rsa.sign(claims(sub="")), "subject"),
        "no org claim": (rsa.sign(claims(org=None)), "org-claim"),
        "published RSA key under 2048 bits": (short.sign(claims()), "key"),
        "no kid": (hand_made({"alg": "RS256"}, claims(), None) + "AAAA", "kid-missing"),
        "not a JWT": ("eyJnot.a.token", "malformed"),
    }


async def test_every_bad_token_is_the_same_401_and_the_log_names_the_check(
    jwt_client: httpx.AsyncClient,
    rsa_key: SigningKey,
    ec_key: SigningKey,
    short_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bodies = {}
    for name, (token, check) in _bad_tokens(rsa_key, ec_key, short_key).items():
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="perfapi.auth.bearer"):
            response = await jwt_client.get(OBJECTIVES, headers=bearer(token))
        assert response.status_code == 401, (name, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        bodies[name] = comparable(response)
        logged = [
            getattr(record, "jwt_check", None)
            for record in caplog.records
            if record.name == "perfapi.auth.bearer"
        ]
        assert logged == [check], (name, logged)
    reference = bodies["expired"]
    assert reference["detail"] == "The bearer token is not valid."
    assert {name: body for name, body in bodies.items() if body != reference} == {}


async def test_tokens_are_refused_when_no_provider_is_configured(
    client: httpx.AsyncClient, tenant: Tenant, rsa_key: SigningKey
) -> None:
    response = await client.get(OBJECTIVES, headers=bearer(rsa_key.sign(claims())))
    body = assert_problem(response, 401, "unauthorized")
    assert body["detail"] == "The API key is not valid."


async def test_api_keys_work_unchanged_beside_tokens(
    jwt_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert (await jwt_client.get("/v1/api-keys", headers=tenant.headers)).status_code == 200
    bad_key = assert_problem(
        await jwt_client.get(OBJECTIVES, headers=bearer(tenant.token[:-1] + "x")), 401
    )
    assert bad_key["detail"] == "The API key is not valid."


async def test_the_key_set_is_cached(
    jwt_client: httpx.AsyncClient, provider: KeySetServer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    for key in (rsa_key, ec_key, rsa_key):
        response = await jwt_client.get(OBJECTIVES, headers=bearer(key.sign(claims())))
        assert response.status_code == 200, response.text
    assert provider.fetches == 1


async def test_a_rotated_key_is_fetched_and_made_up_kids_do_not_hammer_the_provider(
    jwt_client: httpx.AsyncClient, provider: KeySetServer, rsa_key: SigningKey
) -> None:
    first = await jwt_client.get(OBJECTIVES, headers=bearer(rsa_key.sign(claims())))
    assert first.status_code == 200, first.text
    assert provider.fetches == 1

    rotated = SigningKey.generate("RS256")
    provider.keys = [rotated]  # the provider rotates right after perfapi's fetch
    response = await jwt_client.get(OBJECTIVES, headers=bearer(rotated.sign(claims())))
    assert response.status_code == 200, response.text
    assert provider.fetches == 2

    # Kids nobody knows, one after another: the refetch cooldown holds, no more fetches.
    for attempt in range(5):
        forged = SigningKey.generate("RS256", kid=f"made-up-{attempt}").sign(claims())
        assert_problem(await jwt_client.get(OBJECTIVES, headers=bearer(forged)), 401)
    # The old key is gone from the set, and the cached set knows it: a new token signed
    # with it is refused (one already verified is remembered a while; see the next test).
    old = rsa_key.sign(claims(sub="user-2"))
    assert_problem(await jwt_client.get(OBJECTIVES, headers=bearer(old)), 401)
    assert provider.fetches == 2


async def test_a_verified_token_is_remembered_a_while_and_an_expired_one_never(
    jwt_client: httpx.AsyncClient, provider: KeySetServer, rsa_key: SigningKey
) -> None:
    token = rsa_key.sign(claims())
    assert (await jwt_client.get(OBJECTIVES, headers=bearer(token))).status_code == 200
    provider.keys = []  # withdrawn: a token seen before is still taken, for a while
    for _ in range(3):
        assert (await jwt_client.get(OBJECTIVES, headers=bearer(token))).status_code == 200
    assert provider.fetches == 1
    expired = rsa_key.sign(claims(sub="user-3", iat=1, exp=2))
    assert_problem(await jwt_client.get(OBJECTIVES, headers=bearer(expired)), 401)


async def test_a_provider_that_is_down_is_503_for_tokens_only(
    settings: Settings, tenant: Tenant, rsa_key: SigningKey
) -> None:
    async with (
        serving(KeySetServer(keys=[rsa_key])) as provider,
        running(jwt_settings(settings, jwt_jwks_url=provider.url)) as client,
    ):
        await provider.stop()
        response = await client.get(OBJECTIVES, headers=bearer(rsa_key.sign(claims())))
        body = assert_problem(response, 503, "service-unavailable")
        assert 1 <= int(response.headers["retry-after"]) <= 10
        assert "identity provider" in body["detail"]
        assert (await client.get(OBJECTIVES, headers=tenant.headers)).status_code == 200
        # Tried once; the next token within the retry wait does not knock again.
        again = await client.get(OBJECTIVES, headers=bearer(rsa_key.sign(claims())))
        assert_problem(again, 503)


async def test_cached_keys_outlive_a_provider_outage(
    settings: Settings, tenant: Tenant, rsa_key: SigningKey
) -> None:
    async with (
        serving(KeySetServer(keys=[rsa_key])) as provider,
        running(jwt_settings(settings, jwt_jwks_url=provider.url)) as client,
    ):
        token = rsa_key.sign(claims())
        assert (await client.get(OBJECTIVES, headers=bearer(token))).status_code == 200
        await provider.stop()
        # A token not seen before (one seen is remembered): verified with the cached key.
        fresh = rsa_key.sign(claims(sub="user-2"))
        assert (await client.get(OBJECTIVES, headers=bearer(fresh))).status_code == 200
        # A kid the cache lacks needs the provider: unavailable, not "invalid".
        unlisted = SigningKey.generate("RS256").sign(claims())
        assert_problem(await client.get(OBJECTIVES, headers=bearer(unlisted)), 503)
        assert provider.fetches == 1


async def test_a_key_set_file_is_used_and_read_again_when_it_changes(
    settings: Settings, tenant: Tenant, tmp_path: Path, ec_key: SigningKey
) -> None:
    path = tmp_path / "jwks.json"
    write_key_set(path, [ec_key])
    async with running(jwt_settings(settings, jwt_jwks_file=path)) as client:
        good = await client.get(OBJECTIVES, headers=bearer(ec_key.sign(claims())))
        assert good.status_code == 200, good.text
        rotated = SigningKey.generate("EdDSA")
        token = rotated.sign(claims())
        assert_problem(await client.get(OBJECTIVES, headers=bearer(token)), 401)
        write_key_set(path, [ec_key, rotated])
        assert (await client.get(OBJECTIVES, headers=bearer(token))).status_code == 200
        tampered = with_payload(token, claims(scope="admin"))
        assert_problem(await client.get(OBJECTIVES, headers=bearer(tampered)), 401)
