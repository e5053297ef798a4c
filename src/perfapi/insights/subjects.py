"""What every kind of insight is drafted from: the query, the org's structure, drafts."""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import NamedTuple
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.domain.alignment import AlignmentObjective, alignment
from perfapi.domain.attention import InsightKind
from perfapi.key_results import repository as key_results
from perfapi.kpis import repository as kpis
from perfapi.kpis.repository import KpiFacts
from perfapi.objectives import repository as objectives
from perfapi.objectives.repository import TreeRow


@dataclass(frozen=True)
class FeedQuery:
    as_of: datetime
    threshold: float
    team: str | None = None
    owner: str | None = None
    kinds: frozenset[InsightKind] | None = None  # None: every kind

    def wants(self, kind: InsightKind) -> bool:
        return self.kinds is None or kind in self.kinds

    def matches(self, team: str | None, owner: str | None) -> bool:
        return (self.team is None or team == self.team) and (
            self.owner is None or owner == self.owner
        )


@dataclass(frozen=True)
class Org:
    """The org's structure, as every kind reads it."""

    objectives: Sequence[TreeRow]  # in creation order
    by_id: dict[UUID, TreeRow]
    owners: dict[UUID, str | None]
    cadences: dict[UUID, int | None]
    measures: dict[UUID, list[UUID]]  # KPI -> the objectives it measures, in creation order
    kpis: Sequence[KpiFacts]

    @cached_property
    def alignment(self) -> tuple[frozenset[UUID], frozenset[UUID]]:
        """The unaligned objectives and the orphan KPIs (DESIGN 5, "Alignment"), computed
        once however many kinds ask."""
        named: dict[UUID, set[UUID]] = defaultdict(set)
        for kpi_id, objective_ids in self.measures.items():
            for objective_id in objective_ids:
                named[objective_id].add(kpi_id)
        report = alignment(
            [
                AlignmentObjective(o.id, o.parent_id, o.weight, o.status, frozenset(named[o.id]))
                for o in self.objectives
            ],
            [kpi.id for kpi in self.kpis],
        )
        return frozenset(report.unaligned_objectives), frozenset(report.orphan_kpis)

    def steward(self, objective_id: UUID) -> tuple[str | None, str | None]:
        return self.by_id[objective_id].team, self.owners[objective_id]

    def kpi_steward(self, kpi_id: UUID, query: FeedQuery) -> tuple[str | None, str | None] | None:
        """The team and owner shown for a KPI: of the first objective it measures that the
        filters match; None when the filters match none."""
        for objective_id in self.measures.get(kpi_id, []):
            team, owner = self.steward(objective_id)
            if query.matches(team, owner):
                return team, owner
        return (None, None) if query.team is None and query.owner is None else None


class Draft(NamedTuple):
    """An insight before it is validated as a response item: the feed drafts every one
    (a thousand in a large org) and validates only the page it shows."""

    kind: InsightKind
    severity: float
    subject_type: str
    subject_id: UUID
    title: str
    team: str | None
    owner: str | None
    message: str
    evidence: dict[str, object]

    def item(self) -> dict[str, object]:
        """The response item, to validate as ``schemas.Insight``."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "subject": {"type": self.subject_type, "id": self.subject_id, "title": self.title},
            "team": self.team,
            "owner": self.owner,
            "message": self.message,
            "evidence": self.evidence,
        }


def draft(
    kind: InsightKind,
    severity: float,
    subject: tuple[str, UUID, str],
    steward: tuple[str | None, str | None],
    message: str,
    evidence: dict[str, object],
) -> Draft:
    kind_of, subject_id, title = subject
    return Draft(kind, round(severity, 4), kind_of, subject_id, title, *steward, message, evidence)


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


async def read_org(session: AsyncSession, org_id: UUID, day: date) -> Org:
    every = await objectives.tree_rows(session, org_id, None)
    stewardship = await objectives.stewardship(session, org_id)
    order = {objective.id: index for index, objective in enumerate(every)}
    measured: dict[UUID, set[UUID]] = defaultdict(set)
    for objective_id, kpi_id in await objectives.kpi_links(session, org_id):
        measured[kpi_id].add(objective_id)
    for objective_id, kpi_id in await key_results.kpi_ids_in_use(session, org_id):
        measured[kpi_id].add(objective_id)
    return Org(
        objectives=every,
        by_id={objective.id: objective for objective in every},
        owners={row.id: row.owner for row in stewardship},
        cadences={row.id: row.check_in_every_days for row in stewardship},
        measures={k: sorted(ids, key=order.__getitem__) for k, ids in measured.items()},
        kpis=await kpis.facts_with_targets(session, org_id, day),
    )
