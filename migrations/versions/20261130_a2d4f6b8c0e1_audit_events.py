"""audit log

Revision ID: a2d4f6b8c0e1
Revises: 989d901bc292
Create Date: 2026-11-30 08:00:00.000000+00:00
"""

from collections.abc import Sequence

revision: str = "a2d4f6b8c0e1"
down_revision: str | None = "989d901bc292"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
