"""The demo dataset: a year of a 200-person company's strategy, KPIs and measurements.

Pure definitions and seeded generators; nothing here touches a database. Every
random series is drawn for the whole calendar year and only then cut at ``today``,
so the data up to a day does not depend on when the demo is loaded: loading in
June shows the same January as loading in March.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from perfapi.key_results.schemas import KeyResultDirection as Kr
from perfapi.kpis.schemas import Aggregation as Agg
from perfapi.kpis.schemas import KpiDirection
from perfapi.objectives.schemas import ObjectiveStatus as Status

UP, DOWN = KpiDirection.HIGHER_IS_BETTER, KpiDirection.LOWER_IS_BETTER
DEPARTMENTS = ("engineering", "sales", "support", "operations")
REGIONS = ("emea", "amer", "apac")
CHECK_INS_PER_PERIOD = 5
Bounds = tuple[float | None, float | None, float | None, float | None]


@dataclass(frozen=True)
class KpiSpec:
    key: str
    name: str
    unit: str
    direction: KpiDirection
    aggregation: Agg
    tags: tuple[str, ...]


@dataclass(frozen=True)
class TargetSpec:
    kpi: str
    period_start: date
    period_end: date
    value: float


@dataclass(frozen=True)
class ObjectiveSpec:
    team: str  # one objective per team here, so the team names the objective
    parent: str | None
    owner: str
    title: str
    start_date: date
    due_date: date
    weight: float = 1.0
    status: Status = Status.ACTIVE


@dataclass(frozen=True)
class KeyResultSpec:
    title: str
    direction: Kr
    values: tuple[float, ...]  # what the direction takes: (start, target), (target,), (min, max)
    unit: str
    kpi: str | None = None
    weight: float = 1.0
    path: tuple[float, float] | None = None  # without a KPI: the first and last check-in
    objective: str = ""  # its objective's team

    def bounds(self) -> Bounds:
        """(start_value, target_value, range_min, range_max)."""
        if self.direction is Kr.WITHIN:
            return None, None, self.values[0], self.values[1]
        if self.direction in (Kr.AT_LEAST, Kr.AT_MOST):
            return None, self.values[0], None, None
        return self.values[0], self.values[1], None, None


@dataclass(frozen=True)
class CheckInSpec:
    key_result: int  # index into Dataset.key_results
    value: float
    at: datetime
    confidence: float
    note: str


@dataclass(frozen=True)
class LinkSpec:
    objective: str
    kpi: str
    weight: float


@dataclass(frozen=True)
class PointSpec:
    kpi: str
    ts: datetime
    value: float
    dimensions: dict[str, str] | None = None


@dataclass(frozen=True)
class Dataset:
    kpis: tuple[KpiSpec, ...]
    targets: tuple[TargetSpec, ...]
    objectives: tuple[ObjectiveSpec, ...]
    key_results: tuple[KeyResultSpec, ...]
    check_ins: tuple[CheckInSpec, ...]
    links: tuple[LinkSpec, ...]
    points: tuple[PointSpec, ...]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _quarter(year: int, q: int) -> tuple[date, date]:
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return date(year, 3 * q - 2, 1), end - timedelta(days=1)


def _frac(day: date) -> float:
    """How far into its year the day lies: 0 on Jan 1, 1 on Dec 31 (drives every trend)."""
    first = date(day.year, 1, 1)
    return (day - first).days / (date(day.year, 12, 31) - first).days


def _workday(day: date) -> bool:
    return day.weekday() < 5


# The company. Headcount is simulated (hires in, leavers out), so hr.headcount, hr.hires
# and hr.attrition_rate tell one story instead of three unrelated curves.
_STAFF = {"engineering": 82, "sales": 46, "support": 27, "operations": 25}  # 180 in all
_HIRES_PER_YEAR = {"engineering": 40, "sales": 22, "support": 12, "operations": 6}
_ATTRITION = {"engineering": 1.2, "sales": 1.7, "support": 1.5, "operations": 1.0}  # %/month
_ENGAGEMENT = {"engineering": 74.0, "sales": 71.0, "support": 70.0, "operations": 73.0}
_WORKDAYS_PER_YEAR = 261
_NEW_ARR = {"emea": 4000.0, "amer": 5000.0, "apac": 1500.0}  # EUR on a workday in January
_WIN_RATE = {"emea": 27.0, "amer": 30.0, "apac": 22.0}
_DEAL_CHANCE = {"emea": 0.30, "amer": 0.40, "apac": 0.12}  # of a won deal on a workday
_CHURN_CHANCE = 0.025  # of a churned customer, per region and workday


def _new_arr_mean(region: str, day: date) -> float:
    # Self-serve sign-ups bring some revenue at weekends too; the year grows by 35 %.
    return _NEW_ARR[region] * (1.0 if _workday(day) else 0.3) * (1 + 0.35 * _frac(day))


def _expected(kpi: str, start: date, end: date) -> float:
    """The model's mean total of a sum or count KPI over [start, end]; targets build on it."""
    days = _days(start, end)
    if kpi == "sales.new_arr":
        return sum(_new_arr_mean(region, day) for day in days for region in REGIONS)
    per_workday = {
        "hr.hires": sum(_HIRES_PER_YEAR.values()) / _WORKDAYS_PER_YEAR,
        "sales.deals_won": sum(_DEAL_CHANCE.values()),
    }
    return per_workday[kpi] * sum(map(_workday, days))


