"""The demo dataset: a year of a 200-person company's strategy, KPIs and measurements.

Pure definitions and seeded generators; nothing here touches a database. Every
random series is drawn for the whole calendar year and only then cut at ``today``,
so the data up to a day does not depend on when the demo is loaded: loading in
June shows the same January as loading in March. Two events are placed relative to
``today`` instead, so the insights feed has them to show whenever the demo is
loaded: a big deal days ago (a KPI anomaly) and a key result nobody has checked in
for three weeks (a stale check-in).
"""

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta

from perfapi.demo.series import (
    at_hour,
    big_deal_points,
    expected_total,
    hr_points,
    midnight,
    other_points,
    quarter_bounds,
    sales_points,
)
from perfapi.demo.specs import (
    CHECK_IN_EVERY_DAYS,
    CheckInSpec,
    Dataset,
    KeyResultSpec,
    KpiSpec,
    LinkSpec,
    ObjectiveSpec,
    TargetSpec,
)
from perfapi.key_results.schemas import KeyResultDirection as Kr
from perfapi.kpis.schemas import Aggregation as Agg
from perfapi.kpis.schemas import KpiDirection
from perfapi.objectives.schemas import ObjectiveStatus as Status

UP, DOWN = KpiDirection.HIGHER_IS_BETTER, KpiDirection.LOWER_IS_BETTER

KPIS = (
    KpiSpec("hr.headcount", "Headcount", "people", UP, Agg.LAST, ("hr", "board")),
    KpiSpec("hr.attrition_rate", "Monthly attrition", "%", DOWN, Agg.AVG, ("hr",)),
    KpiSpec("hr.engagement_score", "Engagement score", "points", UP, Agg.AVG, ("hr",)),
    KpiSpec("hr.hires", "Hires", "people", UP, Agg.SUM, ("hr", "recruiting")),
    KpiSpec("hr.time_to_hire_days", "Time to hire", "days", DOWN, Agg.AVG, ("hr", "recruiting")),
    KpiSpec("sales.new_arr", "New ARR", "EUR", UP, Agg.SUM, ("sales", "board")),
    KpiSpec("sales.pipeline", "Open pipeline", "EUR", UP, Agg.LAST, ("sales",)),
    KpiSpec("sales.win_rate", "Win rate", "%", UP, Agg.AVG, ("sales",)),
    KpiSpec("sales.deals_won", "Deals won", "deals", UP, Agg.COUNT, ("sales",)),
    KpiSpec("sales.churned_arr", "Churned ARR", "EUR", DOWN, Agg.SUM, ("sales", "board")),
    # Measured but aligned to nothing: the alignment report lists them as orphans.
    KpiSpec("ops.uptime", "API uptime", "%", UP, Agg.AVG, ("operations",)),
    KpiSpec("support.csat", "Customer satisfaction", "%", UP, Agg.AVG, ("support",)),
)
_UNITS = {kpi.key: kpi.unit for kpi in KPIS}
# What the insights feed shows on any day the demo is loaded: time to hire (about 46 days
# in January, 34 in December) is off track all year against its stretch target, the
# engagement score is at risk. No target for sales.win_rate: the account executives steer
# it by a key result's 25-35 % band and nobody set one for the KPI, so the feed lists it
# as a KPI without a target, as real orgs have some.
_YEARLY_TARGETS = {
    "hr.headcount": 235.0,
    "hr.attrition_rate": 1.1,
    "hr.engagement_score": 75.0,
    "hr.time_to_hire_days": 34.0,
    "sales.pipeline": 3_400_000.0,
    "sales.churned_arr": 330_000.0,
    "ops.uptime": 99.9,
    "support.csat": 90.0,
}


def _targets(year: int) -> list[TargetSpec]:
    # Yearly targets, except quarterly ones for the KPIs planned by quarter (a KPI's
    # periods may not overlap). Sums and counts aim a little above the model's mean.
    year_ = (date(year, 1, 1), date(year, 12, 31))
    targets = [TargetSpec(kpi, *year_, value) for kpi, value in _YEARLY_TARGETS.items()]
    deals = round(expected_total("sales.deals_won", *year_) * 1.05)
    targets.append(TargetSpec("sales.deals_won", *year_, float(deals)))
    for quarter in (quarter_bounds(year, q) for q in range(1, 5)):
        arr = round(expected_total("sales.new_arr", *quarter) * 1.05, -4)
        hires = float(round(expected_total("hr.hires", *quarter) * 1.1))
        targets += [
            TargetSpec("sales.new_arr", *quarter, arr),
            TargetSpec("hr.hires", *quarter, hires),
        ]
    return targets


