"""Can the service reach each receiver? (TCP connect, used by ``driftwarden rules apply``.)

Only a TCP connection to the URL's host and port is tried, never a request: a webhook
would act on a test POST, and Slack or PagerDuty would post it. Messages show scheme,
host and port only, since a Slack webhook's path is its secret.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from monitor.alerting.rules import AlertingConfig

TIMEOUT_SECONDS = 2.0


def _problem(url: str, timeout: float) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except socket.gaierror as exc:
        return f"host not found ({exc.strerror})"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _shown(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def reachability_problems(config: AlertingConfig, *, timeout: float = TIMEOUT_SECONDS) -> list[str]:
    """``receivers.2.url=http://127.0.0.1:9: connection refused`` for each receiver URL
    the service cannot open a TCP connection to; [] when all answer."""
    urls = [(f"receivers.{i}.url", r.url) for i, r in enumerate(config.receivers)]
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        results = list(pool.map(lambda item: _problem(item[1], timeout), urls))
    return [
        f"{path}={_shown(url)}: {problem}"
        for (path, url), problem in zip(urls, results, strict=True)
        if problem is not None
    ]
