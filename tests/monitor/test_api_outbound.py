"""The outgoing-URL allow-list and secret redaction (pure: no database, no HTTP)."""

from __future__ import annotations

import ipaddress

import pytest

from monitor.alerting.outbound import (
    AllowList,
    non_public_kind,
    outbound_problems,
    resolve_host,
    shown_url,
    url_problem,
)
from monitor.alerting.redaction import REDACTED, redact_config, scrub, secret_values
from monitor.config import ConfigError, load_settings

NONE = AllowList()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-public"),  # shared address space (carrier-grade NAT)
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_non_public_addresses_are_named(address: str, kind: str | None) -> None:
    assert non_public_kind(ipaddress.ip_address(address)) == kind


def test_literal_and_resolved_hosts_are_checked() -> None:
    assert url_problem("https://8.8.8.8/hook", NONE) is None
    assert "127.0.0.1, a loopback address" in str(url_problem("http://127.0.0.1:8080/x", NONE))
    assert "a loopback address" in str(url_problem("http://[::1]/x", NONE))
    # Real resolution: localhost, and 127.0.0.1 written as one number.
    assert "'localhost' resolves to" in str(url_problem("http://localhost/x", NONE))
    assert "loopback" in str(url_problem("http://2130706433/x", NONE))
    assert resolve_host("no-such-host.invalid") == []
    # A name that does not resolve has nothing to call (check_urls refuses it).
    assert url_problem("https://no-such-host.invalid/x", NONE) is None


def test_every_address_of_a_name_must_be_public() -> None:
    table = {"mixed.example": ["8.8.8.8", "10.0.0.7"], "public.example": ["8.8.4.4"]}

    def resolve(host: str) -> list[str]:
        return table.get(host, [])

    assert "10.0.0.7, a private address" in str(
        url_problem("https://mixed.example/x", NONE, resolve)
    )
    assert url_problem("https://public.example/x", NONE, resolve) is None
    allowed = AllowList.parse(["10.0.0.0/24"])
    assert url_problem("https://mixed.example/x", allowed, resolve) is None


def test_the_allow_list_takes_hosts_addresses_and_networks() -> None:
    allow = AllowList.parse(["hooks.internal", " 127.0.0.1 ", "fd00::/8", "", "Receiver.LAN."])
    assert url_problem("http://hooks.internal/x", allow, lambda _h: ["10.0.0.1"]) is None
    assert url_problem("http://RECEIVER.lan/x", allow, lambda _h: ["10.0.0.1"]) is None
    assert url_problem("http://127.0.0.1:9/x", allow) is None
    assert url_problem("http://[fd00::5]/x", allow) is None
    assert url_problem("http://127.0.0.2/x", allow) is not None
    assert url_problem("http://other.internal/x", allow, lambda _h: ["10.0.0.1"]) is not None
    for bad in ("bad/host", "-x", "a..b", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="not a host name"):
            AllowList.parse([bad])


def test_problems_name_receiver_and_url_without_its_path() -> None:
    targets = [
        ("receivers.0.url", "ok", "https://8.8.8.8/a"),
        ("receivers.1.url", "meta", "http://169.254.169.254/latest/meta-data?token=T0K3N"),
        ("receivers.2.url", "creds", "http://user:pw-secret@10.0.0.1:8443/p"),
    ]
    problems = outbound_problems(targets, NONE)
    assert len(problems) == 2
    assert problems[0].startswith("receivers.1.url=http://169.254.169.254:80 (receiver 'meta')")
    assert problems[1].startswith("receivers.2.url=http://10.0.0.1:8443 (receiver 'creds')")
    for secret in ("meta-data", "T0K3N", "pw-secret", "user"):
        assert secret not in " ".join(problems)
    assert shown_url("https://[::1]/x") == "https://[::1]:443"


def test_the_setting_is_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS", "hooks.internal, 10.1.0.0/16,")
    assert load_settings().outbound_allowed_hosts == ["hooks.internal", "10.1.0.0/16"]
    # A list's text too, JSON or as str() writes it (tests pass settings on that way).
    monkeypatch.setenv("DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS", str(["127.0.0.1", "a.b"]))
    assert load_settings().outbound_allowed_hosts == ["127.0.0.1", "a.b"]
    monkeypatch.setenv("DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS", "[]")
    assert load_settings().outbound_allowed_hosts == []
    monkeypatch.setenv("DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS", "ok.host,bad/host")
    with pytest.raises(ConfigError, match=r"DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS.*'bad/host'"):
        load_settings()
    monkeypatch.delenv("DRIFTWARDEN_OUTBOUND_ALLOWED_HOSTS")
    assert load_settings().outbound_allowed_hosts == []


SLACK = "https://hooks.slack.com/services/T01/B02/SeCrEtPaTh"
CONFIG = {
    "version": 1,
    "receivers": [
        {"name": "w", "type": "webhook", "url": "https://u:pa55@h.example/x?k=v", "secret": "s3c"},
        {"name": "s", "type": "slack", "url": SLACK},
        {"name": "p", "type": "pagerduty", "routing_key": "K" * 32, "url": "https://pd/e"},
        {"name": "r", "type": "retrain", "url": "https://t.example/train", "secret": None},
    ],
}


def test_redacted_config_keeps_no_secret() -> None:
    shown = redact_config(CONFIG)
    w, s, p, r = shown["receivers"]
    assert w["secret"] == REDACTED
    assert w["url"] == f"https://u:{REDACTED}@h.example/x?k=v"
    assert s["url"] == REDACTED
    assert p["routing_key"] == REDACTED
    assert p["url"] == "https://pd/e"
    assert r["secret"] is None  # none set: nothing to hide
    assert CONFIG["receivers"][0]["secret"] == "s3c"  # the input is not changed
    text = str(shown)
    for secret in ("s3c", "pa55", "SeCrEtPaTh", "K" * 32):
        assert secret not in text


def test_scrub_removes_every_secret_of_a_raw_document() -> None:
    secrets = secret_values(CONFIG)
    assert SLACK in secrets
    assert "/services/T01/B02/SeCrEtPaTh" in secrets
    message = (
        f"receivers.1.url={SLACK!r}: bad; receivers.2.routing_key='{'K' * 32}'; "
        "receivers.0.url='https://u:pa55@h.example/x?k=v'; path /services/T01/B02/SeCrEtPaTh"
    )
    cleaned = scrub(message, secrets)
    for secret in ("SeCrEtPaTh", "K" * 32, "pa55"):
        assert secret not in cleaned
    assert "receivers.1.url=" in cleaned
    assert secret_values("not a mapping") == []
    assert secret_values({"receivers": "nope"}) == []
