"""``perfapi serve --demo`` (PERFAPI_DEMO): a first start fills the new org with the demo
data, so a new user's `make run` shows a strategy; any later start changes nothing."""

import httpx

from tests.cli.processes import perfapi_env
from tests.console.server import serving
from tests.support import bearer, fresh_database

DEMO_KPIS = 12


async def _kpi_count(base_url: str, token: str) -> int:
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.get("/v1/kpis", params={"limit": 500}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def test_a_first_start_with_demo_loads_it_once(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "servedemo") as url:
        env = perfapi_env(PERFAPI_DATABASE_URL=url, PERFAPI_DEMO="true")
        async with serving(env) as first:
            token = await first.token()
            await first.until_ready()
            assert await _kpi_count(first.base_url, token) == DEMO_KPIS
            async with httpx.AsyncClient(base_url=first.base_url) as http:
                tree = await http.get("/v1/objectives", headers=bearer(token))
            assert tree.json()["items"], "the demo strategy"
        assert "Loaded the demo data" in "".join(first.stdout)
        assert f"http://127.0.0.1:{first.port}/" in "".join(first.stdout)

        # Not a first start: no new key, no second load (which would be refused: the org
        # has data), the server simply starts.
        async with serving(perfapi_env(PERFAPI_DATABASE_URL=url), "--demo") as again:
            await again.until_ready()
            assert await _kpi_count(again.base_url, token) == DEMO_KPIS
        assert again.printed_token() is None
        assert "Loaded the demo data" not in again.output


async def test_without_demo_a_first_start_leaves_the_org_empty(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "servenodemo") as url:
        # --no-demo wins over the setting, as command-line options do.
        env = perfapi_env(PERFAPI_DATABASE_URL=url, PERFAPI_DEMO="true")
        async with serving(env, "--no-demo") as served:
            token = await served.token()
            await served.until_ready()
            assert await _kpi_count(served.base_url, token) == 0
        assert "Loaded the demo data" not in served.output
