"""``driftwarden dashboards push``: the folder, the PostgreSQL data source and the
dashboards, created or updated in a running Grafana through its HTTP API.

Uses ``grafana-client`` (the maintained successor of ``grafana-api``). Idempotent: each
object is read first and written only when it is missing or differs, so a second push
writes nothing. The data source's password goes in ``secureJsonData``, which Grafana
never returns: it is sent when the data source is created or its settings change (or
Grafana reports no password stored), never printed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaUnauthorizedError
from niquests.exceptions import RequestException
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.dashboards.builder import DATASOURCE_TYPE, DATASOURCE_UID, Dashboard

FOLDER_UID = "driftwarden"
DATASOURCE_NAME = "Driftwarden"
Outcome = Literal["created", "updated", "unchanged"]
# Keys Grafana adds to a stored dashboard that the generated model does not carry.
_SERVER_KEYS = ("id", "version")


class PushError(Exception):
    """A push that cannot go on; the message names the option or value at fault."""


@dataclass(frozen=True)
class Action:
    kind: Literal["folder", "datasource", "dashboard"]
    name: str
    outcome: Outcome


def connect(grafana_url: str, token: str, timeout: float = 10.0) -> GrafanaApi:
    parsed = urlparse(grafana_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise PushError(
            f"--grafana-url {grafana_url!r} is not an http(s) URL (e.g. http://localhost:3000)"
        )
    if not token:
        raise PushError("--token is empty: give a Grafana service account token")
    api: GrafanaApi = GrafanaApi.from_url(grafana_url, credential=token, timeout=timeout)
    return api


def datasource_spec(database_url: str) -> dict[str, Any]:
    """The data source Grafana should have for a PostgreSQL URL (user, password, host,
    port, database, sslmode from the URL; the password only in secureJsonData)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise PushError(
            "--datasource-url is not a database URL (postgresql://user:password@host:5432/db)"
        ) from None
    if not url.drivername.startswith("postgresql") or not url.host or not url.database:
        raise PushError(
            f"--datasource-url for {url.render_as_string(hide_password=True)!r} needs a "
            "postgresql:// URL with a host and a database"
        )
    sslmode = url.query.get("sslmode", "disable")
    spec: dict[str, Any] = {
        "name": DATASOURCE_NAME,
        "type": DATASOURCE_TYPE,
        "uid": DATASOURCE_UID,
        "access": "proxy",
        "url": f"{url.host}:{url.port or 5432}",
        "user": url.username or "",
        "isDefault": False,
        "jsonData": {
            "database": url.database,
            "sslmode": sslmode if isinstance(sslmode, str) else sslmode[0],
            "postgresVersion": 1600,
            "timescaledb": False,
        },
    }
    if url.password:
        spec["secureJsonData"] = {"password": str(url.password)}
    return spec


def push(
    api: GrafanaApi,
    grafana_url: str,
    dashboards: Sequence[Dashboard],
    datasource: dict[str, Any],
    folder_title: str = "Driftwarden",
) -> list[Action]:
    """Create or update the folder, data source and dashboards; what happened to each."""
    try:
        actions = [_folder(api, folder_title), _datasource(api, datasource)]
        actions.extend(_dashboard(api, d) for d in dashboards)
    except GrafanaUnauthorizedError:
        raise PushError(
            f"Grafana at {grafana_url} refused the token (401 Unauthorized): check --token "
            "(a service account token with the Editor or Admin role)"
        ) from None
    except GrafanaException as exc:
        raise PushError(
            f"Grafana at {grafana_url} answered HTTP {exc.status_code}: {exc.message}"
        ) from None
    except RequestException as exc:
        raise PushError(f"cannot reach Grafana at --grafana-url {grafana_url}: {exc}") from None
    return actions


def _write(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A write through grafana-client (its methods are untyped)."""
    return call(*args, **kwargs)


def _get(call: Callable[..., Any], *args: Any) -> Any:
    """The object, or None when Grafana answers 404."""
    try:
        return call(*args)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise


def _folder(api: GrafanaApi, title: str) -> Action:
    current = _get(api.folder.get_folder, FOLDER_UID)
    if current is None:
        _write(api.folder.create_folder, title, uid=FOLDER_UID)
        return Action("folder", title, "created")
    if current.get("title") == title:
        return Action("folder", title, "unchanged")
    _write(api.folder.update_folder, FOLDER_UID, title=title, overwrite=True)
    return Action("folder", title, "updated")


def _datasource(api: GrafanaApi, spec: dict[str, Any]) -> Action:
    current = _get(api.datasource.get_datasource_by_uid, DATASOURCE_UID)
    if current is None:
        _write(api.datasource.create_datasource, spec)
        return Action("datasource", spec["name"], "created")
    public = {k: v for k, v in spec.items() if k != "secureJsonData"}
    same = all(current.get(k) == v for k, v in public.items() if k != "jsonData") and all(
        current.get("jsonData", {}).get(k) == v for k, v in spec["jsonData"].items()
    )
    has_password = bool(current.get("secureJsonFields", {}).get("password"))
    if same and (has_password or "secureJsonData" not in spec):
        return Action("datasource", spec["name"], "unchanged")
    _write(api.datasource.update_datasource_by_uid, DATASOURCE_UID, spec)
    return Action("datasource", spec["name"], "updated")


def _dashboard(api: GrafanaApi, dashboard: Dashboard) -> Action:
    model = dashboard.to_json()
    current = _get(api.dashboard.get_dashboard, dashboard.uid)
    if current is not None:
        stored = {k: v for k, v in current["dashboard"].items() if k not in _SERVER_KEYS}
        ours = {k: v for k, v in model.items() if k not in _SERVER_KEYS}
        if stored == ours and current.get("meta", {}).get("folderUid") == FOLDER_UID:
            return Action("dashboard", dashboard.title, "unchanged")
    _write(
        api.dashboard.update_dashboard,
        {
            "dashboard": {k: v for k, v in model.items() if k != "version"},
            "folderUid": FOLDER_UID,
            "overwrite": True,
            "message": "driftwarden dashboards push",
        },
    )
    return Action("dashboard", dashboard.title, "created" if current is None else "updated")