def _objectives(year: int) -> list[ObjectiveSpec]:
    whole, h1 = (date(year, 1, 1), date(year, 12, 31)), (date(year, 1, 1), date(year, 6, 30))
    h2, to_sep = (date(year, 7, 1), date(year, 12, 31)), (date(year, 1, 1), date(year, 9, 30))
    q1, q2, q4 = quarter_bounds(year, 1), quarter_bounds(year, 2), quarter_bounds(year, 4)
    o = ObjectiveSpec
    return [
        o("leadership", None, "Dana Whitfield", "Grow a healthy, efficient company", *whole),
        o("sales", "leadership", "Marco Rossi", "Grow recurring revenue", *whole, 3.0),
        o("people", "leadership", "Aisha Khan", "Build a team people want to stay in", *whole, 2),
        o("product", "leadership", "Lena Park", "Ship a product customers recommend", *whole, 2),
        o("operations", "leadership", "Tom Becker", "Run a lean, reliable operation", *whole),
        o("account-executives", "sales", "Sofia Almeida", "Close more of the pipeline", *h1),
        o("sales-apac", "sales", "Kenji Sato", "Open the APAC market", *h2, status=Status.DRAFT),
        o("talent", "people", "Priya Nair", "Hire faster without lowering the bar", *to_sep),
        o("people-partners", "people", "Jonas Meyer", "Lift engagement in Q2", *q2),
        o("onboarding", "product", "Ana Costa", "Cut customer onboarding time in Q1", *q1),
        o("mobile", "product", "Lena Park", "Launch the mobile app", *to_sep, 1, Status.CANCELLED),
        o("procurement", "operations", "Tom Becker", "Consolidate vendors in Q1", *q1),
        # Neither key results nor KPIs: unmeasured and unaligned, as real trees have some.
        o("sre", "operations", "Mia Novak", "Write down how we handle incidents", *q4),
    ]


def _linked(
    title: str, direction: Kr, kpi: str, *values: float, weight: float = 1
) -> KeyResultSpec:
    return KeyResultSpec(title, direction, values, _UNITS[kpi], kpi=kpi, weight=weight)


def _checked(
    title: str, direction: Kr, values: tuple[float, ...], unit: str, path: tuple[float, float]
) -> KeyResultSpec:
    return KeyResultSpec(title, direction, values, unit, path=path)


def _key_results(year: int) -> list[KeyResultSpec]:
    # Sum and count KPIs start at 0 and aim above the model's mean, so progress grows
    # through the period and ends short of 1; for levels and averages, start and target
    # bracket the modelled path. Check-in paths are written out as a plan would be.
    arr = round(expected_total("sales.new_arr", date(year, 1, 1), date(year, 12, 31)) * 1.08, -4)
    deals = round(expected_total("sales.deals_won", date(year, 1, 1), date(year, 6, 30)) * 1.15)
    hires = round(expected_total("hr.hires", date(year, 1, 1), date(year, 9, 30)) * 1.25)
    inc, dec, least, most, within = Kr.INCREASE, Kr.DECREASE, Kr.AT_LEAST, Kr.AT_MOST, Kr.WITHIN
    plan = {
        "leadership": [
            _linked("Grow headcount to 250", inc, "hr.headcount", 175, 250),
            _linked("Keep churned ARR under €450k", most, "sales.churned_arr", 450_000),
        ],
        "sales": [
            _linked(f"Book €{arr / 1e6:.1f}M of new ARR", inc, "sales.new_arr", 0, arr, weight=2),
            _linked("Grow the open pipeline to €3.5M", inc, "sales.pipeline", 2e6, 3.5e6),
            _checked("Raise average deal size to €28k", inc, (22e3, 28e3), "EUR", (22.4e3, 26.9e3)),
        ],
        "account-executives": [
            _linked(f"Win {deals} deals in H1", inc, "sales.deals_won", 0, deals),
            _linked("Keep the win rate within 25-35 %", within, "sales.win_rate", 25, 35),
            _checked("Cut the sales cycle to 45 days", dec, (62, 45), "days", (61, 47)),
        ],
        "sales-apac": [_checked("Sign 3 reseller partners", inc, (0, 3), "partners", (0, 3))],
        "people": [
            _linked("Lift the engagement score to 80", inc, "hr.engagement_score", 70, 80),
            _linked("Cut time to hire to 30 days", dec, "hr.time_to_hire_days", 52, 30),
            _linked("Keep monthly attrition at most 1.5 %", most, "hr.attrition_rate", 1.5),
            _checked("Train all 32 people managers", inc, (0, 32), "managers", (4, 32)),
        ],
        "talent": [
            _linked(f"Hire {hires} people by September", inc, "hr.hires", 0, hires, weight=2),
            _linked("Time to hire at most 43 days", most, "hr.time_to_hire_days", 43),
            _checked("Offer acceptance of at least 85 %", least, (85,), "%", (78, 86)),
        ],
        "people-partners": [
            _linked("Engagement score of at least 72", least, "hr.engagement_score", 72),
            _checked("1:1 coverage within 90-100 %", within, (90, 100), "%", (84, 94)),
        ],
        "product": [
            _checked("Ship 4 major releases", inc, (0, 4), "releases", (0, 3)),
            _checked("Cut p95 API latency to 200 ms", dec, (350, 200), "ms", (340, 235)),
        ],
        "onboarding": [
            _checked("Cut time to first value to 3 days", dec, (10, 3), "days", (9, 3)),
            _checked("Activation rate of at least 60 %", least, (60,), "%", (52, 61)),
        ],
        "mobile": [
            _checked("Ship the iOS beta to 500 testers", inc, (0, 500), "testers", (0, 120))
        ],
        "operations": [
            _checked("Cloud spend €40k-45k a month", within, (40e3, 45e3), "EUR", (47.8e3, 44.1e3)),
        ],
        "procurement": [
            _checked("Cut SaaS vendors from 48 to 35", dec, (48, 35), "vendors", (46, 35)),
            _checked("Close the books within 5 days", most, (5,), "days", (8, 5)),
        ],
    }
    return [replace(kr, objective=team) for team, krs in plan.items() for kr in krs]


