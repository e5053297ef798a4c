"""How close perfapi's forecasts come to what happened, beside two baselines, on real series.

    python -m bench.forecast_accuracy [--cutoffs 6] [--series airline,housing,...]

Five public series with trend and seasons, all shipped inside the installed
statsmodels package (nothing is downloaded):
  airline      international airline passengers, thousands a month, 1949-1960
               (Box & Jenkins; the `air2` data of statsmodels' SARIMAX tests);
  housing      US housing starts, thousands a month, not seasonally adjusted,
               1959-2018 (FRED HOUSTNSA; the data of statsmodels' Holt-Winters tests);
  elec_equip   euro area turnover index of electrical equipment manufacturing,
               monthly, 1995-2016 (statsmodels.datasets.elec_equip);
  co2_monthly  Mauna Loa CO2 in ppmv, monthly means of the weekly series below;
  co2_weekly   Mauna Loa CO2 in ppmv, weekly, 1958-2001 (statsmodels.datasets.co2).
co2 misses 59 of its 2,284 weeks, none after 1985: they are interpolated linearly
in time, before the monthly means are taken, so every bucket of every series holds
one value (the cutoffs all lie after 1998).

One fresh database and one real `perfapi serve` (uvicorn, one worker). Each series
becomes a KPI (aggregation `last` for the once-a-month figures, `avg` for co2's
readings), sent through POST /v1/points as one point per bucket, dated inside its
bucket in UTC: noon on the 15th of its month, or noon on the Saturday co2 dates
each week by (every Saturday lies in its own ISO week, perfapi's weekly bucket).

Backtest through the API: at --cutoffs cutoffs (6) per series, the last one
leaving exactly 12 buckets after it and the others 5 months or 9 weeks apart
before it (a step prime to the season, so the cutoffs fall in different parts of
the year), GET /v1/kpis/{id}/forecast with interval=month|week, horizon=12,
level=0.8, as_of = the start of the cutoff's bucket and the automatic method. Its
history is the buckets before the cutoff, at most 120 months or 156 weeks (the
service's MAX_HISTORY; the bench checks the reply's `history`). Its 12 buckets are
compared with the 12 values that followed.

Beside it, from the same history (the same window):
  seasonal naive  each bucket's value one season (12 months, 52 weeks) earlier;
  Holt-Winters    statsmodels.tsa.holtwinters.ExponentialSmoothing with a damped
                  additive trend and an additive and a multiplicative season (the
                  latter only for strictly positive history), initial states
                  estimated; the fit with the lower AICc forecasts.
perfapi's own monthly and weekly model averages this same Holt-Winters forecast
with an STL one (see perfapi.domain.forecasting): a ratio below 1 is what the
averaging adds, and the ETS(A,Ad,A) it replaced scored 1.27 here.

Printed per series: a row per cutoff and a row for all of them, with the mean
absolute error (MAE) of each forecaster, perfapi's method, and the share of actual
values inside perfapi's 80% interval; then a row per series with the ratios of
perfapi's MAE to each baseline's. Figures last, each with its target:
  mean over series of MAE(perfapi) / MAE(seasonal naive)   <= 0.9
  mean over series of MAE(perfapi) / MAE(Holt-Winters)     <= 1.0
  80% interval coverage, over every forecast bucket        between 0.7 and 0.9
About 35 s on a 2-core machine, most of it the Holt-Winters baseline and perfapi's fits.
"""

import argparse
import itertools
import math
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import httpx
import numpy as np
import pandas as pd

from bench.common import Server, fresh_database, running_server
from perfapi.forecasts.history import MAX_HISTORY, SEASON_LENGTH, ForecastInterval

HORIZON = 12
LEVEL = 0.8
DEFAULT_CUTOFFS = 6
CUTOFF_STEP = {ForecastInterval.MONTH: 5, ForecastInterval.WEEK: 9}
"""Buckets between cutoffs: prime to the season (12, 52), so cutoffs fall all over the year."""

TARGET_RATIO_NAIVE = 0.9
TARGET_RATIO_HW = 1.0
TARGET_COVERAGE = (0.7, 0.9)


@dataclass(frozen=True)
class Series:
    name: str
    interval: ForecastInterval
    aggregation: str
    starts: list[datetime]  # of each bucket, UTC, oldest first
    values: list[float]
    stamps: list[datetime]  # where each value's point is dated: inside its bucket
    description: str

    @property
    def season(self) -> int:
        return SEASON_LENGTH[self.interval]

    @property
    def max_history(self) -> int:
        return MAX_HISTORY[self.interval]


