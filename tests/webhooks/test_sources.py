"""/v1/webhook-sources: create (secret shown once), read, patch, delete; validation,
scopes and isolation between orgs."""

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.auth.tokens import Scope
from tests.points.helpers import create_kpi
from tests.support import Tenant, assert_problem, bearer, error_locs, make_token
from tests.webhooks.helpers import (
    SIMPLE_MAPPING,
    SOURCES,
    create_source,
    deliveries,
    points,
    send_hmac,
    send_standard,
    simple_payload,
)


async def test_create_standard_source_shows_the_secret_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"name": "HR system", "scheme": "standard", "mappings": [SIMPLE_MAPPING]}
    response = await client.post(SOURCES, headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{SOURCES}/{created['id']}"
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    assert created["receiver_path"] == f"/v1/hooks/{created['id']}"
    assert created["signature_header"] is None
    assert created["enabled"] is True
    assert created["mappings"] == [{**SIMPLE_MAPPING, "dimensions": {}}]
    assert created["previous_secret_expires_at"] is None

    fetched = await client.get(response.headers["location"], headers=tenant.headers)
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    assert fetched.json() == {key: value for key, value in created.items() if key != "secret"}
    listed = (await client.get(SOURCES, headers=tenant.headers)).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert all("secret" not in item for item in listed)
    patched = await client.patch(
        response.headers["location"], headers=tenant.headers, json={"name": "HRIS"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "HRIS"
    assert "secret" not in patched.json()
    assert created["secret"] not in fetched.text + patched.text + str(listed)


async def test_hmac_source_signature_header_default_and_custom(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    default = await create_source(client, tenant, "hmac_sha256")
    assert default["signature_header"] == "X-Signature"
    assert not default["secret"].startswith("whsec_")
    assert len(default["secret"]) >= 32
    custom = await create_source(client, tenant, "hmac_sha256", signature_header="X-Hub-Sig")
    assert custom["signature_header"] == "X-Hub-Sig"

    assert (await send_hmac(client, custom, simple_payload(1.0))).status_code == 200
    # The signature in the default header is not looked at for this source.
    wrong_place = {**custom, "signature_header": "X-Signature"}
    assert_problem(await send_hmac(client, wrong_place, simple_payload(2.0)), 401)
    assert len(await deliveries(client, tenant, custom["id"])) == 1
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [1.0]

    # A merge patch of null goes back to the default header.
    reset = await client.patch(
        f"{SOURCES}/{custom['id']}", headers=tenant.headers, json={"signature_header": None}
    )
    assert reset.status_code == 200, reset.text
    assert reset.json()["signature_header"] == "X-Signature"


async def test_duplicate_name_is_409(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await create_source(client, tenant, name="Salesforce")
    other = await create_source(client, tenant, name="HubSpot")
    again = {"name": "Salesforce", "scheme": "hmac_sha256", "mappings": [SIMPLE_MAPPING]}
    assert_problem(await client.post(SOURCES, headers=tenant.headers, json=again), 409)
    rename = await client.patch(
        f"{SOURCES}/{other['id']}", headers=tenant.headers, json={"name": "Salesforce"}
    )
    assert_problem(rename, 409)
    listed = (await client.get(SOURCES, headers=tenant.headers)).json()["items"]
    assert sorted(item["name"] for item in listed) == ["HubSpot", "Salesforce"]
    assert {item["id"] for item in listed} == {first["id"], other["id"]}


@pytest.mark.parametrize(
    ("mapping", "loc", "expression"),
    [
        ({**SIMPLE_MAPPING, "kpi": "'unterminated"}, ["kpi"], "'unterminated"),
        ({**SIMPLE_MAPPING, "ts": "data.[ts"}, ["ts"], "data.[ts"),
        ({**SIMPLE_MAPPING, "value": "amount +"}, ["value"], "amount +"),
        ({**SIMPLE_MAPPING, "for_each": "events[?type=="}, ["for_each"], "events[?type=="),
        ({**SIMPLE_MAPPING, "dimensions": {"team": "a..b"}}, ["dimensions", "team"], "a..b"),
    ],
)
async def test_invalid_jmespath_is_422_naming_the_expression(
    client: httpx.AsyncClient,
    tenant: Tenant,
    mapping: dict[str, Any],
    loc: list[str],
    expression: str,
) -> None:
    mappings = [SIMPLE_MAPPING, mapping]
    body = {"name": "x", "scheme": "standard", "mappings": mappings}
    created = await client.post(SOURCES, headers=tenant.headers, json=body)
    problem = assert_problem(created, 422, "validation-error")
    errors = [error for error in problem["errors"] if error["loc"] == ["body", "mappings", 1, *loc]]
    assert len(errors) == 1, problem
    assert expression in errors[0]["message"]
    assert (await client.get(SOURCES, headers=tenant.headers)).json()["items"] == []

    source = await create_source(client, tenant)
    patch = await client.patch(
        f"{SOURCES}/{source['id']}", headers=tenant.headers, json={"mappings": mappings}
    )
    problem = assert_problem(patch, 422, "validation-error")
    assert ["body", "mappings", 1, *loc] in error_locs(problem)
    assert expression in str(problem["errors"])
    unchanged = (await client.get(f"{SOURCES}/{source['id']}", headers=tenant.headers)).json()
    assert unchanged["mappings"] == source["mappings"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"signature_header": "X-Signature"}, ["body", "signature_header"]),
        ({"delivery_id_header": "X-Delivery"}, ["body", "delivery_id_header"]),
        ({"colour": "red"}, ["body", "colour"]),
        ({"scheme": "md5"}, ["body", "scheme"]),
        ({"mappings": []}, ["body", "mappings"]),
        ({"mappings": [{"kpi": "'k'", "ts": "ts"}]}, ["body", "mappings", 0, "value"]),
        ({"rate_limit_per_minute": 0}, ["body", "rate_limit_per_minute"]),
        ({"name": "  "}, ["body", "name"]),
    ],
)
async def test_invalid_create_is_422_and_creates_nothing(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], loc: list[object]
) -> None:
    payload = {"name": "x", "scheme": "standard", "mappings": [SIMPLE_MAPPING], **body}
    problem = assert_problem(await client.post(SOURCES, headers=tenant.headers, json=payload), 422)
    assert loc in error_locs(problem)
    assert (await client.get(SOURCES, headers=tenant.headers)).json()["items"] == []


@pytest.mark.parametrize("field", ["signature_header", "delivery_id_header"])
async def test_standard_source_takes_no_hmac_header_in_patch(
    client: httpx.AsyncClient, tenant: Tenant, field: str
) -> None:
    source = await create_source(client, tenant)
    url = f"{SOURCES}/{source['id']}"
    problem = assert_problem(
        await client.patch(url, headers=tenant.headers, json={field: "X-Sig"}), 422
    )
    assert error_locs(problem) == [["body", field]]
    assert (await client.get(url, headers=tenant.headers)).json()[field] is None


async def test_rotate_secret_returns_it_once_with_the_overlap(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    source = await create_source(client, tenant)
    url = f"{SOURCES}/{source['id']}"
    before = datetime.now(UTC)
    rotated = await client.post(f"{url}/rotate-secret", headers=tenant.headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["secret"].startswith("whsec_")
    assert new["secret"] != source["secret"]
    expires = datetime.fromisoformat(new["previous_secret_expires_at"])
    assert before + timedelta(hours=24) <= expires <= datetime.now(UTC) + timedelta(hours=24)
    custom = await client.post(
        f"{url}/rotate-secret", headers=tenant.headers, json={"overlap_seconds": 3600}
    )
    assert custom.status_code == 200, custom.text
    expires = datetime.fromisoformat(custom.json()["previous_secret_expires_at"])
    assert expires <= datetime.now(UTC) + timedelta(hours=1)
    negative = await client.post(
        f"{url}/rotate-secret", headers=tenant.headers, json={"overlap_seconds": -1}
    )
    assert ["body", "overlap_seconds"] in error_locs(assert_problem(negative, 422))
    fetched = await client.get(url, headers=tenant.headers)
    assert "secret" not in fetched.json()
    assert new["secret"] not in fetched.text


async def test_delete_removes_the_source_and_keeps_the_points(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant)
    assert (await send_standard(client, source, simple_payload(5.0))).status_code == 200
    url = f"{SOURCES}/{source['id']}"
    assert (await client.delete(url, headers=tenant.headers)).status_code == 204
    assert_problem(await client.get(url, headers=tenant.headers), 404)
    assert_problem(await client.get(f"{url}/deliveries", headers=tenant.headers), 404)
    assert_problem(await send_standard(client, source, simple_payload(6.0)), 404)
    assert [value for _, value, _ in await points(client, tenant, kpi_id)] == [5.0]


def _every_endpoint(source_id: str, delivery_id: str) -> list[tuple[str, str, Any]]:
    url = f"{SOURCES}/{source_id}"
    return [
        ("GET", SOURCES, None),
        ("POST", SOURCES, {"name": "n", "scheme": "standard", "mappings": [SIMPLE_MAPPING]}),
        ("GET", url, None),
        ("PATCH", url, {"name": "renamed", "enabled": False}),
        ("DELETE", url, None),
        ("POST", f"{url}/rotate-secret", {"overlap_seconds": 0}),
        ("GET", f"{url}/deliveries", None),
        ("POST", f"{url}/deliveries/{delivery_id}/replay", None),
    ]


async def test_a_read_only_key_is_403_everywhere_and_the_receiver_needs_no_key(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kpi_id = await create_kpi(client, tenant)
    source = await create_source(client, tenant, name="sales")
    sent = await send_standard(client, source, simple_payload(1.0))  # no Authorization header
    assert sent.status_code == 200, sent.text
    for scopes in ([Scope.READ], [Scope.READ, Scope.INGEST]):
        headers = bearer(await make_token(sessionmaker, tenant, *scopes))
        for method, url, body in _every_endpoint(source["id"], sent.json()["delivery_id"]):
            response = await client.request(method, url, headers=headers, json=body)
            assert_problem(response, 403, "forbidden")
    fetched = (await client.get(f"{SOURCES}/{source['id']}", headers=tenant.headers)).json()
    assert fetched == {key: value for key, value in source.items() if key != "secret"}
    assert len(await client_sources(client, tenant)) == 1
    assert len(await points(client, tenant, kpi_id)) == 1
    (delivery,) = await deliveries(client, tenant, source["id"])
    assert delivery["status"] == "processed"
    assert (await send_standard(client, source, simple_payload(2.0))).status_code == 200


async def client_sources(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = await client.get(SOURCES, headers=tenant.headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_another_orgs_sources_are_invisible_and_unchanged(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await create_kpi(client, other_tenant)
    theirs = await create_source(client, other_tenant, name="their hris")
    sent = await send_standard(client, theirs, simple_payload(1.0))
    assert sent.status_code == 200
    for method, url, body in _every_endpoint(theirs["id"], sent.json()["delivery_id"])[2:]:
        assert_problem(await client.request(method, url, headers=tenant.headers, json=body), 404)
    assert await client_sources(client, tenant) == []
    still = (await client.get(f"{SOURCES}/{theirs['id']}", headers=other_tenant.headers)).json()
    assert still == {key: value for key, value in theirs.items() if key != "secret"}
    assert len(await deliveries(client, other_tenant, theirs["id"])) == 1
    # Their secret was not rotated away, and the source is still enabled.
    assert (await send_standard(client, theirs, simple_payload(2.0))).status_code == 200


async def test_unknown_source_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    missing = uuid.uuid4()
    for method, url, body in _every_endpoint(str(missing), str(uuid.uuid4()))[2:]:
        assert_problem(await client.request(method, url, headers=tenant.headers, json=body), 404)
