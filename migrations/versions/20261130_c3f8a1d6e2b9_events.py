"""events: the event log, written with each change, ordered at commit

A deferred constraint trigger gives each event its position at commit, holding
a per-org advisory lock until the transaction ends: an org's positions follow
the order its transactions committed in. The log is watched for data versions
on insert and delete; its one update, the position given at commit, belongs to
a transaction whose insert already noted the org.

Revision ID: c3f8a1d6e2b9
Revises: a7d3e9f1c4b8
Create Date: 2026-11-30 06:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c3f8a1d6e2b9"
down_revision: str | None = "a7d3e9f1c4b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The per-org advisory locks that order events are in namespace 0x65766E74 ("evnt").
SEQUENCE_EVENT = """
CREATE FUNCTION perfapi_sequence_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Held until the transaction ends, so the next commit of this org numbers after it.
    PERFORM pg_advisory_xact_lock(1702260340, hashtext(NEW.org_id::text));
    UPDATE events SET position = nextval('event_position_seq')
    WHERE org_id = NEW.org_id AND seq = NEW.seq;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute("CREATE SEQUENCE event_position_seq")
    op.create_table(
        "events",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("events_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "seq", name=op.f("events_pkey")),
    )
    op.create_index(
        op.f("events_org_id_created_at_idx"), "events", ["org_id", "created_at"], unique=False
    )
    op.create_index(
        op.f("events_org_id_position_idx"), "events", ["org_id", "position"], unique=True
    )
    op.execute(SEQUENCE_EVENT)
    op.execute(
        "CREATE CONSTRAINT TRIGGER events_sequence AFTER INSERT ON events "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION perfapi_sequence_event()"
    )
    for event, transition in (("INSERT", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER events_data_version_{event.lower()} AFTER {event} ON events "
            f"REFERENCING {transition} TABLE AS changed_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION perfapi_note_change()"
        )


def downgrade() -> None:
    op.drop_index(op.f("events_org_id_position_idx"), table_name="events")
    op.drop_index(op.f("events_org_id_created_at_idx"), table_name="events")
    op.drop_table("events")
    op.execute("DROP FUNCTION perfapi_sequence_event()")
    op.execute("DROP SEQUENCE event_position_seq")