def _hr_points(rng: random.Random, year: int) -> Iterator[PointSpec]:
    staff = dict(_STAFF)
    for n, day in enumerate(_days(date(year, 1, 1), date(year, 12, 31))):
        frac, ts = _frac(day), midnight(day)
        # A level read with `last`, which takes the single latest point: per-department
        # points would make it one department's count, so it is one company-wide series.
        yield PointSpec("hr.headcount", ts, float(sum(staff.values())))
        for department in DEPARTMENTS:
            dims = {"department": department}
            rate = _ATTRITION[department] - 0.3 * frac
            if n % 7 == 0:  # HR systems report rates and pulse surveys weekly
                attrition = round(max(0.0, rate + rng.gauss(0, 0.08)), 2)
                yield PointSpec("hr.attrition_rate", ts, attrition, dims)
                score = min(100.0, _ENGAGEMENT[department] + 4 * frac + rng.gauss(0, 1.0))
                yield PointSpec("hr.engagement_score", ts, round(score, 1), dims)
            if _workday(day) and rng.random() < _HIRES_PER_YEAR[department] / _WORKDAYS_PER_YEAR:
                staff[department] += 1
                at = _at(day, rng.randint(9, 16))
                yield PointSpec("hr.hires", at, 1.0, dims)
                days_to_hire = round(max(12.0, 46 - 12 * frac + rng.gauss(0, 6)))
                yield PointSpec("hr.time_to_hire_days", at, float(days_to_hire), dims)
            if rng.random() < staff[department] * rate / 100 / 30:
                staff[department] -= 1


def _sales_points(rng: random.Random, year: int) -> Iterator[PointSpec]:
    drift = 0.0
    for day in _days(date(year, 1, 1), date(year, 12, 31)):
        frac, ts = _frac(day), midnight(day)
        drift = 0.9 * drift + rng.gauss(0, 40_000)  # a pipeline wanders rather than jitters
        # A level read with `last`: one series, as for headcount.
        yield PointSpec("sales.pipeline", ts, round(2_200_000 + 1_000_000 * frac + drift, -3))
        for region in REGIONS:
            dims = {"region": region}
            new_arr = _new_arr_mean(region, day) * max(0.1, rng.gauss(1, 0.3))
            yield PointSpec("sales.new_arr", ts, round(new_arr), dims)
            win_rate = _WIN_RATE[region] + 4 * frac + rng.gauss(0, 1.2)
            yield PointSpec("sales.win_rate", ts, round(win_rate, 1), dims)
            if not _workday(day):
                continue
            # deals_won counts points, so each won deal is one point (worth 1).
            if rng.random() < _DEAL_CHANCE[region]:
                yield PointSpec("sales.deals_won", _at(day, rng.randint(9, 17)), 1.0, dims)
            if rng.random() < _CHURN_CHANCE:
                lost = round(rng.uniform(6_000, 30_000), -2)
                yield PointSpec("sales.churned_arr", _at(day, rng.randint(9, 17)), lost, dims)


