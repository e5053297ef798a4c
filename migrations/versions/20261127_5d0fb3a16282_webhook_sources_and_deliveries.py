"""webhook sources and deliveries

Revision ID: 5d0fb3a16282
Revises: 0ac6c42af0cc
Create Date: 2026-11-27 04:59:39.460790+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5d0fb3a16282"
down_revision: str | None = "0ac6c42af0cc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_sources",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("scheme", sa.Text(), nullable=False),
        sa.Column("signature_header", sa.Text(), nullable=True),
        sa.Column("delivery_id_header", sa.Text(), nullable=True),
        sa.Column("mappings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint(
            "scheme IN ('standard', 'hmac_sha256')", name=op.f("webhook_sources_scheme_check")
        ),
        sa.CheckConstraint(
            "rate_limit_per_minute > 0", name=op.f("webhook_sources_rate_limit_check")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("webhook_sources_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("webhook_sources_pkey")),
        sa.UniqueConstraint("org_id", "name", name=op.f("webhook_sources_org_id_name_key")),
    )
    op.create_index(op.f("webhook_sources_id_idx"), "webhook_sources", ["id"], unique=True)
    op.create_index(
        op.f("webhook_sources_org_id_created_at_id_idx"),
        "webhook_sources",
        ["org_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_key", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("points_written", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('processed', 'failed')", name=op.f("webhook_deliveries_status_check")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "source_id"],
            ["webhook_sources.org_id", "webhook_sources.id"],
            name=op.f("webhook_deliveries_org_id_source_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("webhook_deliveries_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("webhook_deliveries_pkey")),
        sa.UniqueConstraint(
            "org_id",
            "source_id",
            "delivery_key",
            name=op.f("webhook_deliveries_org_id_source_id_delivery_key_key"),
        ),
    )
    op.create_index(
        op.f("webhook_deliveries_org_id_source_id_received_at_id_idx"),
        "webhook_deliveries",
        ["org_id", "source_id", "received_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("webhook_deliveries_org_id_source_id_received_at_id_idx"),
        table_name="webhook_deliveries",
    )
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("webhook_sources_org_id_created_at_id_idx"), table_name="webhook_sources")
    op.drop_index(op.f("webhook_sources_id_idx"), table_name="webhook_sources")
    op.drop_table("webhook_sources")
