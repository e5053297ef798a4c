"""The types of events perfapi records (DESIGN 9)."""

from enum import StrEnum


class EventType(StrEnum):
    OBJECTIVE_CREATED = "objective.created"
    OBJECTIVE_UPDATED = "objective.updated"
    OBJECTIVE_DELETED = "objective.deleted"
    KEY_RESULT_CREATED = "key_result.created"
    KEY_RESULT_UPDATED = "key_result.updated"
    KEY_RESULT_DELETED = "key_result.deleted"
    CHECK_IN_CREATED = "check_in.created"
    KPI_CREATED = "kpi.created"
    KPI_UPDATED = "kpi.updated"
    KPI_DELETED = "kpi.deleted"
    POINTS_INGESTED = "points.ingested"
    # Recorded by the webhook sender when an endpoint has failed for too long.
    ENDPOINT_DISABLED = "endpoint.disabled"
    # Derived: evaluated after commits that change the org's data (events.derived).
    KPI_STATUS_CHANGED = "kpi.status_changed"
    OBJECTIVE_PROGRESS_CHANGED = "objective.progress_changed"
    OBJECTIVE_ACHIEVED = "objective.achieved"
