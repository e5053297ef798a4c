"""Numbers computed on read: progress, goal achievement, KPI attainment, alignment, series."""
