"""Conditional GET: tags on every read computed from stored data, 304 for a current one."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.rollups.service import refresh
from tests.conditional.helpers import REPORT, Org, build_org, get, ingest, tag_of, tagged_reads
from tests.support import Tenant, created


async def test_every_read_carries_a_tag_and_answers_304_for_it(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    org = await build_org(client, tenant)
    for url in tagged_reads(org):
        first = await get(client, tenant, url)
        tag = tag_of(first)
        assert first.headers["cache-control"] == "private, no-cache", url
        assert tag.startswith('"'), (url, tag)  # strong: nothing here depends on the clock

        again = await get(client, tenant, url, tag)
        assert again.status_code == 304, (url, again.text)
        assert again.content == b"", url
        assert again.headers["etag"] == tag, url
        assert again.headers["cache-control"] == "private, no-cache", url
        assert "content-type" not in again.headers, url


async def test_a_tag_that_is_not_current_gets_the_whole_answer(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    org = await build_org(client, tenant)
    for sent in ('"stale"', 'W/"stale"', "*", "garbage without quotes", ""):
        response = await get(client, tenant, REPORT, sent)
        assert response.status_code == 200, sent
        assert response.json()["objectives_total"] == 1
    tag = tag_of(await get(client, tenant, f"/v1/kpis/{org.kpi}"))
    # Listed among others, and compared weakly as GET does.
    listed = await get(client, tenant, f"/v1/kpis/{org.kpi}", f'"other", W/{tag} , "more"')
    assert listed.status_code == 304


async def test_parameters_and_representations_have_their_own_tags(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_org(client, tenant)
    tags = {
        tag_of(await get(client, tenant, REPORT)),
        tag_of(await get(client, tenant, REPORT + "&threshold=0.7")),
        tag_of(await get(client, tenant, REPORT + "&format=csv")),
        tag_of(await get(client, tenant, REPORT, accept="application/x-ndjson")),
        tag_of(await get(client, tenant, "/v1/objectives?limit=1")),
        tag_of(await get(client, tenant, "/v1/objectives?limit=2")),
    }
    assert len(tags) == 6


@pytest.mark.parametrize(
    ("url", "accept"),
    [
        (REPORT + "&format=csv", None),
        (REPORT, "text/csv"),
        ("/v1/kpis", "application/x-ndjson"),
        ("/v1/objectives?format=ndjson", None),
    ],
)
async def test_exports_are_tagged_and_answer_304(
    client: httpx.AsyncClient, tenant: Tenant, url: str, accept: str | None
) -> None:
    await build_org(client, tenant)
    headers = {"accept": accept} if accept else {}
    first = await get(client, tenant, url, **headers)
    tag = tag_of(first)
    assert first.headers["content-type"].split(";")[0] in ("text/csv", "application/x-ndjson")
    assert first.headers["cache-control"] == "private, no-cache"
    again = await get(client, tenant, url, tag, **headers)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    # A write makes the export answer in full again, with a new tag.
    await created(client, tenant, "/v1/kpis", {"key": "sales.mrr", "name": "MRR"})
    changed = await get(client, tenant, url, tag, **headers)
    assert tag_of(changed) != tag
    assert changed.content


Write = Callable[[httpx.AsyncClient, Tenant, Org], Awaitable[None]]


async def _points(client: httpx.AsyncClient, tenant: Tenant, org: Org) -> None:
    await ingest(client, tenant, "2026-03-01T09:00:00Z", 5)


async def _check_in(client: httpx.AsyncClient, tenant: Tenant, org: Org) -> None:
    await created(
        client,
        tenant,
        f"/v1/key-results/{org.manual_key_result}/check-ins",
        {"value": 3, "at": "2026-03-01T00:00:00Z"},
    )


async def _new_objective(client: httpx.AsyncClient, tenant: Tenant, org: Org) -> None:
    await created(
        client,
        tenant,
        "/v1/objectives",
        {
            "title": "Hire",
            "parent_id": org.objective,
            "start_date": "2026-01-01",
            "due_date": "2026-03-31",
        },
    )


async def _patch_objective(client: httpx.AsyncClient, tenant: Tenant, org: Org) -> None:
    response = await client.patch(
        f"/v1/objectives/{org.objective}", headers=tenant.headers, json={"title": "Grow fast"}
    )
    assert response.status_code == 200, response.text


async def _patch_key_result(client: httpx.AsyncClient, tenant: Tenant, org: Org) -> None:
    response = await client.patch(
        f"/v1/key-results/{org.manual_key_result}", headers=tenant.headers, json={"weight": 2}
    )
    assert response.status_code == 200, response.text


async def _target(client: httpx.AsyncClient, tenant: Tenant, org: Org) -> None:
    await created(
        client,
        tenant,
        f"/v1/kpis/{org.kpi}/targets",
        {"period_start": "2027-01-01", "period_end": "2027-12-31", "value": 200},
    )


async def _unlink(client: httpx.AsyncClient, tenant: Tenant, org: Org) -> None:
    response = await client.delete(
        f"/v1/objectives/{org.objective}/kpis/{org.kpi}", headers=tenant.headers
    )
    assert response.status_code == 204, response.text


async def _delete_points(client: httpx.AsyncClient, tenant: Tenant, org: Org) -> None:
    response = await client.delete(
        f"/v1/kpis/{org.kpi}/points",
        headers=tenant.headers,
        params={"from": "2026-01-01", "to": "2026-02-01"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "write",
    [
        _points,
        _check_in,
        _new_objective,
        _patch_objective,
        _patch_key_result,
        _target,
        _unlink,
        _delete_points,
    ],
)
async def test_a_write_of_any_kind_changes_the_tags(
    client: httpx.AsyncClient, tenant: Tenant, write: Write
) -> None:
    org = await build_org(client, tenant)
    urls = [REPORT, "/v1/objectives?as_of=2026-06-30", "/v1/reports/alignment"]
    before = {url: tag_of(await get(client, tenant, url)) for url in urls}
    await write(client, tenant, org)
    for url in urls:
        response = await get(client, tenant, url, before[url])
        assert response.status_code == 200, (url, response.status_code)
        assert tag_of(response) != before[url], url


async def test_a_rollup_refresh_changes_the_tags(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    org = await build_org(client, tenant)
    series = f"/v1/kpis/{org.kpi}/series?from=2026-01-01&to=2026-02-01"
    before = tag_of(await get(client, tenant, series))
    body = (await get(client, tenant, series)).json()
    async with sessionmaker() as session, session.begin():
        result = await refresh(session, tenant.id)
    assert result.refreshed > 0
    after = await get(client, tenant, series, before)
    assert tag_of(after) != before
    assert after.json() == body  # the same numbers, now read from the rollups


async def test_another_orgs_tags_never_match(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await build_org(client, tenant)
    await build_org(client, other_tenant)
    # Same URLs for both orgs where the URL names no id: each org has its own tag.
    for url in (REPORT, "/v1/kpis", "/v1/reports/alignment", "/v1/objectives"):
        tag = tag_of(await get(client, tenant, url))
        theirs = await get(client, other_tenant, url, tag)
        assert theirs.status_code == 200, url
        assert tag_of(theirs) != tag, url
    # Our resource, with our current tag, is still not theirs to see.
    url = f"/v1/kpis/{ours.kpi}"
    tag = tag_of(await get(client, tenant, url))
    hidden = await get(client, other_tenant, url, tag)
    assert hidden.status_code == 404
    assert "etag" not in hidden.headers


async def test_a_write_in_another_org_leaves_the_tags_alone(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await build_org(client, tenant)
    tag = tag_of(await get(client, tenant, REPORT))
    await build_org(client, other_tenant)
    assert (await get(client, tenant, REPORT, tag)).status_code == 304


async def test_304_does_not_compute_the_answer(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_org(client, tenant)
    tag = tag_of(await get(client, tenant, REPORT))
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await get(client, tenant, REPORT, tag)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 304
    tables = " ".join(statements)
    assert "org_data_versions" in tables
    for computed_from in ("objectives", "key_results", "check_ins", "points", "rollups"):
        assert f"FROM {computed_from}" not in tables, (computed_from, statements)


async def test_an_answer_as_of_now_has_a_weak_tag_until_dated_data_lies_ahead(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    org = await build_org(client, tenant)
    for url in (
        "/v1/objectives",
        f"/v1/objectives/{org.objective}",
        f"/v1/objectives/{org.objective}/progress",
        f"/v1/objectives/{org.objective}/key-results",
        f"/v1/key-results/{org.linked_key_result}",
        "/v1/reports/goal-achievement",
    ):
        first = await get(client, tenant, url)
        tag = tag_of(first)
        assert tag.startswith('W/"'), url
        assert (await get(client, tenant, url, tag)).status_code == 304, url

    # A point dated an hour ahead: the answer as of now will change when its time
    # comes, without any write, so it has no tag until then. Explicit as_of still has one.
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await ingest(client, tenant, ahead, 1)
    untagged = await get(client, tenant, "/v1/reports/goal-achievement")
    assert untagged.status_code == 200
    assert "etag" not in untagged.headers
    assert untagged.headers["cache-control"] == "private, no-cache"
    tag_of(await get(client, tenant, REPORT))


async def test_attainment_as_of_now_has_no_tag(client: httpx.AsyncClient, tenant: Tenant) -> None:
    org = await build_org(client, tenant)
    now = await get(client, tenant, f"/v1/kpis/{org.kpi}/attainment")
    assert now.status_code == 200, now.text
    assert "etag" not in now.headers  # its pace moves with every instant
    tag_of(await get(client, tenant, f"/v1/kpis/{org.kpi}/attainment?as_of=2026-06-30"))


async def test_errors_carry_no_tag(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await build_org(client, tenant)
    missing = await get(client, tenant, "/v1/kpis/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert "etag" not in missing.headers
    invalid = await get(client, tenant, "/v1/objectives?limit=0")
    assert invalid.status_code == 422
    assert "etag" not in invalid.headers
    unauthenticated = await client.get("/v1/kpis", headers={"If-None-Match": '"x"'})
    assert unauthenticated.status_code == 401


# Reads that are not one answer: a stream sends events as they come, and has no tag.
UNTAGGED = {"/v1/events/stream", "/v1/webhook-endpoints/{endpoint_id}/attempts"}


def test_the_openapi_document_states_304_and_the_tag(app: FastAPI) -> None:
    document = app.openapi()
    reads = [
        (path, item["get"])
        for path, item in document["paths"].items()
        if "get" in item and path.startswith("/v1/") and path not in UNTAGGED
    ]
    assert len(reads) >= 25
    for path, operation in reads:
        assert "304" in operation["responses"], path
        assert "ETag" in operation["responses"]["200"]["headers"], path
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert headers == ["If-None-Match"], path
