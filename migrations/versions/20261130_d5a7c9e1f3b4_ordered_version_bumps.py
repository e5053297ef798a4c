"""version bumps at commit take the org's row before a KPI's

At commit, a transaction that wrote points bumps its org's data version
(``org_data_versions``) and each written KPI's points version
(``kpi_point_versions``), in the order its writes queued them: a request that
inserted points first took the org's row, then the KPI's; one that noted rollup
changes first took them the other way round, and two such requests of one org
committing together could deadlock. A KPI's bump now locks its org's data
version row first, so every transaction takes the org's row before any KPI's.

Revision ID: d5a7c9e1f3b4
Revises: c4f6b8d0e2a3
Create Date: 2026-11-30 08:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d5a7c9e1f3b4"
down_revision: str | None = "c4f6b8d0e2a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_ROW_FIRST = """
CREATE OR REPLACE FUNCTION perfapi_bump_kpi_point_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The org's data version row before any KPI's: the order every commit takes them in.
    PERFORM 1 FROM org_data_versions WHERE org_id = NEW.org_id FOR UPDATE;
    DELETE FROM kpi_point_version_bumps
    WHERE org_id = NEW.org_id AND kpi_id = NEW.kpi_id AND tx = NEW.tx;
    INSERT INTO kpi_point_versions (org_id, kpi_id, version)
    VALUES (NEW.org_id, NEW.kpi_id, nextval('data_version_seq'))
    ON CONFLICT (org_id, kpi_id) DO UPDATE SET version = EXCLUDED.version;
    RETURN NULL;
END
$$
"""

KPI_ROW_ONLY = """
CREATE OR REPLACE FUNCTION perfapi_bump_kpi_point_version() RETURNS trigger LANGUAGE plpgsql AS $$
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
    op.execute(ORG_ROW_FIRST)


def downgrade() -> None:
    op.execute(KPI_ROW_ONLY)
