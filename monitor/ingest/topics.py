"""Create the ingest topics if they do not exist (deployments usually pre-create them)."""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError


def ensure_topics(
    bootstrap_servers: str | list[str],
    topics: list[str],
    *,
    partitions: int = 3,
    replication: int = -1,
) -> list[str]:
    """Create the missing topics; return the names created. ``replication=-1`` takes
    the broker's ``default.replication.factor``."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="driftwarden-admin")
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            # Another process may create them concurrently: that is success too.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [
                        NewTopic(t, num_partitions=partitions, replication_factor=replication)
                        for t in missing
                    ]
                )
        return missing
    finally:
        admin.close()
