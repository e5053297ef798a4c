"""perfapi demo: an empty org filled with a year of strategy, KPIs and measurements."""

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from perfapi.audit.service import acting_as
from perfapi.auth.actors import CLI
from perfapi.demo import DemoSummary, OrgNotEmptyError, load_demo
from perfapi.demo.data import QUIET_FOR, QUIET_KEY_RESULT, build_dataset
from perfapi.demo.series import BIG_DEAL_ARR, big_deal_day, big_deal_points, midnight
from perfapi.demo.specs import CheckInSpec, Dataset, KeyResultSpec
from tests.support import Tenant

TODAY = date(2024, 8, 15)  # a past day of a leap year
QUARTERLY = {"sales.new_arr", "hr.hires"}
ORPHANS = {"ops.uptime", "support.csat"}
WITHOUT_TARGET = {"sales.win_rate"}
KINDS = {
    "kpi_off_track",
    "objective_likely_missed",
    "kpi_at_risk",
    "kpi_anomaly",
    "check_in_stale",
    "kpi_without_target",
    "objective_unaligned",
    "kpi_orphan",
}
# Days across the year the demo may be loaded on, from the first on which every kind shows
# all day (a stale check-in needs 14 days since the first weekly check-in, on January 8)
# to the last.
LOAD_DAYS = [
    date(2024, 1, 23),
    date(2024, 2, 20),
    date(2024, 5, 10),
    TODAY,
    date(2024, 11, 25),
    date(2024, 12, 31),
]

Item = dict[str, Any]


async def load(
    sessionmaker: async_sessionmaker[AsyncSession],
    org_id: UUID,
    *,
    seed: int = 7,
    today: date = TODAY,
) -> DemoSummary:
    # As `perfapi demo` does: its writes are the operator's in the audit log.
    with acting_as(CLI):
        async with sessionmaker() as session, session.begin():
            return await load_demo(session, org_id, today=today, seed=seed)


