"""A local HTTP server that answers the Grafana HTTP API endpoints ``dashboards push``
uses, keeps what it is sent in memory and records every request.

Its answers follow Grafana 11's: 404 for a missing folder, data source or dashboard;
401 without the expected bearer token; the password of a data source kept out of reads
(only ``secureJsonFields.password: true``); a dashboard's ``version`` bumped on each save.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WRITES = ("POST", "PUT", "DELETE", "PATCH")


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str


@dataclass
class GrafanaState:
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in WRITES]


class FakeGrafana:
    def __init__(self, token: str) -> None:
        self.token = token
        self.state = GrafanaState()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                auth = self.headers.get("Authorization", "")
                grafana.state.requests.append(Recorded(self.command, self.path, body, auth))
                if auth != f"Bearer {grafana.token}":
                    self._send(401, {"message": "Unauthorized"})
                    return
                status, answer = grafana._route(self.command, self.path, body)
                self._send(status, answer)

            def _send(self, status: int, answer: Any) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        s = self.state
        parts = path.split("?", maxsplit=1)[0].strip("/").split("/")
        match method, parts:
            case "GET", ["api", "folders", uid]:
                return (200, s.folders[uid]) if uid in s.folders else _not_found("folder")
            case "POST", ["api", "folders"]:
                uid = body["uid"]
                if uid in s.folders:
                    return 409, {"message": "a folder with that uid already exists"}
                s.folders[uid] = {"uid": uid, "title": body["title"], "version": 1}
                return 200, s.folders[uid]
            case "PUT", ["api", "folders", uid]:
                if uid not in s.folders:
                    return _not_found("folder")
                s.folders[uid] = {**s.folders[uid], "title": body["title"]}
                return 200, s.folders[uid]
            case "GET", ["api", "datasources", "uid", uid]:
                if uid not in s.datasources:
                    return _not_found("data source")
                stored = {**s.datasources[uid], "secureJsonFields": {}}
                if uid in s.passwords:
                    stored["secureJsonFields"] = {"password": True}
                return 200, stored
            case ("POST", ["api", "datasources"]) | ("PUT", ["api", "datasources", "uid", _]):
                uid = body["uid"]
                if method == "POST" and uid in s.datasources:
                    return 409, {"message": "data source with the same uid already exists"}
                if method == "PUT" and uid not in s.datasources:
                    return _not_found("data source")
                secure = body.get("secureJsonData") or {}
                if "password" in secure:
                    s.passwords[uid] = secure["password"]
                s.datasources[uid] = {
                    **{k: v for k, v in body.items() if k != "secureJsonData"},
                    "id": len(s.datasources) + 1,
                    "readOnly": False,
                }
                return 200, {"datasource": s.datasources[uid], "message": "Datasource saved"}
            case "GET", ["api", "dashboards", "uid", uid]:
                if uid not in s.dashboards:
                    return _not_found("dashboard")
                return 200, s.dashboards[uid]
            case "POST", ["api", "dashboards", "db"]:
                model = body["dashboard"]
                uid = model["uid"]
                old = s.dashboards.get(uid)
                if old is not None and not body.get("overwrite"):
                    return 412, {"status": "version-mismatch", "message": "exists"}
                if body.get("folderUid") not in s.folders:
                    return 400, {"message": "folder not found"}
                version = 1 if old is None else old["dashboard"]["version"] + 1
                stored = {**model, "id": len(s.dashboards) + 1, "version": version}
                s.dashboards[uid] = {
                    "dashboard": stored,
                    "meta": {"folderUid": body["folderUid"], "version": version},
                }
                return 200, {"status": "success", "uid": uid, "version": version}
        return 404, {"message": f"no route {method} {path}"}


def _not_found(what: str) -> tuple[int, Any]:
    return 404, {"message": f"{what} not found"}
