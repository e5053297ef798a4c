"""The objective tree: moves by PATCH parent_id; never a cycle, never a parent that is gone."""

import asyncio
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.models import Objective
from tests.objectives.test_objectives import (
    OBJECTIVES,
    create_objective,
    list_ids,
    objective_body,
)
from tests.support import Tenant, assert_problem, error_locs


async def move(
    client: httpx.AsyncClient, tenant: Tenant, objective_id: str, parent_id: str | None
) -> httpx.Response:
    return await client.patch(
        f"{OBJECTIVES}/{objective_id}", headers=tenant.headers, json={"parent_id": parent_id}
    )


async def parent_of(client: httpx.AsyncClient, tenant: Tenant, objective_id: str) -> str | None:
    response = await client.get(f"{OBJECTIVES}/{objective_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    parent: str | None = response.json()["parent_id"]
    return parent


async def chain(client: httpx.AsyncClient, tenant: Tenant, depth: int) -> list[dict[str, Any]]:
    """A root and its descendants, one per level: [root, child, grandchild, ...]."""
    nodes = [await create_objective(client, tenant, title="level 0")]
    for level in range(1, depth):
        nodes.append(
            await create_objective(
                client, tenant, title=f"level {level}", parent_id=nodes[-1]["id"]
            )
        )
    return nodes


@pytest.mark.parametrize(
    ("moved", "new_parent"),
    [
        (0, 0),  # itself
        (0, 1),  # its child
        (0, 2),  # its grandchild
        (0, 3),  # its great-grandchild
        (1, 1),  # a middle node under itself
        (1, 3),  # a middle node under its grandchild
    ],
)
async def test_a_move_that_makes_a_cycle_is_422(
    client: httpx.AsyncClient, tenant: Tenant, moved: int, new_parent: int
) -> None:
    nodes = await chain(client, tenant, depth=4)
    response = await move(client, tenant, nodes[moved]["id"], nodes[new_parent]["id"])
    body = assert_problem(response, 422, "validation-error")
    assert error_locs(body) == [["body", "parent_id"]]
    assert body["errors"][0]["type"] == "cycle"
    for node in nodes:  # nothing moved
        fetched = await client.get(f"{OBJECTIVES}/{node['id']}", headers=tenant.headers)
        assert fetched.json() == node


async def test_a_cycle_and_bad_dates_are_listed_together(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    root, child = await chain(client, tenant, depth=2)
    response = await client.patch(
        f"{OBJECTIVES}/{root['id']}",
        headers=tenant.headers,
        json={"parent_id": child["id"], "due_date": "2025-01-01"},
    )
    body = assert_problem(response, 422)
    assert sorted(map(str, error_locs(body))) == sorted(
        map(str, [["body", "due_date"], ["body", "parent_id"]])
    )
    assert await parent_of(client, tenant, root["id"]) is None


async def test_move_under_a_sibling(client: httpx.AsyncClient, tenant: Tenant) -> None:
    parent = await create_objective(client, tenant)
    first = await create_objective(client, tenant, parent_id=parent["id"])
    second = await create_objective(client, tenant, parent_id=parent["id"])
    response = await move(client, tenant, first["id"], second["id"])
    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == second["id"]
    assert response.json()["title"] == first["title"]
    assert await list_ids(client, tenant, parent_id=second["id"]) == [first["id"]]
    assert await list_ids(client, tenant, parent_id=parent["id"]) == [second["id"]]
    # first is now parent's grandchild, so parent cannot move under it.
    cycle = await move(client, tenant, parent["id"], first["id"])
    assert assert_problem(cycle, 422)["errors"][0]["type"] == "cycle"


async def test_move_to_root_with_null(client: httpx.AsyncClient, tenant: Tenant) -> None:
    root, child, grandchild = await chain(client, tenant, depth=3)
    response = await move(client, tenant, child["id"], None)
    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] is None
    assert await list_ids(client, tenant, parent_id="null") == [root["id"], child["id"]]
    assert await list_ids(client, tenant, parent_id=root["id"]) == []
    assert await parent_of(client, tenant, grandchild["id"]) == child["id"]  # came along
    # Now the old root may move under the grandchild: no cycle any more.
    again = await move(client, tenant, root["id"], grandchild["id"])
    assert again.status_code == 200, again.text


async def test_leaving_parent_id_out_keeps_the_parent(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    root, child = await chain(client, tenant, depth=2)
    response = await client.patch(
        f"{OBJECTIVES}/{child['id']}", headers=tenant.headers, json={"title": "Renamed"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == root["id"]


async def test_move_under_a_missing_or_foreign_parent_is_422(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await create_objective(client, tenant)
    theirs = await create_objective(client, other_tenant)
    answers = []
    for parent_id in (str(uuid.uuid4()), theirs["id"]):
        body = assert_problem(await move(client, tenant, mine["id"], parent_id), 422)
        assert error_locs(body) == [["body", "parent_id"]]
        answers.append(body["errors"])
    assert answers[0] == answers[1]  # another org's objective looks exactly like a missing one
    assert await parent_of(client, tenant, mine["id"]) is None
    assert await list_ids(client, other_tenant, parent_id=theirs["id"]) == []


async def test_concurrent_opposite_moves_never_make_a_cycle(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    parent = await create_objective(client, tenant)
    for _ in range(5):
        a = await create_objective(client, tenant, parent_id=parent["id"])
        b = await create_objective(client, tenant, parent_id=parent["id"])
        a_under_b, b_under_a = await asyncio.gather(
            move(client, tenant, a["id"], b["id"]), move(client, tenant, b["id"], a["id"])
        )
        statuses = sorted([a_under_b.status_code, b_under_a.status_code])
        assert statuses == [200, 422], [a_under_b.text, b_under_a.text]
        loser = a_under_b if a_under_b.status_code == 422 else b_under_a
        assert assert_problem(loser, 422)["errors"][0]["type"] == "cycle"

        parents = {node: await parent_of(client, tenant, node) for node in (a["id"], b["id"])}
        if a_under_b.status_code == 200:
            assert parents == {a["id"]: b["id"], b["id"]: parent["id"]}
        else:
            assert parents == {a["id"]: parent["id"], b["id"]: a["id"]}
        # Walking up from either node reaches the root without meeting itself.
        for start in (a["id"], b["id"]):
            seen = {start}
            current = await parent_of(client, tenant, start)
            while current is not None:
                assert current not in seen
                seen.add(current)
                current = await parent_of(client, tenant, current)
            assert parent["id"] in seen


WAITING_FOR_LOCKS = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0"
)


async def wait_for_lock_waits(
    sessionmaker: async_sessionmaker[AsyncSession], count: int, *done: asyncio.Task[Any]
) -> None:
    """Poll (no sleeping) until ``count`` transactions wait for a lock or a task is done."""
    for _ in range(5_000):
        async with sessionmaker() as observer:  # a fresh snapshot of pg_stat_activity
            if await observer.scalar(WAITING_FOR_LOCKS) >= count:
                return
        if any(task.done() for task in done):
            return
    pytest.fail("no request reached the expected lock")


async def test_create_under_a_parent_deleted_meanwhile_is_never_a_500(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    parent = await create_objective(client, tenant)
    async with sessionmaker() as blocker:
        # An uncommitted objective with key "k": the API's insert of key "k" waits for it,
        # after its check that the parent exists.
        period = {"start_date": date(2026, 1, 1), "due_date": date(2026, 1, 2)}
        blocker.add(
            Objective(org_id=tenant.id, key="k", title="b", weight=1, status="active", **period)
        )
        await blocker.flush()
        payload = objective_body(key="k", parent_id=parent["id"])
        create = asyncio.create_task(client.post(OBJECTIVES, headers=tenant.headers, json=payload))
        await wait_for_lock_waits(sessionmaker, 1, create)
        delete = asyncio.create_task(
            client.delete(f"{OBJECTIVES}/{parent['id']}", headers=tenant.headers)
        )
        await wait_for_lock_waits(sessionmaker, 2, delete)  # done, or waiting for the create
        await blocker.rollback()
    created, deleted = await asyncio.gather(create, delete)
    assert created.status_code != 500, created.text
    assert deleted.status_code != 500, deleted.text
    if created.status_code == 201:  # the parent stayed: its delete was refused
        assert_problem(deleted, 409, "conflict")
        assert created.json()["parent_id"] == parent["id"]
        assert await list_ids(client, tenant, parent_id=parent["id"]) == [created.json()["id"]]
    else:  # the parent went first: as if it never existed
        assert deleted.status_code == 204
        body = assert_problem(created, 422, "validation-error")
        assert error_locs(body) == [["body", "parent_id"]]
        assert await list_ids(client, tenant) == []


async def test_move_under_a_parent_deleted_meanwhile_is_never_a_500(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    parent = await create_objective(client, tenant)
    moved = await create_objective(client, tenant)
    async with sessionmaker() as blocker:
        # Lock the moved row: the API checks the new parent, then waits to write.
        await blocker.execute(
            select(Objective.id).where(Objective.id == uuid.UUID(moved["id"])).with_for_update()
        )
        patch = asyncio.create_task(move(client, tenant, moved["id"], parent["id"]))
        await wait_for_lock_waits(sessionmaker, 1, patch)
        delete = asyncio.create_task(
            client.delete(f"{OBJECTIVES}/{parent['id']}", headers=tenant.headers)
        )
        await wait_for_lock_waits(sessionmaker, 2, delete)  # done, or waiting for the move
        await blocker.rollback()
    patched, deleted = await asyncio.gather(patch, delete)
    assert patched.status_code != 500, patched.text
    assert deleted.status_code != 500, deleted.text
    if patched.status_code == 200:  # the parent stayed: its delete was refused
        assert_problem(deleted, 409, "conflict")
        assert await parent_of(client, tenant, moved["id"]) == parent["id"]
    else:  # the parent went first: as if it never existed, and nothing moved
        assert deleted.status_code == 204
        body = assert_problem(patched, 422, "validation-error")
        assert error_locs(body) == [["body", "parent_id"]]
        assert await parent_of(client, tenant, moved["id"]) is None
