"""Measurements: ingestion (JSON, NDJSON, CSV; atomic, idempotent), reads and deletes."""
