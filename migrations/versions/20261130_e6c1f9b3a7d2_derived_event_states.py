"""derived events: the last announced state of each KPI and objective, per-org marks

Bookkeeping of the evaluator of derived events (``kpi.status_changed``,
``objective.progress_changed``, ``objective.achieved``); no answer is read from
these tables, so they are not watched for data versions.

Revision ID: e6c1f9b3a7d2
Revises: d4b7e2a9f3c1
Create Date: 2026-11-30 07:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e6c1f9b3a7d2"
down_revision: str | None = "d4b7e2a9f3c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "derived_event_marks",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("evaluated_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("derived_event_marks_org_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("derived_event_marks_pkey")),
    )
    op.create_table(
        "kpi_status_states",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "kpi_id"],
            ["kpis.org_id", "kpis.id"],
            name=op.f("kpi_status_states_org_id_kpi_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("kpi_status_states_org_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "kpi_id", name=op.f("kpi_status_states_pkey")),
    )
    op.create_table(
        "objective_progress_states",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("objective_id", sa.Uuid(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("achieved", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id", "objective_id"],
            ["objectives.org_id", "objectives.id"],
            name=op.f("objective_progress_states_org_id_objective_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("objective_progress_states_org_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "objective_id", name=op.f("objective_progress_states_pkey")
        ),
    )


def downgrade() -> None:
    op.drop_table("objective_progress_states")
    op.drop_table("kpi_status_states")
    op.drop_table("derived_event_marks")
