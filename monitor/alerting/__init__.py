"""Alerting: rules over detector results, Alertmanager-style lifecycle, outbox delivery."""
