"""rollup change retries

Revision ID: 7c2e4b1f9a3d
Revises: 5d0fb3a16282
Create Date: 2026-11-29 23:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2e4b1f9a3d"
down_revision: str | None = "5d0fb3a16282"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        "rollup_changes",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("rollup_changes", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column(
        "rollup_changes",
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "rollup_changes", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "rollup_changes_parked_idx",
        "rollup_changes",
        ["org_id", "kpi_id"],
        unique=False,
        postgresql_where=sa.text("parked_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "rollup_changes_parked_idx",
        table_name="rollup_changes",
        postgresql_where=sa.text("parked_at IS NOT NULL"),
    )
    op.drop_column("rollup_changes", "parked_at")
    op.drop_column("rollup_changes", "next_attempt_at")
    op.drop_column("rollup_changes", "last_error")
    op.drop_column("rollup_changes", "attempts")