def _other_points(rng: random.Random, year: int) -> Iterator[PointSpec]:
    for day in _days(date(year, 1, 1), date(year, 12, 31)):
        uptime = 99.97 + rng.gauss(0, 0.02)
        if rng.random() < 0.03:  # an incident now and then
            uptime -= rng.uniform(0.2, 1.5)
        yield PointSpec("ops.uptime", midnight(day), round(min(100.0, uptime), 3))
        csat = min(100.0, 87 + 3 * _frac(day) + rng.gauss(0, 1.5))
        yield PointSpec("support.csat", midnight(day), round(csat, 1))


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
_YEARLY_TARGETS = {
    "hr.headcount": 235.0,
    "hr.attrition_rate": 1.1,
    "hr.engagement_score": 75.0,
    "hr.time_to_hire_days": 38.0,
    "sales.pipeline": 3_400_000.0,
    "sales.win_rate": 30.0,
    "sales.churned_arr": 330_000.0,
    "ops.uptime": 99.9,
    "support.csat": 90.0,
}


def _targets(year: int) -> list[TargetSpec]:
    # Yearly targets, except quarterly ones for the KPIs planned by quarter (a KPI's
    # periods may not overlap). Sums and counts aim a little above the model's mean.
    year_ = (date(year, 1, 1), date(year, 12, 31))
    targets = [TargetSpec(kpi, *year_, value) for kpi, value in _YEARLY_TARGETS.items()]
    deals = round(_expected("sales.deals_won", *year_) * 1.05)
    targets.append(TargetSpec("sales.deals_won", *year_, float(deals)))
    for quarter in (_quarter(year, q) for q in range(1, 5)):
        arr = round(_expected("sales.new_arr", *quarter) * 1.05, -4)
        hires = float(round(_expected("hr.hires", *quarter) * 1.1))
        targets += [
            TargetSpec("sales.new_arr", *quarter, arr),
            TargetSpec("hr.hires", *quarter, hires),
        ]
    return targets


def _objectives(year: int) -> list[ObjectiveSpec]:
    whole, h1 = (date(year, 1, 1), date(year, 12, 31)), (date(year, 1, 1), date(year, 6, 30))
    h2, to_sep = (date(year, 7, 1), date(year, 12, 31)), (date(year, 1, 1), date(year, 9, 30))
    q1, q2, q4 = _quarter(year, 1), _quarter(year, 2), _quarter(year, 4)
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
    arr = round(_expected("sales.new_arr", date(year, 1, 1), date(year, 12, 31)) * 1.08, -4)
    deals = round(_expected("sales.deals_won", date(year, 1, 1), date(year, 6, 30)) * 1.15)
    hires = round(_expected("hr.hires", date(year, 1, 1), date(year, 9, 30)) * 1.25)
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


def _check_ins(
    rng: random.Random, objectives: list[ObjectiveSpec], key_results: list[KeyResultSpec]
) -> Iterator[CheckInSpec]:
    """Check-ins spread evenly along each path, from two weeks in to the due date.

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
        span = (objective.due_date - objective.start_date).days
        for i in range(CHECK_INS_PER_PERIOD):
            share = i / (CHECK_INS_PER_PERIOD - 1)
            # The last check-in lands on the path's end, so achievement does not hang on noise.
            noise = 0.0 if share == 1 else rng.gauss(0, 0.04 * abs(last - first))
            value = float(round(first + (last - first) * share + noise))
            sure = 0.6 + (final_confidence - 0.6) * share + rng.gauss(0, 0.04)
            confidence = round(min(1.0, max(0.0, sure)), 2)
            day = objective.start_date + timedelta(days=14 + round((span - 14) * share))
            note = "On track." if confidence >= 0.7 else "Some risk; watching it closely."
            yield CheckInSpec(index, value, _at(day, 10), confidence, note)


def build_dataset(*, today: date, seed: int = 7) -> Dataset:
    """The demo for the calendar year of ``today``, with nothing dated after ``today``.

    Points lie at or before ``today`` 00:00 UTC and check-ins on earlier days, so none
    is in the future when ``today`` is the current date in UTC.
    """
    rng = random.Random(seed)
    year, cutoff = today.year, midnight(today)
    objectives, key_results = _objectives(year), _key_results(year)
    points = [*_hr_points(rng, year), *_sales_points(rng, year), *_other_points(rng, year)]
    check_ins = _check_ins(rng, objectives, key_results)
    return Dataset(
        kpis=KPIS,
        targets=tuple(_targets(year)),
        objectives=tuple(objectives),
        key_results=tuple(key_results),
        check_ins=tuple(check_in for check_in in check_ins if check_in.at < cutoff),
        links=_LINKS,
        points=tuple(point for point in points if point.ts <= cutoff),
    )
