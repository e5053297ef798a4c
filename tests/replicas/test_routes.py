"""Which routes read through the replica's session, and that each of them reads its ETag
there too: a tag read on the primary over an answer read on a lagging replica would
name data the answer does not show."""

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from perfapi.app import create_app
from perfapi.config import Settings
from perfapi.db.session import get_db_session
from perfapi.replicas.session import get_read_session

# Reports, series, forecasts and insights (with their exports): computed reads that
# tolerate a replica a few seconds behind. Plain resources stay on the primary.
ROUTED = {
    "getKpiAttainment",
    "getKpiSeries",
    "getGoalAchievement",
    "getAlignment",
    "getObjectiveProgress",
    "getObjectiveProgressHistory",
    "getKpiForecast",
    "listKpiAnomalies",
    "getObjectiveOutlook",
    "listInsights",
}


@dataclass(frozen=True)
class Sessions:
    operation_id: str
    handler: set[object]
    """The sessions the handler takes as parameters."""
    tag: set[object]
    """The sessions the route's ``conditional(...)`` reads the data version through."""


def _sessions(dependants: list[Dependant]) -> set[object]:
    return {d.call for d in dependants if d.call in (get_db_session, get_read_session)}


def _routes() -> Iterator[Sessions]:
    app = create_app(Settings(log_json=False))
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        declared = route.dependant.dependencies
        route_level = declared[: len(route.dependencies)]
        yield Sessions(
            operation_id=str(route.operation_id),
            handler=_sessions(declared[len(route.dependencies) :]),
            tag=_sessions([sub for dependant in route_level for sub in dependant.dependencies]),
        )


def test_the_routed_reads_are_the_reports_series_forecasts_and_insights() -> None:
    routed = {route.operation_id for route in _routes() if get_read_session in route.handler}
    assert routed == ROUTED


def test_every_routed_read_tags_from_the_replica_and_no_other_does() -> None:
    for route in _routes():
        on_replica = get_read_session in route.handler
        assert (get_read_session in route.tag) == on_replica, route
        if on_replica:
            # One session for the whole answer: none on the primary besides.
            assert route.handler == {get_read_session}, route
            assert route.tag == {get_read_session}, route