async def every_item(client: httpx.AsyncClient, tenant: Tenant, url: str) -> list[Item]:
    """Every item of a list endpoint, following next_cursor page by page."""
    items: list[Item] = []
    params: dict[str, str | int] = {"limit": 500}
    while True:
        response = await client.get(url, headers=tenant.headers, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        if body["next_cursor"] is None:
            return items
        params["cursor"] = body["next_cursor"]


@dataclass
class Listed:
    """What the API lists for one org, all of it."""

    kpis: list[Item]
    objectives: list[Item]
    key_results: list[Item] = field(default_factory=list)
    check_ins: list[Item] = field(default_factory=list)
    targets: dict[str, list[Item]] = field(default_factory=dict)  # by KPI key
    links: list[Item] = field(default_factory=list)
    points: dict[str, list[Item]] = field(default_factory=dict)  # by KPI key

    def summary(self) -> DemoSummary:
        return DemoSummary(
            objectives=len(self.objectives),
            key_results=len(self.key_results),
            check_ins=len(self.check_ins),
            kpis=len(self.kpis),
            targets=sum(map(len, self.targets.values())),
            links=len(self.links),
            points=sum(map(len, self.points.values())),
        )


async def listed(client: httpx.AsyncClient, tenant: Tenant) -> Listed:
    found = Listed(
        kpis=await every_item(client, tenant, "/v1/kpis"),
        objectives=await every_item(client, tenant, "/v1/objectives"),
    )
    for objective in found.objectives:
        url = f"/v1/objectives/{objective['id']}"
        found.key_results += await every_item(client, tenant, f"{url}/key-results")
        found.links += await every_item(client, tenant, f"{url}/kpis")
    for key_result in found.key_results:
        url = f"/v1/key-results/{key_result['id']}/check-ins"
        found.check_ins += await every_item(client, tenant, url)
    for kpi in found.kpis:
        url = f"/v1/kpis/{kpi['id']}"
        found.targets[kpi["key"]] = await every_item(client, tenant, f"{url}/targets")
        found.points[kpi["key"]] = await every_item(client, tenant, f"{url}/points")
    return found


def ts(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


async def test_the_summary_counts_what_the_api_lists(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    summary = await load(sessionmaker, tenant.id)

    assert (await listed(client, tenant)).summary() == summary
    dataset = build_dataset(today=TODAY)
    assert summary.points == len(dataset.points)
    assert summary.check_ins == len(dataset.check_ins) > 0
    assert (summary.kpis, summary.objectives, summary.key_results) == (12, 13, 26)


async def test_nothing_is_dated_after_today(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await load(sessionmaker, tenant.id)
    found = await listed(client, tenant)

    times = [ts(point["ts"]) for points in found.points.values() for point in points]
    assert min(times) == midnight(date(TODAY.year, 1, 1))
    assert max(times) == midnight(TODAY)
    assert all(ts(check_in["at"]) < midnight(TODAY) for check_in in found.check_ins)
    # Every KPI has points this year, so every report shows numbers at once.
    assert all(found.points.values())


async def test_two_orgs_with_one_seed_get_the_same_counts_and_their_own_kpis(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await load(sessionmaker, tenant.id) == await load(sessionmaker, other_tenant.id)

    mine, theirs = await listed(client, tenant), await listed(client, other_tenant)
    my_kpis = {kpi["id"] for kpi in mine.kpis}
    my_kpi_reads = {kr["kpi_id"] for kr in mine.key_results if kr["kpi_id"] is not None}
    assert len(my_kpi_reads) >= 8
    assert my_kpi_reads <= my_kpis
    assert my_kpis.isdisjoint(kpi["id"] for kpi in theirs.kpis)


async def test_targets_do_not_overlap(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await load(sessionmaker, tenant.id)

    for kpi in await every_item(client, tenant, "/v1/kpis"):
        targets = await every_item(client, tenant, f"/v1/kpis/{kpi['id']}/targets")
        periods = sorted((target["period_start"], target["period_end"]) for target in targets)
        key = kpi["key"]
        if key in WITHOUT_TARGET:
            assert periods == [], key
            continue
        assert len(periods) == (4 if key in QUARTERLY else 1), key
        for (_, end), (next_start, _) in pairwise(periods):
            assert end < next_start, key
        assert periods[0][0] == f"{TODAY.year}-01-01"
        assert periods[-1][1] == f"{TODAY.year}-12-31"


async def test_the_tree_has_one_root(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await load(sessionmaker, tenant.id)
    objectives = await every_item(client, tenant, "/v1/objectives")

    roots = [objective for objective in objectives if objective["parent_id"] is None]
    assert [root["title"] for root in roots] == ["Grow a healthy, efficient company"]
    ids = {objective["id"] for objective in objectives}
    assert all(objective["parent_id"] in ids for objective in objectives if objective not in roots)
    statuses = [objective["status"] for objective in objectives]
    assert statuses.count("draft") == statuses.count("cancelled") == 1
    assert all(objective["owner"] and objective["team"] for objective in objectives)


async def test_a_second_load_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await load(sessionmaker, tenant.id)

    with pytest.raises(ValueError, match="already has data; demo fills an empty org"):
        await load(sessionmaker, tenant.id, seed=8)

    assert (await listed(client, tenant)).summary() == first


async def test_of_two_loads_at_once_one_fills_the_org_and_the_other_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    outcomes = await asyncio.gather(
        load(sessionmaker, tenant.id), load(sessionmaker, tenant.id), return_exceptions=True
    )

    summaries = [outcome for outcome in outcomes if isinstance(outcome, DemoSummary)]
    assert len(summaries) == 1, outcomes
    assert [type(outcome) for outcome in outcomes if outcome not in summaries] == [OrgNotEmptyError]
    assert len(await every_item(client, tenant, "/v1/kpis")) == summaries[0].kpis


async def test_an_org_with_only_an_objective_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {"title": "Ours", "start_date": "2024-01-01", "due_date": "2024-12-31"}
    created = await client.post("/v1/objectives", headers=tenant.headers, json=body)
    assert created.status_code == 201, created.text

    with pytest.raises(OrgNotEmptyError):
        await load(sessionmaker, tenant.id)

    assert await every_item(client, tenant, "/v1/kpis") == []
    assert len(await every_item(client, tenant, "/v1/objectives")) == 1


@pytest.mark.parametrize("today", LOAD_DAYS, ids=str)
async def test_the_insights_feed_shows_every_kind_on_the_day_it_is_loaded(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    today: date,
) -> None:
    await load(sessionmaker, tenant.id, today=today)

    params: dict[str, str | int] = {"as_of": today.isoformat(), "limit": 500}
    response = await client.get("/v1/insights", headers=tenant.headers, params=params)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    by_kind: dict[str, list[Item]] = {}
    for item in body["items"]:
        by_kind.setdefault(item["kind"], []).append(item)
    assert set(by_kind) == KINDS
    # The deliberate ones: the key result that went quiet, the KPI nobody set a target for,
    # the stretch target and the one just out of reach.
    assert [item["subject"]["title"] for item in by_kind["check_in_stale"]] == [QUIET_KEY_RESULT]
    assert [item["evidence"]["key"] for item in by_kind["kpi_without_target"]] == ["sales.win_rate"]
    assert "hr.time_to_hire_days" in {item["evidence"]["key"] for item in by_kind["kpi_off_track"]}
    assert "hr.engagement_score" in {item["evidence"]["key"] for item in by_kind["kpi_at_risk"]}
    assert {item["evidence"]["key"] for item in by_kind["kpi_orphan"]} == ORPHANS
    unaligned = {item["subject"]["title"] for item in by_kind["objective_unaligned"]}
    assert "Write down how we handle incidents" in unaligned

    # New ARR's anomaly is the big deal's day, several times what its model expected.
    [deal] = [item for item in by_kind["kpi_anomaly"] if item["evidence"]["key"] == "sales.new_arr"]
    evidence = deal["evidence"]
    day = big_deal_day(today)
    assert today - timedelta(days=7) <= day < today
    assert ts(evidence["start"]) == midnight(day)
    assert evidence["direction"] == "above"
    arr = [
        point.value
        for point in build_dataset(today=today).points
        if point.kpi == "sales.new_arr" and point.ts.date() == day
    ]
    assert evidence["value"] == pytest.approx(sum(arr))
    assert evidence["value"] > BIG_DEAL_ARR > 3 * evidence["upper"]


# The dataset itself, without a database.


def quiet_index(dataset: Dataset) -> int:
    return next(i for i, kr in enumerate(dataset.key_results) if kr.title == QUIET_KEY_RESULT)


def cut(dataset: Dataset, today: date, day: date) -> tuple[Any, ...]:
    """The dataset loaded on ``today``, up to ``day``, without what it places relative to
    ``today``: the big deal and the check-ins of the key result that went quiet."""
    deal, quiet = big_deal_points(today), quiet_index(dataset)
    return (
        [point for point in dataset.points if point.ts <= midnight(day) and point not in deal],
        [
            check_in
            for check_in in dataset.check_ins
            if check_in.at < midnight(day) and check_in.key_result != quiet
        ],
    )


def quiet_check_ins(dataset: Dataset) -> list[CheckInSpec]:
    return [c for c in dataset.check_ins if c.key_result == quiet_index(dataset)]


def test_the_data_up_to_a_day_does_not_depend_on_when_it_is_loaded() -> None:
    year_end = build_dataset(today=date(2024, 12, 31))
    august = build_dataset(today=TODAY)

    assert cut(year_end, date(2024, 12, 31), TODAY) == cut(august, TODAY, TODAY)
    # Only the big deal (days before today) and the check-ins of the key result that went
    # quiet (three weeks before today) move with today.
    assert big_deal_points(TODAY) == [p for p in august.points if p in big_deal_points(TODAY)]
    assert not any(p in big_deal_points(TODAY) for p in year_end.points)
    quiet_since = midnight(TODAY) - QUIET_FOR
    assert quiet_check_ins(august) == [c for c in quiet_check_ins(year_end) if c.at < quiet_since]
    assert (august.kpis, august.targets, august.objectives) == (
        year_end.kpis,
        year_end.targets,
        year_end.objectives,
    )
    assert (august.key_results, august.links) == (year_end.key_results, year_end.links)


def test_a_seed_gives_one_dataset_and_another_seed_another() -> None:
    assert build_dataset(today=TODAY, seed=3) == build_dataset(today=TODAY, seed=3)
    assert build_dataset(today=TODAY, seed=3).points != build_dataset(today=TODAY, seed=4).points


def aggregate(values: list[tuple[datetime, float]], aggregation: str) -> float:
    numbers = [value for _, value in values]
    if aggregation == "sum":
        return sum(numbers)
    if aggregation == "avg":
        return sum(numbers) / len(numbers)
    if aggregation == "count":
        return float(len(numbers))
    assert aggregation == "last"
    return max(values)[1]


def kr_progress(dataset: Dataset, kr: KeyResultSpec, today: date) -> float:
    """DESIGN.md section 5, for a key result that reads a KPI, as of ``today`` 00:00 UTC."""
    objective = next(o for o in dataset.objectives if o.team == kr.objective)
    kpi = next(k for k in dataset.kpis if k.key == kr.kpi)
    end = min(midnight(objective.due_date + timedelta(days=1)), midnight(today))
    values = [
        (point.ts, point.value)
        for point in dataset.points
        if point.kpi == kr.kpi and midnight(objective.start_date) <= point.ts <= end
    ]
    current = aggregate(values, kpi.aggregation)
    start, target, _, _ = kr.bounds()
    assert start is not None
    assert target is not None
    return (current - start) / (target - start)


@pytest.mark.parametrize("today", [date(2024, 4, 30), TODAY, date(2024, 12, 31)])
def test_kpi_key_results_make_progress_between_0_and_1(today: date) -> None:
    dataset = build_dataset(today=today)
    moving = [
        kr for kr in dataset.key_results if kr.kpi and kr.direction in ("increase", "decrease")
    ]
    assert len(moving) >= 6
    for kr in moving:
        assert 0 < kr_progress(dataset, kr, today) < 1, kr.title


def test_the_dataset_has_the_promised_shape() -> None:
    dataset = build_dataset(today=date(2024, 12, 31))

    assert 2_000 <= len(dataset.points) <= 6_000
    directions = {"increase", "decrease", "at_least", "at_most", "within"}
    assert {kr.direction for kr in dataset.key_results} == directions
    linked = [kr for kr in dataset.key_results if kr.kpi]
    assert 0.4 <= len(linked) / len(dataset.key_results) <= 0.6
    targeted = {target.kpi for target in dataset.targets}
    assert targeted == {kpi.key for kpi in dataset.kpis} - WITHOUT_TARGET

    active = {o.team for o in dataset.objectives if o.status == "active"}
    used = {kr.kpi for kr in linked if kr.objective in active}
    used |= {link.kpi for link in dataset.links if link.objective in active}
    assert {kpi.key for kpi in dataset.kpis} - used == ORPHANS
    # An active leaf without key results or links: unmeasured and unaligned.
    parents = {o.parent for o in dataset.objectives}
    with_key_results = {kr.objective for kr in dataset.key_results}
    assert active - parents - with_key_results - {link.objective for link in dataset.links}

    for point in dataset.points:
        dimension = {"hr": "department", "sales": "region"}.get(point.kpi.split(".")[0])
        if dimension and point.kpi not in {"hr.headcount", "sales.pipeline"}:
            assert point.dimensions is not None
            assert set(point.dimensions) == {dimension}, point


def test_key_results_without_a_kpi_have_check_ins_once_their_period_runs() -> None:
    dataset = build_dataset(today=TODAY)
    started = {
        o.team
        for o in dataset.objectives
        if o.status == "active" and o.start_date + timedelta(days=14) < TODAY
    }
    checked = {check_in.key_result for check_in in dataset.check_ins}
    for index, kr in enumerate(dataset.key_results):
        if kr.kpi is None and kr.objective in started:
            assert index in checked, kr.title


@pytest.mark.parametrize("today", LOAD_DAYS, ids=str)
def test_key_results_are_checked_in_weekly_but_one_went_quiet(today: date) -> None:
    dataset = build_dataset(today=today)
    by_team = {objective.team: objective for objective in dataset.objectives}
    latest: dict[int, datetime] = {}
    for check_in in dataset.check_ins:
        latest[check_in.key_result] = max(check_in.at, latest.get(check_in.key_result, check_in.at))

    # Stale all day today against the default cadence of 14 days; the others are fresh
    # until the day ends.
    every = timedelta(days=14)
    quiet = quiet_index(dataset)
    assert midnight(today) - latest[quiet] > every
    assert all(c.at < midnight(today) - QUIET_FOR for c in quiet_check_ins(dataset)[1:])
    for index, at in latest.items():
        objective = by_team[dataset.key_results[index].objective]
        if index != quiet and today <= objective.due_date:
            assert midnight(today + timedelta(days=1)) - at <= every, index
