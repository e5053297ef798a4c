"""What the audit log records: one action per kind of write.

An action is ``<resource type>.<verb>``: the part before the dot is the type of
the resource the entry names, so a resource's history is one filter away.
"""

from enum import StrEnum


class Action(StrEnum):
    OBJECTIVE_CREATED = "objective.created"
    OBJECTIVE_UPDATED = "objective.updated"
    OBJECTIVE_DELETED = "objective.deleted"
    OBJECTIVE_KPI_LINKED = "objective.kpi_linked"
    OBJECTIVE_KPI_UNLINKED = "objective.kpi_unlinked"
    KEY_RESULT_CREATED = "key_result.created"
    KEY_RESULT_UPDATED = "key_result.updated"
    KEY_RESULT_DELETED = "key_result.deleted"
    CHECK_IN_CREATED = "check_in.created"
    CHECK_IN_DELETED = "check_in.deleted"
    KPI_CREATED = "kpi.created"
    KPI_UPDATED = "kpi.updated"
    KPI_DELETED = "kpi.deleted"
    KPI_POINTS_DELETED = "kpi.points_deleted"
    KPI_TARGET_CREATED = "kpi_target.created"
    KPI_TARGET_DELETED = "kpi_target.deleted"
    # One entry per ingestion request, whatever KPIs it wrote: no single resource.
    POINTS_INGESTED = "points.ingested"
    WEBHOOK_SOURCE_CREATED = "webhook_source.created"
    WEBHOOK_SOURCE_UPDATED = "webhook_source.updated"
    WEBHOOK_SOURCE_DELETED = "webhook_source.deleted"
    WEBHOOK_SOURCE_SECRET_ROTATED = "webhook_source.secret_rotated"  # noqa: S105 (a name)
    WEBHOOK_SOURCE_DELIVERY_REPLAYED = "webhook_source.delivery_replayed"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
    WEBHOOK_ENDPOINT_SECRET_ROTATED = "webhook_endpoint.secret_rotated"  # noqa: S105 (a name)
    WEBHOOK_ENDPOINT_ATTEMPT_RETRIED = "webhook_endpoint.attempt_retried"
    API_KEY_CREATED = "api_key.created"
    API_KEY_UPDATED = "api_key.updated"
    API_KEY_REVOKED = "api_key.revoked"
    ORG_CREATED = "org.created"

    @property
    def resource_type(self) -> "ResourceType":
        return ResourceType(self.value.split(".", 1)[0])


class ResourceType(StrEnum):
    """The types of resource entries name: the part of each action before the dot."""

    OBJECTIVE = "objective"
    KEY_RESULT = "key_result"
    CHECK_IN = "check_in"
    KPI = "kpi"
    KPI_TARGET = "kpi_target"
    POINTS = "points"
    WEBHOOK_SOURCE = "webhook_source"
    WEBHOOK_ENDPOINT = "webhook_endpoint"
    API_KEY = "api_key"
    ORG = "org"
