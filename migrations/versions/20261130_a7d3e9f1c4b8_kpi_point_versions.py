"""per-KPI points versions, bumped from the rollup change log

Every write of points appends to ``rollup_changes`` (one row per KPI and
statement), so a statement-level trigger there notes the KPIs a transaction
changed, and a deferred constraint trigger gives each a new version at commit,
as the org's data version is given. Forecast models are cached under these.

Revision ID: a7d3e9f1c4b8
Revises: f2c8d4a6b1e3
Create Date: 2026-11-30 05:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7d3e9f1c4b8"
down_revision: str | None = "f2c8d4a6b1e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTE_KPI_CHANGE = """
CREATE FUNCTION perfapi_note_kpi_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpi_point_version_bumps (org_id, kpi_id, tx)
    SELECT DISTINCT org_id, kpi_id, txid_current() FROM changed_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
"""

BUMP_KPI_VERSION = """
CREATE FUNCTION perfapi_bump_kpi_point_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM kpi_point_version_bumps
    WHERE org_id = NEW.org_id AND kpi_id = NEW.kpi_id AND tx = NEW.tx;
    INSERT INTO kpi_point_versions (org_id, kpi_id, version)
    VALUES (NEW.org_id, NEW.kpi_id, nextval('data_version_seq'))
    ON CONFLICT (org_id, kpi_id) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "kpi_point_versions",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "kpi_id", name=op.f("kpi_point_versions_pkey")),
    )
    op.create_table(
        "kpi_point_version_bumps",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kpi_id", sa.Uuid(), nullable=False),
        sa.Column("tx", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "kpi_id", "tx", name=op.f("kpi_point_version_bumps_pkey")
        ),
    )
    op.execute(NOTE_KPI_CHANGE)
    op.execute(BUMP_KPI_VERSION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER kpi_point_version_bumps_apply AFTER INSERT "
        "ON kpi_point_version_bumps DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "EXECUTE FUNCTION perfapi_bump_kpi_point_version()"
    )
    op.execute(
        "CREATE TRIGGER rollup_changes_kpi_point_version AFTER INSERT ON rollup_changes "
        "REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION perfapi_note_kpi_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER rollup_changes_kpi_point_version ON rollup_changes")
    op.drop_table("kpi_point_version_bumps")
    op.drop_table("kpi_point_versions")
    op.execute("DROP FUNCTION perfapi_bump_kpi_point_version()")
    op.execute("DROP FUNCTION perfapi_note_kpi_change()")
