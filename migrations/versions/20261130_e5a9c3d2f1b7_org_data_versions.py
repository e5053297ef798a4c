"""per-org data versions for conditional GET, bumped by triggers

Every table an answer is computed from gets statement-level triggers that note
the orgs a statement wrote to (transition tables, so a COPY of 10,000 points
costs one note, not 10,000); a deferred constraint trigger turns the note into
a new version of the org at commit. Points and check-ins also note the latest
time they are dated at (``dated_until``), which tells whether an answer "as of
now" can change without a write.

Revision ID: e5a9c3d2f1b7
Revises: b4e1d07c9f2a
Create Date: 2026-11-30 02:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5a9c3d2f1b7"
down_revision: str | None = "b4e1d07c9f2a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table an answer is read from, and the column that dates its rows (if any).
# Not here: orgs (no tenant data), idempotency_keys (never read back), and
# rollup_changes (bookkeeping: reads are exact with or without a pending change).
WATCHED = (
    ("api_keys", None),
    ("objectives", None),
    ("key_results", None),
    ("check_ins", "at"),
    ("objective_kpis", None),
    ("kpis", None),
    ("kpi_targets", None),
    ("points", "ts"),
    ("kpi_day_rollups", None),
    ("kpi_month_rollups", None),
    ("webhook_sources", None),
    ("webhook_deliveries", None),
)

NOTE_CHANGE = """
CREATE FUNCTION perfapi_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[0]: the column dating the rows, when the rows are dated.
    IF TG_NARGS = 0 THEN
        INSERT INTO data_version_bumps (org_id, tx)
        SELECT DISTINCT org_id, txid_current() FROM changed_rows
        ON CONFLICT DO NOTHING;
    ELSE
        EXECUTE format(
            'INSERT INTO data_version_bumps (org_id, tx, dated_until) '
            'SELECT org_id, txid_current(), max(%I) FROM changed_rows GROUP BY org_id '
            'ON CONFLICT (org_id, tx) DO UPDATE SET dated_until = '
            'GREATEST(data_version_bumps.dated_until, EXCLUDED.dated_until)',
            TG_ARGV[0]
        );
    END IF;
    RETURN NULL;
END
$$
"""

BUMP_VERSION = """
CREATE FUNCTION perfapi_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted_until timestamptz;
BEGIN
    DELETE FROM data_version_bumps WHERE org_id = NEW.org_id AND tx = NEW.tx
    RETURNING dated_until INTO noted_until;
    INSERT INTO org_data_versions (org_id, version, dated_until)
    VALUES (NEW.org_id, nextval('data_version_seq'), noted_until)
    ON CONFLICT (org_id) DO UPDATE SET
        version = EXCLUDED.version,
        dated_until = GREATEST(org_data_versions.dated_until, EXCLUDED.dated_until);
    RETURN NULL;
END
$$
"""


def _triggers(table: str, dated_by: str | None) -> list[str]:
    dated = f"'{dated_by}'" if dated_by else ""
    return [
        f"CREATE TRIGGER {table}_data_version_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING {transition} TABLE AS changed_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION perfapi_note_change({argument})"
        for event, transition, argument in (
            ("INSERT", "NEW", dated),
            ("UPDATE", "NEW", dated),
            # A deleted row's date does not matter: it no longer counts at any time.
            ("DELETE", "OLD", ""),
        )
    ]


def upgrade() -> None:
    op.execute("CREATE SEQUENCE data_version_seq")
    op.create_table(
        "org_data_versions",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("dated_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("org_id", name=op.f("org_data_versions_pkey")),
    )
    op.create_table(
        "data_version_bumps",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("tx", sa.BigInteger(), nullable=False),
        sa.Column("dated_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "tx", name=op.f("data_version_bumps_pkey")),
    )
    op.execute(NOTE_CHANGE)
    op.execute(BUMP_VERSION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER data_version_bumps_apply AFTER INSERT ON data_version_bumps "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION perfapi_bump_data_version()"
    )
    for table, dated_by in WATCHED:
        for statement in _triggers(table, dated_by):
            op.execute(statement)


def downgrade() -> None:
    for table, _ in WATCHED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_data_version_{event} ON {table}")
    op.drop_table("data_version_bumps")
    op.drop_table("org_data_versions")
    op.execute("DROP FUNCTION perfapi_bump_data_version()")
    op.execute("DROP FUNCTION perfapi_note_change()")
    op.execute("DROP SEQUENCE data_version_seq")
