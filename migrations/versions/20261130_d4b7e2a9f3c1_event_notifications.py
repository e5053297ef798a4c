"""events: a notification on channel perfapi_events at the commit of each

The trigger that positions an event at commit also sends ``pg_notify`` with the
org's id: PostgreSQL delivers it to every listening process when (and only if)
the transaction commits, once per org and transaction. Live streams wake on it
and read the log after their last position, so a lost or merged notification
costs a wake-up, never an event.

Revision ID: d4b7e2a9f3c1
Revises: c3f8a1d6e2b9
Create Date: 2026-11-30 06:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d4b7e2a9f3c1"
down_revision: str | None = "c3f8a1d6e2b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The per-org advisory locks that order events are in namespace 0x65766E74 ("evnt").
WITH_NOTIFY = """
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

WITHOUT_NOTIFY = """
CREATE OR REPLACE FUNCTION perfapi_sequence_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1702260340, hashtext(NEW.org_id::text));
    UPDATE events SET position = nextval('event_position_seq')
    WHERE org_id = NEW.org_id AND seq = NEW.seq;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(WITH_NOTIFY)


def downgrade() -> None:
    op.execute(WITHOUT_NOTIFY)
