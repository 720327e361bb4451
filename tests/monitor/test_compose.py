"""docker-compose.yml, Dockerfile and Grafana provisioning, checked without a Docker engine."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_parse import leaf_context
from sqlalchemy import make_url
from typer.exceptions import TyperException

from monitor.api.app import create_app
from monitor.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = sorted(name for name, service in SERVICES.items() if "build" in service)
PG_ENV: dict[str, str] = SERVICES["postgres"]["environment"]
PG_LOGIN = (PG_ENV["POSTGRES_USER"], PG_ENV["POSTGRES_PASSWORD"], PG_ENV["POSTGRES_DB"])
# name:MAJOR.MINOR[...]: no bare name, no `latest`, no major-only floating tag.
PINNED = re.compile(r"[a-z0-9./-]+:\d+\.\d+[\w.-]*")


def test_services_and_start_order() -> None:
    assert "version" not in COMPOSE  # obsolete in the Compose spec
    assert set(SERVICES) == {"postgres", "kafka", "grafana", *OURS}
    assert OURS == ["alert", "api", "detect", "ingest", "migrate", "topics", "traffic"]
    assert [n for n, service in SERVICES.items() if "profiles" in service] == ["traffic"]
    condition = {
        (name, dep): spec["condition"]
        for name, service in SERVICES.items()
        for dep, spec in service.get("depends_on", {}).items()
    }
    assert condition["migrate", "postgres"] == condition["topics", "kafka"] == "service_healthy"
    assert condition["grafana", "migrate"] == "service_completed_successfully"
    for name in ("ingest", "detect", "alert", "api", "traffic"):
        for setup in ("migrate", "topics"):
            assert condition[name, setup] == "service_completed_successfully"
    for (_, dep), cond in condition.items():
        assert cond != "service_healthy" or "healthcheck" in SERVICES[dep], dep
    for setup in ("migrate", "topics"):  # one-shot jobs: a restart policy would loop them
        assert "restart" not in SERVICES[setup]


def test_every_image_is_pinned() -> None:
    for name, service in SERVICES.items():
        if name in OURS:
            assert "image" not in service, name
        else:
            assert PINNED.fullmatch(service["image"]), service["image"]


@pytest.mark.parametrize("service", OURS)
def test_service_command_parses_with_the_cli(service: str) -> None:
    command = SERVICES[service]["command"]
    args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    assert leaf_context(args).command.callback is not None


@pytest.mark.parametrize(
    "args", [["topics"], ["nosuch"], ["detect", "--intervall", "60"], ["alert", "--interval", "x"]]
)
def test_bad_commands_are_caught(args: list[str]) -> None:
    with pytest.raises(TyperException):
        leaf_context(args)


def test_environment_matches_settings_and_services() -> None:
    used = set(re.findall(r"\bDRIFTWARDEN_[A-Z0-9_]+", COMPOSE_TEXT))
    assert used
    assert used <= {ENV_PREFIX + field.upper() for field in Settings.model_fields}
    advertised = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    for name in OURS:
        env = SERVICES[name]["environment"]
        s = Settings(**{k.removeprefix(ENV_PREFIX).lower(): v for k, v in env.items()})
        url = make_url(s.database_url)
        assert (url.host, url.username, url.password, url.database) == ("postgres", *PG_LOGIN)
        assert [f"PLAINTEXT://{b}" for b in s.bootstrap_servers] == [
            a for a in advertised if a.startswith("PLAINTEXT://")
        ]


def test_dockerfile() -> None:
    lines = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    instr = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    assert [json.loads(arg) for op, arg in instr if op == "ENTRYPOINT"] == [["driftwarden"]]
    runs = " ".join(arg for op, arg in instr if op == "RUN")
    assert re.search(r"pip install --no-cache-dir -c constraints\.txt -e \.(\s|$)", runs)
    assert [arg for op, arg in instr if op == "USER"][-1] not in ("root", "0")
    [base] = [arg for op, arg in instr if op == "FROM"]
    assert base.startswith("python:3.11."), base
    assert PINNED.fullmatch(base), base
    copied = {src for op, arg in instr if op == "COPY" for src in arg.split()[:-1]}
    assert all((ROOT / src).exists() for src in copied), copied
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["readme"]
    assert {"pyproject.toml", "constraints.txt", readme, "alembic/", "monitor/"} <= copied


def test_grafana_provisioning() -> None:
    provisioning = ROOT / "dashboards" / "provisioning"
    ds = yaml.safe_load((provisioning / "datasources" / "driftwarden.yaml").read_text())
    [src] = ds["datasources"]
    assert src["uid"] == "driftwarden-pg"
    assert (src["type"], src["url"]) == ("grafana-postgresql-datasource", "postgres:5432")
    login = (src["user"], src["secureJsonData"]["password"], src["jsonData"]["database"])
    assert login == PG_LOGIN
    boards = yaml.safe_load((provisioning / "dashboards" / "driftwarden.yaml").read_text())
    [provider] = boards["providers"]
    target_to_source = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["grafana"]["volumes"]}
    assert target_to_source["/etc/grafana/provisioning"] == "./dashboards/provisioning"
    assert target_to_source[provider["options"]["path"]] == "./dashboards"
    for source in target_to_source.values():
        assert not source.startswith("./") or (ROOT / source).is_dir(), source


def test_long_running_roles_have_health_checks_on_real_endpoints() -> None:
    routes = {getattr(r, "path", "") for r in create_app(Settings()).routes}
    for name in ("ingest", "detect", "alert", "api"):
        probe = " ".join(SERVICES[name]["healthcheck"]["test"])
        [(port, path)] = re.findall(r"http://127\.0\.0\.1:(\d+)(/\w+)", probe)
        if name == "api":
            assert (port, path) == ("8000", "/healthz")
            assert path in routes
        else:  # the worker's /metrics, on the port the environment gives it
            assert SERVICES[name]["environment"]["DRIFTWARDEN_METRICS_PORT"] == port
            assert path == "/metrics"
