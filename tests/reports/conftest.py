"""Fixtures of the computed-on-read tests: the fixed dataset of ``tests.reports.dataset``."""

import httpx
import pytest

from tests.reports.dataset import Strategy, seed_strategy
from tests.support import Tenant


@pytest.fixture
async def strategy(client: httpx.AsyncClient, tenant: Tenant) -> Strategy:
    return await seed_strategy(client, tenant)
