"""A KPI with one point a day whose values follow a weekly pattern, a trend and noise."""

import math
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.support import Tenant, created

START = date(2026, 1, 5)  # a Monday


def daily_value(day: int) -> float:
    noise = random.Random(day).gauss(0, 1)
    return round(100 + 0.5 * day + 20 * math.sin(2 * math.pi * day / 7) + noise, 3)


async def daily_kpi(
    client: httpx.AsyncClient,
    tenant: Tenant,
    days: int,
    *,
    key: str = "sales.daily",
    aggregation: str = "sum",
    overrides: dict[int, float] | None = None,
) -> str:
    """A KPI with one point at noon of each of ``days`` days from START."""
    kpi = await created(
        client, tenant, "/v1/kpis", {"key": key, "name": key, "aggregation": aggregation}
    )
    points: list[dict[str, Any]] = []
    for day in range(days):
        ts = datetime.combine(START + timedelta(days=day), datetime.min.time(), UTC) + timedelta(
            hours=12
        )
        value = (overrides or {}).get(day, daily_value(day))
        points.append({"kpi": key, "ts": ts.isoformat().replace("+00:00", "Z"), "value": value})
    sent = await client.post("/v1/points", headers=tenant.headers, json={"points": points})
    assert sent.status_code in (200, 201), sent.text
    return kpi


def day_after(days: int) -> str:
    """The date ``days`` days after START."""
    return (START + timedelta(days=days)).isoformat()
