"""objectives: check_in_every_days

How often an objective's checked-in key results expect a check-in; NULL means
as its parent asks (14 days at a root).

Revision ID: f2c8d4a6b1e3
Revises: e5a9c3d2f1b7
Create Date: 2026-11-30 03:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2c8d4a6b1e3"
down_revision: str | None = "e5a9c3d2f1b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("objectives", sa.Column("check_in_every_days", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("objectives_check_in_every_days_check"),
        "objectives",
        "check_in_every_days BETWEEN 1 AND 366",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("objectives_check_in_every_days_check"), "objectives", type_="check")
    op.drop_column("objectives", "check_in_every_days")
