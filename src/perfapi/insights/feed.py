"""What needs attention: the insights feed (DESIGN 8).

Every kind is computed from the same reads the reports and forecasts make, for
the whole org at once: the objective tree with its key results, the KPIs with
the target covering as_of, their attainment so far (one ranges read for all),
their daily models (``forecasts.cache``: fitted once per change of a KPI's
points, so a warm feed fits nothing), the objectives' simulated outlooks and the
key results' latest check-ins; what is costly of those is kept per state of the
org's data (``insights.snapshots``). Filters by team and owner are applied before
anything is computed, so a team's feed costs what the team's subjects cost.

A KPI belongs to the objectives it is linked to or feeds through key results;
filtered by team or owner, a KPI is in the feed when one of them matches.
"""

from datetime import UTC
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain import attention
from perfapi.domain.attention import InsightKind
from perfapi.insights.kpi_insights import KPI_KINDS, kpi_insights
from perfapi.insights.objective_insights import likely_missed, stale_check_ins, unaligned
from perfapi.insights.subjects import Draft, FeedQuery, read_org

__all__ = ["Draft", "FeedQuery", "insights", "sort_key"]


async def insights(session: AsyncSession, org_id: UUID, query: FeedQuery) -> list[Draft]:
    """Every insight the query asks for, most severe first."""
    org = await read_org(session, org_id, query.as_of.astimezone(UTC).date())
    found: list[Draft] = []
    if any(query.wants(kind) for kind in KPI_KINDS):
        found += await kpi_insights(session, org_id, org, query)
    if query.wants(InsightKind.OBJECTIVE_LIKELY_MISSED):
        found += await likely_missed(session, org_id, org, query)
    if query.wants(InsightKind.CHECK_IN_STALE):
        found += await stale_check_ins(session, org_id, org, query)
    if query.wants(InsightKind.OBJECTIVE_UNALIGNED):
        found += unaligned(org, query)
    found.sort(key=sort_key)
    return found


def sort_key(item: Draft) -> tuple[float, int, str, str]:
    """Most severe first; ties by kind, then the subject's title and id."""
    return (-item.severity, attention.KIND_ORDER[item.kind], item.title, str(item.subject_id))