def _monthly(name: str, frame: "pd.Series[float]", aggregation: str, description: str) -> Series:
    """One value per calendar month, the point dated the 15th at noon UTC."""
    starts = [datetime(stamp.year, stamp.month, 1, tzinfo=UTC) for stamp in frame.index]
    for earlier, later in itertools.pairwise(starts):
        assert (later.year * 12 + later.month) - (earlier.year * 12 + earlier.month) == 1, name
    return Series(
        name,
        ForecastInterval.MONTH,
        aggregation,
        starts,
        [float(value) for value in frame],
        [start.replace(day=15, hour=12) for start in starts],
        description,
    )


def airline() -> Series:
    from statsmodels.tsa.statespace.tests.results.results_sarimax import (
        air2_data,
    )

    index = pd.date_range("1949-01-01", periods=len(air2_data), freq="MS")
    return _monthly(
        "airline",
        pd.Series(np.asarray(air2_data, dtype=float), index=index),
        "last",
        "airline passengers, thousands/month, 1949-1960",
    )


def housing() -> Series:
    source = resources.files("statsmodels.tsa.holtwinters.tests.results") / "housing-data.csv"
    with resources.as_file(source) as path:
        frame = pd.read_csv(path, index_col="DATE", parse_dates=True)["HOUSTNSA"]
    return _monthly("housing", frame, "last", "US housing starts NSA, thousands/month")


def elec_equip() -> Series:
    from statsmodels.datasets import elec_equip as dataset

    frame = dataset.load_pandas().data.iloc[:, 0]
    return _monthly("elec_equip", frame, "last", "euro area electrical equipment index")


def _co2_weeks() -> "pd.Series[float]":
    from statsmodels.datasets import co2 as dataset

    weekly = dataset.load_pandas().data["co2"]
    # 59 missing weeks, the last in 1985: mostly single weeks, where a straight line
    # between the neighbours is what CO2's smooth curve does. The longest gap (18 weeks
    # from January 1964) loses that season's swing, decades before any backtest window.
    return weekly.interpolate(method="time")


def co2_monthly() -> Series:
    return _monthly(
        "co2_monthly",
        _co2_weeks().resample("MS").mean(),
        "avg",
        "Mauna Loa CO2 ppmv, monthly means",
    )


def co2_weekly() -> Series:
    weekly = _co2_weeks()
    saturdays = [datetime(s.year, s.month, s.day, 12, tzinfo=UTC) for s in weekly.index]
    assert all(s.weekday() == 5 for s in saturdays)
    assert all(b - a == timedelta(weeks=1) for a, b in itertools.pairwise(saturdays))
    return Series(
        "co2_weekly",
        ForecastInterval.WEEK,
        "avg",
        # The ISO week (Monday to Sunday) holding each Saturday.
        [(s - timedelta(days=5)).replace(hour=0) for s in saturdays],
        [float(value) for value in weekly],
        saturdays,
        "Mauna Loa CO2 ppmv, weekly",
    )


SERIES: dict[str, Callable[[], Series]] = {
    "airline": airline,
    "housing": housing,
    "elec_equip": elec_equip,
    "co2_monthly": co2_monthly,
    "co2_weekly": co2_weekly,
}


def cutoffs(series: Series, count: int) -> list[int]:
    """Indexes of the first forecast bucket, oldest first; the last leaves HORIZON after it."""
    last = len(series.values) - HORIZON
    found = [last - k * CUTOFF_STEP[series.interval] for k in range(count)]
    if min(found) < 2 * series.season:
        raise SystemExit(f"{series.name}: too short for {count} cutoffs")
    return sorted(found)


def seasonal_naive(history: "np.ndarray[Any, np.dtype[np.float64]]", season: int) -> Any:
    """Each bucket's value one season earlier (the last season repeated)."""
    return np.array([history[len(history) - season + h % season] for h in range(HORIZON)])


