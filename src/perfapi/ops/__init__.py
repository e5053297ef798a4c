"""Operational plumbing: request ids, JSON logs, metrics, health endpoints, docs."""
