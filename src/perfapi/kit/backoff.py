"""Orgs whose background work failed, each set aside for longer at every failure.

Shared by the background loops that work org by org (derived events, the webhook
fan-out): a failing org is left out of the next rounds while its delay runs, so it
neither takes the place of one that can be done nor fills the log every round.
"""

from datetime import datetime, timedelta
from uuid import UUID

MAX_BACKOFF_SECONDS = 300.0


class Backoff:
    def __init__(self) -> None:
        self._failures: dict[UUID, tuple[int, datetime]] = {}

    def set_aside(self, now: datetime) -> set[UUID]:
        """The orgs still waiting out their delay."""
        return {org_id for org_id, (_, until) in self._failures.items() if until > now}

    def failed(self, org_id: UUID, now: datetime) -> None:
        count = self._failures.get(org_id, (0, now))[0] + 1
        delay = min(MAX_BACKOFF_SECONDS, 2.0**count)
        self._failures[org_id] = (count, now + timedelta(seconds=delay))

    def succeeded(self, org_id: UUID) -> None:
        self._failures.pop(org_id, None)
