"""The sentences of the insights feed: one each, naming the subject, the number and
what is expected, in words a person can act on. Pure functions of the evidence."""

import math
from datetime import date, timedelta

_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _scale_of(magnitude: float) -> tuple[float, str]:
    for size, suffix in _SCALES:
        if magnitude >= size:
            return size, suffix
    return 1.0, ""


def _significant(value: float) -> str:
    """Three significant digits, without trailing zeros (1.06, 0.81, 250, 12.5)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def amounts(*values: float, unit: str | None = None) -> list[str]:
    """The values written in one scale, that of the largest (0.81 M of 1.06 M)."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    size, suffix = _scale_of(max(finite, default=0.0))
    tail = "".join(part for part in ((" " + suffix) if suffix else "", _unit(unit)))
    return [_significant(v / size) + tail for v in values]


def amount(value: float, unit: str | None = None) -> str:
    return amounts(value, unit=unit)[0]


def _unit(unit: str | None) -> str:
    if not unit:
        return ""
    return unit if unit == "%" else f" {unit}"


def percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def period_name(start: date, end: date) -> str:
    """A calendar month, quarter or year by its name; any other period by its dates."""
    after = end + timedelta(days=1)
    if start.day == 1 and after.day == 1:
        months = (after.year - start.year) * 12 + after.month - start.month
        if months == 1:
            return f"{_MONTHS[start.month - 1]} {start.year}"
        if months == 3 and start.month % 3 == 1:
            return f"Q{(start.month - 1) // 3 + 1} {start.year}"
        if months == 12 and start.month == 1:
            return str(start.year)
    return f"{start.isoformat()} to {end.isoformat()}"


def kpi_behind(
    name: str,
    *,
    unit: str | None,
    pace: float,
    period: str,
    actual: float,
    target: float,
    forecast: float | None,
    probability: float | None,
) -> str:
    """A KPI off its pace or at risk of it."""
    sentence = f"{name} is at {percent(pace)} of its pace for {period}"
    if forecast is not None:
        ends, of = amounts(forecast, target, unit=unit)
        sentence += f"; at this rate it ends near {ends} of {of}"
    else:
        now, of = amounts(actual, target, unit=unit)
        sentence += f"; it stands at {now} against a target of {of}"
    if probability is not None:
        sentence += f", with a {percent(probability)} chance of meeting it"
    return sentence + "."


def kpi_anomaly(
    name: str,
    *,
    unit: str | None,
    day: date,
    value: float,
    lower: float,
    upper: float,
    above: bool,
) -> str:
    seen, low, high = amounts(value, lower, upper, unit=unit)
    where = "above" if above else "below"
    return (
        f"{name} was {seen} on {day.isoformat()}, {where} the {low} to {high} "
        "its history led to expect."
    )


def kpi_without_target(name: str, *, objectives: int, day: date) -> str:
    measured = "an objective" if objectives == 1 else f"{objectives} objectives"
    return (
        f"{name} measures {measured} but has no target for {day.isoformat()}; "
        "set one to track whether it is on pace."
    )


def objective_likely_missed(
    title: str,
    *,
    due: date,
    probability: float,
    expected: float,
    progress: float | None,
    threshold: float,
    over: bool,
) -> str:
    if over:
        stood = "no measured progress" if progress is None else f"{percent(progress)} progress"
        short = percent(threshold)
        return f"{title} was due {due.isoformat()} and stands at {stood}, short of {short}."
    now = "" if progress is None else f" (now {percent(progress)})"
    return (
        f"{title} has a {percent(probability)} chance of reaching {percent(threshold)} by "
        f"{due.isoformat()}; it is expected to end near {percent(expected)} progress{now}."
    )


def check_in_stale(
    title: str, *, objective: str, days: int, last: date | None, every_days: int
) -> str:
    if last is None:
        since = f"has had no check-in in the {days} days since it was added"
    else:
        since = f"was last checked in {days} days ago, on {last.isoformat()}"
    return f"{title} (of {objective}) {since}; {objective} expects one every {every_days} days."


def objective_unaligned(title: str) -> str:
    return (
        f"{title} is not measured by any KPI, directly or through the objectives under it; "
        "link a KPI or add a key result that reads one."
    )


def kpi_orphan(name: str) -> str:
    return (
        f"{name} is not linked to any active objective; link it to the objective it "
        "measures, or retire it."
    )
