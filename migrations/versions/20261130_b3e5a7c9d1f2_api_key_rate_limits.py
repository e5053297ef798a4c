"""per-key rate limits

Revision ID: b3e5a7c9d1f2
Revises: a2d4f6b8c0e1
Create Date: 2026-11-30 08:00:00.000000+00:00
"""

from collections.abc import Sequence

revision: str = "b3e5a7c9d1f2"
down_revision: str | None = "a2d4f6b8c0e1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
