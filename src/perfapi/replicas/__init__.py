"""A streaming read replica for reports, series, forecasts and insights, used while it
keeps up; the primary serves those reads whenever it lags or is down."""
