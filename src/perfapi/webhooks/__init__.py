"""Inbound webhooks from HR and sales systems: signed, deduplicated, mapped into points."""
