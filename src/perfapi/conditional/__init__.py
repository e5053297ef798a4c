"""Conditional GET: ``ETag`` on answers computed from stored data, 304 for a current tag."""
