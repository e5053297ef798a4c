"""``perfapi migrate``, ``orgs``, ``keys`` and ``openapi`` as real commands."""

import json
from pathlib import Path

import httpx

from perfapi.app import create_app
from perfapi.config import Settings
from tests.cli.processes import TOKEN_PATTERN, perfapi_env, run_cli
from tests.support import bearer, fresh_database

REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_orgs_and_keys(database_server_url: str, settings: Settings) -> None:
    async with fresh_database(database_server_url, "cli") as url:
        env = perfapi_env(PERFAPI_DATABASE_URL=url)
        code, out, _ = await run_cli("migrate", env=env)
        assert code == 0, out
        code, out, _ = await run_cli("orgs", "create", "acme", env=env)
        assert code == 0
        assert "created org acme" in out
        code, _, err = await run_cli("orgs", "create", "acme", env=env)
        assert code == 1
        assert "already exists" in err
        code, out, _ = await run_cli("orgs", "list", env=env)
        assert "acme" in out

        code, out, _ = await run_cli(
            "keys", "create", "--org", "acme", "--scope", "admin", "--scope", "read", env=env
        )
        assert code == 0
        token = out.strip()
        assert TOKEN_PATTERN.fullmatch(token)

        code, _, err = await run_cli("keys", "create", "--org", "nope", "--scope", "read", env=env)
        assert code == 1
        assert "No org named 'nope'" in err
        code, _, err = await run_cli("keys", "create", "--org", "acme", "--scope", "root", env=env)
        assert code != 0
        assert "root" in err

        app = create_app(settings.model_copy(update={"database_url": url}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get("/v1/api-keys", headers=bearer(token))
        assert response.status_code == 200
        assert response.json()["items"][0]["scopes"] == ["admin", "read"]


async def test_openapi_check(tmp_path: Path) -> None:
    env = perfapi_env()
    committed = REPO_ROOT / "openapi" / "openapi.json"
    code, out, _ = await run_cli("openapi", "--check", "--output", str(committed), env=env)
    assert code == 0, out

    stale = tmp_path / "openapi.json"
    stale.write_text(json.dumps({"openapi": "3.1.0"}))
    code, _, err = await run_cli("openapi", "--check", "--output", str(stale), env=env)
    assert code == 1
    assert "stale" in err

    written = tmp_path / "fresh" / "openapi.json"
    code, _, _ = await run_cli("openapi", "--output", str(written), env=env)
    assert code == 0
    assert written.read_text() == committed.read_text()
