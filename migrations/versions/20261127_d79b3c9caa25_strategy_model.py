"""strategy model: objectives, key results, check-ins, KPIs, targets, links

Revision ID: d79b3c9caa25
Revises: 1141c96925a3
Create Date: 2026-11-27 03:18:10.286051+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d79b3c9caa25"
down_revision: str | None = "1141c96925a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpis",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("aggregation", sa.Text(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), nullable=False),
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
            "aggregation IN ('sum', 'avg', 'min', 'max', 'last', 'count')",
            name=op.f("kpis_aggregation_check"),
        ),
        sa.CheckConstraint(
            "direction IN ('higher_is_better', 'lower_is_better')",
            name=op.f("kpis_direction_check"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("kpis_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("kpis_pkey")),
        sa.UniqueConstraint("org_id", "key", name=op.f("kpis_org_id_key_key")),
    )
    op.create_index(
        op.f("kpis_org_id_created_at_id_idx"), "kpis", ["org_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "objectives",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("team", sa.Text(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
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
            "status IN ('draft', 'active', 'closed', 'cancelled')",
            name=op.f("objectives_status_check"),
        ),
        sa.CheckConstraint("due_date >= start_date", name=op.f("objectives_period_check")),
        sa.CheckConstraint("weight > 0", name=op.f("objectives_weight_check")),
        sa.ForeignKeyConstraint(
            ["org_id", "parent_id"],
            ["objectives.org_id", "objectives.id"],
            name=op.f("objectives_org_id_parent_id_fkey"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("objectives_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("objectives_pkey")),
        sa.UniqueConstraint("org_id", "key", name=op.f("objectives_org_id_key_key")),
    )
    op.create_index(
        op.f("objectives_org_id_created_at_id_idx"),
        "objectives",
        ["org_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("objectives_org_id_due_date_idx"), "objectives", ["org_id", "due_date"], unique=False
    )
    op.create_index(
        op.f("objectives_org_id_parent_id_idx"), "objectives", ["org_id", "parent_id"], unique=False
    )
    op.create_table(
        "key_results",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("objective_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("start_value", sa.Float(), nullable=True),
        sa.Column("target_value", sa.Float(), nullable=True),
        sa.Column("range_min", sa.Float(), nullable=True),
        sa.Column("range_max", sa.Float(), nullable=True),
        sa.Column("kpi_id", sa.Uuid(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
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
            "direction IN ('increase', 'decrease', 'at_least', 'at_most', 'within')",
            name=op.f("key_results_direction_check"),
        ),
        sa.CheckConstraint("weight > 0", name=op.f("key_results_weight_check")),
        sa.ForeignKeyConstraint(
            ["org_id", "kpi_id"],
            ["kpis.org_id", "kpis.id"],
            name=op.f("key_results_org_id_kpi_id_fkey"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "objective_id"],
            ["objectives.org_id", "objectives.id"],
            name=op.f("key_results_org_id_objective_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("key_results_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("key_results_pkey")),
    )
    op.create_index(
        op.f("key_results_org_id_kpi_id_idx"), "key_results", ["org_id", "kpi_id"], unique=False
    )
    op.create_index(
        op.f("key_results_org_id_objective_id_created_at_id_idx"),
        "key_results",
        ["org_id", "objective_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "kpi_targets",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
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
        sa.CheckConstraint("period_end >= period_start", name=op.f("kpi_targets_period_check")),
        sa.ForeignKeyConstraint(
            ["org_id", "kpi_id"],
            ["kpis.org_id", "kpis.id"],
            name=op.f("kpi_targets_org_id_kpi_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("kpi_targets_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("kpi_targets_pkey")),
    )
    op.create_index(
        op.f("kpi_targets_org_id_kpi_id_period_start_idx"),
        "kpi_targets",
        ["org_id", "kpi_id", "period_start"],
        unique=False,
    )
    op.create_table(
        "objective_kpis",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("objective_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
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
        sa.CheckConstraint("weight > 0", name=op.f("objective_kpis_weight_check")),
        sa.ForeignKeyConstraint(
            ["org_id", "kpi_id"],
            ["kpis.org_id", "kpis.id"],
            name=op.f("objective_kpis_org_id_kpi_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "objective_id"],
            ["objectives.org_id", "objectives.id"],
            name=op.f("objective_kpis_org_id_objective_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("objective_kpis_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "objective_id", "kpi_id", name=op.f("objective_kpis_pkey")
        ),
    )
    op.create_index(
        op.f("objective_kpis_org_id_kpi_id_idx"),
        "objective_kpis",
        ["org_id", "kpi_id"],
        unique=False,
    )
    op.create_table(
        "check_ins",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_result_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
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
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name=op.f("check_ins_confidence_check")),
        sa.ForeignKeyConstraint(
            ["org_id", "key_result_id"],
            ["key_results.org_id", "key_results.id"],
            name=op.f("check_ins_org_id_key_result_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("check_ins_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("check_ins_pkey")),
    )
    op.create_index(
        op.f("check_ins_org_id_key_result_id_at_id_idx"),
        "check_ins",
        ["org_id", "key_result_id", "at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("check_ins_org_id_key_result_id_at_id_idx"), table_name="check_ins")
    op.drop_table("check_ins")
    op.drop_index(op.f("objective_kpis_org_id_kpi_id_idx"), table_name="objective_kpis")
    op.drop_table("objective_kpis")
    op.drop_index(op.f("kpi_targets_org_id_kpi_id_period_start_idx"), table_name="kpi_targets")
    op.drop_table("kpi_targets")
    op.drop_index(
        op.f("key_results_org_id_objective_id_created_at_id_idx"), table_name="key_results"
    )
    op.drop_index(op.f("key_results_org_id_kpi_id_idx"), table_name="key_results")
    op.drop_table("key_results")
    op.drop_index(op.f("objectives_org_id_parent_id_idx"), table_name="objectives")
    op.drop_index(op.f("objectives_org_id_due_date_idx"), table_name="objectives")
    op.drop_index(op.f("objectives_org_id_created_at_id_idx"), table_name="objectives")
    op.drop_table("objectives")
    op.drop_index(op.f("kpis_org_id_created_at_id_idx"), table_name="kpis")
    op.drop_table("kpis")
