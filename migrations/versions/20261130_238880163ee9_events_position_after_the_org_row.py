"""an event's position at commit takes its org's data version row first

At commit, a transaction that recorded events positions them under its org's
advisory lock and bumps the org's data version (``org_data_versions``), in the
order its writes queued them: a request that changed data before recording its
event took the org's row, then the lock; the evaluator of derived events, which
records its events before anything else it writes, took the lock, then the row,
and the two committing together could deadlock (one of them failed). Positioning
an event now locks the org's data version row first, so every transaction takes
the org's row before the lock. Events always bump that row at the same commit
(the log is watched), so the row is held no longer than before.

Revision ID: 238880163ee9
Revises: e8f1a3c5b7d9
Create Date: 2026-11-30 11:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "238880163ee9"
down_revision: str | None = "e8f1a3c5b7d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The per-org advisory locks that order events are in namespace 0x65766E74 ("evnt").
ORG_ROW_FIRST = """
CREATE OR REPLACE FUNCTION perfapi_sequence_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The org's data version row before the org's event lock: the order every commit
    -- takes them in, whichever of its writes came first.
    PERFORM 1 FROM org_data_versions WHERE org_id = NEW.org_id FOR UPDATE;
    -- Held until the transaction ends, so the next commit of this org numbers after it.
    PERFORM pg_advisory_xact_lock(1702260340, hashtext(NEW.org_id::text));
    UPDATE events SET position = nextval('event_position_seq')
    WHERE org_id = NEW.org_id AND seq = NEW.seq;
    PERFORM pg_notify('perfapi_events', NEW.org_id::text);
    RETURN NULL;
END
$$
"""

LOCK_ONLY = """
CREATE OR REPLACE FUNCTION perfapi_sequence_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Held until the transaction ends, so the next commit of this org numbers after it.
    PERFORM pg_advisory_xact_lock(1702260340, hashtext(NEW.org_id::text));
    UPDATE events SET position = nextval('event_position_seq')
    WHERE org_id = NEW.org_id AND seq = NEW.seq;
    PERFORM pg_notify('perfapi_events', NEW.org_id::text);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(ORG_ROW_FIRST)


def downgrade() -> None:
    op.execute(LOCK_ONLY)
