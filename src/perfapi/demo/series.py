"""The demo's measurements: seeded simulations of a year of HR and sales data.

Every series is drawn for the whole calendar year; the caller cuts it at today.
"""

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from perfapi.demo.specs import DEPARTMENTS, REGIONS, PointSpec


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def at_hour(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def quarter_bounds(year: int, q: int) -> tuple[date, date]:
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


def expected_total(kpi: str, start: date, end: date) -> float:
    """The model's mean total of a sum or count KPI over [start, end]; targets build on it."""
    days = _days(start, end)
    if kpi == "sales.new_arr":
        return sum(_new_arr_mean(region, day) for day in days for region in REGIONS)
    per_workday = {
        "hr.hires": sum(_HIRES_PER_YEAR.values()) / _WORKDAYS_PER_YEAR,
        "sales.deals_won": sum(_DEAL_CHANCE.values()),
    }
    return per_workday[kpi] * sum(map(_workday, days))


def hr_points(rng: random.Random, year: int) -> Iterator[PointSpec]:
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
                when = at_hour(day, rng.randint(9, 16))
                yield PointSpec("hr.hires", when, 1.0, dims)
                days_to_hire = round(max(12.0, 46 - 12 * frac + rng.gauss(0, 6)))
                yield PointSpec("hr.time_to_hire_days", when, float(days_to_hire), dims)
            if rng.random() < staff[department] * rate / 100 / 30:
                staff[department] -= 1


def sales_points(rng: random.Random, year: int) -> Iterator[PointSpec]:
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
                yield PointSpec("sales.deals_won", at_hour(day, rng.randint(9, 17)), 1.0, dims)
            if rng.random() < _CHURN_CHANCE:
                lost = round(rng.uniform(6_000, 30_000), -2)
                yield PointSpec("sales.churned_arr", at_hour(day, rng.randint(9, 17)), lost, dims)


# The biggest deal of the year, signed a few days before the demo's today. A one-off
# several times a normal day's New ARR, so the insights feed shows a KPI anomaly as soon
# as the demo is loaded (anomalies are news for 7 days). It is placed relative to today,
# not drawn: a seeded date would be weeks old on most days a demo is loaded.
BIG_DEAL_ARR = 120_000.0
BIG_DEAL_DAYS_AGO = 3  # at least; a deal signed at a weekend moves to the Friday before
BIG_DEAL_REGION = "amer"


def big_deal_day(today: date) -> date:
    day = today - timedelta(days=BIG_DEAL_DAYS_AGO)
    while not _workday(day):
        day -= timedelta(days=1)
    return day


def big_deal_points(today: date) -> list[PointSpec]:
    """The big deal's New ARR and its won deal; none when it would fall before the year of
    ``today`` (the first days of January have no history to stand out against anyway)."""
    day = big_deal_day(today)
    if day.year != today.year:
        return []
    when, dims = at_hour(day, 15), {"region": BIG_DEAL_REGION}
    return [
        PointSpec("sales.new_arr", when, BIG_DEAL_ARR, dims),
        PointSpec("sales.deals_won", when, 1.0, dims),
    ]


def other_points(rng: random.Random, year: int) -> Iterator[PointSpec]:
    for day in _days(date(year, 1, 1), date(year, 12, 31)):
        uptime = 99.97 + rng.gauss(0, 0.02)
        if rng.random() < 0.03:  # an incident now and then
            uptime -= rng.uniform(0.2, 1.5)
        yield PointSpec("ops.uptime", midnight(day), round(min(100.0, uptime), 3))
        csat = min(100.0, 87 + 3 * _frac(day) + rng.gauss(0, 1.5))
        yield PointSpec("support.csat", midnight(day), round(csat, 1))
