"""Turning JWT bearer tokens on: complete settings or none, and a real ``perfapi serve``
configured from the environment."""

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from perfapi.app import create_app
from perfapi.config import Settings
from tests.auth.jwt_support import AUDIENCE, ISSUER, KeySetServer, SigningKey, claims, serving
from tests.cli.processes import perfapi_env, start_server
from tests.support import assert_problem, bearer, fresh_database

URL = "https://idp.example/realms/perfapi/protocol/openid-connect/certs"


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ({"jwt_issuer": ISSUER}, "PERFAPI_JWT_AUDIENCE"),
        ({"jwt_audience": AUDIENCE, "jwt_jwks_url": URL}, "PERFAPI_JWT_ISSUER"),
        ({"jwt_jwks_file": "jwks.json"}, "PERFAPI_JWT_ISSUER and PERFAPI_JWT_AUDIENCE"),
        ({"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}, "exactly one of"),
        (
            {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwt_jwks_url": URL}
            | {"jwt_jwks_file": "jwks.json"},
            "exactly one of",
        ),
        (
            {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
            | {"jwt_jwks_url": "http://idp.example/certs"},
            "must be an https URL",
        ),
        (
            {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, "jwt_jwks_url": "ftp://127.0.0.1/k"},
            "must be an https URL",
        ),
    ],
)
def test_incomplete_settings_are_a_clear_error(given: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(**given)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", [URL, "http://127.0.0.1:8080/certs", "http://localhost/certs", "http://[::1]/certs"]
)
def test_https_or_loopback_http_urls_are_accepted(url: str) -> None:
    settings = Settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_jwks_url=url)
    assert settings.jwt_jwks_url == url
    assert settings.jwt_org_claim == "org"


def test_empty_variables_leave_jwt_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ISSUER", "AUDIENCE", "JWKS_URL", "JWKS_FILE"):
        monkeypatch.setenv(f"PERFAPI_JWT_{name}", "")
    settings = Settings()
    assert settings.jwt_issuer is None
    assert create_app(settings).state.jwt_verifier is None


def test_create_app_checks_copied_settings_too(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PERFAPI_JWT_AUDIENCE"):
        create_app(settings.model_copy(update={"jwt_issuer": ISSUER}))
    with pytest.raises(ValueError, match="PERFAPI_JWT_JWKS_FILE"):
        create_app(
            settings.model_copy(
                update={
                    "jwt_issuer": ISSUER,
                    "jwt_audience": AUDIENCE,
                    "jwt_jwks_file": tmp_path / "missing.json",
                }
            )
        )


async def test_a_served_perfapi_accepts_tokens_configured_by_environment(
    database_server_url: str,
) -> None:
    key = SigningKey.generate("RS256")
    async with (
        serving(KeySetServer(keys=[key])) as provider,
        fresh_database(database_server_url, "jwtserve") as url,
    ):
        env = perfapi_env(
            PERFAPI_DATABASE_URL=url,
            PERFAPI_JWT_ISSUER=ISSUER,
            PERFAPI_JWT_AUDIENCE=AUDIENCE,
            PERFAPI_JWT_JWKS_URL=provider.url,
            PERFAPI_JWT_ORG_CLAIM="tenant",
        )
        server = await start_server(env)
        try:
            assert server.ready, "".join(server.stderr)
            token = await server.read_token()
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                # The first start's org is called "default".
                good = bearer(key.sign(claims(org=None, tenant="default", scope="read")))
                listed = await http.get("/v1/objectives", headers=good)
                assert listed.status_code == 200, listed.text
                wrong_claim = bearer(key.sign(claims(scope="read")))
                assert_problem(await http.get("/v1/objectives", headers=wrong_claim), 401)
                assert (await http.get("/v1/api-keys", headers=bearer(token))).status_code == 200
        finally:
            assert await server.stop() == 0, "".join(server.stderr)
        assert "JWT bearer token rejected: org-claim" in "".join(server.stderr)


async def test_perfapi_serve_refuses_to_start_half_configured(database_server_url: str) -> None:
    env = perfapi_env(PERFAPI_DATABASE_URL=database_server_url, PERFAPI_JWT_ISSUER=ISSUER)
    server = await start_server(env)
    assert await server.exited() != 0
    assert not server.ready
    assert "JWT bearer tokens also need PERFAPI_JWT_AUDIENCE" in "".join(server.stderr)
