"""kpi rollups

Revision ID: 0ac6c42af0cc
Revises: 338316df4ccc
Create Date: 2026-11-27 04:39:39.942605+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0ac6c42af0cc"
down_revision: str | None = "338316df4ccc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_day_rollups",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dims_hash", sa.BigInteger(), nullable=False),
        sa.Column("dimensions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=False),
        sa.Column("sum_x", sa.Float(), nullable=False),
        sa.Column("sum_xx", sa.Float(), nullable=False),
        sa.Column("sum_xy", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "kpi_id", "day", "dims_hash", name=op.f("kpi_day_rollups_pkey")
        ),
    )
    op.create_table(
        "kpi_month_rollups",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("dims_hash", sa.BigInteger(), nullable=False),
        sa.Column("dimensions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=False),
        sa.Column("sum_x", sa.Float(), nullable=False),
        sa.Column("sum_xx", sa.Float(), nullable=False),
        sa.Column("sum_xy", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "kpi_id", "month", "dims_hash", name=op.f("kpi_month_rollups_pkey")
        ),
    )
    op.create_table(
        "rollup_changes",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("rollup_changes_pkey")),
    )
    op.create_index(
        op.f("rollup_changes_org_id_kpi_id_idx"),
        "rollup_changes",
        ["org_id", "kpi_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("rollup_changes_org_id_kpi_id_idx"), table_name="rollup_changes")
    op.drop_table("rollup_changes")
    op.drop_table("kpi_month_rollups")
    op.drop_table("kpi_day_rollups")
