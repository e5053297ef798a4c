"""What a set of range queries reads: rollup blocks and raw ranges, each read once.

Each query's range is decomposed (``domain.segments``) into clean UTC months,
clean UTC days and raw ranges. The queries of a report overlap: one KPI over the
periods of many objectives, [Jan, Mar], [Jan, Jun], [Jan, Sep], ... So each KPI's
months are cut into blocks of consecutive months at every query's edges: the
database sums each block once, and each query combines its few blocks ([Jan, Mar]
and [Apr, Jun] for the second) instead of its many months. Days likewise.

Many KPIs are read over the same ranges with the same pending changes (none,
mostly): their blocks have the same shape, which is worked out once.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from perfapi.domain.segments import decompose

Block = tuple[UUID, date, date]
"""Consecutive months (their first days) or days of one KPI: (KPI, first, last)."""
RawRange = tuple[UUID, datetime, datetime]
"""Raw points of one KPI in [from, to)."""
Range = tuple[datetime, datetime]
"""A UTC range [start, end)."""
DaySpans = tuple[tuple[date, date], ...]
"""Inclusive ranges of UTC days."""


@dataclass(frozen=True)
class Plan:
    """Everything to read, and what each (KPI, range) combines.

    A part is numbered in one sequence: the month blocks, then the day blocks, then
    the raw ranges.
    """

    month_blocks: list[Block]
    day_blocks: list[Block]
    raw: list[RawRange]
    parts: dict[UUID, dict[Range, list[int]]]  # KPI -> range -> its parts


def plan(
    ranges: Mapping[UUID, Iterable[Range]], dirty: Mapping[UUID, Sequence[tuple[date, date]]]
) -> Plan:
    """The plan of reading each KPI over its ranges (empty ones included, as no parts);
    ``dirty`` holds each KPI's day ranges whose rollups may be stale, which are read from
    raw points."""
    shapes: dict[tuple[frozenset[Range], DaySpans], _Shape] = {}
    kpi_shapes: list[tuple[UUID, _Shape]] = []
    for kpi_id, kpi_ranges in ranges.items():
        key = (frozenset(kpi_ranges), tuple(dirty.get(kpi_id, ())))
        shape = shapes.get(key)
        if shape is None:
            shape = shapes[key] = _Shape.of(*key)
        kpi_shapes.append((kpi_id, shape))
    month_blocks: list[Block] = []
    day_blocks: list[Block] = []
    raw: list[RawRange] = []
    for kpi_id, shape in kpi_shapes:
        month_blocks += [(kpi_id, first, last) for first, last in shape.month_blocks]
        day_blocks += [(kpi_id, first, last) for first, last in shape.day_blocks]
        raw += [(kpi_id, start, end) for start, end in shape.raw]
    # Each KPI's parts are its shape's, shifted to where its blocks landed in the lists.
    first_day, first_raw = len(month_blocks), len(month_blocks) + len(day_blocks)
    months_at = days_at = raw_at = 0
    parts: dict[UUID, dict[Range, list[int]]] = {}
    for kpi_id, shape in kpi_shapes:
        shift = (months_at, first_day + days_at, first_raw + raw_at)
        parts[kpi_id] = {
            query_range: [shift[kind] + index for kind, index in shape_parts]
            for query_range, shape_parts in shape.parts.items()
        }
        months_at += len(shape.month_blocks)
        days_at += len(shape.day_blocks)
        raw_at += len(shape.raw)
    return Plan(month_blocks, day_blocks, raw, parts)


_MONTHS, _DAYS, _RAW = 0, 1, 2


@dataclass(frozen=True)
class _Shape:
    """The blocks and raw ranges of one KPI read over some ranges, and what each range
    combines: (kind, index among that kind's)."""

    month_blocks: list[tuple[date, date]]
    day_blocks: list[tuple[date, date]]
    raw: list[Range]
    parts: dict[Range, list[tuple[int, int]]]

    @classmethod
    def of(cls, ranges: frozenset[Range], dirty: DaySpans) -> "_Shape":
        decomposed = {
            query_range: decompose(*query_range, dirty)
            for query_range in ranges
            if query_range[0] < query_range[1]
        }
        months = _blocks([segments.months for segments in decomposed.values()], _next_month)
        days = _blocks([segments.days for segments in decomposed.values()], _next_day)
        raw = sorted({piece for segments in decomposed.values() for piece in segments.raw})
        raw_index = {piece: index for index, piece in enumerate(raw)}
        parts: dict[Range, list[tuple[int, int]]] = {query_range: [] for query_range in ranges}
        for query_range, segments in decomposed.items():
            parts[query_range] = (
                [(_MONTHS, index) for index in months.covering(segments.months)]
                + [(_DAYS, index) for index in days.covering(segments.days)]
                + [(_RAW, raw_index[piece]) for piece in segments.raw]
            )
        return cls(months.blocks, days.blocks, raw, parts)


@dataclass(frozen=True)
class _Blocks:
    blocks: list[tuple[date, date]]
    block_at: dict[date, int]  # by first period

    def covering(self, periods: Sequence[date]) -> list[int]:
        """The blocks these periods fill exactly (they are a query's, so they do)."""
        found: list[int] = []
        for period in periods:
            index = self.block_at.get(period)
            if index is not None:
                found.append(index)
        return found


def _blocks(wanted: Sequence[Sequence[date]], following: Callable[[date], date]) -> _Blocks:
    """The periods of all queries in blocks of consecutive ones, cut wherever a query's
    run of consecutive periods starts or stops, so every query's periods are whole blocks."""
    cuts: set[date] = set()
    every: set[date] = set()
    for periods in wanted:
        every.update(periods)
        previous: date | None = None
        for period in periods:
            if previous is None or following(previous) != period:
                cuts.add(period)
                if previous is not None:
                    cuts.add(following(previous))
            previous = period
        if previous is not None:
            cuts.add(following(previous))
    blocks: list[tuple[date, date]] = []
    block_at: dict[date, int] = {}
    for period in sorted(every):
        if blocks and period not in cuts and following(blocks[-1][1]) == period:
            blocks[-1] = (blocks[-1][0], period)
        else:
            block_at[period] = len(blocks)
            blocks.append((period, period))
    return _Blocks(blocks, block_at)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _next_day(day: date) -> date:
    return day + timedelta(days=1)