# Direct objective-KPI links besides key results that read KPIs. "product" is measured
# by its link alone, so the alignment report shows both kinds.
_LINKS = (
    LinkSpec("sales", "sales.new_arr", 2.0),
    LinkSpec("sales", "sales.pipeline", 1.0),
    LinkSpec("people", "hr.headcount", 1.0),
    LinkSpec("talent", "hr.hires", 1.0),
    LinkSpec("product", "sales.win_rate", 0.5),
)


def _meets(kr: KeyResultSpec, value: float) -> bool:
    if kr.direction is Kr.WITHIN:
        return kr.values[0] <= value <= kr.values[1]
    target = kr.values[-1]
    return value >= target if kr.direction in (Kr.INCREASE, Kr.AT_LEAST) else value <= target


def _check_in_days(objective: ObjectiveSpec) -> list[date]:
    """Weekly from a week in, the last on the due date (a weekly one fewer than four
    days before it is left out): never more than 10 days apart, within the default
    cadence of 14 even on the day of a check-in, which the cut at today leaves out."""
    span = (objective.due_date - objective.start_date).days
    every = range(CHECK_IN_EVERY_DAYS, span - 3, CHECK_IN_EVERY_DAYS)
    return [*(objective.start_date + timedelta(days=n) for n in every), objective.due_date]


def _check_ins(
    rng: random.Random, objectives: list[ObjectiveSpec], key_results: list[KeyResultSpec]
) -> Iterator[CheckInSpec]:
    """Weekly check-ins along each path, from a week in to the due date.

    Only active objectives report: a draft has not started, a cancelled one stopped.
    Confidence starts at 0.6 and drifts up when the plan meets the target, else down.
    """
    by_team = {objective.team: objective for objective in objectives}
    for index, kr in enumerate(key_results):
        objective = by_team[kr.objective]
        if kr.path is None or objective.status is not Status.ACTIVE:
            continue
        first, last = kr.path
        final_confidence = 0.9 if _meets(kr, last) else 0.45
        days = _check_in_days(objective)
        for day in days:
            share = (day - days[0]).days / max(1, (days[-1] - days[0]).days)
            # The last check-in lands on the path's end, so achievement does not hang on noise.
            noise = 0.0 if share == 1 else rng.gauss(0, 0.04 * abs(last - first))
            value = float(round(first + (last - first) * share + noise))
            sure = 0.6 + (final_confidence - 0.6) * share + rng.gauss(0, 0.04)
            confidence = round(min(1.0, max(0.0, sure)), 2)
            note = "On track." if confidence >= 0.7 else "Some risk; watching it closely."
            yield CheckInSpec(index, value, at_hour(day, 10), confidence, note)


# One key result went quiet: nobody has checked it in for three weeks before today (its
# first check-in aside), so the insights feed shows a stale check-in (the default cadence
# is 14 days) whenever the demo is loaded, from late January on. Like the big deal
# (series.big_deal_points) it is placed relative to today, not drawn.
QUIET_KEY_RESULT = "Train all 32 people managers"
QUIET_FOR = timedelta(days=21)


def _gone_quiet(check_ins: list[CheckInSpec], index: int, since: datetime) -> list[CheckInSpec]:
    """The check-ins without key result ``index``'s from ``since`` on, but for its first."""
    first = next((check_in for check_in in check_ins if check_in.key_result == index), None)
    return [
        check_in
        for check_in in check_ins
        if check_in.key_result != index or check_in.at < since or check_in is first
    ]


def build_dataset(*, today: date, seed: int = 7) -> Dataset:
    """The demo for the calendar year of ``today``, with nothing dated after ``today``.

    Points lie at or before ``today`` 00:00 UTC and check-ins on earlier days, so none
    is in the future when ``today`` is the current date in UTC.
    """
    rng = random.Random(seed)
    year, cutoff = today.year, midnight(today)
    objectives, key_results = _objectives(year), _key_results(year)
    points = [*hr_points(rng, year), *sales_points(rng, year), *other_points(rng, year)]
    points += big_deal_points(today)
    quiet = next(i for i, kr in enumerate(key_results) if kr.title == QUIET_KEY_RESULT)
    check_ins = _gone_quiet(
        list(_check_ins(rng, objectives, key_results)), quiet, cutoff - QUIET_FOR
    )
    return Dataset(
        kpis=KPIS,
        targets=tuple(_targets(year)),
        objectives=tuple(objectives),
        key_results=tuple(key_results),
        check_ins=tuple(check_in for check_in in check_ins if check_in.at < cutoff),
        links=_LINKS,
        points=tuple(point for point in points if point.ts <= cutoff),
    )
