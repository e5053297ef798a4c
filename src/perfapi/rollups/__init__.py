"""Rollups: per-day and per-month summaries of KPI points, kept exact by recomputation."""
