"""Organisations (tenants); created from the CLI, and once on first start."""
