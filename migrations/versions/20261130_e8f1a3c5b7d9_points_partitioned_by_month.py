# ruff: noqa: S608 -- statements are built from month numbers and catalog values only.
"""points range-partitioned by UTC month on ts

``points`` becomes a partitioned table with one partition per UTC month
(``points_YYYY_MM``), so that old months can be dropped whole and time-bounded
reads touch only their months. The rows move into partitions made for every
month they fall in, plus the current month and the next three (the server
makes later ones itself). The primary key stays (org_id, kpi_id, ts, dims_hash);
the table's triggers (data versions), grants, comments, owner and column
statistics targets are carried over to the new table. Each partition also gets
the table's statement-level triggers: PostgreSQL clones only row-level ones to
partitions, and writers may address a partition directly (a COPY of one
month's points), whose statements fire only that partition's triggers. The
downgrade turns it back into a plain table holding the same rows.

Revision ID: e8f1a3c5b7d9
Revises: d5a7c9e1f3b4
Create Date: 2026-11-30 10:00:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import Connection, text

revision: str = "e8f1a3c5b7d9"
down_revision: str | None = "d5a7c9e1f3b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3  # PERFAPI_POINTS_PARTITIONS_AHEAD's default

COLUMNS = (
    "org_id uuid NOT NULL, kpi_id uuid NOT NULL, ts timestamp with time zone NOT NULL, "
    "dims_hash bigint NOT NULL, value double precision NOT NULL, dimensions jsonb NOT NULL, "
    "CONSTRAINT points_pkey PRIMARY KEY (org_id, kpi_id, ts, dims_hash)"
)
COLUMN_NAMES = "org_id, kpi_id, ts, dims_hash, value, dimensions"

# Statements that give a new ``points`` what the current one has beyond its columns and
# key, read from the catalog before the current one is renamed.
CARRIED_OVER = (
    # Triggers (the data version notes); definitions name the table as ``points``.
    "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t "
    "WHERE t.tgrelid = 'points'::regclass AND NOT t.tgisinternal ORDER BY t.tgname",
    # Table privileges given to others than the owner.
    "SELECT format('GRANT %s ON points TO %s%s', a.privilege_type, "
    "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, "
    "CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) "
    "FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a "
    "WHERE c.oid = 'points'::regclass AND a.grantee <> c.relowner",
    # Column privileges.
    "SELECT format('GRANT %s (%I) ON points TO %s%s', a.privilege_type, att.attname, "
    "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, "
    "CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) "
    "FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid "
    "CROSS JOIN LATERAL aclexplode(att.attacl) a "
    "WHERE att.attrelid = 'points'::regclass AND att.attnum > 0 AND a.grantee <> c.relowner",
    # Comments.
    "SELECT format('COMMENT ON TABLE points IS %L', d) "
    "FROM obj_description('points'::regclass, 'pg_class') d WHERE d IS NOT NULL",
    "SELECT format('COMMENT ON COLUMN points.%I IS %L', attname, "
    "col_description(attrelid, attnum)) FROM pg_attribute WHERE attrelid = 'points'::regclass "
    "AND attnum > 0 AND NOT attisdropped AND col_description(attrelid, attnum) IS NOT NULL",
    # Statistics targets set per column.
    "SELECT format('ALTER TABLE points ALTER COLUMN %I SET STATISTICS %s', attname, "
    "attstattarget) FROM pg_attribute WHERE attrelid = 'points'::regclass AND attnum > 0 "
    "AND NOT attisdropped AND coalesce(attstattarget, -1) >= 0",
    # The owner, when it is not who migrates.
    "SELECT format('ALTER TABLE points OWNER TO %I', pg_get_userbyid(relowner)) "
    "FROM pg_class WHERE oid = 'points'::regclass AND pg_get_userbyid(relowner) <> current_user",
)


# The statement-level triggers of points, each to be made on a partition.
STATEMENT_TRIGGERS = (
    "SELECT pg_get_triggerdef(t.oid), quote_ident(n.nspname) FROM pg_trigger t "
    "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE t.tgrelid = 'points'::regclass AND NOT t.tgisinternal AND t.tgtype & 1 = 0 "
    "ORDER BY t.tgname"
)


def _carried_over(bind: Connection) -> list[str]:
    return [row[0] for query in CARRIED_OVER for row in bind.execute(text(query))]


def _partition_name(month: int) -> str:
    year, index = divmod(month, 12)
    return f"points_{year:04d}_{index + 1:02d}"


def _start(month: int) -> str:
    year, index = divmod(month, 12)
    return f"{year:04d}-{index + 1:02d}-01 00:00:00+00"


def upgrade() -> None:
    bind = op.get_bind()
    carried = _carried_over(bind)
    now = datetime.now(UTC)
    current = now.year * 12 + now.month - 1
    present = bind.execute(
        text(
            "SELECT DISTINCT CAST(extract(year FROM ts AT TIME ZONE 'UTC') * 12"
            " + extract(month FROM ts AT TIME ZONE 'UTC') - 1 AS integer) FROM points"
        )
    ).scalars()
    months = sorted(set(present) | set(range(current, current + MONTHS_AHEAD + 1)))

    op.execute("ALTER TABLE points RENAME TO points_unpartitioned")
    op.execute(
        "ALTER TABLE points_unpartitioned RENAME CONSTRAINT points_pkey "
        "TO points_unpartitioned_pkey"
    )
    op.execute(f"CREATE TABLE points ({COLUMNS}) PARTITION BY RANGE (ts)")
    for month in months:
        op.execute(
            f"CREATE TABLE {_partition_name(month)} PARTITION OF points "
            f"FOR VALUES FROM ('{_start(month)}') TO ('{_start(month + 1)}')"
        )
    # Before the triggers: moving rows changes no data, so it bumps no data version.
    op.execute(
        f"INSERT INTO points ({COLUMN_NAMES}) SELECT {COLUMN_NAMES} FROM points_unpartitioned"
    )
    op.execute("DROP TABLE points_unpartitioned")
    for statement in carried:
        op.execute(statement)
    for definition, schema in bind.execute(text(STATEMENT_TRIGGERS)).all():
        for month in months:
            op.execute(
                definition.replace(
                    f" ON {schema}.points ", f" ON {schema}.{_partition_name(month)} ", 1
                )
            )


def downgrade() -> None:
    bind = op.get_bind()
    carried = _carried_over(bind)
    op.execute("ALTER TABLE points RENAME TO points_partitioned")
    op.execute(
        "ALTER TABLE points_partitioned RENAME CONSTRAINT points_pkey TO points_partitioned_pkey"
    )
    op.execute(f"CREATE TABLE points ({COLUMNS})")
    op.execute(f"INSERT INTO points ({COLUMN_NAMES}) SELECT {COLUMN_NAMES} FROM points_partitioned")
    op.execute("DROP TABLE points_partitioned")  # and its partitions
    for statement in carried:
        op.execute(statement)
