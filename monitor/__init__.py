"""Driftwarden service: ingestion, detection, alerting, API and CLI (all I/O lives here)."""
