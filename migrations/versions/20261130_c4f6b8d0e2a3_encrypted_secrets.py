"""secrets encrypted at rest

Revision ID: c4f6b8d0e2a3
Revises: b3e5a7c9d1f2
Create Date: 2026-11-30 08:00:00.000000+00:00
"""

from collections.abc import Sequence

revision: str = "c4f6b8d0e2a3"
down_revision: str | None = "b3e5a7c9d1f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
