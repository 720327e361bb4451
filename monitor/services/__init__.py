"""Local PostgreSQL and Kafka-protocol broker for the demo and the test harness.

Each resolver returns a :class:`Service`: where it is, and how to stop it if *we*
started it (a service found already running is never stopped by us).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Service:
    name: str
    address: str
    started_by_us: bool
    detail: str = ""
    _stop: Callable[[], None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0
