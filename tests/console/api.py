"""The API the console calls, called by the tests directly: to set the scene, to change
data behind the page's back, and to know what the page should show."""

import math
from typing import Any

import httpx

from tests.cli.processes import run_cli
from tests.console.browsing import Console
from tests.support import bearer

ROOT_OBJECTIVE = "Grow a healthy, efficient company"


def shown_percent(value: float | None) -> str:
    """A ratio as the console writes it (JavaScript's Math.round: halves round up)."""
    return "\u2013" if value is None else f"{math.floor(value * 100 + 0.5)}%"


async def call(
    console: Console, method: str, path: str, token: str | None = None, **kwargs: Any
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=console.served.base_url, timeout=60) as http:
        headers = bearer(token or console.token)
        return await http.request(method, path, headers=headers, **kwargs)


async def read(console: Console, path: str, **params: Any) -> Any:
    response = await call(console, "GET", path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def objective_titled(console: Console, title: str, **params: Any) -> dict[str, Any]:
    listed = await read(console, "/v1/objectives", limit=500, **params)
    found: dict[str, Any] = next(item for item in listed["items"] if item["title"] == title)
    return found


async def kpi_keyed(console: Console, key: str) -> dict[str, Any]:
    listed = await read(console, "/v1/kpis", limit=500)
    found: dict[str, Any] = next(item for item in listed["items"] if item["key"] == key)
    return found


async def checked_in_key_result(console: Console) -> tuple[dict[str, Any], dict[str, Any]]:
    """An active objective, and one of its key results measured by check-ins."""
    objectives = await read(console, "/v1/objectives", limit=500, status="active")
    for objective in objectives["items"]:
        key_results = await read(console, f"/v1/objectives/{objective['id']}/key-results")
        for key_result in key_results["items"]:
            if key_result["kpi_id"] is None:
                return objective, key_result
    raise AssertionError("the demo has no key result measured by check-ins")


async def new_key(console: Console, org: str, *scopes: str, name: str = "console test") -> str:
    """A key made by the CLI, as an operator would (`perfapi keys create`)."""
    scope_args = [arg for scope in scopes for arg in ("--scope", scope)]
    code, out, err = await run_cli(
        "keys", "create", "--org", org, "--name", name, *scope_args, env=console.env
    )
    assert code == 0, err
    return out.strip().splitlines()[-1]
