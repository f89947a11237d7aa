"""Settings: sources, precedence, key resolution and clear errors."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_sync.support import logs
from catalog_sync.support.settings import (
    LIVE_KEY_RATE,
    TEST_KEY_RATE,
    Settings,
    SettingsError,
    load_settings,
    webhook_label,
)

KEY = "sk_test_0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*os.environ]:
        if name.startswith("CATALOG_SYNC_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name, raising=False)


def test_environment_overrides_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CATALOG_SYNC_* variable wins over the same setting in the TOML file."""
    config = tmp_path / "c.toml"
    config.write_text('poll_interval = 9\ncatalogs = "/srv/catalogs"\n')
    monkeypatch.setenv("CATALOG_SYNC_POLL_INTERVAL", "2")
    settings = load_settings(config)
    assert settings.poll_interval == 2
    assert settings.catalogs == Path("/srv/catalogs")


def test_bad_setting_is_named(tmp_path: Path) -> None:
    """An invalid value fails at load with a message naming the setting."""
    config = tmp_path / "c.toml"
    config.write_text("max_delete = 150\n")
    with pytest.raises(SettingsError, match="max_delete"):
        load_settings(config)


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    """A misspelt setting in the file is an error, not silently ignored."""
    config = tmp_path / "c.toml"
    config.write_text("pol_interval = 3\n")
    with pytest.raises(SettingsError, match="pol_interval"):
        load_settings(config)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    """Naming a config file that does not exist is reported, not ignored."""
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_key_file_is_read(tmp_path: Path) -> None:
    """The key can come from a file, as systemd credentials deliver it."""
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    settings = load_settings(api_key_file=key_file)
    assert settings.resolved_api_key().get_secret_value() == KEY


def test_systemd_credential_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a key setting, $CREDENTIALS_DIRECTORY/api-key is used."""
    (tmp_path / "api-key").write_text(KEY)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert load_settings().resolved_api_key().get_secret_value() == KEY


def test_missing_key_says_how_to_set_it() -> None:
    """No key anywhere is an error that names the variables to set."""
    with pytest.raises(SettingsError, match="CATALOG_SYNC_API_KEY"):
        load_settings().resolved_api_key()


def test_key_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' repr masks the key."""
    monkeypatch.setenv("CATALOG_SYNC_API_KEY", KEY)
    assert KEY not in repr(load_settings())


@pytest.mark.parametrize(
    ("key", "rate"), [(KEY, TEST_KEY_RATE), ("sk_live_0123456789abcdef", LIVE_KEY_RATE)]
)
def test_rate_limit_defaults_by_key_kind(key: str, rate: float) -> None:
    """Test keys get the API's 25/s, other keys its live 250/s."""
    assert load_settings(api_key=key).api.rate_limit == rate


def test_rate_limit_setting_overrides_default() -> None:
    """An explicit rate limit is used as is."""
    assert load_settings(api_key=KEY, rate_limit=10).api.rate_limit == 10


# -- the API key: whitespace, characters, secrecy ---------------------------------------------

#: A key with the line ends an env file, a pasted line or an editor leave around it.
PADDED = [f"{KEY}\n", f"{KEY}\r\n", f"  {KEY}\t", f"\v{KEY} \r\n"]


@pytest.mark.parametrize("value", PADDED)
def test_key_from_the_environment_is_stripped(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key with surrounding whitespace (a CRLF env file) is used without it."""
    monkeypatch.setenv("CATALOG_SYNC_API_KEY", value)
    assert load_settings().resolved_api_key().get_secret_value() == KEY


@pytest.mark.parametrize("value", PADDED)
def test_key_from_a_file_or_credential_is_stripped(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key file and the systemd credential are stripped the same way."""
    (tmp_path / "api-key").write_bytes(value.encode())
    assert (
        load_settings(api_key_file=tmp_path / "api-key").resolved_api_key().get_secret_value()
        == KEY
    )
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert load_settings().resolved_api_key().get_secret_value() == KEY


#: Characters no key may hold inside: whitespace, controls, non-ASCII, surrogates.
BAD_CHARACTER = st.characters(
    exclude_categories=(),
).filter(lambda c: not "\x21" <= c <= "\x7e")


@given(inside=BAD_CHARACTER, at=st.integers(1, len(KEY) - 1))
def test_key_with_a_bad_character_is_refused_without_quoting_it(inside: str, at: int) -> None:
    """A key holding a space, control or non-ASCII character is named, never shown."""
    key = KEY[:at] + inside + KEY[at:]
    with pytest.raises(SettingsError) as caught:
        load_settings(api_key=key)
    message = str(caught.value)
    assert message.startswith("invalid configuration: api_key: must be printable ASCII")
    assert "\n" not in message
    assert KEY[:8] not in message
    assert KEY[8:] not in message


@pytest.mark.parametrize("value", ["", "   ", "\r\n"])
def test_empty_key_is_refused(value: str) -> None:
    """A key that is only whitespace is an error, not an empty Authorization header."""
    with pytest.raises(SettingsError, match="api_key: is empty"):
        load_settings(api_key=value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"sk_test_\xff\xfe0123456789", "is not UTF-8 text"),
        (b"sk_test_0123 456789abcdef", "must be printable ASCII"),
        (b"x" * 5000, "is larger than 4096 bytes"),
    ],
)
def test_bad_key_file_is_named_not_quoted(content: bytes, problem: str, tmp_path: Path) -> None:
    """A key file that cannot hold a key names the setting and the file, not its content."""
    path = tmp_path / "api-key"
    path.write_bytes(content)
    with pytest.raises(SettingsError, match=f"api_key_file: {path}: {problem}") as caught:
        load_settings(api_key_file=path).resolved_api_key()
    assert "sk_test_" not in str(caught.value)


