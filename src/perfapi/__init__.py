"""perfapi: API-first strategy and performance management."""

__version__ = "0.1.0"
