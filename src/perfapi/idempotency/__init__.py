"""Idempotency-Key support: replay a completed request's reply instead of redoing it."""
