"""How much each kind of insight needs attention: a severity in [0, 1] (DESIGN 8).

The kinds are ranked so that the feed reads top down as a to-do list: what will
be missed first (a KPI off its pace, an objective unlikely to be achieved), then
what is slipping or surprising (at risk, anomalies, stale check-ins), then gaps
in how the strategy is measured (no target, unaligned objectives, orphan KPIs).
Within a kind, the further off, the more severe. Every formula is bounded to its
band, so a kind never outranks the one above it by accident of scale.
"""

import math
from collections.abc import Sequence
from enum import StrEnum
from uuid import UUID

from perfapi.domain.attainment import AT_RISK_PACE
from perfapi.domain.progress import children_index


class InsightKind(StrEnum):
    # In the order ties of severity are listed.
    KPI_OFF_TRACK = "kpi_off_track"
    OBJECTIVE_LIKELY_MISSED = "objective_likely_missed"
    KPI_AT_RISK = "kpi_at_risk"
    KPI_ANOMALY = "kpi_anomaly"
    CHECK_IN_STALE = "check_in_stale"
    KPI_WITHOUT_TARGET = "kpi_without_target"
    OBJECTIVE_UNALIGNED = "objective_unaligned"
    KPI_ORPHAN = "kpi_orphan"


KIND_ORDER = {kind: rank for rank, kind in enumerate(InsightKind)}

LIKELY_MISSED_BELOW = 0.5
"""An active objective is likely missed when its probability of being achieved is below this."""

ANOMALY_DAYS = 7
"""An anomaly is news for this many days after its bucket."""

# The fixed severities of the kinds that have no degree.
KPI_WITHOUT_TARGET = 0.25
OBJECTIVE_UNALIGNED = 0.2
KPI_ORPHAN = 0.1


def _clamp(value: float) -> float:
    return 0.0 if not math.isfinite(value) else min(1.0, max(0.0, value))


def off_track(pace: float) -> float:
    """0.7 at the at-risk line, rising to 1.0 with no progress at all."""
    return 0.7 + 0.3 * _clamp((AT_RISK_PACE - pace) / AT_RISK_PACE)


def likely_missed(probability: float) -> float:
    """0.5 at even odds, rising to 1.0 when the objective cannot be achieved."""
    return 0.5 + 0.5 * _clamp((LIKELY_MISSED_BELOW - probability) / LIKELY_MISSED_BELOW)


def at_risk(pace: float) -> float:
    """0.45 just under pace, 0.5 at the off-track line."""
    return 0.45 + 0.05 * _clamp((1.0 - pace) / (1.0 - AT_RISK_PACE))


def anomaly(score: float, days_ago: int) -> float:
    """0.3 to 0.45: further out scores higher, as does a fresher one (``days_ago`` 0..6)."""
    far = _clamp((score - 2.5) / 7.5)
    fresh = _clamp(1.0 - days_ago / ANOMALY_DAYS)
    return 0.3 + 0.1 * far + 0.05 * fresh


def check_in_stale(days_since: float, every_days: int) -> float:
    """0.3 once overdue, rising to 0.45 at three cadences overdue."""
    overdue = (days_since - every_days) / (2 * every_days)
    return 0.3 + 0.15 * _clamp(overdue)


DEFAULT_CHECK_IN_EVERY_DAYS = 14
"""How often a checked-in key result expects a check-in when no objective above it says."""


def check_in_cadences(
    ids: Sequence[UUID], parents: Sequence[UUID | None], own: Sequence[int | None]
) -> dict[UUID, int]:
    """Each objective's check-in cadence in days: its own, else its nearest ancestor's,
    else the default. Top down, so a deep tree costs one pass."""
    children = children_index(ids, parents)
    has_parent = [False] * len(ids)
    for kids in children:
        for kid in kids:
            has_parent[kid] = True
    cadence: list[int] = [DEFAULT_CHECK_IN_EVERY_DAYS] * len(ids)
    pending = [i for i in range(len(ids)) if not has_parent[i]]
    for i in pending:
        cadence[i] = own[i] or DEFAULT_CHECK_IN_EVERY_DAYS
    while pending:
        parent = pending.pop()
        for kid in children[parent]:
            cadence[kid] = own[kid] or cadence[parent]
            pending.append(kid)
    return dict(zip(ids, cadence, strict=True))
