"""Settings by concern: every documented setting reaches its group, with the same defaults."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from catalog_sync.dr import DigitalRiverClient
from catalog_sync.support.settings import (
    LIVE_KEY_RATE,
    TEST_KEY_RATE,
    ApiSettings,
    CatalogSettings,
    DaemonSettings,
    EventSettings,
    FulfillmentSettings,
    NotifySettings,
    RequestSettings,
    Settings,
    load_settings,
)

KEY = "sk_test_0123456789abcdef0123456789abcdef"

Reader = Callable[[Settings], list[Any]]

#: Each flat setting (its TOML key), a value other than its default, and every place a component
#: reads it through the groups. A setting missing here would be one no component can read.
THROUGH_GROUPS: dict[str, tuple[Any, Reader]] = {
    "api_key": ("sk_live_0123456789abcdef", lambda s: [s.api.key.get_secret_value()]),
    "api_base": ("http://127.0.0.1:9", lambda s: [s.api.base_url]),
    "rate_limit": (7.0, lambda s: [s.api.rate_limit]),
    "max_concurrency": (3, lambda s: [s.api.max_concurrency]),
    "request_timeout": (4.0, lambda s: [s.api.request_timeout]),
    "retry_attempts": (2, lambda s: [s.api.retry_attempts]),
    "retry_initial_backoff": (0.1, lambda s: [s.api.retry_initial_backoff]),
    "retry_max_backoff": (2.0, lambda s: [s.api.retry_max_backoff]),
    "retry_jitter": (0.0, lambda s: [s.api.retry_jitter]),
    "catalogs": ("/srv/catalogs", lambda s: [str(s.catalog.folder)]),
    "reports": (
        "/srv/reports",
        lambda s: [str(s.catalog.reports), str(s.merchant_requests.reports)],
    ),
    "reports_keep": (5, lambda s: [s.catalog.reports_keep]),
    "max_delete": (1.5, lambda s: [s.catalog.max_delete]),
    "catalog_max_file_bytes": (1000, lambda s: [s.catalog.limits.file_bytes]),
    "catalog_max_line_chars": (100, lambda s: [s.catalog.limits.line_chars]),
    "catalog_max_field_chars": (10, lambda s: [s.catalog.limits.field_chars]),
    "audit_interval": (60.0, lambda s: [s.catalog.audit_interval]),
    "debounce_ms": (5, lambda s: [s.catalog.debounce_ms]),
    "settle_ms": (7, lambda s: [s.catalog.settle_ms, s.merchant_requests.settle_ms]),
    "poll_interval": (30.0, lambda s: [s.events.poll_interval]),
    "requests": ("/srv/requests", lambda s: [str(s.merchant_requests.folder)]),
    "handler_max_attempts": (3, lambda s: [s.fulfillment.max_attempts]),
    "event_overlap_seconds": (2.0, lambda s: [s.events.overlap_seconds]),
    "event_retention_warn_days": (2.0, lambda s: [s.events.retention_warn_days]),
    "events_start": ("retained", lambda s: [s.events.start]),
    "notify_jsonl": ("/srv/notify.jsonl", lambda s: [str(s.notify.jsonl)]),
    "notify_webhooks": (
        ["https://hooks.example.com/x"],
        lambda s: [[url.get_secret_value() for url in s.notify.webhooks]],
    ),
    "metrics_port": (9100, lambda s: [s.daemon.metrics_port]),
    "stop_timeout": (5.0, lambda s: [s.daemon.stop_timeout]),
    "lease_seconds": (5.0, lambda s: [s.daemon.lease_seconds]),
    "instance_name": ("node-a", lambda s: [s.daemon.instance_name]),
    "request_max_bytes": (2048, lambda s: [s.merchant_requests.max_bytes]),
}
#: Read flat on purpose: the key file only matters through ``api.key``, and the state path is
#: what ``open_state`` and the instance lock are given (its password file with it).
READ_FLAT = {"api_key_file", "state", "state_password_file"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*os.environ]:
        if name.startswith("CATALOG_SYNC_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name, raising=False)


def test_every_setting_is_read_through_a_group() -> None:
    """No documented setting is left that only the flat model knows."""
    assert set(THROUGH_GROUPS) | READ_FLAT == set(Settings.model_fields)


@pytest.mark.parametrize("name", sorted(THROUGH_GROUPS))
def test_a_toml_key_reaches_every_group_that_reads_it(name: str, tmp_path: Path) -> None:
    """A value set in the TOML file under its documented key is what the components see."""
    value, read = THROUGH_GROUPS[name]
    lines = [f"{name} = {json.dumps(value)}"]
    if name != "api_key":
        lines.append(f"api_key = {json.dumps(KEY)}")
    config = tmp_path / "catalog-sync.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = read(load_settings(config))
    assert found == [value] * len(found)


@pytest.mark.parametrize("name", ["poll_interval", "handler_max_attempts", "settle_ms"])
def test_an_environment_variable_reaches_its_group(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``CATALOG_SYNC_<NAME>`` still sets the setting, now read through its group."""
    value, read = THROUGH_GROUPS[name]
    monkeypatch.setenv(f"CATALOG_SYNC_{name.upper()}", str(value))
    monkeypatch.setenv("CATALOG_SYNC_API_KEY", KEY)
    assert set(read(load_settings())) == {value}


