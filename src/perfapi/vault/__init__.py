"""Secrets at rest: webhook source and endpoint secrets, stored encrypted (AES-256-GCM)."""
