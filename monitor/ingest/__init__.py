"""Ingestion: Kafka (and later HTTP) messages -> validated events -> PostgreSQL."""
