"""Objectives: the strategy tree, and its direct links to KPIs."""
