"""outbound webhooks: endpoints, the fan-out mark, deliveries and attempts

Endpoints are configuration a client reads (watched for data versions, like the
other resources); the fan-out mark, deliveries and attempts are the sender's
bookkeeping, changed by every delivery, and are not.

Revision ID: 989d901bc292
Revises: e6c1f9b3a7d2
Create Date: 2026-11-30 06:41:43.204989+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "989d901bc292"
down_revision: str | None = "e6c1f9b3a7d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("starts_after", sa.BigInteger(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("webhook_endpoints_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("webhook_endpoints_pkey")),
    )
    op.create_index(
        op.f("webhook_endpoints_org_id_created_at_id_idx"),
        "webhook_endpoints",
        ["org_id", "created_at", "id"],
        unique=False,
    )
    for event, transition in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER webhook_endpoints_data_version_{event.lower()} AFTER {event} "
            f"ON webhook_endpoints REFERENCING {transition} TABLE AS changed_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION perfapi_note_change()"
        )
    op.create_table(
        "webhook_fanout_marks",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("webhook_fanout_marks_org_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("webhook_fanout_marks_pkey")),
    )
    op.create_table(
        "webhook_endpoint_deliveries",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')",
            name=op.f("webhook_endpoint_deliveries_status_check"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "endpoint_id"],
            ["webhook_endpoints.org_id", "webhook_endpoints.id"],
            name=op.f("webhook_endpoint_deliveries_org_id_endpoint_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "event_seq"],
            ["events.org_id", "events.seq"],
            name=op.f("webhook_endpoint_deliveries_org_id_event_seq_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("webhook_endpoint_deliveries_org_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("webhook_endpoint_deliveries_pkey")),
        sa.UniqueConstraint(
            "org_id",
            "endpoint_id",
            "event_seq",
            name=op.f("webhook_endpoint_deliveries_org_id_endpoint_id_event_seq_key"),
        ),
    )
    op.create_index(
        "webhook_endpoint_deliveries_due_idx",
        "webhook_endpoint_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        op.f("webhook_endpoint_deliveries_org_id_event_seq_idx"),
        "webhook_endpoint_deliveries",
        ["org_id", "event_seq"],
        unique=False,
    )
    op.create_table(
        "webhook_endpoint_attempts",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("event_position", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('succeeded', 'failed')", name=op.f("webhook_endpoint_attempts_status_check")
        ),
        sa.CheckConstraint(
            "trigger IN ('scheduled', 'manual')",
            name=op.f("webhook_endpoint_attempts_trigger_check"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "delivery_id"],
            ["webhook_endpoint_deliveries.org_id", "webhook_endpoint_deliveries.id"],
            name=op.f("webhook_endpoint_attempts_org_id_delivery_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("webhook_endpoint_attempts_org_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("webhook_endpoint_attempts_pkey")),
    )
    op.create_index(
        op.f("webhook_endpoint_attempts_org_id_delivery_id_idx"),
        "webhook_endpoint_attempts",
        ["org_id", "delivery_id"],
        unique=False,
    )
    op.create_index(
        op.f("webhook_endpoint_attempts_org_id_endpoint_id_attempted_at_id_idx"),
        "webhook_endpoint_attempts",
        ["org_id", "endpoint_id", "attempted_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("webhook_endpoint_attempts_org_id_endpoint_id_attempted_at_id_idx"),
        table_name="webhook_endpoint_attempts",
    )
    op.drop_index(
        op.f("webhook_endpoint_attempts_org_id_delivery_id_idx"),
        table_name="webhook_endpoint_attempts",
    )
    op.drop_table("webhook_endpoint_attempts")
    op.drop_index(
        op.f("webhook_endpoint_deliveries_org_id_event_seq_idx"),
        table_name="webhook_endpoint_deliveries",
    )
    op.drop_index(
        "webhook_endpoint_deliveries_due_idx",
        table_name="webhook_endpoint_deliveries",
        postgresql_where="status = 'pending'",
    )
    op.drop_table("webhook_endpoint_deliveries")
    op.drop_table("webhook_fanout_marks")
    op.drop_index(
        op.f("webhook_endpoints_org_id_created_at_id_idx"), table_name="webhook_endpoints"
    )
    op.drop_table("webhook_endpoints")
