"""Outbound webhooks (DESIGN 9): where perfapi sends its events, and how safely."""
