"""The HTTP API (FastAPI). Nothing else in the service imports it."""
