"""bound stored measures to |x| <= 1e15

Before the bound, the API accepted any finite double: two points of 1e308 on
one day made every sum over them overflow, so every report of the org failed.
Values beyond the bound are clamped to it (NaN, which PostgreSQL sorts above
every number, to +1e15), and the days of clamped points are logged for the
rollup refresher, which recomputes them.

Revision ID: b4e1d07c9f2a
Revises: 7c2e4b1f9a3d
Create Date: 2026-11-30 00:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b4e1d07c9f2a"
down_revision: str | None = "7c2e4b1f9a3d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOUND = "1e15"
# Each (table, column) that reports aggregate or compare.
MEASURES = (
    ("points", "value"),
    ("check_ins", "value"),
    ("kpi_targets", "value"),
    ("key_results", "start_value"),
    ("key_results", "target_value"),
    ("key_results", "range_min"),
    ("key_results", "range_max"),
)


def _beyond(column: str) -> str:
    # NULL stays NULL; NaN counts as beyond (PostgreSQL orders it above everything).
    return f"({column} > {BOUND} OR {column} < -{BOUND})"


def upgrade() -> None:
    op.execute(
        "INSERT INTO rollup_changes (org_id, kpi_id, first_day, last_day) "  # noqa: S608
        "SELECT org_id, kpi_id, min((ts AT TIME ZONE 'UTC')::date), "
        "max((ts AT TIME ZONE 'UTC')::date) "
        f"FROM points WHERE {_beyond('value')} GROUP BY org_id, kpi_id"
    )
    for table, column in MEASURES:
        op.execute(
            f"UPDATE {table} SET {column} = CASE WHEN {column} < -{BOUND} THEN -{BOUND} "  # noqa: S608
            f"ELSE {BOUND} END WHERE {_beyond(column)}"
        )


def downgrade() -> None:
    # The clamped values are gone; the bound itself stays true of the data.
    pass