def test_the_groups_defaults_are_the_documented_defaults() -> None:
    """Loaded with nothing set, every group equals its class's own defaults (one home each)."""
    settings = load_settings(api_key=KEY)
    groups = (
        settings.catalog,
        settings.events,
        settings.fulfillment,
        settings.merchant_requests,
        settings.daemon,
        settings.notify,
    )
    defaults = (
        CatalogSettings(),
        EventSettings(),
        FulfillmentSettings(),
        RequestSettings(),
        DaemonSettings(),
        NotifySettings(),
    )
    assert groups == defaults
    assert settings.api == ApiSettings(key=SecretStr(KEY), rate_limit=TEST_KEY_RATE)


@pytest.mark.parametrize(
    ("poll_interval", "retry_base"), [(0.2, 0.2), (1.0, 1.0), (5.0, 1.0), (3600.0, 1.0)]
)
def test_the_first_retry_wait_follows_the_poll_interval(
    poll_interval: float, retry_base: float
) -> None:
    """A failed event or write waits the poll interval before its next try, at most a second."""
    settings = load_settings(api_key=KEY, poll_interval=poll_interval)
    assert settings.fulfillment.retry_base == retry_base


@pytest.mark.parametrize(
    "group",
    [
        CatalogSettings(),
        EventSettings(),
        FulfillmentSettings(),
        RequestSettings(),
        DaemonSettings(),
        NotifySettings(),
    ],
)
def test_a_group_cannot_be_changed_in_place(group: object) -> None:
    """A component's settings change only by being handed a new group (a reload)."""
    field = dataclasses.fields(group)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(group, field, None)


#: Keys of both modes and near misses. Not drawn by hypothesis: every key loaded is registered
#: with the process's log redactor for good, and random ones would redact other tests' logs.
_TAIL = "0123456789abcdef0123456789abcdef"
KEY_MODES = [
    (f"sk_test_{_TAIL}", False),
    (f"sk_live_{_TAIL}", True),
    (f"sk_{_TAIL}", True),
    (f"sk_testing{_TAIL}", True),
    (f"SK_TEST_{_TAIL}", True),
    (f"pk_test_{_TAIL}", True),
]


@pytest.mark.parametrize(("key", "live"), KEY_MODES)
async def test_the_key_mode_is_decided_once_for_rate_and_events(key: str, live: bool) -> None:
    """The default rate and the mode of the events the client's poller accepts agree."""
    api = load_settings(api_key=key).api
    async with DigitalRiverClient.from_settings(api) as client:
        client_live = client.live_mode
    rate = LIVE_KEY_RATE if live else TEST_KEY_RATE
    assert (api.live_mode, client_live, api.rate_limit) == (live, live, rate)
