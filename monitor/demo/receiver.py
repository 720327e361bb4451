"""A real local HTTP receiver that records what it is sent (demo and tests)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingReceiver:
    """``with RecordingReceiver() as r: ... r.url ... r.requests``. ``statuses`` gives the
    HTTP status to answer for successive requests (then 200), to exercise retries;
    ``answer`` is the response body (Slack explains a 400 there: ``invalid_payload``);
    ``port`` binds a given port (a receiver coming back where its URL points)."""

    def __init__(
        self, statuses: list[int] | None = None, *, answer: bytes = b"", port: int = 0
    ) -> None:
        self.requests: list[ReceivedRequest] = []
        self._statuses = list(statuses or [])
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with outer._lock:
                    outer.requests.append(ReceivedRequest(self.path, dict(self.headers), body))
                    status = outer._statuses.pop(0) if outer._statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the demo's and tests' output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def __enter__(self) -> RecordingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
