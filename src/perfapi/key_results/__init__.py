"""Key results of objectives, and check-ins recording their values over time."""
