"""Reading KPI aggregates over time ranges, through the rollups."""
