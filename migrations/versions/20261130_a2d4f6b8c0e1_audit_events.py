"""audit log

One row per write, inserted in the write's transaction. The log is watched for
data versions like the tables it describes, so ``GET /v1/audit-events`` answers
conditional requests: every audited write changes a watched table anyway, and
pruning old entries changes the list too. Entries are never updated; the update
trigger is there only so every watched table carries the same three.

Revision ID: a2d4f6b8c0e1
Revises: 989d901bc292
Create Date: 2026-11-30 08:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a2d4f6b8c0e1"
down_revision: str | None = "989d901bc292"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "actor_type IN ('api_key', 'jwt', 'cli')", name=op.f("audit_events_actor_type_check")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("audit_events_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("audit_events_pkey")),
    )
    op.create_index(op.f("audit_events_org_id_at_id_idx"), "audit_events", ["org_id", "at", "id"])
    op.create_index(
        op.f("audit_events_org_id_resource_type_resource_id_at_idx"),
        "audit_events",
        ["org_id", "resource_type", "resource_id", "at"],
    )
    op.create_index(
        op.f("audit_events_org_id_actor_id_at_idx"), "audit_events", ["org_id", "actor_id", "at"]
    )
    for event, transition in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER audit_events_data_version_{event.lower()} AFTER {event} "
            f"ON audit_events REFERENCING {transition} TABLE AS changed_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION perfapi_note_change()"
        )


def downgrade() -> None:
    op.drop_table("audit_events")
