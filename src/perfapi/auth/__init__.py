"""API keys, scopes and the caller's identity."""
