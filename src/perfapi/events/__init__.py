"""The event log (DESIGN 9): every change recorded in its own transaction, and read back."""
