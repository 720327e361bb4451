"""What the benches share: a scratch database, a broker, a child's peak RSS.

The benches run as scripts (``python bench/detect.py``), so this module is imported as
``support`` from the bench directory, as ``bench/multivariate.py`` imports ``drift``.
"""

from __future__ import annotations

from contextlib import ExitStack

from monitor.config import load_settings
from monitor.db import migrate
from monitor.services.broker import resolve_broker
from monitor.services.postgres import resolve_postgres, scratch_database

# Runs the command in argv and prints its peak RSS (KB). Linux counts in a child's
# ru_maxrss the memory of the process it was forked from (recorded at exec), so a bench
# holding large data by then cannot start the measured process itself: a fresh small
# interpreter forks it instead. Usage: [sys.executable, "-c", RSS_WRAPPER, *command].
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def scratch_postgres(stack: ExitStack, *, prefix: str, migrated: bool = True) -> str:
    """The SQLAlchemy URL of an empty database, dropped when ``stack`` closes, on the
    configured server (DRIFTWARDEN_DATABASE_URL) or else a local one (started if need
    be, and then stopped too). ``migrated``: with the schema (``driftwarden db upgrade``)."""
    configured = load_settings()
    server = resolve_postgres(
        configured.database_url if "database_url" in configured.model_fields_set else None
    )
    stack.callback(server.stop)
    db = scratch_database(server.address, prefix=prefix)
    stack.callback(db.stop)
    if migrated:
        migrate.upgrade(db.address)
    return db.address


def kafka_broker(stack: ExitStack) -> str:
    """The bootstrap address of the configured broker (DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS)
    or of one started here (stopped when ``stack`` closes)."""
    configured = load_settings()
    broker = resolve_broker(
        configured.kafka_bootstrap_servers
        if "kafka_bootstrap_servers" in configured.model_fields_set
        else None
    )
    stack.callback(broker.stop)
    return broker.address
