"""ORM tables, one module per aggregate. Importing this package registers them all."""

from perfapi.db.base import Base
from perfapi.models.api_key import ApiKey
from perfapi.models.audit import AuditEvent
from perfapi.models.data_version import (
    DataVersionBump,
    KpiPointVersion,
    KpiPointVersionBump,
    OrgDataVersion,
)
from perfapi.models.derived import DerivedEventMark, KpiStatusState, ObjectiveProgressState
from perfapi.models.event import Event
from perfapi.models.idempotency_key import IdempotencyKey
from perfapi.models.kpi import Kpi, KpiTarget
from perfapi.models.objective import CheckIn, KeyResult, Objective, ObjectiveKpi
from perfapi.models.org import Org
from perfapi.models.point import Point
from perfapi.models.rollup import KpiDayRollup, KpiMonthRollup, RollupChange
from perfapi.models.webhook import WebhookDelivery, WebhookSource
from perfapi.models.webhook_endpoint import (
    WebhookEndpoint,
    WebhookEndpointAttempt,
    WebhookEndpointDelivery,
    WebhookFanoutMark,
)

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "CheckIn",
    "DataVersionBump",
    "DerivedEventMark",
    "Event",
    "IdempotencyKey",
    "KeyResult",
    "Kpi",
    "KpiDayRollup",
    "KpiMonthRollup",
    "KpiPointVersion",
    "KpiPointVersionBump",
    "KpiStatusState",
    "KpiTarget",
    "Objective",
    "ObjectiveKpi",
    "ObjectiveProgressState",
    "Org",
    "OrgDataVersion",
    "Point",
    "RollupChange",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEndpointAttempt",
    "WebhookEndpointDelivery",
    "WebhookFanoutMark",
    "WebhookSource",
]
