"""Delivering events to endpoints, driven round by round with a clock the test sets:
fan-out, signatures, the retry schedule, leases, disabling, manual retries."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from standardwebhooks import Webhook

from perfapi.config import Settings
from perfapi.kit.backoff import Backoff
from perfapi.webhook_endpoints import repository
from perfapi.webhook_endpoints.delivery import attempt, attempt_counted, fan_out_and_claim, lease
from perfapi.webhook_endpoints.sender import Answer, Sender
from tests.support import Tenant, assert_problem, running
from tests.webhook_endpoints.receiver import Receiver, receiving
from tests.webhook_endpoints.rounds import due

ENDPOINTS = "/v1/webhook-endpoints"
# Each test's now, to the second: receivers refuse signatures with timestamps far from
# their clock, so it is taken when the test starts (see the fixture below).
T0 = datetime.now(UTC).replace(microsecond=0)
T0_TEXT = T0.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(autouse=True)
def now_at_the_start_of_each_test() -> None:
    global T0, T0_TEXT  # the tests' clock, reset for each
    T0 = datetime.now(UTC).replace(microsecond=0)
    T0_TEXT = T0.strftime("%Y-%m-%dT%H:%M:%SZ")


Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def delivering(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_retry_schedule": (10.0, 20.0), "webhook_timeout_seconds": 5.0}
    )


@pytest.fixture
async def sender() -> Any:
    sender = Sender(timeout_seconds=5.0, allow_private=True)
    yield sender
    await sender.aclose()


async def deliver(
    sessionmaker: Sessions, settings: Settings, sender: Sender, now: datetime
) -> list[Answer]:
    """One round at ``now``: fan out, claim what is due, attempt each."""
    claimed = await due(sessionmaker, settings, now, 100)
    return [
        await attempt(sessionmaker, settings, sender, item, clock=lambda: now) for item in claimed
    ]


async def subscribe(
    client: httpx.AsyncClient, tenant: Tenant, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        ENDPOINTS, headers=tenant.headers, json={"url": url, "events": events or ["*"]}
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


async def make_kpi(client: httpx.AsyncClient, tenant: Tenant, key: str) -> None:
    response = await client.post("/v1/kpis", headers=tenant.headers, json={"key": key, "name": key})
    assert response.status_code == 201, response.text


async def attempts_of(
    client: httpx.AsyncClient, tenant: Tenant, endpoint: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.get(f"{ENDPOINTS}/{endpoint['id']}/attempts", headers=tenant.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_each_subscribed_event_is_delivered_signed_as_the_log_lists_it(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
) -> None:
    async with receiving() as receiver:
        endpoint = await subscribe(client, tenant, receiver.url, ["kpi.created"])
        await make_kpi(client, tenant, "sales.arr")
        await client.post(
            "/v1/objectives",
            headers=tenant.headers,
            json={"title": "Grow", "start_date": "2026-01-01", "due_date": "2026-12-31"},
        )
        await make_kpi(client, tenant, "sales.nrr")
        answers = await deliver(sessionmaker, delivering, sender, T0)
        assert [answer.status for answer in answers] == [200, 200]
        assert await deliver(sessionmaker, delivering, sender, T0 + timedelta(days=1)) == []

    logged = await client.get("/v1/events?type=kpi.created", headers=tenant.headers)
    listed = logged.json()["items"]
    got = sorted(receiver.received, key=lambda request: request.headers["webhook-id"])
    assert [request.headers["webhook-id"] for request in got] == [item["id"] for item in listed]
    for request, item in zip(got, listed, strict=True):
        assert request.path == "/hooks"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-timestamp"] == str(int(T0.timestamp()))
        verified = Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert verified == item == json.loads(request.body)
    attempts = await attempts_of(client, tenant, endpoint)
    assert [a["status"] for a in attempts] == ["succeeded", "succeeded"]
    assert {a["event_id"] for a in attempts} == {item["id"] for item in listed}
    assert all(a["response_status"] == 200 and a["trigger"] == "scheduled" for a in attempts)


async def test_an_endpoint_gets_what_commits_after_it_was_created_and_its_org_only(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
) -> None:
    await make_kpi(client, tenant, "before")
    async with receiving() as receiver:
        everything = await subscribe(client, tenant, receiver.url)
        await subscribe(client, other_tenant, receiver.url + "/other")
        await make_kpi(client, tenant, "after")
        await make_kpi(client, other_tenant, "theirs")
        await deliver(sessionmaker, delivering, sender, T0)
    mine = [request for request in receiver.received if request.path == "/hooks"]
    theirs = [request for request in receiver.received if request.path == "/hooks/other"]
    assert [json.loads(request.body)["data"]["kpi"]["key"] for request in mine] == ["after"]
    assert [json.loads(request.body)["data"]["kpi"]["key"] for request in theirs] == ["theirs"]
    Webhook(everything["secret"]).verify(mine[0].body, mine[0].headers)


async def test_failures_are_retried_on_the_schedule_with_one_webhook_id_then_given_up(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
) -> None:
    async with receiving(Receiver(statuses=[500, 503, 500, 500])) as receiver:
        endpoint = await subscribe(client, tenant, receiver.url)
        await make_kpi(client, tenant, "sales.arr")
        assert [a.status for a in await deliver(sessionmaker, delivering, sender, T0)] == [500]
        # The first retry waits 10 s, give or take 10%.
        assert await deliver(sessionmaker, delivering, sender, T0 + timedelta(seconds=8)) == []
        second = T0 + timedelta(seconds=11.5)
        assert [a.status for a in await deliver(sessionmaker, delivering, sender, second)] == [503]
        assert await deliver(sessionmaker, delivering, sender, second + timedelta(seconds=17)) == []
        third = second + timedelta(seconds=22.5)
        assert [a.status for a in await deliver(sessionmaker, delivering, sender, third)] == [500]
        # The schedule (two retries) is spent: the delivery is given up.
        assert await deliver(sessionmaker, delivering, sender, third + timedelta(days=1)) == []
    assert len({request.headers["webhook-id"] for request in receiver.received}) == 1
    assert len(receiver.received) == 3
    attempts = await attempts_of(client, tenant, endpoint)
    assert [a["response_status"] for a in attempts] == [500, 503, 500]
    assert all(a["status"] == "failed" for a in attempts)
    assert attempts[0]["error"] == "the receiver answered 500"
    got = await client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=tenant.headers)
    assert got.json()["failing_since"] == T0_TEXT
    assert got.json()["enabled"] is True


async def test_a_success_after_failures_ends_the_failing_streak(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
) -> None:
    async with receiving(Receiver(statuses=[500])) as receiver:
        endpoint = await subscribe(client, tenant, receiver.url)
        path = f"{ENDPOINTS}/{endpoint['id']}"
        await make_kpi(client, tenant, "sales.arr")
        await deliver(sessionmaker, delivering, sender, T0)
        assert (await client.get(path, headers=tenant.headers)).json()["failing_since"]
        await deliver(sessionmaker, delivering, sender, T0 + timedelta(seconds=12))
    assert (await client.get(path, headers=tenant.headers)).json()["failing_since"] is None
    assert [a["status"] for a in await attempts_of(client, tenant, endpoint)] == [
        "succeeded",
        "failed",
    ]


async def test_an_endpoint_failing_for_the_disable_period_is_disabled_with_an_event(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    settings: Settings,
    sender: Sender,
) -> None:
    patient = settings.model_copy(
        update={"webhook_retry_schedule": (60.0,) * 5, "webhook_disable_after_seconds": 100.0}
    )
    async with receiving(Receiver(statuses=[500] * 10)) as failing, receiving() as watcher:
        endpoint = await subscribe(client, tenant, failing.url, ["kpi.created"])
        await subscribe(client, tenant, watcher.url, ["endpoint.disabled"])
        await make_kpi(client, tenant, "one")
        await make_kpi(client, tenant, "two")
        assert len(await deliver(sessionmaker, patient, sender, T0)) == 2
        assert len(await deliver(sessionmaker, patient, sender, T0 + timedelta(seconds=70))) == 2
        # Failing 140 s > 100 s: the first failure of this round disables the endpoint,
        # and the delivery still pending is given up.
        third = await deliver(sessionmaker, patient, sender, T0 + timedelta(seconds=140))
        assert len(third) == 2
        await make_kpi(client, tenant, "three")
        assert len(await deliver(sessionmaker, patient, sender, T0 + timedelta(seconds=141))) == 1
        assert await deliver(sessionmaker, patient, sender, T0 + timedelta(days=1)) == []
    assert len(failing.received) == 6

    got = (await client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=tenant.headers)).json()
    assert got["enabled"] is False
    assert got["disabled_at"] is not None
    assert got["disabled_reason"] == f"every attempt has failed since {T0_TEXT}"
    logged = await client.get("/v1/events?type=endpoint.disabled", headers=tenant.headers)
    [disabled] = logged.json()["items"]
    assert disabled["data"]["endpoint"]["id"] == endpoint["id"]
    assert disabled["data"]["endpoint"]["url"] == failing.url
    assert disabled["data"]["failing_since"] == T0_TEXT
    [announced] = watcher.received
    assert json.loads(announced.body) == disabled

    # Enabled again: a clean record, and what commits from then on is sent.
    enabled = await client.patch(
        f"{ENDPOINTS}/{endpoint['id']}", headers=tenant.headers, json={"enabled": True}
    )
    assert enabled.json()["failing_since"] is None
    assert enabled.json()["disabled_reason"] is None
    async with receiving() as healed:
        await client.patch(
            f"{ENDPOINTS}/{endpoint['id']}", headers=tenant.headers, json={"url": healed.url}
        )
        await make_kpi(client, tenant, "four")
        assert [a.status for a in await deliver(sessionmaker, patient, sender, T0)] == [200]
    assert json.loads(healed.received[0].body)["data"]["kpi"]["key"] == "four"


async def test_a_failed_attempt_is_retried_by_hand_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    settings: Settings,
    sender: Sender,
) -> None:
    no_retries = settings.model_copy(update={"webhook_retry_schedule": ()})
    async with receiving(Receiver(statuses=[500, 502])) as receiver:
        endpoint = await subscribe(client, tenant, receiver.url)
        base = f"{ENDPOINTS}/{endpoint['id']}"
        await make_kpi(client, tenant, "sales.arr")
        await deliver(sessionmaker, no_retries, sender, T0)
        [failed] = await attempts_of(client, tenant, endpoint)
        retry = f"{base}/attempts/{failed['id']}/retry"

        accepted = await client.post(retry, headers=tenant.headers)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "pending"
        assert accepted.json()["event_id"] == failed["event_id"]
        assert_problem(await client.post(retry, headers=tenant.headers), 409, "delivery-pending")

        # One attempt by hand; it fails, and no schedule follows.
        # (A retry is due at the server's now; later rounds run later.)
        t1 = datetime.now(UTC) + timedelta(seconds=1)
        assert [a.status for a in await deliver(sessionmaker, no_retries, sender, t1)] == [502]
        assert await deliver(sessionmaker, no_retries, sender, t1 + timedelta(days=1)) == []
        assert (await client.post(retry, headers=tenant.headers)).status_code == 202
        t2 = datetime.now(UTC) + timedelta(seconds=2)
        assert [a.status for a in await deliver(sessionmaker, no_retries, sender, t2)] == [200]

        attempts = await attempts_of(client, tenant, endpoint)
        assert [(a["trigger"], a["status"]) for a in attempts] == [
            ("manual", "succeeded"),
            ("manual", "failed"),
            ("scheduled", "failed"),
        ]
        succeeded = f"{base}/attempts/{attempts[0]['id']}/retry"
        assert_problem(
            await client.post(succeeded, headers=tenant.headers), 409, "attempt-succeeded"
        )
        await client.patch(base, headers=tenant.headers, json={"enabled": False})
        assert_problem(await client.post(retry, headers=tenant.headers), 409, "endpoint-disabled")
    assert len({request.headers["webhook-id"] for request in receiver.received}) == 1


async def test_a_claim_is_leased_and_claimed_again_when_its_sender_never_reports(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
) -> None:
    async with receiving() as receiver:
        await subscribe(client, tenant, receiver.url)
        await make_kpi(client, tenant, "sales.arr")
        [first] = await due(sessionmaker, delivering, T0, 10)
        # The sender died with the claim: nobody else takes it while the lease runs.
        assert await due(sessionmaker, delivering, T0 + timedelta(seconds=1), 10) == []
        later = T0 + lease(delivering) + timedelta(seconds=1)
        [again] = await due(sessionmaker, delivering, later, 10)
        assert again.delivery_id == first.delivery_id
        answer = await attempt(sessionmaker, delivering, sender, again, clock=lambda: later)
        assert answer.succeeded
    assert len(receiver.received) == 1


async def test_one_failing_endpoint_holds_up_no_other(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
) -> None:
    async with receiving() as closed:
        nobody = closed.url
    async with receiving() as receiver:
        dead = await subscribe(client, tenant, nobody)
        alive = await subscribe(client, tenant, receiver.url)
        await make_kpi(client, tenant, "sales.arr")
        answers = await deliver(sessionmaker, delivering, sender, T0)
    assert sorted(answer.succeeded for answer in answers) == [False, True]
    assert len(receiver.received) == 1
    [refused] = await attempts_of(client, tenant, dead)
    assert refused["response_status"] is None
    assert refused["error"].startswith("ConnectError")
    assert [a["status"] for a in await attempts_of(client, tenant, alive)] == ["succeeded"]


async def test_deleting_an_endpoint_or_pruning_its_event_mid_attempt_breaks_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
) -> None:
    async with receiving() as receiver:
        endpoint = await subscribe(client, tenant, receiver.url)
        await subscribe(client, tenant, receiver.url)
        await make_kpi(client, tenant, "sales.arr")
        first, second = await due(sessionmaker, delivering, T0, 10)
        await client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=tenant.headers)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                text("DELETE FROM events WHERE org_id = :org"), {"org": tenant.id}
            )
        for item in (first, second):
            assert (await attempt(sessionmaker, delivering, sender, item)).succeeded
        assert await deliver(sessionmaker, delivering, sender, T0 + timedelta(days=1)) == []
    assert len(receiver.received) == 2


async def test_the_background_sender_delivers_as_events_commit(
    settings: Settings, tenant: Tenant
) -> None:
    live = settings.model_copy(update={"webhook_delivery_seconds": 30.0})
    async with receiving() as receiver, running(live) as http:
        endpoint = await subscribe(http, tenant, receiver.url, ["kpi.created"])
        await make_kpi(http, tenant, "sales.arr")
        # Woken by the commit, not by the 30 s poll.
        [request] = await receiver.wait_for(1)
        Webhook(endpoint["secret"]).verify(request.body, request.headers)


async def test_attempts_are_counted_and_a_failure_to_record_one_escapes_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
) -> None:
    registry = CollectorRegistry()
    attempts = Counter("attempts", "", ["outcome"], registry=registry)
    failures = Counter("failures", "", registry=registry)
    async with receiving() as receiver:
        await subscribe(client, tenant, receiver.url)
        await make_kpi(client, tenant, "one")
        await make_kpi(client, tenant, "two")
        first, second = await due(sessionmaker, delivering, T0, 10)
        await attempt_counted(sessionmaker, delivering, sender, first, attempts, failures)
        engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
        try:
            unreachable = async_sessionmaker(engine)
            await attempt_counted(unreachable, delivering, sender, second, attempts, failures)
        finally:
            await engine.dispose()
    assert registry.get_sample_value("attempts_total", {"outcome": "succeeded"}) == 1
    assert registry.get_sample_value("failures_total") == 1
    # Sent but not recorded: the delivery is sent again when its lease runs out.
    later = T0 + lease(delivering) + timedelta(seconds=1)
    [again] = await due(sessionmaker, delivering, later, 10)
    assert again.delivery_id == second.delivery_id
    assert len(receiver.received) == 2


async def test_the_sender_follows_no_redirect_and_reads_little_of_an_answer(
    app: FastAPI,
) -> None:
    huge = Receiver(statuses=[200], answer_body=b"\x00" + b"x" * 5_000_000)
    async with receiving(Receiver(statuses=[302])) as redirecting, receiving(huge) as talkative:
        sender = Sender(timeout_seconds=5.0, allow_private=True)
        try:
            moved = await sender.post(redirecting.url, {}, b"{}")
            chatty = await sender.post(talkative.url, {}, b"{}")
        finally:
            await sender.aclose()
    assert moved.status == 302
    assert not moved.succeeded
    assert moved.error == "redirects are not followed"
    assert chatty.succeeded
    assert chatty.body is not None
    assert len(chatty.body) == 1024
    assert "\x00" not in chatty.body


async def test_the_sender_gives_up_on_a_silent_receiver_and_refuses_private_targets() -> None:
    async with receiving(Receiver(statuses=[0])) as silent:
        impatient = Sender(timeout_seconds=0.2, allow_private=True)
        strict = Sender(timeout_seconds=5.0, allow_private=False)
        try:
            waited = await impatient.post(silent.url, {}, b"{}")
            refused = await strict.post(silent.url, {}, b"{}")
        finally:
            await impatient.aclose()
            await strict.aclose()
    assert waited.status is None
    assert waited.error == "no answer within 0.2 s"
    assert refused.error is not None
    assert refused.error.startswith("refused: The host '127.0.0.1' resolves to 127.0.0.1")
    assert len(silent.received) == 1  # only the first sender's request got there


async def test_an_org_whose_fan_out_fails_is_set_aside_and_holds_up_no_other(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: Sessions,
    delivering: Settings,
    sender: Sender,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fan_out = repository.fan_out

    async def failing_for_tenant(
        session: AsyncSession, org_id: UUID, batch: int, now: datetime
    ) -> int | None:
        if org_id == tenant.id:
            raise RuntimeError("a stored event this version cannot read")
        return await fan_out(session, org_id, batch, now)

    registry = CollectorRegistry()
    failures = Counter("failures", "", registry=registry)
    backoff = Backoff()
    async with receiving() as receiver:
        for org in (tenant, other_tenant):
            await subscribe(client, org, receiver.url)
            await make_kpi(client, org, "sales.arr")
        monkeypatch.setattr(repository, "fan_out", failing_for_tenant)
        claimed, _ = await fan_out_and_claim(sessionmaker, delivering, T0, 10, backoff, failures)
        assert [item.org_id for item in claimed] == [other_tenant.id]
        assert registry.get_sample_value("failures_total") == 1
        assert backoff.set_aside(T0) == {tenant.id}
        # Set aside: not tried again while its delay runs.
        assert await fan_out_and_claim(sessionmaker, delivering, T0, 10, backoff, failures) == (
            [],
            False,
        )
        assert registry.get_sample_value("failures_total") == 1
        monkeypatch.undo()
        later = T0 + timedelta(minutes=10)
        claimed, _ = await fan_out_and_claim(sessionmaker, delivering, later, 10, backoff, failures)
        # (The other org's delivery is due again too: its claim was never attempted.)
        assert tenant.id in {item.org_id for item in claimed}
        assert backoff.set_aside(later) == set()
