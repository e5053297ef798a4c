"""A HubSpot-style batch signed by the ``standardwebhooks`` package, posted over
HTTP to a real ``perfapi serve``, becomes points and shows in the KPI's series."""

from datetime import datetime
from uuid import UUID

import httpx

from tests.cli.processes import perfapi_env, start_server
from tests.points.helpers import create_kpi
from tests.support import Tenant, fresh_database
from tests.webhooks.helpers import (
    body_of,
    create_source,
    daily_series,
    deliveries,
    points,
    post_hook,
    standard_headers,
)
from tests.webhooks.payloads import (
    EXPECTED_HUBSPOT,
    HUBSPOT_DEALS_BATCH,
    HUBSPOT_KPI,
    HUBSPOT_MAPPING,
)


async def test_signed_delivery_to_a_running_server(database_server_url: str) -> None:
    async with fresh_database(database_server_url, "hookserver") as url:
        server = await start_server(perfapi_env(PERFAPI_DATABASE_URL=url))
        try:
            assert server.ready, "".join(server.stderr)
            # The first-start admin key of org `default`; the org id is not needed here.
            tenant = Tenant(id=UUID(int=0), name="default", token=await server.read_token())
            async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as http:
                kpi_id = await create_kpi(http, tenant, HUBSPOT_KPI)
                source = await create_source(http, tenant, mappings=[HUBSPOT_MAPPING])
                body = body_of(HUBSPOT_DEALS_BATCH)
                headers = standard_headers(source["secret"], body, msg_id="msg_hubspot_1")

                first = await post_hook(http, source["id"], body, headers)
                assert first.status_code == 200, first.text
                assert first.json()["points_written"] == 2
                # The sender retries the same delivery: same answer, nothing written twice.
                again = await post_hook(http, source["id"], body, headers)
                assert (again.status_code, again.json()) == (200, first.json())

                stored = await points(http, tenant, kpi_id)
                assert stored == [
                    (datetime.fromisoformat(ts), value, dims)
                    for ts, value, dims in EXPECTED_HUBSPOT
                ]
                assert await daily_series(http, tenant, kpi_id) == {
                    "2026-01-15": (12500.5, 1),
                    "2026-01-16": (8000.0, 1),
                }
                [delivery] = await deliveries(http, tenant, source["id"])
                assert (delivery["status"], delivery["points_written"]) == ("processed", 2)
        finally:
            assert await server.stop() == 0
