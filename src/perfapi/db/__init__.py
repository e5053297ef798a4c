"""Database plumbing: ORM base, engine, per-request session, embedded server, migrations."""