def holt_winters(history: "np.ndarray[Any, np.dtype[np.float64]]", season: int) -> Any:
    """Damped additive trend, additive or multiplicative season by AICc; (forecast, season)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    kinds = ["add", "mul"] if np.all(history > 0) else ["add"]
    fits = []
    for kind in kinds:
        model = ExponentialSmoothing(
            history,
            trend="add",
            damped_trend=True,
            seasonal=kind,
            seasonal_periods=season,
            initialization_method="estimated",
        )
        with warnings.catch_warnings():
            # Convergence chatter from the optimiser: the baseline is taken as it comes.
            warnings.simplefilter("ignore")
            results = model.fit()
        fits.append((float(results.aicc), kind, results))
    # A tie, or no AICc at all, keeps the additive season (listed first).
    _, kind, best = min(fits, key=lambda fit: fit[0] if math.isfinite(fit[0]) else math.inf)
    return np.asarray(best.forecast(HORIZON), dtype=float), kind


@dataclass
class Cutoff:
    start: datetime
    history: int
    method: str
    hw_season: str
    actual: Any
    perfapi: Any
    lower: Any
    upper: Any
    naive: Any
    hw: Any

    def mae(self, forecast: Any) -> float:
        return float(np.mean(np.abs(forecast - self.actual)))

    @property
    def inside(self) -> int:
        return int(np.sum((self.lower <= self.actual) & (self.actual <= self.upper)))


@dataclass
class Result:
    series: Series
    cutoffs: list[Cutoff] = field(default_factory=list)
    api_seconds: list[float] = field(default_factory=list)
    hw_seconds: list[float] = field(default_factory=list)

    def mae(self, which: str) -> float:
        return float(
            np.mean(np.concatenate([np.abs(getattr(c, which) - c.actual) for c in self.cutoffs]))
        )

    @property
    def inside(self) -> int:
        return sum(c.inside for c in self.cutoffs)

    @property
    def buckets(self) -> int:
        return HORIZON * len(self.cutoffs)


def create_kpi(client: httpx.Client, series: Series) -> str:
    reply = client.post(
        "/v1/kpis",
        json={
            "key": f"bench.{series.name}",
            "name": series.description,
            "aggregation": series.aggregation,
            "tags": ["bench"],
        },
    )
    reply.raise_for_status()
    kpi_id: str = reply.json()["id"]
    points = [
        {"kpi": f"bench.{series.name}", "ts": stamp.isoformat(), "value": value}
        for stamp, value in zip(series.stamps, series.values, strict=True)
    ]
    reply = client.post("/v1/points", json={"points": points})
    reply.raise_for_status()
    assert reply.json()["inserted"] == len(points), reply.text
    return kpi_id


def backtest(client: httpx.Client, series: Series, kpi_id: str, count: int) -> Result:
    result = Result(series)
    values = np.asarray(series.values, dtype=float)
    for index in cutoffs(series, count):
        start = series.starts[index]
        began = time.perf_counter()
        reply = client.get(
            f"/v1/kpis/{kpi_id}/forecast",
            params={
                "interval": series.interval.value,
                "horizon": HORIZON,
                "level": LEVEL,
                "as_of": start.isoformat().replace("+00:00", "Z"),
            },
        )
        result.api_seconds.append(time.perf_counter() - began)
        reply.raise_for_status()
        body = reply.json()
        history = values[max(0, index - series.max_history) : index]
        # The service read exactly the window the baselines are fitted to, and
        # forecast exactly the buckets compared.
        assert body["history"] == len(history), (series.name, start, body["history"])
        forecast_starts = [
            datetime.fromisoformat(bucket["start"].replace("Z", "+00:00"))
            for bucket in body["buckets"]
        ]
        assert forecast_starts == series.starts[index : index + HORIZON], series.name
        began = time.perf_counter()
        hw, hw_season = holt_winters(history, series.season)
        result.hw_seconds.append(time.perf_counter() - began)
        result.cutoffs.append(
            Cutoff(
                start=start,
                history=len(history),
                method=body["method"],
                hw_season=hw_season,
                actual=values[index : index + HORIZON],
                perfapi=np.array([bucket["value"] for bucket in body["buckets"]]),
                lower=np.array([bucket["lower"] for bucket in body["buckets"]]),
                upper=np.array([bucket["upper"] for bucket in body["buckets"]]),
                naive=seasonal_naive(history, series.season),
                hw=hw,
            )
        )
    return result


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def print_series(result: Result) -> None:
    series = result.series
    unit = "month" if series.interval is ForecastInterval.MONTH else "week"
    print()
    print(
        f"{series.name} ({series.description}): {len(series.values)} {unit}s, "
        f"season {series.season}, KPI aggregation {series.aggregation}"
    )
    print(
        f"  {'cutoff':<12}{'history':>8}  {'method':<9}{'perfapi':>9}{'s-naive':>9}"
        f"{'H-W':>9}  {'H-W season':<11}{'in 80%':>7}"
    )
    for cutoff in result.cutoffs:
        print(
            f"  {cutoff.start.date().isoformat():<12}{cutoff.history:>8}  {cutoff.method:<9}"
            f"{cutoff.mae(cutoff.perfapi):>9.3f}{cutoff.mae(cutoff.naive):>9.3f}"
            f"{cutoff.mae(cutoff.hw):>9.3f}  {cutoff.hw_season:<11}"
            f"{cutoff.inside:>4}/{HORIZON}"
        )
    print(
        f"  {'all':<12}{'':>8}  {'':<9}{result.mae('perfapi'):>9.3f}"
        f"{result.mae('naive'):>9.3f}{result.mae('hw'):>9.3f}  {'':<11}"
        f"{result.inside / result.buckets:>7.2f}"
    )


def print_summary(results: list[Result]) -> None:
    print()
    print("MAE over every cutoff and horizon (12 buckets ahead), ratios of perfapi's MAE:")
    print(
        f"  {'series':<13}{'perfapi':>10}{'s-naive':>10}{'H-W':>10}"
        f"{'/ s-naive':>11}{'/ H-W':>8}{'coverage':>10}"
    )
    for result in results:
        print(
            f"  {result.series.name:<13}{result.mae('perfapi'):>10.3f}"
            f"{result.mae('naive'):>10.3f}{result.mae('hw'):>10.3f}"
            f"{result.mae('perfapi') / result.mae('naive'):>11.3f}"
            f"{result.mae('perfapi') / result.mae('hw'):>8.3f}"
            f"{result.inside / result.buckets:>10.2f}"
        )
    ratio_naive = statistics.mean(r.mae("perfapi") / r.mae("naive") for r in results)
    ratio_hw = statistics.mean(r.mae("perfapi") / r.mae("hw") for r in results)
    coverage = sum(r.inside for r in results) / sum(r.buckets for r in results)
    low, high = TARGET_COVERAGE
    api = [s for r in results for s in r.api_seconds]
    hw = [s for r in results for s in r.hw_seconds]
    print()
    print(
        f"forecast requests: median {statistics.median(api) * 1000:.0f} ms, "
        f"max {max(api) * 1000:.0f} ms; Holt-Winters baseline (two fits): "
        f"median {statistics.median(hw) * 1000:.0f} ms"
    )
    print()
    print(
        f"mean MAE ratio to seasonal naive: {ratio_naive:.3f}  "
        f"(target <= {TARGET_RATIO_NAIVE}) {verdict(ratio_naive <= TARGET_RATIO_NAIVE)}"
    )
    print(
        f"mean MAE ratio to Holt-Winters:   {ratio_hw:.3f}  "
        f"(target <= {TARGET_RATIO_HW}) {verdict(ratio_hw <= TARGET_RATIO_HW)}"
    )
    print(
        f"80% interval coverage:            {coverage:.3f}  "
        f"(target {low} to {high}) {verdict(low <= coverage <= high)}"
    )


def run(names: list[str], count: int) -> None:
    began = time.perf_counter()
    series = [SERIES[name]() for name in names]
    for one in series:
        assert all(math.isfinite(v) for v in one.values), one.name
    with fresh_database() as database_url, running_server(database_url) as server:
        results = evaluate(server, series, count)
    for result in results:
        print_series(result)
    print_summary(results)
    print(f"\ntotal run {time.perf_counter() - began:.0f} s")


def evaluate(server: Server, series: list[Series], count: int) -> list[Result]:
    with httpx.Client(
        base_url=server.base_url,
        headers=server.headers,
        timeout=120,
        trust_env=False,  # no proxy from the environment: 127.0.0.1 only
    ) as client:
        results = []
        for one in series:
            kpi_id = create_kpi(client, one)
            results.append(backtest(client, one, kpi_id, count))
            print(f"{one.name}: {count} cutoffs forecast", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--cutoffs", type=int, default=DEFAULT_CUTOFFS, help="forecast origins per series"
    )
    parser.add_argument(
        "--series", default=",".join(SERIES), help="comma-separated, from: " + ", ".join(SERIES)
    )
    arguments = parser.parse_args()
    names = arguments.series.split(",")
    if arguments.cutoffs < 1 or not names or any(name not in SERIES for name in names):
        parser.error(f"need --cutoffs >= 1 and --series from {', '.join(SERIES)}")
    run(names, arguments.cutoffs)


if __name__ == "__main__":
    main()
