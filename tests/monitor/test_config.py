from __future__ import annotations

import pytest

from monitor.config import ConfigError, load_settings


def test_defaults_name_the_documented_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DRIFTWARDEN_PREDICTIONS_TOPIC", "DRIFTWARDEN_LABELS_TOPIC"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.predictions_topic == "driftwarden.predictions"
    assert s.labels_topic == "driftwarden.labels"


def test_environment_is_read_when_built_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTWARDEN_BATCH_SIZE", "42")
    monkeypatch.setenv("DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS", "a:1,b:2")
    s = load_settings()
    assert s.batch_size == 42
    assert s.bootstrap_servers == ["a:1", "b:2"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("DRIFTWARDEN_BATCH_SIZE", "many"),
        ("DRIFTWARDEN_BATCH_SIZE", "0"),
        ("DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS", "localhost"),
        ("DRIFTWARDEN_DATABASE_URL", "sqlite:///x.db"),
    ],
)
def test_bad_value_names_variable_and_value(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert var in str(err.value)
    assert repr(value) in str(err.value)


def test_plain_postgres_url_gets_the_psycopg_driver() -> None:
    s = load_settings(database_url="postgresql://u@h:5/db")
    assert s.sqlalchemy_url == "postgresql+psycopg://u@h:5/db"