def test_key_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    """A FIFO (or a folder) as key file is refused at once instead of blocking on it."""
    fifo = tmp_path / "api-key"
    os.mkfifo(fifo)
    with pytest.raises(SettingsError, match="is not a regular file"):
        load_settings(api_key_file=fifo).resolved_api_key()


def test_key_is_registered_with_the_redactor_when_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the settings are loaded, the key is redacted from any later output."""
    key = "sk_test_5ca1ab1e5ca1ab1e5ca1ab1e"
    monkeypatch.setenv("CATALOG_SYNC_API_KEY", key)
    load_settings()
    assert logs.redact(f"echo {key!r}") == f"echo '{logs.REDACTED}'"


# -- webhooks -----------------------------------------------------------------------------------

HOOK = (
    "https://bot:pa55w0rd-hook@hooks.slack.com/services/T0001/B0002/XXXXsecretXXXX?token=t0ken-abc"
)


def test_webhooks_are_secret_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings object shows no part of a webhook URL."""
    monkeypatch.setenv("CATALOG_SYNC_NOTIFY_WEBHOOKS", json.dumps([HOOK]))
    settings = load_settings()
    assert "XXXXsecretXXXX" not in repr(settings)
    assert settings.notify_webhooks[0].get_secret_value() == HOOK


def test_every_secret_part_of_a_webhook_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL, its user part, password, path, query and token are redacted once loaded."""
    monkeypatch.setenv("CATALOG_SYNC_NOTIFY_WEBHOOKS", json.dumps([HOOK]))
    load_settings()
    parts = ["pa55w0rd-hook", "/services/T0001/B0002/XXXXsecretXXXX", "t0ken-abc", HOOK]
    assert [logs.redact(f"<{part}>") for part in parts] == [f"<{logs.REDACTED}>"] * 4


@pytest.mark.parametrize(
    "hooks",
    [
        "not json",
        '{"url": "https://x.test"}',
        '"https://x.test/hook"',
        "[1]",
        '["ftp://x.test/hook"]',
        '["https:///no-host"]',
        '["https://x.test:99999/p"]',
        '["https://x.test/a b"]',
        '["https://x.test/\\u0000"]',
    ],
)
def test_bad_webhook_setting_is_named_without_its_value(
    hooks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each kind of bad webhook value is a one-line error naming the setting, not the URL."""
    monkeypatch.setenv("CATALOG_SYNC_NOTIFY_WEBHOOKS", hooks)
    with pytest.raises(SettingsError, match="notify_webhooks") as caught:
        load_settings()
    assert "x.test" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_webhook_label_keeps_scheme_and_host_only() -> None:
    """A webhook is shown by scheme, host and port; user part, path and query are gone."""
    assert webhook_label(HOOK) == "https://hooks.slack.com/..."
    assert webhook_label("http://[::1]:8080/x?y=z") == "http://[::1]:8080/..."


# -- any setting: bad values are one line, never a traceback -----------------------------------

SETTINGS = sorted(Settings.model_fields)
#: Values as a shell would put them in the environment (no NUL, no lone surrogates).
ENV_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
AWKWARD = st.sampled_from(
    ["", " ", "-1", "0", "1e400", "nan", "inf", "-inf", "99999999999999999999", "[]", "{}"]
)


def _load_error(load: Callable[[], object]) -> str:
    """The message of the SettingsError ``load`` raises, or "" when it loads."""
    try:
        load()
    except SettingsError as exc:
        return str(exc)
    return ""


@given(name=st.sampled_from(SETTINGS), value=AWKWARD | ENV_TEXT)
def test_any_value_of_any_setting_loads_or_is_one_line(name: str, value: str) -> None:
    """Whatever a variable holds, loading gives settings or a one-line SettingsError."""
    variable = f"CATALOG_SYNC_{name.upper()}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(variable, value)
        message = _load_error(load_settings)
    assert "\n" not in message
    assert not message or name in message or "settings:" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("poll_interval", "inf"),
        ("request_timeout", "nan"),
        ("audit_interval", "1e12"),
        ("debounce_ms", "99999999999999"),
        ("max_concurrency", "100000"),
        ("metrics_port", "70000"),
        ("state", ""),
    ],
)
def test_values_that_would_break_later_are_refused_at_load(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infinite, NaN, absurdly large or empty values are refused before anything starts."""
    monkeypatch.setenv(f"CATALOG_SYNC_{name.upper()}", value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"poll_interval = [", "Invalid"),
        (b"\xff\xfe = 1", "codec can't decode"),
    ],
)
def test_unreadable_config_file_is_one_line(content: bytes, problem: str, tmp_path: Path) -> None:
    """A TOML file with a syntax error or not UTF-8 is named with what is wrong."""
    config = tmp_path / "c.toml"
    config.write_bytes(content)
    with pytest.raises(SettingsError, match=f"config file {config}: .*{problem}"):
        load_settings(config)


def test_config_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    """A folder given as the config file is an error, not silently an empty configuration."""
    with pytest.raises(SettingsError, match="is not a regular file"):
        load_settings(tmp_path)
