"""api_keys: rate_limit_per_minute

A key's own rate limit; NULL means the server's default
(PERFAPI_RATE_LIMIT_PER_MINUTE).

Revision ID: b3e5a7c9d1f2
Revises: a2d4f6b8c0e1
Create Date: 2026-11-30 08:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3e5a7c9d1f2"
down_revision: str | None = "a2d4f6b8c0e1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("api_keys_rate_limit_check"), "api_keys", "rate_limit_per_minute > 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("api_keys_rate_limit_check"), "api_keys", type_="check")
    op.drop_column("api_keys", "rate_limit_per_minute")
