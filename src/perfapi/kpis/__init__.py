"""KPIs and their targets."""
