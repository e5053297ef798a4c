"""Forecasts and anomalies of KPIs: their history per bucket, fitted with domain.forecasting."""
